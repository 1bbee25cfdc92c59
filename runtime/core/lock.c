/*
** lock.c: the buffer-locking protocol. Every view and every C buffer
** holds a lock on its memory object; resize, close and protect check
** the locks first and name their holders when they refuse.
*/
#include <string.h>
#include "../core.h"
#include "xstate.h"

void mo_lock(lua_State *L, memobj_mem *m, memobj_lock *lk, size_t off,
             size_t len, int write, const char *what) {
  lk->mem = m;
  lk->offset = off;
  lk->length = len;
  lk->write = write;
  lk->what = what;
  mo_where(L, lk->where, sizeof lk->where);
  lk->prev = NULL;
  lk->next = m->locks;
  if (m->locks) m->locks->prev = lk;
  m->locks = lk;
  m->nlocks++;
  if (write) m->nwlocks++;
  if (MO_UNLIKELY(m->x != NULL)) mo_x_lockdelta(m, write, 1);
}

void mo_unlock(memobj_lock *lk) {
  memobj_mem *m = lk->mem;
  if (m == NULL) return;
  if (lk->prev) lk->prev->next = lk->next;
  else m->locks = lk->next;
  if (lk->next) lk->next->prev = lk->prev;
  m->nlocks--;
  if (lk->write) m->nwlocks--;
  if (MO_UNLIKELY(m->x != NULL)) mo_x_lockdelta(m, lk->write, -1);
  lk->mem = NULL;
}

/* Does this lock block the operation? */
static int blocks(const memobj_mem *m, const memobj_lock *lk,
                  int writers_only, size_t newsize) {
  if (writers_only && !lk->write) return 0;
  if (newsize != SIZE_MAX && m->max > 0 && newsize <= m->max &&
      lk->offset + lk->length <= newsize)
    return 0;
  return 1;
}

/* Views of the same bytes through other objects (exported memory). A
** closed object has let go: nothing of the others can reach it. */
static int others(const memobj_mem *m) {
  return MO_UNLIKELY(m->x != NULL) && mo_x_others(m) > 0;
}

void mo_refuse_if_locked(lua_State *L, memobj_mem *m, const char *op,
                         int writers_only, size_t newsize) {
  luaL_Buffer b;
  const memobj_lock *lk;
  int n = 0, shown = 0;
  for (lk = m->locks; lk; lk = lk->next)
    n += blocks(m, lk, writers_only, newsize);
  if (n == 0 && !others(m)) return;
  /* Views that are garbage still hold their locks until collected, and
  ** `m:array("u8"):fill(0)` makes such a view. Before refusing, collect
  ** them: only live views should refuse. */
  lua_gc(L, LUA_GCCOLLECT, 0);  /* (a finalizer may close m: callers recheck) */
  /* views over the same bytes in other Lua states, or through another
  ** object of this one (xstate.c), are counted, not named */
  if (others(m))
    luaL_error(L, "memobj: %s: refused, %s memory is locked by %d view%s in "
               "other Lua states", op, m->kind->name, (int)mo_x_others(m),
               mo_x_others(m) == 1 ? "" : "s");
  for (n = 0, lk = m->locks; lk; lk = lk->next)
    n += blocks(m, lk, writers_only, newsize);
  if (n == 0) return;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "memobj: %s: refused, %s memory is locked by %d view%s: ",
                  op, m->kind->name, n, n == 1 ? "" : "s");
  luaL_addvalue(&b);
  for (lk = m->locks; lk; lk = lk->next) {
    if (!blocks(m, lk, writers_only, newsize)) continue;
    lua_pushfstring(L, "%s%s%s (bytes %I..%I) created at %s",
                    shown++ ? "; " : "", lk->what,
                    lk->write ? " (writable)" : "", (lua_Integer)lk->offset,
                    (lua_Integer)(lk->offset + lk->length), lk->where);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  lua_error(L);
}

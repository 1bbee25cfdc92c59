/*
** mem.h: memory objects (memory.c) and the write guard of transactions
** and persistent memory
*/
#ifndef MO_MEM_H
#define MO_MEM_H

#include "base.h"

/* ---- Memory objects (runtime/core/memory.c) ---- */

/* Push a new memory object of kind k; udsize >= sizeof(memobj_mem). The
** object has one user value (kind-specific Lua value: string, path...). */
memobj_mem *mo_mem_new(lua_State *L, const memobj_kind *k, size_t udsize);
memobj_mem *mo_tomem(lua_State *L, int idx);            /* NULL if not one */
memobj_mem *mo_checkmem(lua_State *L, int idx);         /* open one, or raise */
/* Add methods (bytes, array, file...) to every memory object. */
void mo_mem_addmethods(lua_State *L, const luaL_Reg *l);

/* ---- Write guard: transactions and persistent memory ---- */
/* Called before a write to m->ptr[off .. off+len) when m->guarded is set
** (runtime/core/tx.c: it undo-logs the range, or raises). A plain function, not
** a settable hook: no process-wide state that two Lua states could fight
** over, and other memory pays one branch. */
void mo_tx_write(lua_State *L, memobj_mem *m, size_t off, size_t len);
static inline void mo_prewrite(lua_State *L, memobj_mem *m, size_t off,
                               size_t len) {
  if (MO_UNLIKELY(m->guarded)) mo_tx_write(L, m, off, len);
}

/* Publish the new object m (from mo_mem_new, closed until now): give it
** its bytes and open it. The kind sets max and writable before; the
** observers hear of the object here, with its real size. The one step
** that opens an object: a constructor that fails never calls it, so a
** half-made object is closed (every method raises, __gc frees nothing). */
void mo_mem_publish(lua_State *L, memobj_mem *m, unsigned char *ptr,
                    size_t size);

/* ---- Observers of objects' lives ----
** The tools above the core (stats, objects, GC pacing, the debug heap)
** learn what happens to memory objects from these events; the core names
** none of them. Every field may be NULL. Registration is process-wide and
** append-only; registering an observer again does nothing. */
typedef struct mo_observer {
  /* published: open, with its pointer and size */
  void (*made)(lua_State *L, memobj_mem *m);
  /* about to grow by n bytes (resize), before its checks: may run the
  ** collector, and so finalizers */
  void (*growing)(lua_State *L, memobj_mem *m, size_t n);
  /* its kind resized it: m->size is the new size */
  void (*resized)(lua_State *L, memobj_mem *m);
  /* being released (closed or collected), before its kind frees the
  ** bytes; may come twice for one object, and for one never published */
  void (*released)(memobj_mem *m);
  /* a kind has just freed or moved bytes (close, resize, __gc): report
  ** what was found, raising when `raise` (else warn) */
  void (*settled)(lua_State *L, int raise);
  struct mo_observer *next;  /* the list: set by mo_observe */
} mo_observer;
/* Register o (static storage: never freed). */
void mo_observe(mo_observer *o);

void mo_memory_open(lua_State *L);       /* runtime/core/memory.c */

#endif

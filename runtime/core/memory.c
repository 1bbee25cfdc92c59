/*
** memory.c: the Lua face shared by every memory object: fields, close,
** resize, sync, protect, advise, tostring, <close> and __gc. The kind
** specific work is behind memobj_kind operations.
*/
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include "../core.h"
#include "tx.h"
#include "xstate.h"

static const char mem_mtkey = 0;       /* registry: memory metatable */
static const char mem_methodskey = 0;  /* registry: memory methods */

/* ---- Observers ----
** An append-only list: writers under a lock, readers with acquire loads,
** so that two states opening memobj in two threads can both register. */

static mo_observer *observers;
static pthread_mutex_t observers_lock = PTHREAD_MUTEX_INITIALIZER;

void mo_observe(mo_observer *o) {
  mo_observer **tail;
  pthread_mutex_lock(&observers_lock);
  for (tail = &observers; *tail && *tail != o; tail = &(*tail)->next) {}
  if (*tail == NULL) {
    o->next = NULL;
    __atomic_store_n(tail, o, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&observers_lock);
}

#define EACH_OBSERVER(o) \
  for (mo_observer *o = __atomic_load_n(&observers, __ATOMIC_ACQUIRE); o; \
       o = __atomic_load_n(&o->next, __ATOMIC_ACQUIRE))

static void notify_released(memobj_mem *m) {
  EACH_OBSERVER(o) if (o->released) o->released(m);
}

static void notify_settled(lua_State *L, int raise) {
  EACH_OBSERVER(o) if (o->settled) o->settled(L, raise);
}

/* ---- Creating and checking ---- */

memobj_mem *mo_mem_new(lua_State *L, const memobj_kind *k, size_t udsize) {
  /* user values: 1 the kind's (path, name...), 2 the cached pin (pin.c) */
  memobj_mem *m = (memobj_mem *)lua_newuserdatauv(L, udsize, 2);
  memset(m, 0, udsize);
  m->tag = MO_TAG_MEM;
  m->kind = k;
  m->writable = 1;
  m->closed = 1;  /* until mo_mem_publish */
  mo_regpush(L, &mem_mtkey, LUA_TTABLE);
  lua_setmetatable(L, -2);
  return m;
}

void mo_mem_publish(lua_State *L, memobj_mem *m, unsigned char *ptr,
                    size_t size) {
  m->ptr = ptr;
  m->size = size;
  m->closed = 0;
  EACH_OBSERVER(o) if (o->made) o->made(L, m);
}

/* Identity by metatable (type.c): bytes a Lua program wrote never pass. */
memobj_mem *mo_tomem(lua_State *L, int idx) {
  return (memobj_mem *)mo_type_test(L, idx, MO_TAG_MEM);
}

memobj_mem *mo_checkmem(lua_State *L, int idx) {
  memobj_mem *m = mo_tomem(L, idx);
  if (m == NULL) luaL_typeerror(L, idx, "memory object");
  if (m->closed) luaL_error(L, "memobj: memory object is closed");
  return m;
}

void mo_mem_addmethods(lua_State *L, const luaL_Reg *l) {
  mo_regpush(L, &mem_methodskey, LUA_TTABLE);
  luaL_setfuncs(L, l, 0);
  lua_pop(L, 1);
}

void mo_mem_declare(lua_State *L, const mo_method *list) {
  mo_regpush(L, &mem_methodskey, LUA_TTABLE);
  mo_funcs_declare(L, "memory", list);
  lua_pop(L, 1);
}

/* ---- Methods ---- */

static void mem_release(memobj_mem *m) {
  notify_released(m);
  if (m->closed) return;
  mo_tx_discard(m);  /* collected inside begin(): nothing to commit */
  if (m->x) mo_x_release(m);  /* exported: the last state frees the bytes */
  else m->kind->release(m);
  m->closed = 1;
  m->ptr = NULL;
  m->size = 0;
}

/*
** The checks of close, resize and protect, in one place and in this
** order: the lock check may run a full collection, and a finalizer it
** runs may close the memory, begin a transaction or take a lock, so the
** other checks come after it. Returns 0 if the memory is (now) closed.
*/
static int refuse_if_busy(lua_State *L, memobj_mem *m, const char *op,
                          int writers_only, size_t newsize) {
  mo_refuse_if_pinned(L, m, op);
  mo_refuse_if_locked(L, m, op, writers_only, newsize);
  if (m->closed) return 0;
  mo_refuse_if_pinned(L, m, op);
  if (m->tx) luaL_error(L, "memobj: %s: refused inside a transaction", op);
  return 1;
}

static int mem_close(lua_State *L) {
  memobj_mem *m = mo_tomem(L, 1);
  if (m == NULL) return luaL_typeerror(L, 1, "memory object");
  if (!m->closed && refuse_if_busy(L, m, "close", 0, SIZE_MAX)) {
    mem_release(m);
    notify_settled(L, 1);  /* a damaged debug block raises */
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* __gc: a view keeps its memory alive through its user value, but Lua
** code can replace that (debug.setuservalue). While a lock is held, the
** memory must outlive it: set the metatable again, which marks the object
** for finalization once more, so it stays allocated (with its bytes) and
** this runs again at a later cycle. A pinned object is never garbage (its
** pin refers to it): only Lua code calling __gc directly (debug library)
** gets here with pins, and a running call's bytes stay. */
static int mem_gc(lua_State *L) {
  memobj_mem *m = mo_tomem(L, 1);
  if (m == NULL || m->npins > 0) return 0;
  if (m->nlocks > 0) {
    mo_regpush(L, &mem_mtkey, LUA_TTABLE);
    lua_setmetatable(L, 1);
    return 0;
  }
  m->collected = 1;  /* a kind of a C module is told (capi_kind.c) */
  mem_release(m);
  notify_settled(L, 0);  /* a damaged debug block warns on stderr */
  return 0;
}

/*
** The error convention (doc/manual.md), chosen by intent, never by the
** errno value: what this object cannot do at all (a read-only file, a
** sealed size, a device with no length) is refused by its kind with a
** negated errno (object.h) and raises; any positive errno is the system
** failing to do what the object allows (even EACCES or EROFS from the
** OS) and returns nil, message, errno as io does.
*/
static int opresult(lua_State *L, const char *op, int err) {
  if (err < 0) return mo_oserror(L, op, -err);
  return mo_failresult(L, op, err);
}

static int mem_resize(lua_State *L) {
  memobj_mem *m = mo_checkmem(L, 1);
  size_t n = mo_checksize(L, 2);
  int err;
  mo_noextra(L, 2);
  if (m->x)
    return luaL_error(L, "memobj: resize: refused, the memory was exported to "
                      "other Lua states (its size is fixed from then on)");
  if (m->kind->resize == NULL)
    return luaL_error(L, "memobj: resize: %s memory has a fixed size",
                      m->kind->name);
  if (m->max > 0 && n > m->max)
    return luaL_error(L, "memobj: resize: %I bytes exceeds the reserved max "
                      "of %I", (lua_Integer)n, (lua_Integer)m->max);
  /* growth paces the collector first (objects dropped meanwhile are not
  ** part of the peak); finalizers may run, so the checks come after */
  if (n > m->size) {
    size_t grow = n - m->size;
    EACH_OBSERVER(o) if (o->growing) o->growing(L, m, grow);
  }
  if (!refuse_if_busy(L, m, "resize", 0, n))
    return luaL_error(L, "memobj: memory object is closed");
  err = m->kind->resize(m, n);
  if (err == 0) EACH_OBSERVER(o) if (o->resized) o->resized(L, m);
  notify_settled(L, 1);  /* the old block of a debug resize was damaged */
  if (err) return opresult(L, "resize", err);
  lua_settop(L, 1);
  return 1;
}

/* Check that [off, off+len) lies within m; both optional. */
static void checkrange(lua_State *L, memobj_mem *m, int arg, size_t *off,
                       size_t *len) {
  *off = lua_isnoneornil(L, arg) ? 0 : mo_checksize(L, arg);
  luaL_argcheck(L, *off <= m->size, arg, "offset beyond the end");
  *len = lua_isnoneornil(L, arg + 1) ? m->size - *off : mo_checksize(L, arg + 1);
  luaL_argcheck(L, *len <= m->size - *off, arg + 1, "range beyond the end");
}

static int mem_sync(lua_State *L) {
  memobj_mem *m = mo_checkmem(L, 1);
  size_t off, len;
  int err;
  mo_noextra(L, 3);
  checkrange(L, m, 2, &off, &len);
  if (m->kind->sync && (err = m->kind->sync(m, off, len)) != 0)
    return opresult(L, "sync", err);
  lua_pushboolean(L, 1);
  return 1;
}

static int mem_protect(lua_State *L) {
  static const char *const perms[] = {"r", "rw", NULL};
  memobj_mem *m = mo_checkmem(L, 1);
  int writable = luaL_checkoption(L, 2, NULL, perms);
  int err;
  mo_noextra(L, 2);
  if (m->x)
    return luaL_error(L, "memobj: protect: refused, the memory was exported "
                      "to other Lua states (its permission is fixed from then "
                      "on)");
  /* "rw" cannot hurt a running call or a rollback; "r" can hurt both */
  if (!writable && !refuse_if_busy(L, m, "protect", 1, SIZE_MAX))
    return luaL_error(L, "memobj: memory object is closed");
  if (m->kind->protect == NULL)
    return luaL_error(L, "memobj: protect: not supported by %s memory",
                      m->kind->name);
  err = m->kind->protect(m, writable);
  if (err) return opresult(L, "protect", err);
  m->writable = (uint8_t)writable;
  lua_settop(L, 1);
  return 1;
}

static int mem_advise(lua_State *L) {
  static const char *const hints[] = {"normal", "sequential", "random",
                                      "willneed", "dontneed", NULL};
  memobj_mem *m = mo_checkmem(L, 1);
  int hint = luaL_checkoption(L, 2, NULL, hints);
  int err;
  mo_noextra(L, 2);
  if (m->kind->advise && (err = m->kind->advise(m, hint)) != 0)
    return opresult(L, "advise", err);
  lua_pushboolean(L, 1);
  return 1;
}

static int mem_len(lua_State *L) {
  memobj_mem *m = mo_checkmem(L, 1);
  lua_pushinteger(L, (lua_Integer)m->size);
  return 1;
}

static int mem_tostring(lua_State *L) {
  memobj_mem *m = mo_tomem(L, 1);
  if (m == NULL) return luaL_typeerror(L, 1, "memory object");
  if (m->closed)
    lua_pushfstring(L, "memobj.%s (closed)", m->kind->name);
  else
    lua_pushfstring(L, "memobj.%s: %I bytes, %s, %p", m->kind->name,
                    (lua_Integer)m->size, m->writable ? "rw" : "r",
                    (void *)m->ptr);
  return 1;
}

/* Fields are not a hot path: look methods up first, then names. */
/* A field the kind's descriptor adds (runtime/core/kinds.c). */
static int kind_field(lua_State *L, memobj_mem *m, const char *k) {
  const mo_kinddesc *d = mo_kind_desc(m->kind);
  return d && d->field ? d->field(L, m, k) : 0;
}

static int mem_index(lua_State *L) {
  memobj_mem *m = mo_tomem(L, 1);
  const char *k;
  if (m == NULL) return luaL_typeerror(L, 1, "memory object");
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  k = lua_tostring(L, 2);
  if (k == NULL) return 1;
  if (strcmp(k, "closed") == 0) {
    lua_pushboolean(L, m->closed);
    return 1;
  }
  if (strcmp(k, "kind") == 0) {
    lua_pushstring(L, m->kind->name);
    return 1;
  }
  if (m->closed) return luaL_error(L, "memobj: memory object is closed");
  if (strcmp(k, "size") == 0) lua_pushinteger(L, (lua_Integer)m->size);
  else if (strcmp(k, "pointer") == 0)
    lua_pushinteger(L, (lua_Integer)(uintptr_t)m->ptr);
  else if (strcmp(k, "permission") == 0)
    lua_pushstring(L, m->writable ? "rw" : "r");
  else if (strcmp(k, "persistence") == 0)
    lua_pushstring(L, m->kind->persistence);
  else if (strcmp(k, "locks") == 0)  /* every state's, once exported */
    lua_pushinteger(L, m->x ? mo_x_total(m) : m->nlocks);
  else if (strcmp(k, "max") == 0) lua_pushinteger(L, (lua_Integer)m->max);
  else if (m->kind->label && strcmp(k, m->kind->label) == 0)
    lua_getiuservalue(L, 1, 1);
  else if (!kind_field(L, m, k)) lua_pushnil(L);
  return 1;
}

static int mem_newindex(lua_State *L) {
  return luaL_error(L, "memobj: memory object fields are read-only");
}

static const luaL_Reg mem_methods[] = {
  {"close", mem_close},     {"resize", mem_resize}, {"sync", mem_sync},
  {"protect", mem_protect}, {"advise", mem_advise}, {NULL, NULL}};

static const luaL_Reg mem_meta[] = {
  {"__gc", mem_gc},         {"__close", mem_close},
  {"__len", mem_len},       {"__tostring", mem_tostring},
  {"__newindex", mem_newindex}, {NULL, NULL}};

void mo_memory_open(lua_State *L) {
  mo_pin_open(L);
  mo_method_open(L);
  luaL_newlib(L, mem_methods);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &mem_methodskey);
  lua_newtable(L);                    /* metatable */
  luaL_setfuncs(L, mem_meta, 0);
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, mem_index, 1);  /* methods as upvalue */
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "memobj.memory");
  lua_setfield(L, -2, "__metatable");
  mo_type_register(L, -1, MO_TAG_MEM, sizeof(memobj_mem), 0);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &mem_mtkey);
  lua_pop(L, 1);
}

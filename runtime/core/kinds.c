/*
** kinds.c: the registry of memory kinds. Each kind registers a
** descriptor (its memobj_kind with name and operations, its constructor,
** methods, stats hooks and role); the runtime learns every kind from here:
** stats() lists them, transactions find a durable kind's commit hooks,
** and the core makes "memory over a Lua string" or "zeroed memory" by
** role, without naming a kind.
**
** The registry is process-wide (kinds are static data of the library)
** and grows without a limit: nodes are appended under a mutex, published
** with release stores and never freed, so readers walk it without a lock.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "../core.h"

static mo_kindnode *first;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

mo_kindnode *mo_kind_first(void) {
  return __atomic_load_n(&first, __ATOMIC_ACQUIRE);
}

mo_kindnode *mo_kind_next(const mo_kindnode *n) {
  return __atomic_load_n(&n->next, __ATOMIC_ACQUIRE);
}

/* The node named `name` or bound to k; call with reg_lock held. */
static mo_kindnode *find_locked(const char *name, const memobj_kind *k) {
  mo_kindnode *n;
  for (n = first; n; n = n->next)
    if ((k && n->kind == k) || strcmp(n->name, name) == 0) return n;
  return NULL;
}

/* Find or add the node for name (and bind k to it when given). Only a
** failing malloc of a few bytes returns NULL. */
static mo_kindnode *claim(const char *name, const memobj_kind *k) {
  mo_kindnode *n, **tail;
  pthread_mutex_lock(&reg_lock);
  n = find_locked(name, k);
  if (n == NULL && (n = (mo_kindnode *)calloc(1, sizeof *n)) != NULL) {
    n->name = name;
    for (tail = &first; *tail; tail = &(*tail)->next) {}
    __atomic_store_n(tail, n, __ATOMIC_RELEASE);
  }
  if (n && k && n->kind == NULL) __atomic_store_n(&n->kind, k, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&reg_lock);
  return n;
}

mo_kindnode *mo_kind_node(const memobj_kind *k) {
  mo_kindnode *n;
  for (n = mo_kind_first(); n; n = mo_kind_next(n))
    if (__atomic_load_n(&n->kind, __ATOMIC_ACQUIRE) == k) return n;
  return claim(k->name, k);
}

void mo_kind_declare(lua_State *L, const char *name) {
  if (claim(name, NULL) == NULL)
    luaL_error(L, "memobj: not enough memory to register kind '%s'", name);
}

void mo_kind_register(lua_State *L, const mo_kinddesc *d) {
  mo_kindnode *n = claim(d->kind->name, d->kind);
  if (n == NULL)
    luaL_error(L, "memobj: not enough memory to register kind '%s'",
               d->kind->name);
  __atomic_store_n(&n->desc, d, __ATOMIC_RELEASE);
  if (d->ctor) {
    lua_pushcfunction(L, d->ctor);
    lua_setfield(L, -2, d->kind->name);
  }
  if (d->methods) mo_mem_addmethods(L, d->methods);
}

int mo_kind_settx(const memobj_kind *k, const struct mo_txhooks *h) {
  mo_kindnode *n = claim(k->name, k);
  if (n == NULL) return -1;
  __atomic_store_n(&n->tx, h, __ATOMIC_RELEASE);
  return 0;
}

const mo_kinddesc *mo_kind_desc(const memobj_kind *k) {
  mo_kindnode *n = mo_kind_node(k);
  return n ? __atomic_load_n(&n->desc, __ATOMIC_ACQUIRE) : NULL;
}

/* ---- Making memory by role ---- */

static const mo_kinddesc *by_role(lua_State *L, int role, const char *what) {
  mo_kindnode *n;
  for (n = mo_kind_first(); n; n = mo_kind_next(n)) {
    const mo_kinddesc *d = __atomic_load_n(&n->desc, __ATOMIC_ACQUIRE);
    if (d && d->role == role && d->make) return d;
  }
  luaL_error(L, "memobj: no memory kind is registered for %s", what);
  return NULL;
}

memobj_mem *mo_mem_from_string(lua_State *L, int idx) {
  return by_role(L, MO_ROLE_STRING, "Lua strings")->make(L, idx);
}

memobj_mem *mo_mem_zeroed(lua_State *L, size_t n) {
  memobj_mem *m;
  if (n > (size_t)LUA_MAXINTEGER)  /* callers check their counts first */
    luaL_error(L, "memobj: not enough memory for %f bytes", (lua_Number)n);
  lua_pushinteger(L, (lua_Integer)n);
  m = by_role(L, MO_ROLE_ZEROED, "zeroed memory")->make(L, -1);
  lua_remove(L, -2);
  return m;
}

/* ---- C functions behind Lua values ---- */

static mo_cfunc_resolver resolver;

void mo_set_cfunc_resolver(mo_cfunc_resolver r) {
  __atomic_store_n(&resolver, r, __ATOMIC_RELEASE);
}

void *mo_cfunc_addr(lua_State *L, int idx, int *onepointer) {
  mo_cfunc_resolver r = __atomic_load_n(&resolver, __ATOMIC_ACQUIRE);
  *onepointer = 0;
  return r ? r(L, idx, onepointer) : NULL;
}

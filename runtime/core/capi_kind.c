/*
** capi_kind.c: memory kinds defined by C modules through memobj.h
** (memobj_kind_info): memobj.mpi's windows are one. Each kind_info gets a
** memobj_kind and a descriptor of the kind registry (kinds.c), made once
** per process and never freed (kinds are static data, as built-in kinds
** are), so such a kind is one registration like every other: stats(),
** locks, views, close and the collector treat its objects alike. The
** objects are born closed and opened by one publish step (openmemory),
** so a module can fail between the two and leave a closed object.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "../core.h"
#include "../memobj.h"

/* The object of a module's kind: the base, then what the module gave. */
typedef struct ext_mem {
  memobj_mem base;
  const memobj_kind_info *info;
  void *ctx;
  int opened;  /* openmemory ran: it runs once */
} ext_mem;

/* One per kind_info, in a list that only grows. */
typedef struct ext_kind {
  memobj_kind kind;
  mo_kinddesc desc;
  const memobj_kind_info *info;
  struct ext_kind *next;
} ext_kind;

static ext_kind *kinds;
static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;

static void ext_release(memobj_mem *m) {
  ext_mem *e = (ext_mem *)m;
  if (e->opened) e->info->release(e->ctx, m->collected);
}

static ext_kind *find(const memobj_kind_info *k) {
  ext_kind *x;
  for (x = __atomic_load_n(&kinds, __ATOMIC_ACQUIRE); x; x = x->next)
    if (x->info == k) return x;
  return NULL;
}

/* The ext_kind of k, made on first use; NULL when out of memory. */
static ext_kind *claim(const memobj_kind_info *k) {
  ext_kind *x;
  pthread_mutex_lock(&kinds_lock);
  if ((x = find(k)) == NULL && (x = (ext_kind *)calloc(1, sizeof *x)) != NULL) {
    x->info = k;
    x->kind.name = k->name;
    x->kind.persistence = k->persistence;
    x->kind.release = ext_release;
    x->desc.kind = &x->kind;
    x->desc.methods = k->methods;
    x->next = kinds;
    __atomic_store_n(&kinds, x, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&kinds_lock);
  return x;
}

void mo_capi_newkind(lua_State *L, const memobj_kind_info *k) {
  ext_kind *x;
  mo_kindnode *n;
  if (k == NULL || k->name == NULL || k->persistence == NULL ||
      k->release == NULL)
    luaL_error(L, "memobj: newkind: name, persistence and release are needed");
  x = claim(k);
  if (x == NULL) luaL_error(L, "memobj: newkind: not enough memory");
  /* a name is one kind's: a module cannot take over "heap" */
  for (n = mo_kind_first(); n; n = mo_kind_next(n)) {
    const memobj_kind *nk = __atomic_load_n(&n->kind, __ATOMIC_ACQUIRE);
    if (nk && nk != &x->kind && strcmp(n->name, k->name) == 0)
      luaL_error(L, "memobj: newkind: kind '%s' exists", k->name);
  }
  mo_kind_register(L, &x->desc);
}

void mo_capi_newmemory(lua_State *L, const memobj_kind_info *k) {
  ext_kind *x = find(k);
  ext_mem *e;
  if (x == NULL) luaL_error(L, "memobj: newmemory: kind is not registered");
  e = (ext_mem *)mo_mem_new(L, &x->kind, sizeof(ext_mem));  /* closed */
  e->info = k;
}

/* The object of a module's kind at idx, or NULL. */
static ext_mem *toext(lua_State *L, int idx) {
  memobj_mem *m = mo_tomem(L, idx);
  if (m == NULL || m->kind->release != ext_release) return NULL;
  return (ext_mem *)m;
}

void mo_capi_openmemory(lua_State *L, int idx, void *ptr, size_t size,
                        int writable, void *ctx) {
  ext_mem *e = toext(L, idx);
  if (e == NULL || e->opened)
    luaL_error(L, "memobj: openmemory: not a new memory object of a module's kind");
  e->ctx = ctx;
  e->opened = 1;
  e->base.writable = writable != 0;
  mo_mem_publish(L, &e->base, (unsigned char *)ptr, size);
}

void *mo_capi_checkmemory(lua_State *L, int idx, const memobj_kind_info *k) {
  ext_mem *e = toext(L, idx);
  if (e == NULL || e->info != k) {
    luaL_typeerror(L, idx, lua_pushfstring(L, "%s memory", k->name));
    return NULL;
  }
  if (e->base.closed) luaL_error(L, "memobj: memory object is closed");
  return e->ctx;
}

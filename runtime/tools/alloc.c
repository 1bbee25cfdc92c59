/*
** alloc.c: allocator domains. Heap memory comes from the current domain
** (libc by default, memobj's arena, or one that memobj.set_allocator
** loaded from a shared library); each block remembers its domain, so any
** block can be resized and freed by the allocator that made it, whatever
** is current then. set_allocator(spec, "lua") is passed on to lalloc.c.
*/
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "tools.h"

#define MALLOC_ALIGN 16  /* what malloc guarantees on this platform */

static void *libc_aligned(size_t align, size_t n) {
  void *p = NULL;
  return posix_memalign(&p, align, n) == 0 ? p : NULL;
}

static mo_allocator libc_domain = {
  malloc, free, realloc, libc_aligned, NULL, "libc", "",
  {"malloc", "free", "realloc", "posix_memalign", ""}, 0, 0, NULL
};

/* ---- The arena domain: one process-wide arena heap, behind a lock
** (heap objects may be made and freed by states in several threads). */

static mo_arena *heap_arena;
static pthread_mutex_t heap_arena_lock = PTHREAD_MUTEX_INITIALIZER;

static void *ha_malloc(size_t n) {
  void *p = NULL;
  pthread_mutex_lock(&heap_arena_lock);
  if (heap_arena == NULL) heap_arena = mo_arena_new();
  if (heap_arena) p = mo_arena_malloc(heap_arena, n);
  pthread_mutex_unlock(&heap_arena_lock);
  return p;
}

static void ha_free(void *p) {  /* heap_arena exists: it made p */
  pthread_mutex_lock(&heap_arena_lock);
  mo_arena_free(heap_arena, p);
  pthread_mutex_unlock(&heap_arena_lock);
}

static void *ha_realloc(void *p, size_t n) {
  pthread_mutex_lock(&heap_arena_lock);
  p = mo_arena_realloc(heap_arena, p, n);
  pthread_mutex_unlock(&heap_arena_lock);
  return p;
}

static mo_allocator arena_domain = {
  ha_malloc, ha_free, ha_realloc, NULL, NULL, "arena", "",
  {"", "", "", "", ""}, 0, 0, &libc_domain
};

static mo_allocator *current = &libc_domain;
static mo_allocator *domains = &arena_domain;  /* list of all, never freed */
static pthread_mutex_t domains_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- Raw domain calls ---- */

static int misaligned(const void *p, size_t align) {
  return ((uintptr_t)p & (align - 1)) != 0;
}

/* n > 0 bytes aligned to align; *raw gets what the domain must free.
** Whatever an allocator returns is checked: one that gives less (small
** size classes of mimalloc are 8-aligned; its aligned_alloc has bugs) or
** has no aligned function is padded and the start rounded up. */
void *mo_domain_alloc(mo_allocator *a, size_t n, size_t align, void **raw) {
  uintptr_t p;
  if (n > SIZE_MAX - (align - 1)) return *raw = NULL;
  if (align <= MALLOC_ALIGN) {
    *raw = a->malloc(n);
    if (*raw == NULL || !misaligned(*raw, align)) return *raw;
    a->free(*raw);
  } else if (a->aligned) {
    *raw = a->aligned(align, (n + align - 1) & ~(align - 1));  /* C11: a multiple */
    if (*raw == NULL || !misaligned(*raw, align)) return *raw;
    a->free(*raw);
  }
  *raw = a->malloc(n + align - 1);
  if (*raw == NULL) return NULL;
  p = ((uintptr_t)*raw + align - 1) & ~(uintptr_t)(align - 1);
  return (void *)p;
}

void mo_domain_free(mo_allocator *a, void *raw) {
  a->free(raw);
}

void mo_domain_count(mo_allocator *a, long blocks, long long bytes) {
  if (blocks) MO_COUNT_ADD(&a->count, (size_t)blocks);
  if (bytes) MO_COUNT_ADD(&a->bytes, (size_t)bytes);
}

/* ---- Blocks of the heap kind ---- */

unsigned char *mo_block_alloc(lua_State *L, mo_block *b, memobj_mem *owner,
                              size_t n, size_t align) {
  mo_allocator *a = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
  unsigned char *p;
  if (mo_debug_enabled(L)) return mo_dbg_alloc(L, b, a, owner, n, align);
  p = mo_domain_alloc(a, n ? n : 1, align, &b->raw);
  if (p == NULL) return NULL;
  b->a = a;
  b->dbg = NULL;
  mo_domain_count(a, 1, (long long)n);
  return p;
}

unsigned char *mo_block_realloc(mo_block *b, unsigned char *p, size_t old,
                                size_t n, size_t align) {
  unsigned char *q;
  void *raw;
  if (MO_UNLIKELY(b->dbg != NULL)) return mo_dbg_realloc(b, p, old, n, align);
  if (align <= MALLOC_ALIGN && b->a->realloc && b->raw == p) {
    q = b->a->realloc(b->raw, n ? n : 1);
    if (q == NULL) return NULL;
    b->raw = q;
    if (misaligned(q, align)) {  /* move to a padded block if we can */
      unsigned char *r = mo_domain_alloc(b->a, n ? n : 1, align, &raw);
      if (r) {
        memcpy(r, q, n);
        mo_domain_free(b->a, q);
        b->raw = raw;
        q = r;
      }
    }
  } else {  /* realloc does not keep a larger alignment */
    q = mo_domain_alloc(b->a, n ? n : 1, align, &raw);
    if (q == NULL) return NULL;
    memcpy(q, p, n < old ? n : old);
    mo_domain_free(b->a, b->raw);
    b->raw = raw;
  }
  mo_domain_count(b->a, 0, (long long)n - (long long)old);
  return q;
}

void mo_block_free(mo_block *b, unsigned char *p, size_t n) {
  if (b->a == NULL) return;
  if (b->dbg) {
    mo_dbg_free(b, p, n);
  } else {
    mo_domain_free(b->a, b->raw);
    mo_domain_count(b->a, -1, -(long long)n);
  }
  b->a = NULL;
  b->raw = NULL;
}

/* ---- memobj.set_allocator(spec) ---- */

static const char *const spec_fields[] = {"malloc", "free", "realloc",
                                          "aligned", "owns", "library",
                                          "name", NULL};

/* Copy the string field f of the spec at index 1 into buf ("" if absent). */
static void spec_string(lua_State *L, const char *f, char *buf, size_t size) {
  size_t len;
  const char *s;
  buf[0] = '\0';
  if (lua_getfield(L, 1, f) != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, 1, lua_pushfstring(L, "field '%s' must be a string", f));
    s = lua_tolstring(L, -1, &len);
    if (len >= size || len == 0 || strlen(s) != len)
      luaL_argerror(L, 1, lua_pushfstring(L, "field '%s' is empty or too long", f));
    memcpy(buf, s, len + 1);
  }
  lua_pop(L, 1);
}

/* Every key of the spec must be a known field: a typo is an error. */
static void spec_checkkeys(lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    int i, known = 0;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (i = 0; spec_fields[i]; i++)
        known |= strcmp(lua_tostring(L, -2), spec_fields[i]) == 0;
    if (!known)
      luaL_argerror(L, 1, lua_pushfstring(L, "unknown field '%s'",
                                          luaL_tolstring(L, -2, NULL)));
    lua_pop(L, 1);
  }
}

static void *spec_sym(lua_State *L, void *h, const mo_allocator *d, int i) {
  void *f;
  if (d->sym[i][0] == '\0') return NULL;
  dlerror();
  f = dlsym(h, d->sym[i]);
  if (f == NULL)
    luaL_error(L, "memobj: set_allocator: symbol '%s' not found in %s",
               d->sym[i], d->library[0] ? d->library : "the process");
  return f;
}

/* Try the functions once, so a spec that names the wrong symbols fails
** here with a message instead of later inside memobj.heap. */
static void spec_try(lua_State *L, const mo_allocator *d) {
  void *p = d->malloc(64), *q;
  if (p == NULL)
    luaL_error(L, "memobj: set_allocator: %s(64) returned NULL", d->sym[0]);
  if (d->realloc) {
    q = d->realloc(p, 4096);
    if (q == NULL) {
      d->free(p);
      luaL_error(L, "memobj: set_allocator: %s(p, 4096) returned NULL",
                 d->sym[2]);
    }
    p = q;
  }
  if (d->owns && !d->owns(p)) {
    d->free(p);
    luaL_error(L, "memobj: set_allocator: %s does not own what %s returned",
               d->sym[4], d->sym[0]);
  }
  d->free(p);
  if (d->aligned) {
    p = d->aligned(256, 256);
    if (p == NULL || ((uintptr_t)p & 255) != 0)
      luaL_error(L, "memobj: set_allocator: %s(256, 256) did not return "
                 "256-byte aligned memory", d->sym[3]);
    d->free(p);
  }
}

/* A domain with the same library and symbols is reused, so setting the
** same spec again does not grow the list. */
static mo_allocator *domain_find(const mo_allocator *d) {
  mo_allocator *a;
  for (a = domains; a; a = a->next)
    if (strcmp(a->name, d->name) == 0 && strcmp(a->library, d->library) == 0 &&
        memcmp(a->sym, d->sym, sizeof d->sym) == 0)
      return a;
  return NULL;
}

static mo_allocator *domain_load(lua_State *L) {
  mo_allocator d, *a;
  void *h;
  memset(&d, 0, sizeof d);
  spec_checkkeys(L);
  spec_string(L, "library", d.library, sizeof d.library);
  spec_string(L, "malloc", d.sym[0], sizeof d.sym[0]);
  spec_string(L, "free", d.sym[1], sizeof d.sym[1]);
  spec_string(L, "realloc", d.sym[2], sizeof d.sym[2]);
  spec_string(L, "aligned", d.sym[3], sizeof d.sym[3]);
  spec_string(L, "owns", d.sym[4], sizeof d.sym[4]);
  spec_string(L, "name", d.name, sizeof d.name);
  luaL_argcheck(L, d.sym[0][0], 1, "field 'malloc' is required");
  luaL_argcheck(L, d.sym[1][0], 1, "field 'free' is required");
  if (d.name[0] == '\0')
    snprintf(d.name, sizeof d.name, "%.63s", d.library[0] ? d.library : d.sym[0]);
  h = dlopen(d.library[0] ? d.library : NULL, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL)
    luaL_error(L, "memobj: set_allocator: cannot load '%s': %s", d.library,
               dlerror());
  /* the handle is never closed: blocks may outlive any later switch */
  d.malloc = (void *(*)(size_t))spec_sym(L, h, &d, 0);
  d.free = (void (*)(void *))spec_sym(L, h, &d, 1);
  d.realloc = (void *(*)(void *, size_t))spec_sym(L, h, &d, 2);
  d.aligned = (void *(*)(size_t, size_t))spec_sym(L, h, &d, 3);
  d.owns = (int (*)(const void *))spec_sym(L, h, &d, 4);
  pthread_mutex_lock(&domains_lock);
  a = domain_find(&d);
  pthread_mutex_unlock(&domains_lock);
  if (a) return a;
  spec_try(L, &d);
  a = (mo_allocator *)malloc(sizeof *a);
  if (a == NULL) luaL_error(L, "memobj: set_allocator: out of memory");
  *a = d;
  pthread_mutex_lock(&domains_lock);
  a->next = domains;
  __atomic_store_n(&domains, a, __ATOMIC_RELEASE);  /* readers need no lock */
  pthread_mutex_unlock(&domains_lock);
  return a;
}

/* Push the spec of a domain (nil for the libc default). */
void mo_alloc_pushspec(lua_State *L, const mo_allocator *a) {
  int i;
  if (a == &libc_domain) {
    lua_pushnil(L);
    return;
  }
  if (a == &arena_domain) {
    lua_pushliteral(L, "arena");
    return;
  }
  lua_createtable(L, 0, 7);
  for (i = 0; i < 5; i++)
    if (a->sym[i][0]) {
      lua_pushstring(L, a->sym[i]);
      lua_setfield(L, -2, spec_fields[i]);
    }
  if (a->library[0]) {
    lua_pushstring(L, a->library);
    lua_setfield(L, -2, "library");
  }
  lua_pushstring(L, a->name);
  lua_setfield(L, -2, "name");
}

static int spec_is(lua_State *L, const char *name) {
  return lua_type(L, 1) == LUA_TSTRING && strcmp(lua_tostring(L, 1), name) == 0;
}

/* memobj.set_allocator(spec | nil | "default" | "arena" [, "heap" | "lua"])
** -> previous spec ("arena", a table, or nil for the default) */
int mo_l_set_allocator(lua_State *L) {
  static const char *const domains_opt[] = {"heap", "lua", NULL};
  int lua = luaL_checkoption(L, 2, "heap", domains_opt);
  mo_allocator *a, *old;
  if (lua_isnoneornil(L, 1) || spec_is(L, "default")) a = &libc_domain;
  else if (spec_is(L, "arena")) a = &arena_domain;
  else {
    luaL_argexpected(L, lua_type(L, 1) == LUA_TTABLE, 1,
                     "table, nil, 'default' or 'arena'");
    if (lua) {
      lua_getfield(L, 1, "owns");
      luaL_argcheck(L, !lua_isnil(L, -1), 1, "field 'owns' is required for "
                    "the Lua state's allocator");
      lua_pop(L, 1);
    }
    a = domain_load(L);
  }
  lua_settop(L, 1);
  if (lua)
    return mo_lalloc_set(L, a == &arena_domain,
                         a == &libc_domain || a == &arena_domain ? NULL : a);
  old = __atomic_exchange_n(&current, a, __ATOMIC_ACQ_REL);
  mo_alloc_pushspec(L, old);
  return 1;
}

/* Push {name = {count =, bytes =}} for every domain with live blocks or
** the current one (stats().heap.allocators). */
void mo_alloc_pushstats(lua_State *L) {
  mo_allocator *a, *cur = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
  lua_newtable(L);
  for (a = __atomic_load_n(&domains, __ATOMIC_ACQUIRE); a; a = a->next) {
    size_t c = __atomic_load_n(&a->count, __ATOMIC_RELAXED);
    size_t n = __atomic_load_n(&a->bytes, __ATOMIC_RELAXED);
    if (c == 0 && a != cur) continue;
    if (lua_getfield(L, -1, a->name) != LUA_TTABLE) {  /* names may repeat */
      lua_pop(L, 1);
      lua_createtable(L, 0, 3);
      lua_pushvalue(L, -1);
      lua_setfield(L, -3, a->name);
    } else {
      lua_getfield(L, -1, "count");
      c += (size_t)lua_tointeger(L, -1);
      lua_getfield(L, -2, "bytes");
      n += (size_t)lua_tointeger(L, -1);
      lua_pop(L, 2);
    }
    lua_pushinteger(L, (lua_Integer)c);
    lua_setfield(L, -2, "count");
    lua_pushinteger(L, (lua_Integer)n);
    lua_setfield(L, -2, "bytes");
    if (a == cur) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, "current");
    }
    lua_pop(L, 1);
  }
}

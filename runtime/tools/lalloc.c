/*
** lalloc.c: the allocator of the running Lua state, memobj.set_allocator
** (spec, "lua"). The state's allocator becomes a chain: the original one
** (the base, libc's realloc in lua5.4) and every allocator switched to
** since, one of them current. New blocks come from the current one; every
** other call goes to the allocator that made the block, found from its
** address: an arena owns the addresses of its arenas (arena.h), a library
** allocator answers with its `owns` function, and the base takes the
** rest. Nothing is added to blocks, so any switch is safe at any time.
**
** The chain outlives every block: lua_close frees the main thread's block
** last, through the chain, and that call frees the chain itself.
*/
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "tools.h"

#define MAXCHAIN 8   /* allocators one state may have used */
#define BASE (-1)    /* index of the base allocator */

/* Debug blocks (memobj.debug on, arena current): the data is preceded by
** its size and 8 guard bytes and followed by at least 16 guard bytes, in
** an arena block of a larger class; a set of the data addresses tells a
** debug block from a plain one whatever debug says later. */
#define GFRONT 16
#define GBACK 16
#define GMAX (MO_ARENA_SMALL - GFRONT - GBACK)  /* larger: plain, base */
#define GUARDBYTE 0xFD
#define CLEANBYTE 0xCD
#define DEADBYTE 0xDD
#define TOMB ((uintptr_t)1)

typedef struct lentry {
  mo_arena *arena;             /* an arena, or NULL for a library */
  const mo_allocator *lib;     /* a library allocator with `owns` */
} lentry;

typedef struct lchain {
  lua_Alloc basef;             /* the state's original allocator */
  void *baseud;
  void *lastblock;             /* what lua_close frees last */
  int cur;                     /* current entry, or BASE */
  int n;
  lentry e[MAXCHAIN];
  int debug;                   /* memobj.debug is on for the state */
  uintptr_t *gset;             /* debug blocks: open hash, 0 empty */
  size_t gcap, gused, gtombs;
} lchain;

/* ---- Debug blocks ---- */

static size_t gslot(uintptr_t p, size_t cap) {
  return (size_t)(((p >> 4) * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static int gset_add(lchain *c, void *data) {
  size_t i;
  if (2 * (c->gused + c->gtombs + 1) > c->gcap) {  /* rebuild, maybe larger */
    size_t cap = c->gcap == 0 ? 256 : 4 * c->gused >= c->gcap ? 2 * c->gcap : c->gcap;
    uintptr_t *ns = (uintptr_t *)calloc(cap, sizeof *ns);
    if (ns == NULL) return 0;
    for (i = 0; i < c->gcap; i++)
      if (c->gset[i] > TOMB) {
        size_t j = gslot(c->gset[i], cap);
        while (ns[j]) j = (j + 1) & (cap - 1);
        ns[j] = c->gset[i];
      }
    free(c->gset);
    mo_stats_runtime((long long)((cap - c->gcap) * sizeof *ns));
    c->gset = ns;
    c->gcap = cap;
    c->gtombs = 0;
  }
  for (i = gslot((uintptr_t)data, c->gcap); c->gset[i] > TOMB; i = (i + 1) & (c->gcap - 1))
    ;
  if (c->gset[i] == TOMB) c->gtombs--;
  c->gset[i] = (uintptr_t)data;
  c->gused++;
  return 1;
}

/* Remove data if it is a debug block; returns whether it was. */
static int gset_remove(lchain *c, const void *data) {
  size_t i;
  for (i = gslot((uintptr_t)data, c->gcap); c->gset[i]; i = (i + 1) & (c->gcap - 1))
    if (c->gset[i] == (uintptr_t)data) {
      c->gset[i] = TOMB;
      c->gused--;
      c->gtombs++;
      return 1;
    }
  return 0;
}

/* Changed guard bytes before and after the debug block at data. */
static size_t gdamage(const unsigned char *data, size_t *before, size_t *after) {
  size_t n, usable = mo_arena_usable(data), i;
  memcpy(&n, data - GFRONT, sizeof n);
  *before = *after = 0;
  for (i = sizeof n; i < GFRONT; i++) *before += data[i - GFRONT] != GUARDBYTE;
  if (n > usable - GFRONT) n = usable - GFRONT;  /* the size was hit */
  for (i = GFRONT + n; i < usable; i++) *after += data[i - GFRONT] != GUARDBYTE;
  return *before + *after;
}

static void *gblock_alloc(lchain *c, mo_arena *a, size_t n) {
  unsigned char *raw = (unsigned char *)mo_arena_small(a, n + GFRONT + GBACK);
  size_t usable;
  if (raw == NULL) return NULL;
  if (!gset_add(c, raw + GFRONT)) {
    mo_arena_free_small(a, raw);
    return NULL;
  }
  usable = mo_arena_usable(raw);
  memcpy(raw, &n, sizeof n);
  memset(raw + sizeof n, GUARDBYTE, GFRONT - sizeof n);
  memset(raw + GFRONT, CLEANBYTE, n);
  memset(raw + GFRONT + n, GUARDBYTE, usable - GFRONT - n);
  return raw + GFRONT;
}

/* Free a debug block: intact, it is filled and freed; damaged, it is
** reported (to the next memobj call) and leaked. */
static void gblock_free(mo_arena *a, unsigned char *data) {
  size_t before, after, n;
  memcpy(&n, data - GFRONT, sizeof n);
  if (gdamage(data, &before, &after)) {
    mo_dbg_report_lua(data, n, before, after);
    return;
  }
  memset(data - GFRONT, DEADBYTE, mo_arena_usable(data));
  mo_arena_free_small(a, data - GFRONT);
}

/* ---- The allocation function ---- */

/* Which allocator made ptr (osize bytes)? Arena blocks are small. */
static inline int owner_of(const lchain *c, const void *ptr, size_t osize) {
  int i;
  for (i = 0; i < c->n; i++) {
    const lentry *e = &c->e[i];
    if (e->arena ? osize <= MO_ARENA_SMALL && mo_arena_owns(e->arena, ptr)
                 : e->lib->owns(ptr))
      return i;
  }
  return BASE;
}

/* A new block from the current allocator (an arena's large blocks come
** from the base, which takes any block nobody else owns). */
static void *cur_alloc(lchain *c, size_t osize, size_t nsize) {
  const lentry *e;
  if (c->cur == BASE) return c->basef(c->baseud, NULL, osize, nsize);
  e = &c->e[c->cur];
  if (e->arena) {
    if (MO_UNLIKELY(c->debug) && nsize <= GMAX)
      return gblock_alloc(c, e->arena, nsize);
    if (nsize <= MO_ARENA_SMALL) return mo_arena_small(e->arena, nsize);
    return c->basef(c->baseud, NULL, osize, nsize);
  }
  return e->lib->malloc(nsize);
}

static void owner_free(lchain *c, int who, void *ptr, size_t osize) {
  if (who == BASE) c->basef(c->baseud, ptr, osize, 0);
  else if (c->e[who].arena) {
    if (MO_UNLIKELY(c->gused) && gset_remove(c, ptr))
      gblock_free(c->e[who].arena, (unsigned char *)ptr);
    else mo_arena_free_small(c->e[who].arena, ptr);
  } else c->e[who].lib->free(ptr);
}

/* Move a block to the current allocator. */
static void *move(lchain *c, int who, void *ptr, size_t osize, size_t nsize) {
  void *q = cur_alloc(c, osize, nsize);
  if (q == NULL) return NULL;
  memcpy(q, ptr, osize < nsize ? osize : nsize);
  owner_free(c, who, ptr, osize);
  return q;
}

static void chain_free(lchain *c);

static void *chain_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  lchain *c = (lchain *)ud;
  int who;
  const lentry *e;
  if (ptr == NULL) return nsize ? cur_alloc(c, osize, nsize) : NULL;
  who = owner_of(c, ptr, osize);
  if (nsize == 0) {
    owner_free(c, who, ptr, osize);
    if (MO_UNLIKELY(ptr == c->lastblock)) chain_free(c);
    return NULL;
  }
  if (who == BASE) {  /* large blocks of an arena stay with the base */
    if (c->cur == BASE || (c->e[c->cur].arena && nsize > MO_ARENA_SMALL))
      return c->basef(c->baseud, ptr, osize, nsize);
    return move(c, who, ptr, osize, nsize);
  }
  e = &c->e[who];
  if (e->arena) {
    size_t usable = mo_arena_usable(ptr);
    if (nsize <= usable && 2 * nsize >= usable && !c->debug && !c->gused)
      return ptr;
    return move(c, who, ptr, osize, nsize);  /* debug blocks always move */
  }
  if (who == c->cur && e->lib->realloc) return e->lib->realloc(ptr, nsize);
  return move(c, who, ptr, osize, nsize);
}

/* lua_close freed the state's last block: every block is gone. */
static void chain_free(lchain *c) {
  int i;
  for (i = 0; i < c->n; i++) mo_arena_delete(c->e[i].arena);
  free(c->gset);
  mo_stats_runtime(-(long long)(sizeof *c + c->gcap * sizeof *c->gset));
  free(c);
}

/* ---- Switching ---- */

/* memobj.so must stay loaded while its allocator serves the state:
** lua_close unloads C libraries (a finalizer) before it frees the last
** objects through the allocator. */
static void pin_library(void) {
  Dl_info info;
  if (dladdr((void *)chain_alloc, &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

/* Where L's allocator is: the state's own slot (copied into *f, *ud), or,
** while tracing, the slot of the allocator the tracer wraps. */
static void alloc_slots(lua_State *L, lua_Alloc **fp, void ***udp,
                        lua_Alloc *f, void **ud) {
  *f = lua_getallocf(L, ud);
  *fp = f;
  *udp = ud;
  mo_trace_inner(L, fp, udp);
}

/* The chain of L, made (and installed) on first use. The allocator to
** replace may be wrapped by the tracer (trace.c), whose inner one is the
** state's real allocator. */
static lchain *chain_get(lua_State *L) {
  lua_Alloc *fp, f;
  void **udp, *ud;
  lchain *c;
  lua_State *main;
  alloc_slots(L, &fp, &udp, &f, &ud);
  if (*fp == chain_alloc) return (lchain *)*udp;
  c = (lchain *)calloc(1, sizeof *c);
  if (c == NULL) luaL_error(L, "memobj: set_allocator: out of memory");
  mo_stats_runtime((long long)sizeof *c);
  pin_library();
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  main = lua_tothread(L, -1);
  lua_pop(L, 1);
  c->lastblock = lua_getextraspace(main);  /* where lua_newstate's block starts */
  c->basef = *fp;
  c->baseud = *udp;
  c->cur = BASE;
  c->debug = mo_debug_enabled(L);
  if (fp == &f) lua_setallocf(L, chain_alloc, c);
  else {
    *fp = chain_alloc;
    *udp = c;
  }
  return c;
}

/* The entry for an arena (the state's one) or a library allocator. */
static int chain_entry(lua_State *L, lchain *c, const mo_allocator *lib) {
  int i;
  for (i = 0; i < c->n; i++)
    if (lib ? c->e[i].lib == lib : c->e[i].arena != NULL) return i;
  if (c->n == MAXCHAIN)
    luaL_error(L, "memobj: set_allocator: more than %d allocators for one "
               "state", MAXCHAIN);
  if (lib == NULL) {
    c->e[c->n].arena = mo_arena_new();
    if (c->e[c->n].arena == NULL)
      luaL_error(L, "memobj: set_allocator: out of memory");
  }
  c->e[c->n].lib = lib;
  return c->n++;
}

/* Push what set_allocator(spec, "lua") returns for the current one. */
static void push_current(lua_State *L, const lchain *c) {
  if (c->cur == BASE) lua_pushnil(L);
  else if (c->e[c->cur].arena) lua_pushliteral(L, "arena");
  else mo_alloc_pushspec(L, c->e[c->cur].lib);
}

/* memobj.set_allocator(spec, "lua"): spec is at 1. lib is the loaded
** library allocator for a table spec, else NULL. */
int mo_lalloc_set(lua_State *L, int arena, const mo_allocator *lib) {
  lchain *c = chain_get(L);
  int i = arena || lib ? chain_entry(L, c, lib) : BASE;
  push_current(L, c);
  c->cur = i;
  return 1;
}

/* L's chain, or NULL when it has none. */
static lchain *chain_of(lua_State *L) {
  lua_Alloc *fp, f;
  void **udp, *ud;
  alloc_slots(L, &fp, &udp, &f, &ud);
  return *fp == chain_alloc ? (lchain *)*udp : NULL;
}

void mo_lalloc_debug(lua_State *L, int on) {
  lchain *c = chain_of(L);
  if (c) c->debug = on;
}

/* Push the name of the state's current allocator: "default", "arena" or
** the library allocator's name. */
void mo_lalloc_pushname(lua_State *L) {
  const lchain *c = chain_of(L);
  if (c == NULL || c->cur == BASE) lua_pushliteral(L, "default");
  else if (c->e[c->cur].arena) lua_pushliteral(L, "arena");
  else lua_pushstring(L, c->e[c->cur].lib->name);
}

/* memobj.check(): verify the guards of every debug block of L's arena;
** bad(ud, data, size, before, after) for each damaged one. Returns how
** many were checked. */
size_t mo_lalloc_check(lua_State *L, void (*bad)(void *, const void *, size_t,
                                                  size_t, size_t),
                       void *ud) {
  const lchain *c = chain_of(L);
  size_t i, before, after, n, checked = 0;
  if (c == NULL) return 0;
  for (i = 0; i < c->gcap; i++) {
    const unsigned char *data = (const unsigned char *)c->gset[i];
    if (c->gset[i] <= TOMB) continue;
    checked++;
    if (gdamage(data, &before, &after)) {
      memcpy(&n, data - GFRONT, sizeof n);
      bad(ud, data, n, before, after);
    }
  }
  return checked;
}

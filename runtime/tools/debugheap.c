/*
** debugheap.c: the debug heap (memobj.debug, memobj.check). While debug
** is on, every new heap block gets guard bytes before and after it, its
** fresh bytes a fill pattern, and a record in a registry of live blocks
** naming its kind, size and the Lua line that created it. Records live
** outside the blocks, so a write out of bounds cannot damage them.
*/
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools.h"

#define GUARD 16         /* guard bytes after a block (and at least before) */
#define CLEANBYTE 0xCD   /* fresh memory (seen with zero = false) */
#define DEADBYTE 0xDD    /* freed memory */
#define GUARDBYTE 0xFD   /* guard bytes: must never change */

typedef struct mo_dbgrec {
  struct mo_dbgrec *prev, *next;
  unsigned char *ptr;    /* first byte of the block */
  size_t size;
  size_t front;          /* guard bytes before ptr: max(GUARD, align) */
  const char *kind;      /* the owner's kind name (a static string) */
  char where[80];        /* Lua source:line that created the block */
} mo_dbgrec;

/* Lua states with debug on, process-wide: while it is 0 the allocation
** path pays one load; otherwise each state's own flag decides. */
int mo_debug_states = 0;
MO_TLS int mo_debug_damaged = 0;
/* The report waiting for this thread's Lua caller (damage is found and
** reported in the same call, so it belongs to the thread). A pointer, not
** a 1 KiB TLS block: that would eat the static TLS surplus that other
** libraries (jemalloc, a second copy of memobj) need to load at all. */
#define REPORTSIZE 1024
static MO_TLS char *pending;
static const char lost_report[] =
    "a damaged block was found (no memory left to describe it)";

/* ---- Per-state switch ---- */

/* The registry of each state holds its switch as a userdata whose __gc
** gives the count back when the state closes with debug on. */
static const char switch_key = 0;

typedef struct dbgswitch {
  int on;
} dbgswitch;

static int switch_gc(lua_State *L) {
  dbgswitch *w = (dbgswitch *)mo_state_self(L, &switch_key, sizeof(dbgswitch));
  if (w == NULL) return 0;
  if (w->on) __atomic_sub_fetch(&mo_debug_states, 1, __ATOMIC_RELAXED);
  w->on = 0;
  return 0;
}

/* The state's switch, made on first use when `make`; NULL if none. */
static dbgswitch *getswitch(lua_State *L, int make) {
  return (dbgswitch *)mo_state_udata(L, &switch_key, sizeof(dbgswitch),
                                     switch_gc, make, NULL);
}

int mo_debug_state_on(lua_State *L) {
  dbgswitch *w = getswitch(L, 0);
  return w && w->on;
}

static mo_dbgrec *live;                    /* registry of guarded blocks */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static void link_rec(mo_dbgrec *r) {
  pthread_mutex_lock(&live_lock);
  r->prev = NULL;
  r->next = live;
  if (live) live->prev = r;
  live = r;
  pthread_mutex_unlock(&live_lock);
}

static void unlink_rec(mo_dbgrec *r) {
  pthread_mutex_lock(&live_lock);
  if (r->prev) r->prev->next = r->next;
  else live = r->next;
  if (r->next) r->next->prev = r->prev;
  pthread_mutex_unlock(&live_lock);
}

/* ---- Guards ---- */

/* Count changed guard bytes before and after the block; 0 when intact. */
static size_t damage(const mo_dbgrec *r, size_t *before, size_t *after) {
  const unsigned char *front = r->ptr - r->front, *back = r->ptr + r->size;
  size_t i;
  *before = *after = 0;
  for (i = 0; i < r->front; i++) *before += front[i] != GUARDBYTE;
  for (i = 0; i < GUARD; i++) *after += back[i] != GUARDBYTE;
  return *before + *after;
}

static void describe(char *buf, size_t size, const mo_dbgrec *r, size_t before,
                     size_t after) {
  snprintf(buf, size, "%s block %p of %zu bytes created at %s: %zu byte%s "
           "before the start and %zu byte%s after the end overwritten",
           r->kind, (void *)r->ptr, r->size, r->where, before,
           before == 1 ? "" : "s", after, after == 1 ? "" : "s");
}

/* Free or resize found r damaged: keep a report for the Lua caller. */
static void report_damage(const mo_dbgrec *r, size_t before, size_t after) {
  size_t used;
  if (pending == NULL) pending = (char *)calloc(1, REPORTSIZE);
  mo_debug_damaged = 1;
  if (pending == NULL) return;  /* mo_debug_report says so */
  used = strlen(pending);
  if (used && used + 2 < REPORTSIZE) {
    memcpy(pending + used, "; ", 3);
    used += 2;
  }
  describe(pending + used, REPORTSIZE - used, r, before, after);
}

/* The Lua state's own debug blocks (lalloc.c) have no record: Lua made
** them, at no line of its program. */
#define LUA_KIND "Lua"
#define LUA_WHERE "a Lua allocation"

static void lua_rec(mo_dbgrec *r, const void *data, size_t size) {
  memset(r, 0, sizeof *r);
  r->ptr = (unsigned char *)(uintptr_t)data;
  r->size = size;
  r->kind = LUA_KIND;
  memcpy(r->where, LUA_WHERE, sizeof LUA_WHERE);
}

void mo_dbg_report_lua(const void *data, size_t size, size_t before, size_t after) {
  mo_dbgrec r;
  lua_rec(&r, data, size);
  report_damage(&r, before, after);
}

void mo_debug_report(lua_State *L, int raise) {
  char msg[REPORTSIZE];
  snprintf(msg, sizeof msg, "%s", pending ? pending : lost_report);
  free(pending);
  pending = NULL;
  mo_debug_damaged = 0;
  if (raise) luaL_error(L, "memobj: debug: %s", msg);
  /* __gc cannot raise usefully (Lua turns it into a warning that is off
  ** by default): say it on stderr rather than keep quiet */
  fprintf(stderr, "memobj: debug: %s\n", msg);
}

/* Lay out guards and fill around a block of n bytes at base + front. */
static void lay_guards(unsigned char *base, size_t front, size_t n) {
  memset(base, GUARDBYTE, front);
  memset(base + front + n, GUARDBYTE, GUARD);
}

/* Allocate front + n + GUARD bytes from a; returns the block start. */
static unsigned char *guarded_alloc(mo_allocator *a, size_t front, size_t n,
                                    size_t align, void **raw) {
  unsigned char *base;
  if (n > SIZE_MAX - front - GUARD) return NULL;
  base = mo_domain_alloc(a, front + n + GUARD, align, raw);
  if (base == NULL) return NULL;
  lay_guards(base, front, n);
  return base + front;
}

/* ---- Blocks (called by alloc.c) ---- */

unsigned char *mo_dbg_alloc(lua_State *L, mo_block *b, mo_allocator *a,
                            memobj_mem *owner, size_t n, size_t align) {
  mo_dbgrec *r = (mo_dbgrec *)malloc(sizeof *r);
  size_t front = align > GUARD ? align : GUARD;
  unsigned char *p;
  if (r == NULL) return NULL;
  p = guarded_alloc(a, front, n, align, &b->raw);
  if (p == NULL) {
    free(r);
    return NULL;
  }
  memset(p, CLEANBYTE, n);
  r->ptr = p;
  r->size = n;
  r->front = front;
  r->kind = owner->kind->name;
  mo_where(L, r->where, sizeof r->where);
  link_rec(r);
  b->a = a;
  b->dbg = r;
  mo_domain_count(a, 1, (long long)n);
  mo_stats_runtime((long long)(sizeof *r + front + GUARD));
  return p;
}

/* Check the old block; free it if intact, else report and leak it, so the
** allocator never sees a chunk whose neighbourhood was overwritten. */
static void retire(mo_block *b, void *raw, mo_dbgrec *r) {
  size_t before, after;
  if (damage(r, &before, &after)) {
    report_damage(r, before, after);
    return;
  }
  memset(r->ptr - r->front, DEADBYTE, r->front + r->size + GUARD);
  mo_domain_free(b->a, raw);
}

unsigned char *mo_dbg_realloc(mo_block *b, unsigned char *p, size_t old,
                              size_t n, size_t align) {
  mo_dbgrec *r = b->dbg;
  void *raw, *oldraw = b->raw;
  unsigned char *q = guarded_alloc(b->a, r->front, n, align, &raw);
  if (q == NULL) return NULL;
  memcpy(q, p, n < old ? n : old);
  if (n > old) memset(q + old, CLEANBYTE, n - old);
  retire(b, oldraw, r);
  r->ptr = q;
  r->size = n;
  b->raw = raw;
  mo_domain_count(b->a, 0, (long long)n - (long long)old);
  return q;
}

void mo_dbg_free(mo_block *b, unsigned char *p, size_t n) {
  mo_dbgrec *r = b->dbg;
  (void)p;
  unlink_rec(r);
  retire(b, b->raw, r);
  mo_domain_count(b->a, -1, -(long long)n);
  mo_stats_runtime(-(long long)(sizeof *r + r->front + GUARD));
  free(r);
  b->dbg = NULL;
}

/* ---- Lua functions ---- */

/* memobj.debug([on]) -> whether debug was on */
int mo_l_debug(lua_State *L) {
  dbgswitch *w = getswitch(L, !lua_isnone(L, 1));
  int was = w && w->on;
  if (!lua_isnone(L, 1)) {
    int on = lua_toboolean(L, 1);
    if (on != was)
      __atomic_add_fetch(&mo_debug_states, on ? 1 : -1, __ATOMIC_RELAXED);
    w->on = on;
    mo_lalloc_debug(L, on);  /* the state's arena blocks too */
  }
  lua_pushboolean(L, was);
  return 1;
}

typedef struct damaged {
  mo_dbgrec rec;   /* a copy: the block may be freed once the lock is gone */
  size_t before, after;
} damaged;

/* Verify every live block under the lock; copy out the damaged ones. */
static damaged *scan(size_t *nbad, size_t *nlive) {
  damaged *bad = NULL, *grown;
  size_t cap = 0, before, after;
  const mo_dbgrec *r;
  *nbad = *nlive = 0;
  pthread_mutex_lock(&live_lock);
  for (r = live; r; r = r->next, ++*nlive) {
    if (!damage(r, &before, &after)) continue;
    if (*nbad == cap) {
      cap = cap ? 2 * cap : 8;
      grown = (damaged *)realloc(bad, cap * sizeof *bad);
      if (grown == NULL) break;  /* report what fits */
      bad = grown;
    }
    bad[*nbad].rec = *r;
    bad[*nbad].before = before;
    bad[*nbad].after = after;
    ++*nbad;
  }
  pthread_mutex_unlock(&live_lock);
  return bad;
}

static void push_damaged(lua_State *L, const damaged *d) {
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)(uintptr_t)d->rec.ptr);
  lua_setfield(L, -2, "address");
  lua_pushinteger(L, (lua_Integer)d->rec.size);
  lua_setfield(L, -2, "size");
  lua_pushstring(L, d->rec.kind);
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, d->rec.where);
  lua_setfield(L, -2, "where");
  lua_pushinteger(L, (lua_Integer)d->before);
  lua_setfield(L, -2, "before");
  lua_pushinteger(L, (lua_Integer)d->after);
  lua_setfield(L, -2, "after");
}

typedef struct lua_bad { damaged *bad; size_t n, cap; } lua_bad;

static void add_lua_bad(void *ud, const void *data, size_t size, size_t before,
                        size_t after) {
  lua_bad *lb = (lua_bad *)ud;
  if (lb->n == lb->cap) {
    size_t cap = lb->cap ? 2 * lb->cap : 8;
    damaged *grown = (damaged *)realloc(lb->bad, cap * sizeof *grown);
    if (grown == NULL) return;  /* report what fits */
    lb->bad = grown;
    lb->cap = cap;
  }
  lua_rec(&lb->bad[lb->n].rec, data, size);
  lb->bad[lb->n].before = before;
  lb->bad[lb->n].after = after;
  lb->n++;
}

/* memobj.check() -> true, blocks checked | false, report, {damaged...} */
int mo_l_check(lua_State *L) {
  size_t nbad, nlive, i;
  damaged *bad = scan(&nbad, &nlive);
  lua_bad lb;
  lb.bad = bad;
  lb.n = lb.cap = nbad;
  nlive += mo_lalloc_check(L, add_lua_bad, &lb);  /* the state's own blocks */
  bad = lb.bad;
  nbad = lb.n;
  luaL_Buffer b;
  char line[256];
  if (nbad == 0) {
    free(bad);
    lua_pushboolean(L, 1);
    lua_pushinteger(L, (lua_Integer)nlive);
    return 2;
  }
  /* only a memory error can raise below (and would leak `bad`) */
  lua_pushboolean(L, 0);
  luaL_buffinit(L, &b);
  snprintf(line, sizeof line, "memobj: check: %zu of %zu heap block%s damaged",
           nbad, nlive, nlive == 1 ? "" : "s");
  luaL_addstring(&b, line);
  for (i = 0; i < nbad; i++) {
    describe(line, sizeof line, &bad[i].rec, bad[i].before, bad[i].after);
    luaL_addstring(&b, "\n  ");
    luaL_addstring(&b, line);
  }
  luaL_pushresult(&b);
  lua_createtable(L, (int)nbad, 0);
  for (i = 0; i < nbad; i++) {
    push_damaged(L, &bad[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  free(bad);
  return 3;
}

/* After a kind freed or moved a block (close, resize, __gc). */
mo_observer mo_debug_observer = {.settled = mo_debug_after};

/*
** trace.c: memobj.trace, tracemalloc for the Lua heap. start() wraps the
** state's allocator (lua_setallocf) and sets a line hook. The hook runs
** in ordinary Lua context: it finds the current source line (and, with
** frames > 1, its callers) and stores the matching site in a C variable.
** The allocator wrapper never calls into Lua: it only reads that
** variable and updates C tables (a pointer -> site hash) with libc.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tools.h"

#define MAXFRAMES MO_WHERE_MAX
#define NPEND 8    /* blocks whose table slot is being prefetched */

/* A place in the code: a source line, with its callers when frames > 1.
** Only the innermost site of an allocation counts bytes. */
typedef struct site {
  struct site *hnext;     /* chain in the site hash */
  struct site *next;      /* list of every site */
  struct site *parent;    /* caller's site, or NULL */
  uint32_t idx;           /* in tracer.sitev */
  const char *srcptr;     /* ar.source seen: a lookup key, never read */
  int line;
  size_t bytes, count;    /* live traced Lua blocks made here */
  char *source;           /* copy of ar.source: checks the key */
  char short_src[];       /* what snapshots show */
} site;

typedef struct slot {     /* a traced block and its site */
  void *ptr;
  site *s;
} slot;

/* A pointer table entry packs the block address (>> 3: Lua's blocks are
** aligned for any type, so 8 bytes apart at least) and the site's index
** in 8 bytes; 0 is empty. Addresses must be below 2^47 (user space on
** Linux); a block above is counted but not followed (lossy). */
typedef uint64_t entry;
#define SITEBITS 20
#define NOSITE ((uint32_t)1 << SITEBITS)     /* sites beyond are not traced */
#define KEY(p) ((uint64_t)(uintptr_t)(p) >> 3)
#define ENTRY(p, idx) (KEY(p) << SITEBITS | (idx))
#define TOMB ((entry)1)  /* a removed entry (a real one is >= 1 << SITEBITS) */

typedef struct tracer {
  lua_Alloc f;            /* the wrapped allocator */
  void *ud;
  int frames;
  int recording;          /* 0 while a snapshot is being built */
  site *cur;              /* where the running Lua code is */
  const char *cursrc;     /* source of the running function; NULL after a
                             call or return until the next line event */
  const char *vsrc;       /* the source text last compared with a site's
                             copy; watched: freeing its block clears it */
  site **sites;           /* site hash */
  size_t nsites, sitecap;
  site **sitev;           /* sites by index */
  size_t sitevcap;
  site *all;
  slot pend[NPEND];       /* newest traced blocks, not yet in tab */
  unsigned pendhead;
  uint8_t pendcnt[64];    /* pend entries by KEY & 63: most frees skip
                             the scan of pend */
  size_t vepoch;          /* changes whenever vsrc does */
  struct lcent { const char *src; int line; size_t epoch; struct site *s; } lc[256];
                          /* line cache: sites of vsrc by line, valid while
                             vsrc stays what it was (same epoch) */
  entry *tab;             /* live traced blocks */
  size_t used, tombs, cap;
  int lossy;              /* the table could not grow: some blocks missed */
  lua_Hook oldhook;       /* the hook start() replaced, restored by stop() */
  int oldmask, oldcount;
} tracer;

static const char sentinel_key = 0;  /* registry: stops tracing at close */

/* ---- Pointer table (called from inside the allocator: libc only) ---- */

/* An odd multiplier permutes the low bits of the address / 16 (malloc's
** blocks are 16-aligned), so distinct blocks spread over the table.
** (Mixing in the high half measured slower.) */
static size_t keyhash(uint64_t key, size_t cap) {
  return (size_t)((key >> 1) * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

static size_t ptrhash(const void *p, size_t cap) {
  return keyhash(KEY(p), cap);
}

/* Rebuild the table without tombstones, twice as large when more than a
** quarter of it is live. */
static int tab_grow(tracer *t) {
  size_t cap = t->cap == 0 ? 4096 : 4 * t->used >= t->cap ? 2 * t->cap : t->cap;
  size_t i, j;
  entry *nt = (entry *)calloc(cap, sizeof *nt);
  if (nt == NULL) return 0;
  for (i = 0; i < t->cap; i++) {
    if (t->tab[i] <= TOMB) continue;
    for (j = keyhash(t->tab[i] >> SITEBITS, cap); nt[j]; j = (j + 1) & (cap - 1))
      ;
    nt[j] = t->tab[i];
  }
  free(t->tab);
  mo_stats_runtime((long long)((cap - t->cap) * sizeof *nt));
  t->tab = nt;
  t->cap = cap;
  t->tombs = 0;
  return 1;
}

static void tab_insert(tracer *t, void *p, site *s) {
  size_t i;
  if (KEY(p) >> (64 - SITEBITS) || s->idx >= NOSITE ||
      (2 * (t->used + t->tombs + 1) > t->cap && !tab_grow(t))) {
    t->lossy = 1;  /* the block stays counted at its site, but its free */
    return;        /* will not be seen: the site keeps its bytes */
  }
  for (i = ptrhash(p, t->cap); t->tab[i] > TOMB; i = (i + 1) & (t->cap - 1))
    ;
  if (t->tab[i] == TOMB) t->tombs--;
  t->tab[i] = ENTRY(p, s->idx);
  t->used++;
}

/* A new block counts at its site at once; it enters the table NPEND
** allocations later, once its slot has been prefetched. Most Lua blocks
** die young and never reach the table. */
static void remember(tracer *t, void *p, size_t n) {
  site *s = t->cur;
  slot *old;
  if (s == NULL) return;
  s->bytes += n;
  s->count++;
  if (t->cap) __builtin_prefetch(&t->tab[ptrhash(p, t->cap)], 1);
  old = &t->pend[t->pendhead];
  t->pendhead = (t->pendhead + 1) % NPEND;
  if (old->ptr) {
    t->pendcnt[KEY(old->ptr) & 63]--;
    tab_insert(t, old->ptr, old->s);
  }
  old->ptr = p;
  old->s = s;
  t->pendcnt[KEY(p) & 63]++;
}

/* Remove p if traced: a young block leaves pend, an older one leaves a
** tombstone in the table (cheaper than moving entries back). */
static void forget(tracer *t, void *p, size_t n) {
  size_t i;
  uint64_t key = KEY(p);
  site *s;
  if (t->pendcnt[key & 63])
    for (i = 0; i < NPEND; i++)
      if (t->pend[i].ptr == p) {
        t->pend[i].s->bytes -= n;
        t->pend[i].s->count--;
        t->pend[i].ptr = NULL;
        t->pendcnt[key & 63]--;
        return;
      }
  if (t->used == 0) return;
  for (i = keyhash(key, t->cap); (t->tab[i] >> SITEBITS) != key;
       i = (i + 1) & (t->cap - 1))
    if (t->tab[i] == 0) return;  /* made before tracing */
  s = t->sitev[t->tab[i] & (NOSITE - 1)];
  s->bytes -= n;
  s->count--;
  t->used--;
  t->tab[i] = TOMB;  /* the next rebuild drops it */
  t->tombs++;
}

/* The wrapper. Lua passes osize = the block's size whenever ptr != NULL.
** The table slot of ptr is fetched while the real allocator works. */
static void *trace_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  tracer *t = (tracer *)ud;
  void *p;
  if (ptr) {
    if (t->cap) __builtin_prefetch(&t->tab[ptrhash(ptr, t->cap)]);
    if ((const char *)ptr <= t->vsrc && t->vsrc < (const char *)ptr + osize) {
      t->vsrc = NULL;  /* that source text may be gone */
      t->vepoch++;
    }
  }
  p = t->f(t->ud, ptr, osize, nsize);
  if (nsize == 0) {
    if (ptr) forget(t, ptr, osize);
    return p;
  }
  if (p == NULL) return NULL;  /* failed: the old block is untouched */
  if (ptr) forget(t, ptr, osize);
  if (t->recording) remember(t, p, nsize);
  return p;
}

/* ---- Sites (called from the hook and start: ordinary context) ---- */

static size_t sitehash(const site *parent, const char *src, int line,
                       size_t cap) {
  uintptr_t h = (uintptr_t)src ^ ((uintptr_t)parent >> 3) ^ (uintptr_t)line * 31;
  return (size_t)((h >> 3) * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
}

static int sites_grow(tracer *t) {
  size_t cap = t->sitecap ? 2 * t->sitecap : 256, h;
  site **ns = (site **)calloc(cap, sizeof *ns), *s;
  if (ns == NULL) return 0;
  for (s = t->all; s; s = s->next) {
    h = sitehash(s->parent, s->srcptr, s->line, cap);
    s->hnext = ns[h];
    ns[h] = s;
  }
  free(t->sites);
  mo_stats_runtime((long long)((cap - t->sitecap) * sizeof *ns));
  t->sites = ns;
  t->sitecap = cap;
  return 1;
}

/* The site for (parent, source, line); NULL only when out of memory. The
** pointer is the fast key; the copied text guards against a new chunk
** whose source string reuses the address of a collected one. */
static void set_vsrc(tracer *t, const char *src) {
  if (t->vsrc != src) {
    t->vsrc = src;
    t->vepoch++;
  }
}

static site *site_find(tracer *t, site *parent, const char *src, int line) {
  site *s;
  if (t->sitecap == 0) return NULL;
  for (s = t->sites[sitehash(parent, src, line, t->sitecap)]; s; s = s->hnext)
    if (s->srcptr == src && s->line == line && s->parent == parent &&
        strcmp(s->source, src) == 0) {
      set_vsrc(t, src);
      return s;
    }
  return NULL;
}

static site *site_get(tracer *t, site *parent, const char *source,
                      const char *short_src, int line) {
  size_t h, lsrc, lshort;
  site *s = site_find(t, parent, source, line);
  if (s) return s;
  if (t->sitecap == 0 && !sites_grow(t)) return NULL;
  h = sitehash(parent, source, line, t->sitecap);
  if (2 * (t->nsites + 1) > t->sitecap) {
    if (!sites_grow(t)) return NULL;
    h = sitehash(parent, source, line, t->sitecap);
  }
  if (t->nsites == t->sitevcap) {
    size_t cap = t->sitevcap ? 2 * t->sitevcap : 256;
    site **nv = (site **)realloc(t->sitev, cap * sizeof *nv);
    if (nv == NULL) return NULL;
    mo_stats_runtime((long long)((cap - t->sitevcap) * sizeof *nv));
    t->sitev = nv;
    t->sitevcap = cap;
  }
  lsrc = strlen(source) + 1;
  lshort = strlen(short_src) + 1;
  s = (site *)malloc(sizeof *s + lshort + lsrc);
  if (s == NULL) return NULL;
  memcpy(s->short_src, short_src, lshort);
  s->source = s->short_src + lshort;
  memcpy(s->source, source, lsrc);
  s->srcptr = source;
  set_vsrc(t, source);
  s->line = line;
  s->parent = parent;
  s->bytes = s->count = 0;
  s->idx = (uint32_t)t->nsites;
  t->sitev[t->nsites] = s;
  s->hnext = t->sites[h];
  t->sites[h] = s;
  s->next = t->all;
  t->all = s;
  t->nsites++;
  mo_stats_runtime((long long)(sizeof *s + lshort + lsrc));
  return s;
}

/* The site of the Lua code at `level` (0: the function running a hook),
** with ar filled for it, and its Lua callers up to t->frames frames in
** all, read through the core's recorder (runtime/core/where.h); NULL
** when out of memory. */
static site *site_at(tracer *t, lua_State *L, int level, lua_Debug *ar) {
  site *parent = NULL;
  mo_frame fr[MO_WHERE_MAX];
  int n = mo_where_frames(L, level + 1, fr, t->frames - 1), i;
  for (i = n - 1; i >= 0; i--)  /* outermost first: each is the parent */
    parent = site_get(t, parent, fr[i].source, fr[i].short_src, fr[i].line);
  return site_get(t, parent, ar->source, ar->short_src, ar->currentline);
}

static tracer *active(lua_State *L) {
  void *ud;
  return lua_getallocf(L, &ud) == trace_alloc ? (tracer *)ud : NULL;
}

int mo_trace_inner(lua_State *L, lua_Alloc **f, void ***ud) {
  tracer *t = active(L);
  if (t == NULL) return 0;
  *f = &t->f;
  *ud = &t->ud;
  return 1;
}

/* The hook: the one place that learns where Lua code is. A call only
** marks the running function as unknown, so the next line event asks
** Lua for its source; within one function a line event costs a table
** lookup. A return sets the caller's line at once: the rest of that line
** (`cache[k] = f(k)` grows cache after f returns) belongs to it. A
** coroutine created while tracing keeps this hook after stop(): it
** removes itself. */
static void trace_hook(lua_State *L, lua_Debug *ar) {
  tracer *t = active(L);
  lua_Debug up;
  site *s;
  struct lcent *lc;
  if (t == NULL) {
    lua_sethook(L, NULL, 0, 0);
    return;
  }
  if (ar->event == LUA_HOOKRET) {
    t->cursrc = NULL;
    if (lua_getstack(L, 1, &up) && lua_getinfo(L, "Sl", &up) &&
        up.currentline > 0) {  /* a Lua caller */
      t->cur = t->frames > 1 ? site_at(t, L, 1, &up)
                             : site_get(t, NULL, up.source, up.short_src, up.currentline);
      t->cursrc = up.source;
    }
    return;
  }
  if (ar->event != LUA_HOOKLINE) {  /* a call */
    t->cursrc = NULL;
    return;
  }
  if (t->frames > 1) {
    if (lua_getinfo(L, "S", ar)) t->cur = site_at(t, L, 0, ar);
    return;
  }
  lc = &t->lc[ar->currentline & 255];
  if (t->cursrc && lc->src == t->cursrc && lc->line == ar->currentline &&
      lc->epoch == t->vepoch) {
    t->cur = lc->s;  /* the text at vsrc is still the one checked */
    return;
  }
  if (t->cursrc && (s = site_find(t, NULL, t->cursrc, ar->currentline))) {
    t->cur = s;
  } else {
    if (!lua_getinfo(L, "S", ar)) return;
    t->cursrc = ar->source;  /* alive while its function runs */
    t->cur = s = site_get(t, NULL, ar->source, ar->short_src, ar->currentline);
  }
  if (s && t->cursrc == t->vsrc) {
    lc->src = t->cursrc;
    lc->line = ar->currentline;
    lc->epoch = t->vepoch;
    lc->s = s;
  }
}

/* ---- start / stop ---- */

static void tracer_free(tracer *t) {
  site *s, *next;
  long long bytes = (long long)(sizeof *t + t->cap * sizeof(entry) +
                                (t->sitecap + t->sitevcap) * sizeof(site *));
  for (s = t->all; s; s = next) {
    next = s->next;
    bytes += (long long)(sizeof *s + strlen(s->short_src) + strlen(s->source) + 2);
    free(s);
  }
  free(t->sites);
  free(t->sitev);
  free(t->tab);
  free(t);
  mo_stats_runtime(-bytes);
}

/* Set a hook on L and on the main thread. With `only_ours`, a thread
** whose hook is not the tracer's keeps its own. */
static void sethooks(lua_State *L, lua_Hook h, int mask, int count,
                     int only_ours) {
  lua_State *main;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  main = lua_tothread(L, -1);
  lua_pop(L, 1);
  if (!only_ours || lua_gethook(L) == trace_hook) lua_sethook(L, h, mask, count);
  if (main && main != L && (!only_ours || lua_gethook(main) == trace_hook))
    lua_sethook(main, h, mask, count);
}

/* Stop tracing L: from here on the original allocator serves it directly
** and frees the blocks made while tracing as its own (no headers were
** added), so the tables can go at once. */
static void trace_stop(lua_State *L) {
  tracer *t = active(L);
  if (t == NULL) return;
  lua_setallocf(L, t->f, t->ud);
  sethooks(L, t->oldhook, t->oldmask, t->oldcount, 1);
  tracer_free(t);
}

/* The sentinel's __gc: lua_close runs finalizers before it frees objects,
** so the state's last blocks are freed by the original allocator. */
static int sentinel_gc(lua_State *L) {
  if (mo_state_self(L, &sentinel_key, 1) == NULL) return 0;
  trace_stop(L);
  return 0;
}

static void ensure_sentinel(lua_State *L) {
  mo_state_udata(L, &sentinel_key, 1, sentinel_gc, 1, NULL);
}

/* memobj.trace.start([frames]) */
static int l_start(lua_State *L) {
  lua_Integer frames = luaL_optinteger(L, 1, 1);
  tracer *t = active(L);
  lua_Debug ar;
  luaL_argcheck(L, frames >= 1 && frames <= MAXFRAMES, 1,
                "frames must be between 1 and 16");
  if (t) {
    if (t->frames != frames)
      return luaL_error(L, "memobj: trace: already started with %d frames",
                        t->frames);
    return 0;
  }
  ensure_sentinel(L);
  t = (tracer *)calloc(1, sizeof *t);
  if (t == NULL) return luaL_error(L, "memobj: trace: out of memory");
  mo_stats_runtime((long long)sizeof *t);
  t->frames = (int)frames;
  t->recording = 1;
  /* allocations before the first line event belong to the caller */
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
    t->cur = site_at(t, L, 1, &ar);
  t->oldhook = lua_gethook(L);
  t->oldmask = lua_gethookmask(L);
  t->oldcount = lua_gethookcount(L);
  t->f = lua_getallocf(L, &t->ud);
  lua_setallocf(L, trace_alloc, t);
  sethooks(L, trace_hook, LUA_MASKLINE | LUA_MASKCALL | LUA_MASKRET, 0, 0);
  return 0;
}

static int l_stop(lua_State *L) {
  trace_stop(L);
  return 0;
}

static int l_running(lua_State *L) {
  lua_pushboolean(L, active(L) != NULL);
  return 1;
}

/* ---- Snapshots ---- */

static const char snap_mtkey = 0;  /* registry: snapshot metatable */

/* Sites in the same place (same text and line, same callers) merge, as
** when a chunk is loaded twice. */
static int site_cmp(const site *a, const site *b) {
  int c;
  while (a && b) {
    if ((c = strcmp(a->short_src, b->short_src)) != 0) return c;
    if (a->line != b->line) return a->line < b->line ? -1 : 1;
    a = a->parent;
    b = b->parent;
  }
  return a ? 1 : b ? -1 : 0;
}

static int by_place(const void *x, const void *y) {
  return site_cmp(*(site *const *)x, *(site *const *)y);
}

typedef struct agg { site *s; size_t bytes, count; } agg;

static int by_bytes(const void *x, const void *y) {
  const agg *a = (const agg *)x, *b = (const agg *)y;
  if (a->bytes != b->bytes) return a->bytes > b->bytes ? -1 : 1;
  return a->count > b->count ? -1 : a->count < b->count;
}

static void push_entry(lua_State *L, const agg *e, int frames) {
  const site *p;
  int i = 0;
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "native");  /* mo_objects_native may set it */
  lua_pushstring(L, e->s->short_src);
  lua_setfield(L, -2, "source");
  lua_pushinteger(L, e->s->line);
  lua_setfield(L, -2, "line");
  lua_pushinteger(L, (lua_Integer)e->bytes);
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, (lua_Integer)e->count);
  lua_setfield(L, -2, "count");
  if (frames > 1) {  /* innermost first, as a traceback reads */
    lua_createtable(L, frames, 0);
    for (p = e->s; p; p = p->parent) {
      lua_pushfstring(L, "%s:%d", p->short_src, p->line);
      lua_rawseti(L, -2, ++i);
    }
    lua_setfield(L, -2, "traceback");
  }
}

/* Gather live sites, merged and sorted by bytes, into a userdata buffer
** on the stack (so a memory error cannot leak it); returns the count. */
static size_t gather(lua_State *L, tracer *t, agg **out) {
  size_t n = 0, i, k;
  site *s, **v;
  agg *a;
  for (s = t->all; s; s = s->next) n += s->count > 0;
  v = (site **)mo_scratch(L, n * sizeof *v + 1);
  for (i = 0, s = t->all; s; s = s->next)
    if (s->count > 0) v[i++] = s;
  qsort(v, n, sizeof *v, by_place);
  a = (agg *)mo_scratch(L, n * sizeof *a + 1);
  for (i = 0, k = 0; i < n; i++) {
    if (k > 0 && site_cmp(a[k - 1].s, v[i]) == 0) {
      a[k - 1].bytes += v[i]->bytes;
      a[k - 1].count += v[i]->count;
      continue;
    }
    a[k].s = v[i];
    a[k].bytes = v[i]->bytes;
    a[k++].count = v[i]->count;
  }
  qsort(a, k, sizeof *a, by_bytes);
  *out = a;
  return k;
}

/* Native bytes of memory objects, by creation line (objects.c). With one
** frame they join the entry of their line; with more, the entry of a
** line has callers, so they get entries of their own (traceback: the
** line alone). */
typedef struct native_ctx {
  lua_State *L;
  int list, byplace, frames;   /* stack indices; frames of the tracer */
  lua_Integer n;               /* entries in list */
  size_t total;
} native_ctx;

static void add_native(void *ud, const char *src, int line, size_t bytes) {
  native_ctx *c = (native_ctx *)ud;
  lua_State *L = c->L;
  c->total += bytes;
  lua_pushfstring(L, "%s:%d", src, line);
  if (c->frames == 1 && lua_rawget(L, c->byplace) == LUA_TTABLE) {
    lua_pushinteger(L, (lua_Integer)bytes);
    lua_setfield(L, -2, "native");
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, src);
  lua_setfield(L, -2, "source");
  lua_pushinteger(L, line);
  lua_setfield(L, -2, "line");
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "count");
  lua_pushinteger(L, (lua_Integer)bytes);
  lua_setfield(L, -2, "native");
  if (c->frames > 1) {
    lua_createtable(L, 1, 0);
    lua_pushfstring(L, "%s:%d", src, line);
    lua_rawseti(L, -2, 1);
    lua_setfield(L, -2, "traceback");
  }
  lua_rawseti(L, c->list, ++c->n);
}

typedef struct order { lua_Integer key; int idx; } order;

static int by_key(const void *x, const void *y) {
  const order *a = (const order *)x, *b = (const order *)y;
  if (a->key != b->key) return a->key > b->key ? -1 : 1;
  return a->idx - b->idx;
}

/* Replace the list at idx (n entries) by a new list sorted by the
** absolute value of field f1 plus field f2, largest first. */
static void sort_list(lua_State *L, int idx, lua_Integer n, const char *f1,
                      const char *f2) {
  lua_Integer i;
  order *o = (order *)mo_scratch(L, (size_t)n * sizeof *o + 1);
  for (i = 0; i < n; i++) {
    lua_Integer v;
    lua_rawgeti(L, idx, i + 1);
    lua_getfield(L, -1, f1);
    lua_getfield(L, -2, f2);
    v = lua_tointeger(L, -2) + lua_tointeger(L, -1);
    o[i].key = v < 0 ? -v : v;
    o[i].idx = (int)i + 1;
    lua_pop(L, 3);
  }
  qsort(o, (size_t)n, sizeof *o, by_key);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, idx, o[i].idx);
    lua_rawseti(L, -2, i + 1);
  }
  lua_replace(L, idx);
  lua_pop(L, 1);
}

/* memobj.trace.snapshot(): entries sorted by bytes + native, largest
** first. The snapshot's own memory is not traced. */
static int l_snapshot(lua_State *L) {
  tracer *t = active(L);
  agg *a;
  size_t n, i, bytes = 0, count = 0;
  native_ctx nc;
  if (t == NULL) return luaL_error(L, "memobj: trace: not started");
  t->recording = 0;
  n = gather(L, t, &a);
  lua_createtable(L, (int)n, 5);
  nc.list = lua_gettop(L);
  lua_createtable(L, 0, (int)n);  /* "source:line" -> entry, one frame */
  nc.byplace = lua_gettop(L);
  for (i = 0; i < n; i++) {
    push_entry(L, &a[i], t->frames);
    if (t->frames == 1) {
      lua_pushfstring(L, "%s:%d", a[i].s->short_src, a[i].s->line);
      lua_pushvalue(L, -2);
      lua_rawset(L, nc.byplace);
    }
    lua_rawseti(L, nc.list, (lua_Integer)i + 1);
    bytes += a[i].bytes;
    count += a[i].count;
  }
  nc.L = L;
  nc.frames = t->frames;
  nc.n = (lua_Integer)n;
  nc.total = 0;
  mo_objects_native(L, add_native, &nc);
  lua_pop(L, 1);  /* byplace */
  sort_list(L, nc.list, nc.n, "bytes", "native");
  lua_pushinteger(L, (lua_Integer)nc.total);
  lua_setfield(L, -2, "native");
  lua_pushinteger(L, (lua_Integer)bytes);
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, (lua_Integer)count);
  lua_setfield(L, -2, "count");
  lua_pushinteger(L, t->frames);
  lua_setfield(L, -2, "frames");
  lua_pushboolean(L, t->lossy);
  lua_setfield(L, -2, "lossy");
  mo_regpush(L, &snap_mtkey, LUA_TTABLE);
  lua_setmetatable(L, -2);
  t->recording = 1;
  return 1;
}

/* snapshot:top([n]): the n largest entries (all by default). */
static int snap_top(lua_State *L) {
  lua_Integer n, len, i;
  luaL_checktype(L, 1, LUA_TTABLE);
  len = (lua_Integer)lua_rawlen(L, 1);
  n = luaL_optinteger(L, 2, len);
  luaL_argcheck(L, n >= 0, 2, "must be a non-negative integer");
  if (n > len) n = len;
  lua_createtable(L, (int)n, 0);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    lua_rawseti(L, -2, i);
  }
  mo_regpush(L, &snap_mtkey, LUA_TTABLE);
  lua_setmetatable(L, -2);
  return 1;
}

/* Push the key of the entry at the top: "source:line", then "<caller"
** for each frame of its traceback. */
static void push_key(lua_State *L) {
  int e = lua_gettop(L);
  lua_Integer i, n;
  lua_getfield(L, e, "source");
  lua_getfield(L, e, "line");
  lua_pushfstring(L, "%s:%d", lua_tostring(L, e + 1), (int)lua_tointeger(L, e + 2));
  lua_replace(L, e + 1);
  lua_settop(L, e + 1);
  if (lua_getfield(L, e, "traceback") == LUA_TTABLE) {
    n = (lua_Integer)lua_rawlen(L, e + 2);
    for (i = 2; i <= n; i++) {  /* [1] is the entry itself */
      lua_rawgeti(L, e + 2, i);
      lua_pushfstring(L, "%s<%s", lua_tostring(L, e + 1), lua_tostring(L, -1));
      lua_replace(L, e + 1);
      lua_pop(L, 1);
    }
  }
  lua_settop(L, e + 1);
}

typedef struct diff { lua_Integer bytes, dbytes; int idx; } diff;

static int by_diff(const void *x, const void *y) {
  const diff *a = (const diff *)x, *b = (const diff *)y;
  lua_Integer da = a->dbytes < 0 ? -a->dbytes : a->dbytes;
  lua_Integer db = b->dbytes < 0 ? -b->dbytes : b->dbytes;
  if (da != db) return da > db ? -1 : 1;
  if (a->bytes != b->bytes) return a->bytes > b->bytes ? -1 : 1;
  return a->idx - b->idx;
}

static lua_Integer intfield(lua_State *L, int t, const char *k) {
  lua_Integer v;
  lua_getfield(L, t, k);
  v = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

/* Copy the entry at e into a new diff entry against `old` (a table or
** nil) and leave it at the top. */
static void push_diff(lua_State *L, int e, int old, int present) {
  static const char *const keep[] = {"source", "line", "traceback", NULL};
  int i;
  lua_createtable(L, 0, 9);
  lua_pushinteger(L, present ? intfield(L, e, "native") : 0);
  lua_setfield(L, -2, "native");
  lua_pushinteger(L, (present ? intfield(L, e, "native") : 0) -
                         (old ? intfield(L, old, "native") : 0));
  lua_setfield(L, -2, "native_diff");
  for (i = 0; keep[i]; i++) {
    lua_getfield(L, e, keep[i]);
    lua_setfield(L, -2, keep[i]);
  }
  lua_pushinteger(L, present ? intfield(L, e, "bytes") : 0);
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, present ? intfield(L, e, "count") : 0);
  lua_setfield(L, -2, "count");
  lua_pushinteger(L, (present ? intfield(L, e, "bytes") : 0) -
                         (old ? intfield(L, old, "bytes") : 0));
  lua_setfield(L, -2, "bytes_diff");
  lua_pushinteger(L, (present ? intfield(L, e, "count") : 0) -
                         (old ? intfield(L, old, "count") : 0));
  lua_setfield(L, -2, "count_diff");
}

/* snapshot:compare(older): one entry per place in either snapshot with
** bytes, count, native, bytes_diff, count_diff and native_diff, largest
** change (bytes_diff + native_diff) first. */
static int snap_compare(lua_State *L) {
  lua_Integer i, n, nold, k = 0;
  diff *d;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  n = (lua_Integer)lua_rawlen(L, 1);
  nold = (lua_Integer)lua_rawlen(L, 2);
  lua_newtable(L);  /* 3: key -> older entry */
  for (i = 1; i <= nold; i++) {
    lua_rawgeti(L, 2, i);
    push_key(L);
    lua_pushvalue(L, -2);
    lua_rawset(L, 3);
    lua_pop(L, 1);
  }
  lua_createtable(L, (int)(n + nold), 0);  /* 4: diffs, unsorted */
  for (i = 1; i <= n; i++) {
    int e;
    lua_rawgeti(L, 1, i);
    e = lua_gettop(L);
    push_key(L);
    lua_pushvalue(L, -1);
    lua_rawget(L, 3);  /* older entry or nil */
    push_diff(L, e, lua_istable(L, -1) ? e + 2 : 0, 1);
    lua_rawseti(L, 4, ++k);  /* stack: entry, key, older */
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_rawset(L, 3);  /* matched: drop it from the older set */
    lua_pop(L, 1);
  }
  for (i = 1; i <= nold; i++) {  /* places that are gone */
    int e;
    lua_rawgeti(L, 2, i);
    e = lua_gettop(L);
    push_key(L);
    if (lua_rawget(L, 3) != LUA_TNIL) {
      push_diff(L, e, e, 0);
      lua_rawseti(L, 4, ++k);
    }
    lua_pop(L, 2);
  }
  d = (diff *)mo_scratch(L, (size_t)k * sizeof *d + 1);
  for (i = 0; i < k; i++) {  /* Lua and native bytes rank together */
    lua_rawgeti(L, 4, i + 1);
    d[i].bytes = intfield(L, -1, "bytes") + intfield(L, -1, "native");
    d[i].dbytes = intfield(L, -1, "bytes_diff") + intfield(L, -1, "native_diff");
    d[i].idx = (int)i + 1;
    lua_pop(L, 1);
  }
  qsort(d, (size_t)k, sizeof *d, by_diff);
  lua_createtable(L, (int)k, 0);
  for (i = 0; i < k; i++) {
    lua_rawgeti(L, 4, d[i].idx);
    lua_rawseti(L, -2, i + 1);
  }
  mo_regpush(L, &snap_mtkey, LUA_TTABLE);
  lua_setmetatable(L, -2);
  return 1;
}

static const luaL_Reg snap_methods[] = {
  {"top", snap_top}, {"compare", snap_compare}, {NULL, NULL}};

static const luaL_Reg trace_funcs[] = {
  {"start", l_start},       {"stop", l_stop}, {"running", l_running},
  {"snapshot", l_snapshot}, {NULL, NULL}};

void mo_trace_open(lua_State *L) {
  lua_createtable(L, 0, 1);  /* snapshot metatable */
  luaL_newlib(L, snap_methods);
  lua_setfield(L, -2, "__index");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &snap_mtkey);
  luaL_newlib(L, trace_funcs);
  lua_setfield(L, -2, "trace");
}

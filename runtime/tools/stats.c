/*
** stats.c: memobj.stats(): live count, bytes and peak bytes per memory
** kind, and the Lua heap. It observes the core's objects (made, resized,
** released: runtime/core/mem.h), so no kind needs to call it.
*/
#include "tools.h"

/* m->stat: where an object stands in the counts */
#define ST_NONE 0     /* not counted (never published, or released) */
#define ST_COUNTED 2  /* counted with m->stat_bytes bytes */

static size_t runtime_bytes;

/* ---- Counting ---- */

/* Kinds come from the registry (runtime/core/kinds.c); s is NULL only if
** adding a new kind to it ran out of memory: that object goes uncounted. */
/* Lua states in several threads (export/import) count at once: bytes is
** one atomic add, and peak only ever rises (a compare-and-swap loop). */
static void add(mo_kindnode *s, long count, long long bytes) {
  size_t now, peak;
  if (s == NULL) return;
  if (count) MO_COUNT_ADD(&s->count, (size_t)count);
  now = __atomic_add_fetch(&s->bytes, (size_t)bytes, __ATOMIC_RELAXED);
  if (bytes <= 0) return;
  peak = __atomic_load_n(&s->peak, __ATOMIC_RELAXED);
  while (now > peak &&
         !__atomic_compare_exchange_n(&s->peak, &peak, now, 1,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

/* The core's events (runtime/core/mem.h): an object is counted from its
** publication, with the size it was published with. */
static void stats_made(lua_State *L, memobj_mem *m) {
  mo_kindnode *s = mo_kind_node(m->kind);
  (void)L;
  m->stat = s ? ST_COUNTED : ST_NONE;  /* NULL: out of memory, uncounted */
  m->stat_bytes = m->size;
  add(s, 1, (long long)m->size);
}

static void stats_released(memobj_mem *m) {
  if (m->stat == ST_COUNTED)
    add(mo_kind_node(m->kind), -1, -(long long)m->stat_bytes);
  m->stat = ST_NONE;
}

static void stats_resized(lua_State *L, memobj_mem *m) {
  (void)L;
  if (m->stat != ST_COUNTED) return;
  add(mo_kind_node(m->kind), 0, (long long)m->size - (long long)m->stat_bytes);
  m->stat_bytes = m->size;
}

mo_observer mo_stats_observer = {.made = stats_made, .resized = stats_resized,
                                 .released = stats_released};

void mo_stats_runtime(long long delta) {
  MO_COUNT_ADD(&runtime_bytes, (size_t)delta);
}

/* ---- memobj.stats() ---- */

static void setint(lua_State *L, const char *k, size_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* Bytes of the Lua heap, as collectgarbage("count") knows them. */
static size_t lua_heap_bytes(lua_State *L) {
  return (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
}

int mo_l_stats(lua_State *L) {
  mo_kindnode *s;
  size_t outside = __atomic_load_n(&runtime_bytes, __ATOMIC_RELAXED), heap;
  lua_newtable(L);
  for (s = mo_kind_first(); s; s = mo_kind_next(s)) {
    const mo_kinddesc *d = __atomic_load_n(&s->desc, __ATOMIC_ACQUIRE);
    size_t bytes = __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
    lua_createtable(L, 0, 4);
    setint(L, "count", __atomic_load_n(&s->count, __ATOMIC_RELAXED));
    setint(L, "bytes", bytes);
    setint(L, "peak", __atomic_load_n(&s->peak, __ATOMIC_RELAXED));
    if (d && d->pushstats) d->pushstats(L);
    lua_setfield(L, -2, s->name);
    /* what memobj obtained outside the Lua heap */
    if (!(d && (d->flags & MO_KIND_NOT_OURS))) outside += bytes;
  }
  heap = lua_heap_bytes(L);
  lua_createtable(L, 0, 5);
  setint(L, "bytes", heap);
  setint(L, "outside", outside);
  setint(L, "runtime", __atomic_load_n(&runtime_bytes, __ATOMIC_RELAXED));
  setint(L, "total", heap + outside);
  mo_lalloc_pushname(L);  /* set_allocator(spec, "lua") */
  lua_setfield(L, -2, "allocator");
  lua_setfield(L, -2, "lua");
  return 1;
}

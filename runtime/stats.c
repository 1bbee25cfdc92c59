/*
** stats.c: memobj.stats(): live count, bytes and peak bytes per memory
** kind, and the Lua heap. The generic create/resize/release paths of
** runtime/memory.c call the hooks here, so no kind needs to.
*/
#include <pthread.h>
#include <string.h>
#include "runtime.h"

/* m->stat: where an object stands in the counts */
#define ST_NONE 0     /* not counted (never, or released) */
#define ST_PENDING 1  /* created; its constructor may still set its size */
#define ST_COUNTED 2  /* counted with m->stat_bytes bytes */

#define NSLOTS 16

typedef struct kstat {
  const char *name;           /* the kind's name (static string) */
  const memobj_kind *kind;    /* the kind that claimed the slot */
  size_t count, bytes, peak;  /* MO_COUNT_ADD */
} kstat;

/* The kinds of the contract are listed from the start, so stats() shows
** them at zero before the first object; any other kind gets a slot when
** its first object is counted. */
static kstat slots[NSLOTS] = {
  {"heap", NULL, 0, 0, 0},   {"mapped", NULL, 0, 0, 0},
  {"shared", NULL, 0, 0, 0}, {"persistent", NULL, 0, 0, 0},
  {"string", NULL, 0, 0, 0}, {"foreign", NULL, 0, 0, 0}};
static int nslots = 6;
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t runtime_bytes;

/* A constructor sets the size after mo_mem_new: the newest object is
** counted when the next runtime event (another object, stats(), resize,
** release) comes, by which time its constructor has returned. */
static MO_TLS memobj_mem *pending;

/* ---- Counting ---- */

static kstat *slot_claim(const memobj_kind *k) {
  int i;
  pthread_mutex_lock(&slots_lock);
  for (i = 0; i < nslots; i++) {
    if (slots[i].kind == k || strcmp(slots[i].name, k->name) == 0) break;
  }
  if (i == nslots) {
    if (nslots < NSLOTS) slots[nslots].name = k->name;
    else i = NSLOTS - 1;  /* too many kinds: the last slot takes the rest */
    __atomic_store_n(&nslots, nslots < NSLOTS ? nslots + 1 : nslots,
                     __ATOMIC_RELEASE);
  }
  if (slots[i].kind == NULL) __atomic_store_n(&slots[i].kind, k, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&slots_lock);
  return &slots[i];
}

static kstat *slot_of(const memobj_kind *k) {
  int i, n = __atomic_load_n(&nslots, __ATOMIC_ACQUIRE);
  for (i = 0; i < n; i++)
    if (__atomic_load_n(&slots[i].kind, __ATOMIC_ACQUIRE) == k) return &slots[i];
  return slot_claim(k);
}

static void add(kstat *s, long count, long long bytes) {
  size_t now, peak;
  if (count) MO_COUNT_ADD(&s->count, (size_t)count);
  now = __atomic_load_n(&s->bytes, __ATOMIC_RELAXED) + (size_t)bytes;
  __atomic_store_n(&s->bytes, now, __ATOMIC_RELAXED);
  peak = __atomic_load_n(&s->peak, __ATOMIC_RELAXED);
  if (bytes > 0 && now > peak) __atomic_store_n(&s->peak, now, __ATOMIC_RELAXED);
}

static void settle(memobj_mem *m) {
  if (pending == m) pending = NULL;
  if (m->stat != ST_PENDING) return;
  if (m->closed) {  /* the constructor failed */
    m->stat = ST_NONE;
    return;
  }
  m->stat = ST_COUNTED;
  m->stat_bytes = m->size;
  add(slot_of(m->kind), 1, (long long)m->size);
}

void mo_stats_new(memobj_mem *m) {
  if (pending) settle(pending);
  m->stat = ST_PENDING;
  pending = m;
}

void mo_stats_release(memobj_mem *m) {
  if (pending == m) pending = NULL;
  if (m->stat == ST_COUNTED)
    add(slot_of(m->kind), -1, -(long long)m->stat_bytes);
  m->stat = ST_NONE;
}

void mo_stats_resize(memobj_mem *m) {
  if (m->stat == ST_PENDING) settle(m);
  if (m->stat != ST_COUNTED) return;
  add(slot_of(m->kind), 0, (long long)m->size - (long long)m->stat_bytes);
  m->stat_bytes = m->size;
}

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
  int i, n;
  size_t outside = __atomic_load_n(&runtime_bytes, __ATOMIC_RELAXED), heap;
  if (pending) settle(pending);
  n = __atomic_load_n(&nslots, __ATOMIC_ACQUIRE);
  lua_createtable(L, 0, n + 1);
  for (i = 0; i < n; i++) {
    kstat *s = &slots[i];
    size_t bytes = __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
    lua_createtable(L, 0, 4);
    setint(L, "count", __atomic_load_n(&s->count, __ATOMIC_RELAXED));
    setint(L, "bytes", bytes);
    setint(L, "peak", __atomic_load_n(&s->peak, __ATOMIC_RELAXED));
    if (strcmp(s->name, "heap") == 0) {
      mo_alloc_pushstats(L);
      lua_setfield(L, -2, "allocators");
    }
    lua_setfield(L, -2, s->name);
    /* string memory lies inside the Lua heap and foreign memory belongs
    ** to C code: the rest memobj obtained outside the Lua heap */
    if (strcmp(s->name, "string") != 0 && strcmp(s->name, "foreign") != 0)
      outside += bytes;
  }
  heap = lua_heap_bytes(L);
  lua_createtable(L, 0, 4);
  setint(L, "bytes", heap);
  setint(L, "outside", outside);
  setint(L, "runtime", __atomic_load_n(&runtime_bytes, __ATOMIC_RELAXED));
  setint(L, "total", heap + outside);
  lua_setfield(L, -2, "lua");
  return 1;
}

/*
** objects.c: the live memory objects of a Lua state and the line that
** made each (memobj.objects(), and the `native` bytes of trace
** snapshots). Every object is linked into its state's list when created
** and unlinked when closed or collected; its creation site is a pointer
** to an interned (short source, line) record, found through a small
** cache keyed by the source pointer Lua gives, so recording costs one
** lua_getinfo and a string compare, not a formatted string.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tools.h"

#define NCACHE 64

/* A creation site: what snapshots and objects() show. Sites with the
** same text and line are one, as trace snapshots merge them. */
typedef struct mo_site {
  int line;
  uint32_t hash;
  size_t native;            /* scratch for mo_objects_native */
  char src[LUA_IDSIZE];     /* short source, as in error messages */
} mo_site;

typedef struct rtstate {
  mo_objlink live;          /* sentinel of the circular list of objects */
  mo_site **sites;          /* open hash by (src, line) */
  size_t nsites, cap;
  struct { const char *key; int line; mo_site *s; } cache[NCACHE];
  int closed;               /* the state is closing: sites are gone */
} rtstate;

static const char rt_key = 0;  /* registry: the rtstate userdata */

/* ---- Sites ---- */

static uint32_t site_hash(const char *src, int line) {
  uint32_t h = 2166136261u ^ (uint32_t)line;
  for (; *src; src++) h = (h ^ (unsigned char)*src) * 16777619u;
  return h;
}

static int sites_grow(rtstate *rt) {
  size_t cap = rt->cap ? 2 * rt->cap : 64, i, j;
  mo_site **ns = (mo_site **)calloc(cap, sizeof *ns);
  if (ns == NULL) return 0;
  for (i = 0; i < rt->cap; i++) {
    if (rt->sites[i] == NULL) continue;
    for (j = rt->sites[i]->hash & (cap - 1); ns[j]; j = (j + 1) & (cap - 1))
      ;
    ns[j] = rt->sites[i];
  }
  free(rt->sites);
  mo_stats_runtime((long long)((cap - rt->cap) * sizeof *ns));
  rt->sites = ns;
  rt->cap = cap;
  return 1;
}

/* The site of (short source, line); NULL when out of memory. */
static mo_site *site_intern(rtstate *rt, const char *src, int line) {
  uint32_t h = site_hash(src, line);
  size_t i;
  mo_site *s;
  if (2 * (rt->nsites + 1) > rt->cap && !sites_grow(rt)) return NULL;
  for (i = h & (rt->cap - 1); (s = rt->sites[i]) != NULL; i = (i + 1) & (rt->cap - 1))
    if (s->hash == h && s->line == line && strcmp(s->src, src) == 0) return s;
  s = (mo_site *)calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->line = line;
  s->hash = h;
  memcpy(s->src, src, strnlen(src, sizeof s->src - 1));  /* calloc: ends in 0 */
  rt->sites[i] = s;
  rt->nsites++;
  mo_stats_runtime((long long)sizeof *s);
  return s;
}

/* The site of the first Lua function up the stack (NULL for C code).
** The cache is keyed by Lua's source pointer and line; a hit is checked
** against the short source, so a new chunk whose source reuses the
** address of a collected one cannot take a wrong site. */
static mo_site *site_here(lua_State *L, rtstate *rt) {
  lua_Debug ar;
  int level;
  for (level = 1; lua_getstack(L, level, &ar); level++) {
    if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
      size_t k = (((uintptr_t)ar.source >> 4) ^ (unsigned)ar.currentline * 31u) &
                 (NCACHE - 1);
      mo_site *s = rt->cache[k].s;
      if (s && rt->cache[k].key == ar.source && rt->cache[k].line == ar.currentline &&
          strcmp(s->src, ar.short_src) == 0)
        return s;
      s = site_intern(rt, ar.short_src, ar.currentline);
      rt->cache[k].key = ar.source;
      rt->cache[k].line = ar.currentline;
      rt->cache[k].s = s;
      return s;
    }
  }
  return NULL;
}

/* ---- The state's record ---- */

static int rt_gc(lua_State *L) {
  rtstate *rt = (rtstate *)lua_touserdata(L, 1);
  size_t i;
  for (i = 0; i < rt->cap; i++) free(rt->sites[i]);
  free(rt->sites);
  mo_stats_runtime(-(long long)(rt->cap * sizeof *rt->sites +
                                rt->nsites * sizeof(mo_site)));
  rt->sites = NULL;
  rt->cap = rt->nsites = 0;
  memset(rt->cache, 0, sizeof rt->cache);
  rt->closed = 1;  /* objects made by later finalizers get no site */
  return 0;
}

static rtstate *rt_get(lua_State *L) {
  int made;
  rtstate *rt = (rtstate *)mo_state_udata(L, &rt_key, sizeof(rtstate), rt_gc,
                                          1, &made);
  if (made) rt->live.prev = rt->live.next = &rt->live;
  return rt;
}

/* ---- Objects ---- */

static memobj_mem *mem_of(mo_objlink *l) {
  return (memobj_mem *)(void *)((char *)l - offsetof(memobj_mem, link));
}

void mo_objects_add(lua_State *L, memobj_mem *m) {
  rtstate *rt = rt_get(L);
  m->site = rt->closed ? NULL : site_here(L, rt);
  m->link.prev = &rt->live;
  m->link.next = rt->live.next;
  rt->live.next->prev = &m->link;
  rt->live.next = &m->link;
}

void mo_objects_remove(memobj_mem *m) {
  if (m->link.next == NULL || m->link.next == &m->link) return;
  m->link.prev->next = m->link.next;
  m->link.next->prev = m->link.prev;
  m->link.prev = m->link.next = &m->link;
}

/* Bytes outside the Lua heap: not a string's (inside it), not foreign
** (C code's). */
static int native_kind(const memobj_mem *m) {
  return strcmp(m->kind->name, "string") != 0 &&
         strcmp(m->kind->name, "foreign") != 0;
}

static void setstr(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void setint(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* memobj.objects() -> {{kind =, size =, source =, line =, locks =}, ...},
** newest first. source is "C code" and line 0 for objects made by C. */
int mo_l_objects(lua_State *L) {
  rtstate *rt = rt_get(L);
  mo_objlink *l;
  lua_Integer i = 0;
  int running = lua_gc(L, LUA_GCISRUNNING);
  /* a collection step would run finalizers that unlink objects (and make
  ** new ones) under the walk: no collection until it is done */
  lua_gc(L, LUA_GCSTOP);
  lua_newtable(L);
  for (l = rt->live.next; l != &rt->live; l = l->next) {
    memobj_mem *m = mem_of(l);
    if (m->closed) continue;
    lua_createtable(L, 0, 5);
    setstr(L, "kind", m->kind->name);
    setint(L, "size", (lua_Integer)m->size);
    setstr(L, "source", m->site ? m->site->src : "C code");
    setint(L, "line", m->site ? m->site->line : 0);
    setint(L, "locks", (lua_Integer)m->nlocks);
    lua_rawseti(L, -2, ++i);
  }
  if (running) lua_gc(L, LUA_GCRESTART);
  return 1;
}

/* Call f(ud, src, line, bytes) once per site with native bytes alive.
** The collector is stopped meanwhile, so f may push Lua values. */
void mo_objects_native(lua_State *L, void (*f)(void *, const char *, int, size_t),
                       void *ud) {
  rtstate *rt = rt_get(L);
  mo_objlink *l;
  size_t i;
  int running = lua_gc(L, LUA_GCISRUNNING);
  if (rt->closed) return;
  lua_gc(L, LUA_GCSTOP);
  for (l = rt->live.next; l != &rt->live; l = l->next) {
    memobj_mem *m = mem_of(l);
    if (!m->closed && m->site && native_kind(m)) m->site->native += m->size;
  }
  for (i = 0; i < rt->cap; i++) {
    mo_site *s = rt->sites[i];
    if (s && s->native) {
      f(ud, s->src, s->line, s->native);
      s->native = 0;
    }
  }
  if (running) lua_gc(L, LUA_GCRESTART);
}

void mo_objects_open(lua_State *L) {
  rt_get(L);
}

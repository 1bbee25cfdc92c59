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
  struct mo_site *parent;   /* the caller's site (memobj.objects{frames}) */
  size_t native;            /* scratch for mo_objects_native */
  char src[LUA_IDSIZE];     /* short source, as in error messages */
} mo_site;

typedef struct rtstate {
  mo_objlink live;          /* sentinel of the circular list of objects */
  mo_site **sites;          /* open hash by (src, line) */
  size_t nsites, cap;
  struct { const char *key; int line; mo_site *s; } cache[NCACHE];
  int closed;               /* the state is closing: sites are gone */
  int frames;               /* Lua frames recorded per object (1: its line) */
} rtstate;

static const char rt_key = 0;  /* registry: the rtstate userdata */

/* ---- Sites ---- */

static uint32_t site_hash(const mo_site *parent, const char *src, int line) {
  uint32_t h = (2166136261u ^ (uint32_t)line) * 16777619u ^
               (uint32_t)((uintptr_t)parent >> 4);
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

/* The site of (caller's site, short source, line); NULL when out of
** memory. */
static mo_site *site_intern(rtstate *rt, mo_site *parent, const char *src,
                            int line) {
  uint32_t h = site_hash(parent, src, line);
  size_t i;
  mo_site *s;
  if (2 * (rt->nsites + 1) > rt->cap && !sites_grow(rt)) return NULL;
  for (i = h & (rt->cap - 1); (s = rt->sites[i]) != NULL; i = (i + 1) & (rt->cap - 1))
    if (s->hash == h && s->line == line && s->parent == parent &&
        strcmp(s->src, src) == 0)
      return s;
  s = (mo_site *)calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->line = line;
  s->parent = parent;
  s->hash = h;
  memcpy(s->src, src, strnlen(src, sizeof s->src - 1));  /* calloc: ends in 0 */
  rt->sites[i] = s;
  rt->nsites++;
  mo_stats_runtime((long long)sizeof *s);
  return s;
}

/* The site of the first Lua function up the stack (NULL for C code),
** read through the core's recorder (runtime/core/where.h), with its
** callers when rt->frames > 1. For one frame a cache keyed by Lua's
** source pointer and line comes first; a hit is checked against the
** short source, so a new chunk whose source reuses the address of a
** collected one cannot take a wrong site. */
static mo_site *site_here(lua_State *L, rtstate *rt) {
  mo_frame fr[MO_WHERE_MAX];
  mo_site *s = NULL;
  int n = mo_where_frames(L, 1, fr, rt->frames), i;
  if (n == 0) return NULL;
  if (n == 1) {
    size_t k = (((uintptr_t)fr[0].source >> 4) ^ (unsigned)fr[0].line * 31u) &
               (NCACHE - 1);
    s = rt->cache[k].s;
    if (s && rt->cache[k].key == fr[0].source && rt->cache[k].line == fr[0].line &&
        s->parent == NULL && strcmp(s->src, fr[0].short_src) == 0)
      return s;
    s = site_intern(rt, NULL, fr[0].short_src, fr[0].line);
    rt->cache[k].key = fr[0].source;
    rt->cache[k].line = fr[0].line;
    rt->cache[k].s = s;
    return s;
  }
  for (i = n - 1; i >= 0; i--) {  /* outermost first: each is the parent */
    mo_site *up = s;
    if ((s = site_intern(rt, up, fr[i].short_src, fr[i].line)) == NULL)
      return site_intern(rt, NULL, fr[0].short_src, fr[0].line);  /* no room
                                                    for the chain: its line */
  }
  return s;
}

/* ---- The state's record ---- */

static memobj_mem *mem_of(mo_objlink *l) {
  return (memobj_mem *)(void *)((char *)l - offsetof(memobj_mem, link));
}


static int rt_gc(lua_State *L) {
  rtstate *rt = (rtstate *)mo_state_self(L, &rt_key, sizeof(rtstate));
  mo_objlink *l;
  size_t i;
  if (rt == NULL) return 0;
  /* objects still alive forget their sites first: this runs when the
  ** state closes, or early when Lua code calls it (debug library) */
  if (rt->live.next != NULL)
    for (l = rt->live.next; l != &rt->live; l = l->next) mem_of(l)->site = NULL;
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
  if (made) {
    rt->live.prev = rt->live.next = &rt->live;
    rt->frames = 1;
  }
  return rt;
}

/* ---- Objects ---- */

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

mo_observer mo_objects_observer = {.made = mo_objects_add,
                                   .released = mo_objects_remove};

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

/* The callers of site s as {{source =, line =}, ...}, nearest first. */
static void push_callers(lua_State *L, const mo_site *s) {
  lua_Integer k = 0;
  lua_newtable(L);
  for (s = s->parent; s; s = s->parent) {
    lua_createtable(L, 0, 2);
    setstr(L, "source", s->src);
    setint(L, "line", s->line);
    lua_rawseti(L, -2, ++k);
  }
}

/* The option {frames = n}: Lua frames recorded for objects made from now
** on (1 to MO_WHERE_MAX; 1, the default, records the line that made it). */
static void objects_options(lua_State *L, rtstate *rt) {
  static const char *const known[] = {"frames", NULL};
  lua_Integer n;
  mo_checkoptions(L, 1, known);
  mo_noextra(L, 1);
  if (lua_type(L, 1) != LUA_TTABLE) return;
  if (lua_getfield(L, 1, "frames") != LUA_TNIL) {
    int ok;
    n = lua_tointegerx(L, -1, &ok);
    luaL_argcheck(L, ok && n >= 1 && n <= MO_WHERE_MAX, 1,
                  "frames must be an integer from 1 to 16");
    rt->frames = (int)n;
  }
  lua_pop(L, 1);
}

/* memobj.objects([{frames = n}]) -> {{kind =, size =, source =, line =,
** locks = [, callers =]}, ...}, newest first. source is "C code" and
** line 0 for objects made by C; callers (objects recorded with frames >
** 1 that had Lua callers) lists them, nearest first. */
int mo_l_objects(lua_State *L) {
  rtstate *rt = rt_get(L);
  mo_objlink *l;
  lua_Integer i = 0;
  int running;
  objects_options(L, rt);
  running = lua_gc(L, LUA_GCISRUNNING);
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
    if (m->site && m->site->parent) {
      push_callers(L, m->site);
      lua_setfield(L, -2, "callers");
    }
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
    mo_site *s = m->site;
    /* by line: a site with callers counts on its line's own site */
    if (s && s->parent) s = site_intern(rt, NULL, s->src, s->line);
    if (!m->closed && s && native_kind(m)) s->native += m->size;
  }
  for (i = 0; i < rt->cap; i++) {
    mo_site *s = rt->sites[i];
    if (s && s->native && s->parent == NULL) {
      f(ud, s->src, s->line, s->native);
      s->native = 0;
    }
  }
  if (running) lua_gc(L, LUA_GCRESTART);
}

void mo_objects_open(lua_State *L) {
  rt_get(L);
}

/*
** runtime.h: the runtime below the memory kinds: allocator domains,
** the debug heap, statistics and Lua heap tracing (PEP 445 and
** tracemalloc, for Lua). Everything here costs one branch when off.
*/
#ifndef MO_RUNTIME_H
#define MO_RUNTIME_H

#include "../core.h"

/* ---- Allocator domains (runtime/tools/alloc.c) ---- */

/* A set of allocation functions. Domains are never freed: every block
** keeps a pointer to the domain that made it, so switching the current
** domain is safe at any time. */
typedef struct mo_allocator {
  void *(*malloc)(size_t n);
  void (*free)(void *p);
  void *(*realloc)(void *p, size_t n);         /* NULL: malloc+copy+free */
  void *(*aligned)(size_t align, size_t n);    /* C11 order; NULL: pad */
  int (*owns)(const void *p);                  /* NULL: cannot tell */
  char name[64];                               /* spec.name, or library */
  char library[128];                           /* "" for the process */
  char sym[5][48];                     /* malloc free realloc aligned owns */
  size_t count, bytes;                         /* live blocks */
  struct mo_allocator *next;                   /* every domain ever made */
} mo_allocator;

/* A heap block: what the heap kind embeds to remember its domain. */
typedef struct mo_block {
  mo_allocator *a;          /* the domain that made the block */
  void *raw;                /* what the domain returned: what it frees */
  struct mo_dbgrec *dbg;    /* debug record; NULL for a plain block */
} mo_block;

/* n bytes aligned to align (a power of two) for `owner`, from the current
** domain (with guards when debug is on); NULL when out of memory. */
unsigned char *mo_block_alloc(lua_State *L, mo_block *b, memobj_mem *owner,
                              size_t n, size_t align);
/* Resize the block at p (old bytes) to n; NULL (block untouched) when out
** of memory. Contents up to min(old, n) are kept. */
unsigned char *mo_block_realloc(mo_block *b, unsigned char *p, size_t old,
                                size_t n, size_t align);
void mo_block_free(mo_block *b, unsigned char *p, size_t n);

/* ---- Debug heap (runtime/tools/debugheap.c) ---- */

/* memobj.debug(true) is per Lua state: mo_debug_states counts the states
** that have it on (so the common case is one load), mo_debug_state_on
** reads L's own switch. */
extern int mo_debug_states;
int mo_debug_state_on(lua_State *L);
static inline int mo_debug_enabled(lua_State *L) {
  return MO_UNLIKELY(__atomic_load_n(&mo_debug_states, __ATOMIC_RELAXED) > 0) &&
         mo_debug_state_on(L);
}
/* Set when freeing or resizing found a damaged block; the report waits
** for the caller that has a lua_State (close raises, __gc warns). */
extern MO_TLS int mo_debug_damaged;
void mo_debug_report(lua_State *L, int raise);
static inline void mo_debug_after(lua_State *L, int raise) {
  if (MO_UNLIKELY(mo_debug_damaged)) mo_debug_report(L, raise);
}
/* Used by alloc.c: guarded blocks. */
unsigned char *mo_dbg_alloc(lua_State *L, mo_block *b, mo_allocator *a,
                            memobj_mem *owner, size_t n, size_t align);
unsigned char *mo_dbg_realloc(mo_block *b, unsigned char *p, size_t old,
                              size_t n, size_t align);
void mo_dbg_free(mo_block *b, unsigned char *p, size_t n);
/* Raw domain calls shared with the debug heap. */
void *mo_domain_alloc(mo_allocator *a, size_t n, size_t align, void **raw);
void mo_domain_free(mo_allocator *a, void *raw);
void mo_domain_count(mo_allocator *a, long blocks, long long bytes);
/* Push {name = {count =, bytes =, current =}} of the domains in use. */
void mo_alloc_pushstats(lua_State *L);
/* Push the spec table of a library domain. */
void mo_alloc_pushspec(lua_State *L, const mo_allocator *a);

/* ---- The Lua state's allocator (runtime/tools/lalloc.c) ---- */

/* set_allocator(spec, "lua"): switch to the state's arena (arena != 0),
** the library allocator lib (which has `owns`), or back to the state's
** original allocator; pushes the previous spec and returns 1. */
int mo_lalloc_set(lua_State *L, int arena, const mo_allocator *lib);
/* Push the current allocator's name ("default", "arena", or a name). */
void mo_lalloc_pushname(lua_State *L);
/* memobj.debug(on) for the blocks of L's arena (no-op when L has none). */
void mo_lalloc_debug(lua_State *L, int on);
/* memobj.check() on the debug blocks of L's arena (see lalloc.c). */
size_t mo_lalloc_check(lua_State *L, void (*bad)(void *, const void *, size_t,
                                                  size_t, size_t),
                       void *ud);
/* Keep a report of a damaged Lua block found when freed (debugheap.c). */
void mo_dbg_report_lua(const void *data, size_t size, size_t before, size_t after);
/* While tracing, the tracer wraps the state's allocator: point *f and *ud
** at the wrapped function and its ud and return 1; 0 when not tracing. */
int mo_trace_inner(lua_State *L, lua_Alloc **f, void ***ud);

/* ---- Statistics (runtime/tools/stats.c) ---- */

/* The tools' observers of the core's objects (runtime/core/mem.h),
** registered by mo_runtime_open: stats counts them, objects lists them
** with their creation site, pacing tells the collector of growth, the
** debug heap reports damaged blocks after a release or a resize. */
extern mo_observer mo_stats_observer, mo_objects_observer, mo_pace_observer,
    mo_debug_observer;
/* Bytes of runtime bookkeeping (debug records and guards, trace tables),
** part of what memobj holds outside the Lua heap. */
void mo_stats_runtime(long long delta);

/* ---- Live objects and their creation sites (runtime/tools/objects.c) ---- */

/* Link a new object into L's list and record the Lua line making it. */
void mo_objects_add(lua_State *L, memobj_mem *m);
/* Unlink it (closed or collected); idempotent. */
void mo_objects_remove(memobj_mem *m);
/* Call f(ud, source, line, bytes) for each creation site with live
** objects whose bytes lie outside the Lua heap (not string, not foreign).
** The collector is stopped meanwhile. */
void mo_objects_native(lua_State *L, void (*f)(void *, const char *, int, size_t),
                       void *ud);
void mo_objects_open(lua_State *L);

/* ---- GC pacing (runtime/tools/pace.c) ---- */

/* n bytes were just obtained outside the Lua heap for an object of L:
** let the collector run as if the Lua heap had grown by n. May run
** finalizers: call it last, with every object in a consistent state. */
void mo_gc_pace(lua_State *L, size_t n);

/* ---- Lua functions (one file each), gathered by runtime/tools/rtlib.c ---- */
/* memobj.stats, debug, check, set_allocator, objects, trace: called by
** luaopen_memobj */
void mo_runtime_open(lua_State *L);
/*
** The state's own userdata at registry `key`, made zeroed on first use
** (when `make`) with `gc` as its __gc, which runs when the state closes.
** NULL when there is none and !make; *made (may be NULL) tells a new one.
*/
void *mo_state_udata(lua_State *L, const void *key, size_t size,
                     lua_CFunction gc, int make, int *made);
/* For that __gc: the state userdata of `key` at argument 1, or NULL when
** Lua code (debug library) called the finalizer with anything else. Its
** identity is in its bytes, which only C writes: a registry entry or a
** metatable can be replaced from Lua, they cannot. */
void *mo_state_self(lua_State *L, const void *key, size_t size);

int mo_l_set_allocator(lua_State *L);
int mo_l_debug(lua_State *L);
int mo_l_check(lua_State *L);
int mo_l_stats(lua_State *L);
int mo_l_objects(lua_State *L);
void mo_trace_open(lua_State *L);        /* memobj.trace */

#endif

/*
** heap.c: the "heap" memory kind. Plain objects come from the current
** allocator domain (runtime/alloc.c: libc malloc unless set_allocator
** changed it; guarded while memobj.debug is on); with `max`, address space
** is reserved with mmap up front and committed as the object grows, so
** its address never moves (that path bypasses the allocator).
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "../runtime/runtime.h"
#include "osmap.h"

typedef struct heap_mem {
  memobj_mem base;
  size_t align;
  size_t committed;   /* reserved path: bytes made accessible */
  unsigned char *reservation;
  size_t reserved;    /* reserved path: bytes of address space */
  int zero;
  mo_block blk;       /* malloc path: the block and its allocator */
} heap_mem;

#define MALLOC_ALIGN 16  /* what malloc guarantees on this platform */

/* Round n up to a multiple of the power of two a; 0 on overflow. */
static size_t roundup(size_t n, size_t a) {
  if (n > SIZE_MAX - (a - 1)) return 0;
  return (n + a - 1) & ~(a - 1);
}

/* ---- malloc path ---- */

static int block_resize(heap_mem *h, size_t n) {
  memobj_mem *m = &h->base;
  unsigned char *p = mo_block_realloc(&h->blk, m->ptr, m->size, n, h->align);
  if (p == NULL) return ENOMEM;
  if (h->zero && n > m->size) memset(p + m->size, 0, n - m->size);
  m->ptr = p;
  m->size = n;
  return 0;
}

/* ---- reserved path (max) ---- */

static int reserve(heap_mem *h, size_t max) {
  size_t ps = mo_os_pagesize();
  size_t align = h->align > ps ? h->align : ps;
  size_t len = roundup(max ? max : 1, ps);
  unsigned char *p;
  if (len == 0 || len > SIZE_MAX - align) return ENOMEM;
  p = mmap(NULL, len + align - ps, PROT_NONE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return errno;
  h->reservation = p;
  h->reserved = len + align - ps;
  h->base.ptr = (unsigned char *)roundup((size_t)(uintptr_t)p, align);
  h->base.max = max;
  h->committed = 0;
  h->base.size = 0;
  return 0;
}

static int commit_to(heap_mem *h, size_t n) {
  memobj_mem *m = &h->base;
  size_t need = roundup(n, mo_os_pagesize());
  if (need > h->committed) {
    if (mprotect(m->ptr + h->committed, need - h->committed,
                 PROT_READ | PROT_WRITE) != 0)
      return errno;
  } else if (need < h->committed) {  /* give pages back, keep the range */
    madvise(m->ptr + need, h->committed - need, MADV_DONTNEED);
    mprotect(m->ptr + need, h->committed - need, PROT_NONE);
  }
  /* bytes past the old end in a page we kept may hold old data */
  if (n > m->size) {
    size_t keep = h->committed < n ? h->committed : n;
    if (keep > m->size) memset(m->ptr + m->size, 0, keep - m->size);
  }
  h->committed = need;
  m->size = n;
  return 0;
}

/* ---- kind operations ---- */

static int heap_resize(memobj_mem *m, size_t n) {
  heap_mem *h = (heap_mem *)m;
  return h->reservation ? commit_to(h, n) : block_resize(h, n);
}

static void heap_release(memobj_mem *m) {
  heap_mem *h = (heap_mem *)m;
  if (h->reservation) munmap(h->reservation, h->reserved);
  else mo_block_free(&h->blk, m->ptr, m->size);
  h->reservation = NULL;
}

/* Heap permission is enforced by views; the pages stay writable so that
** memory handed to C before protect() never faults. */
static int heap_protect(memobj_mem *m, int writable) {
  (void)m;
  (void)writable;
  return 0;
}

static int heap_advise(memobj_mem *m, int hint) {
  static const int advice[] = {MADV_NORMAL, MADV_SEQUENTIAL, MADV_RANDOM,
                               MADV_WILLNEED, MADV_DONTNEED};
  heap_mem *h = (heap_mem *)m;
  if (h->reservation == NULL || h->committed == 0 || advice[hint] == MADV_DONTNEED)
    return 0;  /* DONTNEED would zero private pages: not a hint */
  return madvise(m->ptr, h->committed, advice[hint]) ? errno : 0;
}

static const memobj_kind heap_kind = {
  "heap", "volatile", NULL, heap_resize, heap_release,
  NULL, heap_protect, heap_advise
};

/* ---- Lua constructor ---- */

/* memobj.heap(size [, {zero=, align=, max=}]) */
static int l_heap(lua_State *L) {
  size_t size = mo_checksize(L, 1);
  size_t align = mo_optsize_field(L, 2, "align", MALLOC_ALIGN);
  size_t max = mo_optsize_field(L, 2, "max", 0);
  int zero = mo_optbool_field(L, 2, "zero", 1);
  int err;
  heap_mem *h;
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  luaL_argcheck(L, align > 0 && (align & (align - 1)) == 0, 2,
                "align must be a power of two");
  luaL_argcheck(L, max == 0 || max >= size, 2, "max is smaller than size");
  h = (heap_mem *)mo_mem_new(L, &heap_kind, sizeof(heap_mem));
  h->align = align;
  h->zero = zero;
  if (max) {
    err = reserve(h, max);
    if (!err) err = commit_to(h, size);
    if (err) {
      heap_release(&h->base);
      h->base.closed = 1;
      return mo_failresult(L, "heap", err);
    }
  } else {
    h->base.ptr = mo_block_alloc(L, &h->blk, &h->base, size, align);
    if (h->base.ptr == NULL) {
      h->base.closed = 1;
      return mo_failresult(L, "heap", ENOMEM);
    }
    if (zero) memset(h->base.ptr, 0, size);
    h->base.size = size;
  }
  mo_gc_pace(L, size);  /* last: the collector may run finalizers */
  return 1;
}

memobj_mem *mo_heap_new(lua_State *L, size_t n) {
  int top = lua_gettop(L);
  lua_pushcfunction(L, l_heap);
  lua_pushinteger(L, (lua_Integer)n);
  lua_call(L, 1, 3);
  if (lua_isnil(L, -3))
    luaL_error(L, "memobj: heap: %s", lua_tostring(L, -2));
  lua_settop(L, top + 1);
  return (memobj_mem *)lua_touserdata(L, -1);
}

void mo_heap_open(lua_State *L) {
  lua_pushcfunction(L, l_heap);
  lua_setfield(L, -2, "heap");
}

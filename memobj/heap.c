/*
** heap.c: the "heap" memory kind. Plain objects come from the current
** allocator domain (runtime/tools/alloc.c: libc malloc unless set_allocator
** changed it; guarded while memobj.debug is on); with `max`, address space
** is reserved with mmap up front and committed as the object grows, so
** its address never moves (that path bypasses the allocator).
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "../runtime/core/os.h"
#include "../runtime/tools/tools.h"
#include "openers.h"
#include "../runtime/core/xstate.h"

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
#define HUGE_MIN ((size_t)4 << 20)  /* numpy's threshold for huge pages */

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
  size_t ps = mo_page_size();
  size_t align = h->align > ps ? h->align : ps;
  size_t len = roundup(max ? max : 1, ps);
  void *p;
  int err;
  if (len == 0 || len > SIZE_MAX - align) return ENOMEM;
  if ((err = mo_os_reserve(len + align - ps, &p)) != 0) return err;
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
  size_t need = roundup(n, mo_page_size());
  int err;
  if (need > h->committed) {
    err = mo_os_protect(m->ptr + h->committed, need - h->committed,
                        PROT_READ | PROT_WRITE);
    if (err) return err;
  } else if (need < h->committed) {  /* give pages back, keep the range */
    /* neither can fail on pages we own; if one did, the pages would only
    ** stay accessible and counted as committed bytes, never wrong */
    if (mo_os_discard(m->ptr + need, h->committed - need) != 0 ||
        mo_os_protect(m->ptr + need, h->committed - need, PROT_NONE) != 0)
      need = h->committed;
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
  if (h->reservation) mo_os_unmap(h->reservation, h->reserved);
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
  heap_mem *h = (heap_mem *)m;
  if (h->reservation == NULL) return 0;  /* malloc'ed: not ours to advise */
  return mo_os_advise(m->ptr, h->committed, hint, 0);
}

/* Export (m:export): a debug block is recorded in this state's debug heap
** (its checks and reports): it stays here. Blocks of any allocator
** domain can go: domains live as long as the process. */
static const char *heap_exportable(memobj_mem *m) {
  return ((heap_mem *)m)->blk.dbg
             ? "heap memory made under memobj.debug(true) stays in its state"
             : NULL;
}

static const memobj_kind heap_kind = {
  "heap", "volatile", NULL, heap_resize, heap_release,
  NULL, heap_protect, heap_advise
};

/* ---- Lua constructor ---- */

/*
** Push a new heap object of size bytes; 0, or an errno value with the
** object pushed closed. Shared by memobj.heap and the core's zeroed
** memory (memobj.array(type, n)), so neither blames the other's name.
*/
static int heap_new(lua_State *L, size_t size, size_t align, size_t max,
                    int zero) {
  int err = 0;
  heap_mem *h;
  unsigned char *p = NULL;
  /* before the bytes exist: what the collector frees now is not part of
  ** the peak (finalizers may run here, before the object is made) */
  mo_gc_pace(L, size);
  h = (heap_mem *)mo_mem_new(L, &heap_kind, sizeof(heap_mem));
  h->align = align;
  h->zero = zero;
  if (max) {
    err = reserve(h, max);
    if (!err) err = commit_to(h, size);
    if (err) heap_release(&h->base);
    p = h->base.ptr;
  } else {
    p = mo_block_alloc(L, &h->blk, &h->base, size, align);
    if (p == NULL) {
      err = ENOMEM;
    } else {
      /* big buffers on huge pages, as numpy's: asked before the first
      ** touch (the memset), a hint whose failure changes nothing */
      if (size >= HUGE_MIN && h->blk.dbg == NULL) (void)mo_os_hugepages(p, size);
      if (zero) memset(p, 0, size);
    }
  }
  if (!err) mo_mem_publish(L, &h->base, p, size);  /* else: never opened */
  return err;
}

/* memobj.heap(size [, {zero=, align=, max=}]) */
static int l_heap(lua_State *L) {
  static const char *const options[] = {"zero", "align", "max", NULL};
  size_t size = mo_checksize(L, 1);
  size_t align = mo_optsize_field(L, 2, "align", MALLOC_ALIGN);
  size_t max = mo_optsize_field(L, 2, "max", 0);
  int zero = mo_optbool_field(L, 2, "zero", 1);
  int err;
  mo_checkoptions(L, 2, options);
  luaL_argcheck(L, align > 0 && (align & (align - 1)) == 0, 2,
                "align must be a power of two");
  luaL_argcheck(L, max == 0 || max >= size, 2, "max is smaller than size");
  if ((err = heap_new(L, size, align, max, zero)) != 0)
    return mo_failresult(L, "heap", err);
  return 1;
}

/* The zeroed memory of the core (mo_mem_zeroed): n, a non-negative
** integer, at idx; raises when it cannot be had. */
static memobj_mem *heap_make(lua_State *L, int idx) {
  size_t n = (size_t)lua_tointeger(L, idx);
  int err = heap_new(L, n, MALLOC_ALIGN, 0, 1);
  if (err)
    luaL_error(L, "memobj: not enough memory for %I bytes: %s",
               (lua_Integer)n, strerror(err));
  return (memobj_mem *)lua_touserdata(L, -1);
}

/* stats().heap.allocators */
static void heap_stats(lua_State *L) {
  mo_alloc_pushstats(L);
  lua_setfield(L, -2, "allocators");
}

static const mo_kinddesc heap_desc = {
  .kind = &heap_kind, .ctor = l_heap, .role = MO_ROLE_ZEROED,
  .make = heap_make, .pushstats = heap_stats
};

void mo_heap_open(lua_State *L) {
  mo_kind_register(L, &heap_desc);
  mo_x_exportable(&heap_kind, heap_exportable);
}

/*
** arena.c: the small-object allocator of arena.h. An arena is MO_ARENA_SIZE
** bytes of address space aligned to its size: its first page holds the
** arena header (the page descriptors), the other pages each serve one
** size class. A block's page descriptor is found from its address with a
** mask and a shift; whether an address is in one of the heap's arenas is
** a lookup of its arena base in a small hash set (pymalloc's address-in-
** range test, without reading memory that may not be ours).
**
** Pages of a class that have free blocks are on the class's list; the
** head serves allocations (its free list, then its not yet carved tail).
** A page whose blocks are all free goes back to its arena; an arena whose
** pages are all free goes back to the OS (one is kept as a spare, so a
** program that crosses the boundary does not map and unmap in a loop).
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "../core/os.h"

/* Teach the memory checkers where blocks start and end, so a use after
** free inside an arena is still caught: ASan by poisoning, valgrind's
** memcheck with mempool client requests (only when running under it). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HAVE_VALGRIND 1
#endif
#endif
#ifndef HAVE_VALGRIND
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_CREATE_MEMPOOL(h, rz, z) ((void)0)
#define VALGRIND_DESTROY_MEMPOOL(h) ((void)0)
#define VALGRIND_MEMPOOL_ALLOC(h, p, n) ((void)0)
#define VALGRIND_MEMPOOL_FREE(h, p) ((void)0)
#define VALGRIND_MAKE_MEM_NOACCESS(p, n) ((void)0)
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)0)
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)0)
#endif

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#define PAGE_SHIFT 14                       /* 16 KiB pages */
#define PAGE_SIZE ((size_t)1 << PAGE_SHIFT)
#define NPAGES (MO_ARENA_SIZE / PAGE_SIZE)  /* 64; page 0 is the header */
#define NCLASS (MO_ARENA_SMALL / 16)        /* classes 1..NCLASS */
#define CLASS(n) (((n) + 15) >> 4)

typedef struct page {
  void *free;              /* freed blocks, linked through their first word */
  char *bump, *end;        /* the part not carved into blocks yet */
  struct page *next, *prev;  /* the class list (pages with room) */
  uint32_t used;           /* live blocks */
  uint16_t bsize;          /* block size; 0 for a free page */
  uint8_t listed;          /* on the class list */
} page;

typedef struct arena {
  struct arena *next, *prev;  /* the heap's arenas with free pages */
  uint32_t nfree;             /* free pages: freestack[0 .. nfree) */
  uint8_t freestack[NPAGES];
  page pages[NPAGES];
} arena;

struct mo_arena {
  page *cls[NCLASS + 1];   /* head of each class list */
  page *last[NCLASS + 1];  /* its tail */
  arena *avail;            /* arenas with free pages */
  arena *spare;            /* an empty arena kept mapped, not in `set` */
  uintptr_t *set;          /* arena bases >> MO_ARENA_SHIFT; 0 is empty */
  size_t setcap, nset;
  size_t mapped, peak;
  int vg;                  /* running under valgrind */
};

_Static_assert(sizeof(arena) <= PAGE_SIZE, "arena header fits page 0");

static inline arena *arena_of(const void *p) {
  return (arena *)((uintptr_t)p & ~(uintptr_t)(MO_ARENA_SIZE - 1));
}

static inline page *page_of(const void *p) {
  return &arena_of(p)->pages[((uintptr_t)p >> PAGE_SHIFT) & (NPAGES - 1)];
}

/* ---- The OS: aligned arenas ---- */

/* Map MO_ARENA_SIZE bytes aligned to their size through the OS layer:
** map twice as much and give back the ends. */
static void *os_map_arena(void) {
  size_t len = 2 * MO_ARENA_SIZE;
  void *out;
  char *p, *a;
  if (mo_os_map(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                -1, 0, &out) != 0)
    return NULL;
  p = (char *)out;
  a = (char *)(((uintptr_t)p + MO_ARENA_SIZE - 1) & ~(uintptr_t)(MO_ARENA_SIZE - 1));
  if (a > p) mo_os_unmap(p, (size_t)(a - p));
  if (a + MO_ARENA_SIZE < p + len)
    mo_os_unmap(a + MO_ARENA_SIZE, (size_t)(p + len - (a + MO_ARENA_SIZE)));
  return a;
}

static void os_unmap_arena(arena *a) {
  mo_os_unmap(a, MO_ARENA_SIZE);
}

/* ---- The set of arena bases (linear probing, no tombstones) ---- */

static inline size_t set_hash(uintptr_t key, size_t cap) {
  return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

int mo_arena_owns(const mo_arena *h, const void *p) {
  uintptr_t key = (uintptr_t)p >> MO_ARENA_SHIFT;
  size_t i, mask = h->setcap - 1;
  for (i = set_hash(key, h->setcap); h->set[i]; i = (i + 1) & mask)
    if (h->set[i] == key) return 1;
  return 0;
}

static void set_put(uintptr_t *set, size_t cap, uintptr_t key) {
  size_t i;
  for (i = set_hash(key, cap); set[i]; i = (i + 1) & (cap - 1))
    ;
  set[i] = key;
}

static int set_add(mo_arena *h, const arena *a) {
  if (2 * (h->nset + 1) > h->setcap) {
    size_t cap = 2 * h->setcap, i;
    uintptr_t *ns = (uintptr_t *)calloc(cap, sizeof *ns);
    if (ns == NULL) return 0;
    for (i = 0; i < h->setcap; i++)
      if (h->set[i]) set_put(ns, cap, h->set[i]);
    free(h->set);
    h->set = ns;
    h->setcap = cap;
  }
  set_put(h->set, h->setcap, (uintptr_t)a >> MO_ARENA_SHIFT);
  h->nset++;
  return 1;
}

/* Remove a key and shift the entries after it back into the gap, so
** lookups never meet a hole inside a probe run. */
static void set_remove(mo_arena *h, const arena *a) {
  uintptr_t key = (uintptr_t)a >> MO_ARENA_SHIFT;
  size_t mask = h->setcap - 1, i, j, home;
  for (i = set_hash(key, h->setcap); h->set[i] != key; i = (i + 1) & mask)
    if (h->set[i] == 0) return;
  for (j = (i + 1) & mask; h->set[j]; j = (j + 1) & mask) {
    home = set_hash(h->set[j], h->setcap);
    /* move j to i when its home does not lie in (i, j] cyclically */
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      h->set[i] = h->set[j];
      i = j;
    }
  }
  h->set[i] = 0;
  h->nset--;
}

/* ---- Arenas ---- */

static void avail_link(mo_arena *h, arena *a) {
  a->prev = NULL;
  a->next = h->avail;
  if (h->avail) h->avail->prev = a;
  h->avail = a;
}

static void avail_unlink(mo_arena *h, arena *a) {
  if (a->prev) a->prev->next = a->next;
  else h->avail = a->next;
  if (a->next) a->next->prev = a->prev;
}

static arena *arena_new(mo_arena *h) {
  arena *a = h->spare;
  size_t i;
  if (a) {
    h->spare = NULL;
  } else {
    a = (arena *)os_map_arena();
    if (a == NULL) return NULL;
    h->mapped += MO_ARENA_SIZE;
    if (h->mapped > h->peak) h->peak = h->mapped;
    if (h->vg) VALGRIND_MAKE_MEM_NOACCESS((char *)a + PAGE_SIZE, MO_ARENA_SIZE - PAGE_SIZE);
    POISON((char *)a + PAGE_SIZE, MO_ARENA_SIZE - PAGE_SIZE);
  }
  if (!set_add(h, a)) {
    h->spare = a;
    return NULL;
  }
  a->nfree = NPAGES - 1;  /* pages 1.., the lowest first */
  for (i = 0; i < NPAGES - 1; i++) a->freestack[i] = (uint8_t)(NPAGES - 1 - i);
  avail_link(h, a);
  return a;
}

/* Every page of a is free: keep it as the spare or unmap it. */
static void arena_release(mo_arena *h, arena *a) {
  avail_unlink(h, a);
  set_remove(h, a);
  if (h->spare == NULL) {
    h->spare = a;
    return;
  }
  h->mapped -= MO_ARENA_SIZE;
  UNPOISON(a, MO_ARENA_SIZE);
  os_unmap_arena(a);
}

/* ---- Pages ---- */

/* A new page goes first; a full page that got a block back goes last, so
** the head fills up before the allocator moves on and a page collects
** some free blocks before it serves again (mimalloc's order). */
static void class_link(mo_arena *h, page *pg, int first) {
  size_t c = pg->bsize >> 4;
  if (first || h->cls[c] == NULL) {
    pg->prev = NULL;
    pg->next = h->cls[c];
    if (h->cls[c]) h->cls[c]->prev = pg;
    else h->last[c] = pg;
    h->cls[c] = pg;
  } else {
    pg->next = NULL;
    pg->prev = h->last[c];
    h->last[c]->next = pg;
    h->last[c] = pg;
  }
  pg->listed = 1;
}

static void class_unlink(mo_arena *h, page *pg) {
  size_t c = pg->bsize >> 4;
  if (pg->prev) pg->prev->next = pg->next;
  else h->cls[c] = pg->next;
  if (pg->next) pg->next->prev = pg->prev;
  else h->last[c] = pg->prev;
  pg->listed = 0;
}

static page *page_new(mo_arena *h, size_t bsize) {
  arena *a = h->avail ? h->avail : arena_new(h);
  size_t idx;
  char *start;
  page *pg;
  if (a == NULL) return NULL;
  idx = a->freestack[--a->nfree];
  if (a->nfree == 0) avail_unlink(h, a);
  pg = &a->pages[idx];
  start = (char *)a + (idx << PAGE_SHIFT);
  pg->free = NULL;
  pg->bump = start;
  pg->end = start + (PAGE_SIZE / bsize) * bsize;
  pg->used = 0;
  pg->bsize = (uint16_t)bsize;
  class_link(h, pg, 1);
  return pg;
}

/* The last block of pg was freed: give the page back to its arena (an
** arena is cheap to take back from the spare, so no page is kept back
** from it: a kept page could pin a whole arena). */
static void page_retire(mo_arena *h, page *pg) {
  arena *a = arena_of(pg);
  if (pg->listed) class_unlink(h, pg);
  pg->bsize = 0;
  a->freestack[a->nfree++] = (uint8_t)(pg - a->pages);
  if (a->nfree == 1) avail_link(h, a);
  if (a->nfree == NPAGES - 1) arena_release(h, a);
}

/* ---- Blocks ---- */

static inline void *take(mo_arena *h, page *pg) {
  void *p = pg->free;
  if (p) {
    UNPOISON(p, pg->bsize);
    if (UNLIKELY(h->vg)) VALGRIND_MAKE_MEM_DEFINED(p, sizeof(void *));
    pg->free = *(void **)p;
  } else if (pg->bump < pg->end) {
    p = pg->bump;
    pg->bump += pg->bsize;
    UNPOISON(p, pg->bsize);
  } else {
    return NULL;
  }
  pg->used++;
  if (UNLIKELY(h->vg)) VALGRIND_MEMPOOL_ALLOC(h, p, pg->bsize);
  return p;
}

/* The class head is full (or there is none): drop full pages from the
** list until one has room, else start a new page. */
static void *small_slow(mo_arena *h, size_t c) {
  page *pg;
  void *p;
  while ((pg = h->cls[c]) != NULL) {
    if ((p = take(h, pg)) != NULL) return p;
    class_unlink(h, pg);
  }
  pg = page_new(h, c << 4);
  return pg ? take(h, pg) : NULL;
}

void *mo_arena_small(mo_arena *h, size_t n) {
  page *pg = h->cls[CLASS(n)];
  void *p;
  if (LIKELY(pg != NULL) && (p = take(h, pg)) != NULL) return p;
  return small_slow(h, CLASS(n));
}

void mo_arena_free_small(mo_arena *h, void *p) {
  page *pg = page_of(p);
  if (UNLIKELY(h->vg)) {
    VALGRIND_MEMPOOL_FREE(h, p);
    VALGRIND_MAKE_MEM_UNDEFINED(p, sizeof(void *));
  }
  *(void **)p = pg->free;
  POISON(p, pg->bsize);
  if (UNLIKELY(h->vg)) VALGRIND_MAKE_MEM_NOACCESS(p, sizeof(void *));
  pg->free = p;
  if (LIKELY(--pg->used != 0 && pg->listed)) return;
  if (pg->used == 0) page_retire(h, pg);  /* listed or not */
  else class_link(h, pg, 0);  /* it has room again */
}

size_t mo_arena_usable(const void *p) {
  return page_of(p)->bsize;
}

/* ---- General calls ---- */

void *mo_arena_malloc(mo_arena *h, size_t n) {
  if (n <= MO_ARENA_SMALL) return mo_arena_small(h, n ? n : 1);
  return malloc(n);
}

void mo_arena_free(mo_arena *h, void *p) {
  if (p == NULL) return;
  if (mo_arena_owns(h, p)) mo_arena_free_small(h, p);
  else free(p);
}

void *mo_arena_realloc(mo_arena *h, void *p, size_t n) {
  size_t old;
  void *q;
  if (p == NULL) return mo_arena_malloc(h, n);
  if (!mo_arena_owns(h, p)) return realloc(p, n ? n : 1);  /* libc's block */
  old = mo_arena_usable(p);
  if (n <= old && 2 * n >= old) return p;  /* shrinking by less than half */
  q = mo_arena_malloc(h, n);
  if (q == NULL) return NULL;
  memcpy(q, p, n < old ? n : old);
  mo_arena_free_small(h, p);
  return q;
}

/* ---- Heaps ---- */

mo_arena *mo_arena_new(void) {
  mo_arena *h = (mo_arena *)calloc(1, sizeof *h);
  if (h == NULL) return NULL;
  h->setcap = 16;
  h->set = (uintptr_t *)calloc(h->setcap, sizeof *h->set);
  if (h->set == NULL) {
    free(h);
    return NULL;
  }
  h->vg = RUNNING_ON_VALGRIND ? 1 : 0;
  if (h->vg) VALGRIND_CREATE_MEMPOOL(h, 0, 0);
  return h;
}

void mo_arena_delete(mo_arena *h) {
  size_t i;
  if (h == NULL) return;
  for (i = 0; i < h->setcap; i++)
    if (h->set[i]) {
      void *a = (void *)(h->set[i] << MO_ARENA_SHIFT);
      UNPOISON(a, MO_ARENA_SIZE);
      os_unmap_arena((arena *)a);
    }
  if (h->spare) {
    UNPOISON(h->spare, MO_ARENA_SIZE);
    os_unmap_arena(h->spare);
  }
  if (h->vg) VALGRIND_DESTROY_MEMPOOL(h);
  free(h->set);
  free(h);
}

void mo_arena_getstats(const mo_arena *h, mo_arena_stats *s) {
  s->mapped = h->mapped;
  s->peak_mapped = h->peak;
  s->arenas = h->nset + (h->spare != NULL);
}

/*
** arena_bench.c: small-block allocation throughput of the arena (arena.h)
** against mimalloc (dlopened) and glibc, all called through function
** pointers, on the same random sequence of sizes (16..512 bytes) with a
** working set of live blocks; and the cost of the ownership test
** (mo_arena_owns) that each free of a switched Lua state pays. Prints
** lines "RATIO what<TAB>x" and "NS what<TAB>ns" for bench/alloc.lua.
*/
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "../runtime/tools/arena.h"

#define OPS 4000000
#define LIVE 20000

static size_t sizes[1 << 16];
static void *slots[LIVE];
static mo_arena *heap;

static void *a_malloc(size_t n) { return mo_arena_malloc(heap, n); }
static void a_free(void *p) { mo_arena_free(heap, p); }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Replace a pseudo-random live block by a new one, OPS times. */
static double churn(void *(*m)(size_t), void (*f)(void *)) {
  double t0 = now();
  unsigned i, r = 12345;
  for (i = 0; i < OPS; i++) {
    unsigned k;
    r = r * 1103515245u + 12345u;
    k = (r >> 8) % LIVE;
    if (slots[k]) f(slots[k]);
    slots[k] = m(sizes[i & 0xffff]);
    *(char *)slots[k] = 1;
  }
  for (i = 0; i < LIVE; i++) {
    if (slots[i]) f(slots[i]);
    slots[i] = NULL;
  }
  return now() - t0;
}

static double best(void *(*m)(size_t), void (*f)(void *)) {
  double b = 1e9, t;
  int k;
  for (k = 0; k < 3; k++)
    if ((t = churn(m, f)) < b) b = t;
  return b;
}

int main(void) {
  void *mi = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
  void *(*mi_malloc)(size_t) = mi ? (void *(*)(size_t))dlsym(mi, "mi_malloc") : NULL;
  void (*mi_free)(void *) = mi ? (void (*)(void *))dlsym(mi, "mi_free") : NULL;
  double ta, tm = 0, tg, t0, tcheck;
  unsigned i;
  volatile int sink = 0;
  void *own[1024], *foreign[1024];
  heap = mo_arena_new();
  for (i = 0; i < (1u << 16); i++) sizes[i] = 16 + (size_t)(rand() % 497);
  ta = best(a_malloc, a_free);
  tg = best(malloc, free);
  if (mi_malloc && mi_free) tm = best(mi_malloc, mi_free);
  printf("small blocks, %d alloc+free with %d live: arena %.1f ns, glibc %.1f ns, "
         "mimalloc %.1f ns per pair\n", OPS, LIVE, ta * 1e9 / OPS, tg * 1e9 / OPS,
         tm * 1e9 / OPS);
  printf("RATIO C alloc+free time: arena vs glibc\t%.3f\n", ta / tg);
  if (tm > 0) printf("RATIO C alloc+free time: arena vs mimalloc\t%.3f\n", ta / tm);
  /* the ownership test alone, on the heap's blocks and on libc's */
  for (i = 0; i < 1024; i++) {
    own[i] = mo_arena_malloc(heap, 64);
    foreign[i] = malloc(64);
  }
  t0 = now();
  for (i = 0; i < 50000000u; i++) sink += mo_arena_owns(heap, own[i & 1023]);
  tcheck = now() - t0;
  printf("NS ownership test, arena block\t%.2f\n", tcheck * 1e9 / 50000000.0);
  t0 = now();
  for (i = 0; i < 50000000u; i++) sink += mo_arena_owns(heap, foreign[i & 1023]);
  tcheck = now() - t0;
  printf("NS ownership test, libc block\t%.2f\n", tcheck * 1e9 / 50000000.0);
  for (i = 0; i < 1024; i++) {
    mo_arena_free(heap, own[i]);
    free(foreign[i]);
  }
  mo_arena_delete(heap);
  return sink == -1;
}

/*
** arena_diff.c: differential test of the arena allocator against libc.
** Random malloc/realloc/free sequences run on both; every block of the
** arena holds the same bytes as its libc twin (checked before each
** realloc and free, and at the end), is 16-byte aligned, and is owned by
** the heap exactly when it was made small there (large blocks are libc's,
** and a libc block stays libc's when realloc shrinks it). Usage: arena_diff [seed [ops]].
** Exit status 0 when every check held.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../runtime/tools/arena.h"

#define NSLOTS 4096

typedef struct slot {
  unsigned char *a, *b;  /* arena block, libc twin */
  size_t n;
  int owned;             /* expected: the arena's (a libc block stays libc's) */
} slot;

static slot slots[NSLOTS];
static unsigned long long rng;
static long failures;

static unsigned long long next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void fail(const char *what, size_t i) {
  if (failures++ < 10) fprintf(stderr, "arena_diff: %s (slot %zu)\n", what, i);
}

/* Sizes: mostly small classes and their edges, some large. */
static size_t rand_size(void) {
  unsigned r = (unsigned)(next() % 100);
  if (r < 70) return 1 + next() % 512;
  if (r < 85) return 496 + next() % 40;  /* around the small limit */
  return 1 + next() % 20000;
}

static void fill(slot *s, size_t from) {
  size_t i;
  for (i = from; i < s->n; i++) s->a[i] = s->b[i] = (unsigned char)next();
}

static void check(mo_arena *h, slot *s, size_t i) {
  if (memcmp(s->a, s->b, s->n) != 0) fail("contents differ", i);
  if ((uintptr_t)s->a & 15) fail("not 16-byte aligned", i);
  if (mo_arena_owns(h, s->a) != s->owned) fail("wrong owner", i);
  if (mo_arena_owns(h, s->b)) fail("a libc block is taken for the arena's", i);
}

/* Many small blocks at once, freed in random order: arenas fill, empty
** and must go back to the OS. */
static void bulk(mo_arena *h) {
  enum { N = 200000 };
  static unsigned char *v[N];
  mo_arena_stats st;
  size_t i, j;
  for (i = 0; i < N; i++) {
    v[i] = mo_arena_malloc(h, 1 + next() % 300);
    if (v[i] == NULL) exit(2);
    v[i][0] = (unsigned char)i;
  }
  mo_arena_getstats(h, &st);
  if (st.arenas < 10) fail("bulk: too few arenas", st.arenas);
  for (i = N - 1; i > 0; i--) {  /* shuffle */
    unsigned char *t;
    j = (size_t)(next() % (i + 1));
    t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
  for (i = 0; i < N; i++) mo_arena_free(h, v[i]);
  mo_arena_getstats(h, &st);
  if (st.arenas > 1) fail("bulk: empty arenas were not given back", st.arenas);
}

int main(int argc, char **argv) {
  unsigned long long seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
  long ops = argc > 2 ? atol(argv[2]) : 300000, k;
  mo_arena *h = mo_arena_new();
  mo_arena_stats st;
  size_t i;
  rng = seed * 0x9E3779B97F4A7C15ull + 1;
  if (h == NULL) return 2;
  bulk(h);
  for (k = 0; k < ops; k++) {
    slot *s;
    i = (size_t)(next() % NSLOTS);
    s = &slots[i];
    if (s->a == NULL) {
      s->n = rand_size();
      s->a = mo_arena_malloc(h, s->n);
      s->b = malloc(s->n);
      if (s->a == NULL || s->b == NULL) return 2;
      s->owned = s->n <= MO_ARENA_SMALL;
      fill(s, 0);
      check(h, s, i);
    } else if (next() % 3 == 0) {
      size_t n = rand_size(), old = s->n;
      unsigned char *a, *b;
      check(h, s, i);
      a = mo_arena_realloc(h, s->a, n);
      b = realloc(s->b, n);
      if (a == NULL || b == NULL) return 2;
      s->a = a;
      s->b = b;
      s->n = n;
      s->owned = s->owned && n <= MO_ARENA_SMALL;
      if (n > old) fill(s, old);
      check(h, s, i);
    } else {
      check(h, s, i);
      mo_arena_free(h, s->a);
      free(s->b);
      s->a = s->b = NULL;
    }
  }
  mo_arena_getstats(h, &st);
  printf("arena_diff: seed %llu, %ld ops, peak %zu KiB mapped\n", seed, ops,
         st.peak_mapped >> 10);
  for (i = 0; i < NSLOTS; i++)
    if (slots[i].a) {
      check(h, &slots[i], i);
      mo_arena_free(h, slots[i].a);
      free(slots[i].b);
    }
  mo_arena_getstats(h, &st);
  /* every arena emptied: at most the spare is left */
  if (st.arenas > 1) fail("empty arenas were not given back", 0);
  mo_arena_delete(h);
  if (failures) fprintf(stderr, "arena_diff: %ld failures\n", failures);
  return failures != 0;
}

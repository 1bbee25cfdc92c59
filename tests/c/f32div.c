/*
** f32div.c: mo_f32div (access/array_kernels_f32.c) against the loop it
** must equal bit for bit, p[k] = (float)((double)p[k] / y), on:
** - special y (zeros, infinities, NaN, subnormal, huge, near powers of
**   two, 0.1, 3, 1/3, ...) over every kind of float32 x;
** - random y (random bits) over random x (random bits: NaN, infinities,
**   subnormals and zeros included);
** - constructed hard cases: x / y within a few double ulps of a float32
**   midpoint (normal and subnormal results), which the checked path must
**   catch and divide again;
** - y whose reciprocal has few bits (the exact-products path).
** And mo_f32arith (add, sub, mul by a double) against its loop.
** Also measures the largest |x * (1/y) - x / y| in double ulps over the
** random pairs (the proof in the kernel bounds it by 3).
** Usage: f32div [rounds [seed]]; prints one line "ok ..." or the first
** mismatches, exit status 1.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../access/array_kernels.h"

#define N 1024

static uint64_t state = 88172645463325252ull;
static uint64_t rnd(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

static float fbits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t bitsf(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static double dbits(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
static uint64_t bitsd(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

static unsigned long pairs, fails, paths[3], redone;

/* Divide xs[0..n) by y both ways and compare the bits. */
static void check(const float *xs, size_t n, double y) {
  float got[N + 8];
  size_t k;
  int path;
  memcpy(got, xs, n * 4);
  redone += mo_f32div((unsigned char *)got, n, y, &path);
  paths[path]++;
  for (k = 0; k < n; k++) {
    float want = (float)((double)xs[k] / y);
    pairs++;
    if (bitsf(got[k]) != bitsf(want) && ++fails <= 10)
      printf("MISMATCH x=%a (%08x) y=%a path %d: got %08x want %08x\n",
             (double)xs[k], bitsf(xs[k]), y, path, bitsf(got[k]), bitsf(want));
  }
}

/* mo_f32arith on xs[0..n) against (float)((double)x op v). */
static void check_arith(const float *xs, size_t n, int op, double v) {
  float got[N + 8];
  size_t k, done;
  memcpy(got, xs, n * 4);
  done = mo_f32arith((unsigned char *)got, n, op, v);
  if (done > n || done % 8) {
    printf("mo_f32arith did %zu of %zu\n", done, n);
    fails++;
    return;
  }
  for (k = 0; k < n; k++) {
    double x = xs[k];
    float want = (float)(op == MO_ARITH_ADD ? x + v : op == MO_ARITH_SUB ? x - v : x * v);
    pairs++;
    /* which of two NaN operands comes out is the compiler's choice */
    if (k < done && bitsf(got[k]) != bitsf(want) && !(isnan(x) && isnan(v)) &&
        ++fails <= 10)
      printf("MISMATCH op %d x=%a v=%a: got %08x want %08x\n", op, x, v,
             bitsf(got[k]), bitsf(want));
  }
}

/* A random float32: every bit pattern, or one of a finite normal range. */
static float anyx(void) { return fbits((uint32_t)rnd()); }
static float normalx(int lo, int hi) {
  uint32_t e = (uint32_t)(lo + (int)(rnd() % (uint64_t)(hi - lo + 1)) + 127);
  return fbits((uint32_t)(rnd() & 0x807FFFFFu) | e << 23);
}
static int isf32(double y) { return (double)(float)y == y; }

static void fill_any(float *xs, size_t n) {
  size_t k;
  for (k = 0; k < n; k++) xs[k] = anyx();
}

static void specials(void) {
  static const double ys[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 0x1p-1074,
    -0x1p-1060, 0x1.8p-1030, 0x1p-1022, 0x1.0000000000001p-1022, 0x1p1023,
    0x1.fffffffffffffp1023, -0x1.8p1022, 1e-300, 1e300, 1e-30, -1e30,
    1.0000001, -1.0000001, 0.1, -0.1, 0.2, 0.3, 0.05, 0.01, 0.001, 1.0 / 3,
    3.0000000000000004, 0.7, 1e-45, 1e38, 3.5e38, 1.0 + 0x1p-52, 1.0 - 0x1p-53,
    2.0 + 0x1p-51, 0.5 - 0x1p-55, 0x1p-126 * (1 + 0x1p-30), 0x1p127 * (1 + 0x1p-40),
    0x1p-149 * 1.5, 6.02214076e23, -2.718281828459045, 3.141592653589793};
  float xs[N];
  size_t i, n, k;
  static const float edge[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN,
    0x1p-149f, -0x1p-149f, 0x1p-126f, 0x1.fffffcp-127f, 3.4028235e38f,
    -3.4028235e38f, 1.0f, -1.0f, 0x1.fffffep0f};
  for (i = 0; i < sizeof ys / sizeof ys[0]; i++) {
    for (n = 0; n <= N; n += n < 40 ? 1 : 331) {
      fill_any(xs, n);
      for (k = 0; k < n && k < sizeof edge / sizeof edge[0]; k++) xs[k * 7 % n] = edge[k];
      check(xs, n, ys[i]);
    }
  }
}

/* Random y of every exponent the float32 range can meet, not float32. */
static double randy(void) {
  for (;;) {
    uint64_t e = (uint64_t)(1023 - 170 + (int)(rnd() % 341));
    double y = dbits((rnd() & 0x800FFFFFFFFFFFFFull) | e << 52);
    if (!isf32(y)) return y;
  }
}

static double maxulps;

static void randoms(unsigned long rounds) {
  float xs[N];
  unsigned long i;
  size_t k;
  for (i = 0; i < rounds; i++) {
    double y = randy();
    fill_any(xs, N);
    check(xs, N, y);
    check_arith(xs, N - i % 8, (int)(i % 3), y);
    for (k = 0; k < N; k++) {  /* the distance the proof bounds */
      double r = 1.0 / y, q = (double)xs[k] * r, d = (double)xs[k] / y;
      if (isfinite(q) && isfinite(d) && fabs(d) >= 0x1p-1000 && fabs(r) >= 0x1p-1000 &&
          signbit(q) == signbit(d)) {
        double u = fabs((double)((int64_t)bitsd(q) - (int64_t)bitsd(d)));
        if (u > maxulps) maxulps = u;
      }
    }
    /* the same y over values of one moderate range (no tiny ones) */
    for (k = 0; k < N; k++) xs[k] = normalx(-20, 20);
    check(xs, N, y);
  }
}

/* x / y within a few double ulps of float32 midpoint m: y = x / m moved by
** a few ulps; the block holds it among random x of the same binade. */
static void midpoints(unsigned long rounds) {
  float xs[64];
  unsigned long i;
  int j;
  size_t k;
  for (i = 0; i < rounds; i++) {
    float x = normalx(-60, 60);
    double m, y0;
    if (i % 4 == 3) {  /* a float32 subnormal result: odd multiple of 2^-150 */
      m = (double)(2 * (rnd() % 0x800000) + 1) * 0x1p-150;
    } else {
      float f = normalx(-100, 100);
      m = (double)f + ldexp(1.0, ilogb(f) - 24) * (f < 0 ? -1 : 1);
    }
    y0 = (double)x / m;
    if (!isfinite(y0) || y0 == 0 || !isnormal(1 / y0)) continue;
    for (j = -12; j <= 12; j++) {
      double y = dbits((uint64_t)((int64_t)bitsd(y0) + j));
      if (isf32(y)) continue;
      for (k = 0; k < 64; k++) xs[k] = normalx(ilogb(x), ilogb(x));
      xs[rnd() % 64] = x;
      check(xs, 64, y);
    }
  }
}

/* y = 1 / r with r of few bits, and y near such values. */
static void products(unsigned long rounds) {
  float xs[N];
  unsigned long i;
  int j;
  for (i = 0; i < rounds; i++) {
    double r = ldexp((double)(rnd() % (1u << (1 + rnd() % 29)) + 1), (int)(rnd() % 60) - 30);
    double y0 = 1.0 / r;
    for (j = -2; j <= 2; j++) {
      double y = dbits((uint64_t)((int64_t)bitsd(y0) + j));
      size_t k;
      if (isf32(y)) continue;
      for (k = 0; k < N; k++) xs[k] = (k & 1) ? anyx() : normalx(-30, 30);
      check(xs, N, y);
    }
  }
}

/* y whose reciprocal repeats a short pattern (0.3: r = 10/3) put many
** products on float32 midpoints: the checked path gives up after a few
** blocks and divides the rest; long arrays, so that it does. */
static void structured(void) {
  static const double ys[] = {0.3, 0.07, 1.2, 0.03, 0.6, -0.13};
  static float big[1 << 16], got[1 << 16];
  size_t i, k, n = sizeof big / sizeof big[0];
  int path;
  for (i = 0; i < sizeof ys / sizeof ys[0]; i++) {
    for (k = 0; k < n; k++) big[k] = k % 5 ? normalx(-10, 10) : anyx();
    memcpy(got, big, sizeof big);
    redone += mo_f32div((unsigned char *)got, n - i, ys[i], &path);
    paths[path]++;
    for (k = 0; k < n - i; k++) {
      float want = (float)((double)big[k] / ys[i]);
      pairs++;
      if (bitsf(got[k]) != bitsf(want) && ++fails <= 10)
        printf("MISMATCH x=%a y=%a (long array): got %08x want %08x\n",
               (double)big[k], ys[i], bitsf(got[k]), bitsf(want));
    }
  }
}

int main(int argc, char **argv) {
  unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
  const char *seed = argc > 2 ? argv[2] : "0";
  state ^= strtoull(seed, NULL, 10) * 0x9E3779B97F4A7C15ull;
  specials();
  randoms(rounds);
  midpoints(rounds * 4);
  products(rounds / 4 + 1);
  structured();
  if (fails) {
    printf("FAILED %lu of %lu pairs (rounds %lu, seed %s)\n", fails, pairs, rounds, seed);
    return 1;
  }
  printf("ok %lu pairs, paths exact %lu products %lu checked %lu, %lu elements "
         "divided again, max |q - d| %.0f ulps (seed %s)\n", pairs,
         paths[MO_F32DIV_EXACT], paths[MO_F32DIV_PRODUCTS], paths[MO_F32DIV_CHECKED],
         redone, maxulps, seed);
  return 0;
}

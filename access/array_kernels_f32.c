/*
** array_kernels_f32.c: float32 arrays op a number that is not a float32
** value, computed in double and rounded once as the Lua loop does.
** mo_f32arith (add, sub, mul) is the plain loop, written with AVX2
** intrinsics: gcc 12 converts 8 floats with one load and a lane extract,
** and that shuffle is the bottleneck (1.49 against 2.20 ms over 16M
** floats in L1). The rest of this file is a:div(y), with the bits of the
** Lua loop a[i] = a[i] / y: the
** quotient rounded to double, d = RN64(x / y), then d rounded to float32.
** Dividing in double (vdivpd) runs at half the memory speed; these paths
** multiply by r = RN64(1 / y) instead, in one of two ways that give the
** same bits:
**
** 1. Exact products (mul_exact). When r has at most 29 significant bits,
**    q = x * r is exact (x has 24), and x / y = q / (1 + e) with
**    e = y * r - 1 (exact by fma: y * r is a multiple of 2^-81 within
**    2^-53 of 1). If |e| <= 2^-54, then |x / y - q| < ulp(q) / 2 for every
**    mantissa of q (below 2 - 2^-52), so d = q and the float32 results are
**    the same: no test is needed. y = 0.1, 0.2, 0.05, 0.01, 1/3 are such
**    (r = 10, 5, 20, 100, 3), and they are the ones the check of 2 would
**    flag often: x * 10 is exactly a float32 midpoint for 1 x in 8.
**
** 2. Checked products (div_checked). With r and q = RN64(x * r) normal,
**    r = (1/y)(1 + e1), q = (x/y)(1 + e1)(1 + e2), d = (x/y)(1 + e3), each
**    |e| <= u = 2^-53, so |q - d| < 3.0000001 u |q| < 3.0000001 ulp(q): d
**    is at most 3 double ulps from q. A double rounds to float32 (a
**    normal result) by its 29 low mantissa bits L: below 2^28 down, above
**    up, at 2^28 to even. q and d round alike unless a float32 midpoint
**    lies between them or on one: in q's binade that needs
**    |L(q) - 2^28| <= 3; across a binade (d past a power of two) no
**    midpoint is within 2^27 double ulps of the power of two. So a block
**    is divided again when any element has L(q) within MARGIN (8) of 2^28,
**    as ((lo + 2^28 + 8) & 0x1ffffff0) == 0 on the low 32 bits: 16 of 2^29
**    patterns, one block of 512 in ~65,000 on random data. The float32
**    overflow threshold is such a midpoint (L = 2^28) too. Float32
**    subnormal results round at a coarser bit, so a block is also divided
**    again when any x has 0 < |x| < B, B = 2^-124 / |r| rounded to float
**    (then |q| >= 2^-125: normal results with a binade to spare). A zero x
**    gives the same signed zero both ways; an infinite or NaN x the same
**    infinity or NaN (the low bits of q are zero: never flagged).
**
** y zero, infinite, NaN, or with 1 / y not a normal double divides in
** double, as do CPUs without AVX2 (the check is written with AVX2
** intrinsics: gcc 12 compiled the same loop in plain or vector-extension
** C to 1.6-1.9x the time, with extra shuffles and no unsigned minimum).
*/
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "array_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2 1
#endif

#define KERNEL MO_KERNEL

/* Elements per block: the copy kept for a block divided again stays in L1. */
#define DIVBLOCK 512
#define MID_ADD (0x10000000u + 8u)   /* 2^28 + MARGIN */
#define MID_MASK 0x1FFFFFF0u         /* 29 bits, less the 2 * MARGIN below */

static inline float loadf(const unsigned char *p) {
  float x;
  memcpy(&x, p, 4);
  return x;
}

/* The exact loop: divide in double, round once to float. */
KERNEL void div_exact(unsigned char *p, size_t n, double y) {
  size_t k;
  for (k = 0; k < n; k++) {
    float v = (float)(loadf(p + 4 * k) / y);
    memcpy(p + 4 * k, &v, 4);
  }
}

/* Path 1: every product exact and equal to d. */
KERNEL void mul_exact(unsigned char *p, size_t n, double r) {
  size_t k;
  for (k = 0; k < n; k++) {
    float v = (float)(loadf(p + 4 * k) * r);
    memcpy(p + 4 * k, &v, 4);
  }
}

/* r (normal) has at most 29 significant bits and y * r is within 2^-54
** of 1 (see path 1 above). */
static int exact_products(double y, double r) {
  uint64_t b;
  memcpy(&b, &r, 8);
  return (b & 0xFFFFFFu) == 0 && fabs(fma(y, r, -1.0)) <= 0x1p-54;
}

#ifdef HAVE_AVX2
/* The bits of float B = 2^-124 / |r| times 2, less 1: an x is flagged when
** 2 |x| - 1 (as integers, a zero x wraps to the largest) is below it.
** 0 flags nothing (B below the float32 range). */
static uint32_t tiny_limit(double r) {
  double b = 0x1p-124 / fabs(r);
  float f = b > FLT_MAX ? INFINITY : (float)b;
  uint32_t u;
  memcpy(&u, &f, 4);
  return u == 0 ? 0 : 2 * u - 1;
}

/* Path 2 over the first n - n % 8 elements; the elements divided again
** are counted into *redone. When more than a quarter of the blocks need
** the division (data that lives near midpoints), the rest is divided at
** once. Returns the number of elements done (a multiple of 8). */
__attribute__((target("avx2"))) static size_t
div_checked(unsigned char *p, size_t n, double y, double r, size_t *redone) {
  float save[DIVBLOCK] __attribute__((aligned(32)));
  const __m256d vr = _mm256_set1_pd(r);
  const __m256i madd = _mm256_set1_epi32((int)MID_ADD);
  const __m256i mmask = _mm256_set1_epi32((int)MID_MASK);
  const __m256i one = _mm256_set1_epi32(1);
  uint32_t limit = tiny_limit(r), mins[16];
  int l, any;
  size_t n8 = n & ~(size_t)7, k0, k, blocks = 0, again = 0;
  for (k0 = 0; k0 < n8; k0 += DIVBLOCK) {
    size_t m = n8 - k0 < DIVBLOCK ? n8 - k0 : DIVBLOCK;
    float *b = (float *)(void *)(p + 4 * k0);
    __m256i mid = _mm256_set1_epi32(-1), tiny = mid;
    if (again > 8 && again * 4 > blocks) {
      div_exact(p + 4 * k0, n8 - k0, y);
      *redone += n8 - k0;
      return n8;
    }
    for (k = 0; k < m; k += 8) {
      /* three loads rather than one and a lane extract: the shuffle unit
      ** is the bottleneck of this loop */
      __m256 x = _mm256_loadu_ps(b + k);
      __m256d qa = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(b + k)), vr);
      __m256d qb = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(b + k + 4)), vr);
      __m256i lo = _mm256_castps_si256(
          _mm256_shuffle_ps(_mm256_castpd_ps(qa), _mm256_castpd_ps(qb), 0x88));
      _mm256_store_ps(save + k, x);
      mid = _mm256_min_epu32(mid, _mm256_and_si256(_mm256_add_epi32(lo, madd), mmask));
      tiny = _mm256_min_epu32(tiny, _mm256_sub_epi32(
          _mm256_slli_epi32(_mm256_castps_si256(x), 1), one));
      _mm_storeu_ps(b + k, _mm256_cvtpd_ps(qa));
      _mm_storeu_ps(b + k + 4, _mm256_cvtpd_ps(qb));
    }
    blocks++;
    _mm256_storeu_si256((__m256i *)(void *)mins, mid);
    _mm256_storeu_si256((__m256i *)(void *)(mins + 8), tiny);
    for (l = 0, any = 0; l < 8; l++) any |= (mins[l] == 0) | (mins[8 + l] < limit);
    if (any) {
      for (k = 0; k < m; k++) {
        float v = (float)((double)save[k] / y);
        memcpy(p + 4 * (k0 + k), &v, 4);
      }
      *redone += m;
      again++;
    }
  }
  return n8;
}

/* The plain loops of mo_f32arith: convert 4 + 4 floats, op, convert back. */
#define CVT_LOOP(opfn)                                                    \
  for (k = 0; k < n8; k += 8) {                                           \
    float *b = (float *)(void *)(p + 4 * k);                              \
    __m256d qa = opfn(_mm256_cvtps_pd(_mm_loadu_ps(b)), vx);              \
    __m256d qb = opfn(_mm256_cvtps_pd(_mm_loadu_ps(b + 4)), vx);          \
    _mm_storeu_ps(b, _mm256_cvtpd_ps(qa));                                \
    _mm_storeu_ps(b + 4, _mm256_cvtpd_ps(qb));                            \
  }

__attribute__((target("avx2"))) static size_t
arith_avx2(unsigned char *p, size_t n, int op, double x) {
  const __m256d vx = _mm256_set1_pd(x);
  size_t k, n8 = n & ~(size_t)7;
  switch (op) {
    case MO_ARITH_ADD: CVT_LOOP(_mm256_add_pd); break;
    case MO_ARITH_SUB: CVT_LOOP(_mm256_sub_pd); break;
    default: CVT_LOOP(_mm256_mul_pd); break;
  }
  return n8;
}
#endif

size_t mo_f32arith(unsigned char *p, size_t n, int op, double x) {
#ifdef HAVE_AVX2
  if (op != MO_ARITH_DIV && __builtin_cpu_supports("avx2"))
    return arith_avx2(p, n, op, x);
#else
  (void)p;
  (void)n;
  (void)op;
  (void)x;
#endif
  return 0;
}

size_t mo_f32div(unsigned char *p, size_t n, double y, int *path) {
  double r = 1.0 / y;
  size_t done = 0, redone = 0;
  int how = MO_F32DIV_EXACT;
  if (fabs(r) >= DBL_MIN && fabs(r) <= DBL_MAX) {  /* not y 0, inf, NaN, huge, tiny */
    if (exact_products(y, r)) {
      mul_exact(p, n, r);
      done = n;
      how = MO_F32DIV_PRODUCTS;
    }
#ifdef HAVE_AVX2
    else if (__builtin_cpu_supports("avx2")) {
      done = div_checked(p, n, y, r, &redone);
      how = MO_F32DIV_CHECKED;
    }
#endif
  }
  div_exact(p + 4 * done, n - done, y);
  if (path) *path = how;
  return redone;
}

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
**    is divided again when any element has L(q) within MARGIN (8) of 2^28:
**    16 of 2^29 patterns, one block of 512 in ~65,000 on random data. The
**    float32 overflow threshold is such a midpoint (L = 2^28) too. Float32
**    subnormal results round at a coarser bit, so a block is also divided
**    again when any 0 < |q| < 2^-125 (a binade to spare: d is then normal
**    too). A zero x gives the same signed zero both ways, as does a q below
**    2^-1042 (a zero high half: the quotient is far below float32's range);
**    an infinite or NaN x gives the same infinity or NaN (L is zero).
**    Both tests run on the two 32-bit halves of q, lane by lane, with no
**    shuffle: the low half as (lo + 2^28 + 8) & 0x1ffffff0, zero when
**    flagged; the high half as (hi - 1) & 0x7fffffff, below the high half
**    of 2^-125 (less 1) when flagged; a running unsigned minimum per lane,
**    tested once per block.
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
#define TINY_HI 0x38200000u          /* the high half of 2^-125 */

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
/* Path 2 over the first n - n % 8 elements; the elements divided again
** are counted into *redone. When more than a quarter of the blocks need
** the division (data that lives near midpoints), the rest is divided at
** once. Returns the number of elements done (a multiple of 8). */
__attribute__((target("avx2"))) static size_t
div_checked(unsigned char *p, size_t n, double y, double r, size_t *redone) {
  float save[DIVBLOCK] __attribute__((aligned(32)));
  const __m256d vr = _mm256_set1_pd(r);
  /* per 64-bit lane: the low half's constants, then the high half's */
  const __m256i add = _mm256_set1_epi64x((long long)(0xFFFFFFFFull << 32 | MID_ADD));
  const __m256i mask = _mm256_set1_epi64x((long long)(0x7FFFFFFFull << 32 | MID_MASK));
  uint32_t mins[8];
  int l, any;
  size_t n8 = n & ~(size_t)7, k0, k, blocks = 0, again = 0;
  for (k0 = 0; k0 < n8; k0 += DIVBLOCK) {
    size_t m = n8 - k0 < DIVBLOCK ? n8 - k0 : DIVBLOCK;
    float *b = (float *)(void *)(p + 4 * k0);
    __m256i low = _mm256_set1_epi32(-1);
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
      __m256i ta = _mm256_and_si256(_mm256_add_epi32(_mm256_castpd_si256(qa), add), mask);
      __m256i tb = _mm256_and_si256(_mm256_add_epi32(_mm256_castpd_si256(qb), add), mask);
      _mm256_store_ps(save + k, x);
      low = _mm256_min_epu32(low, _mm256_min_epu32(ta, tb));
      _mm_storeu_ps(b + k, _mm256_cvtpd_ps(qa));
      _mm_storeu_ps(b + k + 4, _mm256_cvtpd_ps(qb));
    }
    blocks++;
    _mm256_storeu_si256((__m256i *)(void *)mins, low);
    for (l = 0, any = 0; l < 8; l += 2)
      any |= (mins[l] == 0) | (mins[l + 1] < TINY_HI - 1);
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
      done = mo_f32arith(p, n, MO_ARITH_MUL, r);  /* the AVX2 loop, if any */
      mul_exact(p + 4 * done, n - done, r);
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

/*
** array_minmax.c: min and max of contiguous native float arrays at memory
** speed. gcc does not vectorise a float min without -ffast-math (which
** would also drop our NaN handling), so on x86-64 the loops use SSE2
** intrinsics (always there), and AVX2 ones when the CPU has it (checked
** once). Each loop keeps four independent vector chains. minpd(x, m)
** returns m when x is NaN, so a NaN is skipped in the loop; an unordered
** compare of two loaded vectors (true where either holds a NaN), or-ed
** into a mask, tells whether the range held one: then the result is NaN.
** (A lane of x - x sums did the same at 35% more time per 64 MiB.)
** Elsewhere a portable C loop runs with the same contract, which allows
** false alarms (an infinity): the caller then looks for a NaN.
*/
#include "array.h"
#include "array_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Finish: fold the lanes in m (count w) into *r with op, then the tail. */
#define FOLD(r, m, w, op)                                               \
  do {                                                                  \
    int l_;                                                             \
    for (l_ = 0; l_ < (w); l_++) r = op((m)[l_], r);                    \
  } while (0)
#define MIN1(x, r) ((x) < (r) ? (x) : (r))
#define MAX1(x, r) ((x) > (r) ? (x) : (r))

/*
** One kernel body for a vector type: V (register type), T (element), W
** (elements per register), and the intrinsics (LOAD, SET1, MIN, MAX, ADD,
** SUB, STORE). The loop runs 4 registers per step.
*/
#define MINMAX_BODY(V, T, W, LOAD, SET1, MIN, MAX, UNORD, OR, MASK, STORE) \
  {                                                                     \
    T first = MO_LOADN(T, p), a = first, b = first;                     \
    T lanes[4 * (W)];                                                   \
    V mn0 = SET1(first), mn1 = mn0, mn2 = mn0, mn3 = mn0;               \
    V mx0 = mn0, mx1 = mn0, mx2 = mn0, mx3 = mn0;                       \
    V u = SET1((T)0);                                                   \
    size_t k = 0;                                                       \
    int bad = first != first;                                           \
    for (; k + 4 * (W) <= n; k += 4 * (W)) {                            \
      const T *q = (const T *)(const void *)(p + k * sizeof(T));        \
      V x0 = LOAD(q), x1 = LOAD(q + (W));                               \
      V x2 = LOAD(q + 2 * (W)), x3 = LOAD(q + 3 * (W));                 \
      if (want & 1) {                                                   \
        mn0 = MIN(x0, mn0); mn1 = MIN(x1, mn1);                         \
        mn2 = MIN(x2, mn2); mn3 = MIN(x3, mn3);                         \
      }                                                                 \
      if (want & 2) {                                                   \
        mx0 = MAX(x0, mx0); mx1 = MAX(x1, mx1);                         \
        mx2 = MAX(x2, mx2); mx3 = MAX(x3, mx3);                         \
      }                                                                 \
      u = OR(u, OR(UNORD(x0, x1), UNORD(x2, x3)));                      \
    }                                                                   \
    STORE(lanes, MIN(mn0, MIN(mn1, MIN(mn2, mn3))));                    \
    FOLD(a, lanes, W, MIN1);                                            \
    STORE(lanes, MAX(mx0, MAX(mx1, MAX(mx2, mx3))));                    \
    FOLD(b, lanes, W, MAX1);                                            \
    bad |= MASK(u) != 0;                                                \
    for (; k < n; k++) {                                                \
      T x = MO_LOADN(T, p + k * sizeof(T));                             \
      a = MIN1(x, a);                                                   \
      b = MAX1(x, b);                                                   \
      bad |= x != x;                                                    \
    }                                                                   \
    *lo = a;                                                            \
    *hi = b;                                                            \
    return bad;                                                         \
  }

/* The array's bytes may be unaligned: the loads are (loadu takes any
** address; the pointer is never dereferenced as T). Each kernel exists
** for want = 1, 2 and 3, so that the loop holds only the work asked. */
#define KERNEL(name, ATTR, T, WANT, V, W, LOAD, SET1, MIN, MAX, UNORD, OR, MASK, STORE) \
  ATTR static int name(const unsigned char *p, size_t n, T *lo, T *hi) { \
    const int want = WANT;                                              \
    MINMAX_BODY(V, T, W, LOAD, SET1, MIN, MAX, UNORD, OR, MASK, STORE)  \
  }
#define UNORD256_PD(a, b) _mm256_cmp_pd(a, b, _CMP_UNORD_Q)
#define UNORD256_PS(a, b) _mm256_cmp_ps(a, b, _CMP_UNORD_Q)
#define SSE2_F64(name, WANT) KERNEL(name, , double, WANT, __m128d, 2, _mm_loadu_pd, \
  _mm_set1_pd, _mm_min_pd, _mm_max_pd, _mm_cmpunord_pd, _mm_or_pd, _mm_movemask_pd, \
  _mm_storeu_pd)
#define SSE2_F32(name, WANT) KERNEL(name, , float, WANT, __m128, 4, _mm_loadu_ps, \
  _mm_set1_ps, _mm_min_ps, _mm_max_ps, _mm_cmpunord_ps, _mm_or_ps, _mm_movemask_ps, \
  _mm_storeu_ps)
#define AVX2_F64(name, WANT) KERNEL(name, __attribute__((target("avx2"))), double, \
  WANT, __m256d, 4, _mm256_loadu_pd, _mm256_set1_pd, _mm256_min_pd, _mm256_max_pd, \
  UNORD256_PD, _mm256_or_pd, _mm256_movemask_pd, _mm256_storeu_pd)
#define AVX2_F32(name, WANT) KERNEL(name, __attribute__((target("avx2"))), float, \
  WANT, __m256, 8, _mm256_loadu_ps, _mm256_set1_ps, _mm256_min_ps, _mm256_max_ps, \
  UNORD256_PS, _mm256_or_ps, _mm256_movemask_ps, _mm256_storeu_ps)

SSE2_F64(min_f64_sse2, 1)
SSE2_F64(max_f64_sse2, 2)
SSE2_F64(minmax_f64_sse2, 3)
SSE2_F32(min_f32_sse2, 1)
SSE2_F32(max_f32_sse2, 2)
SSE2_F32(minmax_f32_sse2, 3)
AVX2_F64(min_f64_avx2, 1)
AVX2_F64(max_f64_avx2, 2)
AVX2_F64(minmax_f64_avx2, 3)
AVX2_F32(min_f32_avx2, 1)
AVX2_F32(max_f32_avx2, 2)
AVX2_F32(minmax_f32_avx2, 3)

typedef int (*f64_fn)(const unsigned char *, size_t, double *, double *);
typedef int (*f32_fn)(const unsigned char *, size_t, float *, float *);
static const f64_fn f64_kernels[2][3] = {
  {min_f64_sse2, max_f64_sse2, minmax_f64_sse2},
  {min_f64_avx2, max_f64_avx2, minmax_f64_avx2}};
static const f32_fn f32_kernels[2][3] = {
  {min_f32_sse2, max_f32_sse2, minmax_f32_sse2},
  {min_f32_avx2, max_f32_avx2, minmax_f32_avx2}};

static int have_avx2(void) {
  static int known = -1;  /* the same answer in every thread: a benign race */
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("avx2") != 0;
  }
  return known;
}

int mo_minmax_f64(const unsigned char *p, size_t n, int want, double *lo,
                  double *hi) {
  return f64_kernels[have_avx2()][want - 1](p, n, lo, hi);
}

int mo_minmax_f32(const unsigned char *p, size_t n, int want, float *lo,
                  float *hi) {
  return f32_kernels[have_avx2()][want - 1](p, n, lo, hi);
}

#else  /* portable C: four lanes, the same contract */

#define MINMAX_C(name, T)                                               \
  int name(const unsigned char *p, size_t n, int want, T *lo, T *hi) {  \
    T mn[4], mx[4], c[4];                                               \
    size_t k = 0;                                                       \
    int l, bad = 0;                                                     \
    for (l = 0; l < 4; l++) {                                           \
      mn[l] = mx[l] = MO_LOADN(T, p);                                   \
      c[l] = 0;                                                         \
    }                                                                   \
    for (; k < n; k++) {                                                \
      T x = MO_LOADN(T, p + k * sizeof(T));                             \
      l = (int)(k & 3);                                                 \
      mn[l] = x < mn[l] ? x : mn[l];                                    \
      mx[l] = x > mx[l] ? x : mx[l];                                    \
      c[l] += x - x;                                                    \
    }                                                                   \
    for (l = 1; l < 4; l++) {                                           \
      mn[0] = mn[l] < mn[0] ? mn[l] : mn[0];                            \
      mx[0] = mx[l] > mx[0] ? mx[l] : mx[0];                            \
    }                                                                   \
    for (l = 0; l < 4; l++) bad |= c[l] != c[l];                        \
    *lo = mn[0];                                                        \
    *hi = mx[0];                                                        \
    (void)want;                                                         \
    return bad;                                                         \
  }
MINMAX_C(mo_minmax_f64, double)
MINMAX_C(mo_minmax_f32, float)

#endif

/*
** array_minmax.c: min and max of contiguous native float arrays at memory
** speed. gcc does not vectorise a float min without -ffast-math (which
** would also drop our NaN handling), so on x86-64 the loops use SSE2
** intrinsics (always there), and AVX2 ones when the CPU has it (checked
** once). Each loop keeps four independent vector chains. minpd(x, m)
** returns m when x is NaN, so a NaN is skipped in the loop; a check lane
** adds x - x (0 for finite x, NaN for a NaN or an infinity), and only when
** it ends NaN does the caller look for a NaN in a second pass. Elsewhere
** a portable C loop with the same contract runs.
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
#define MINMAX_BODY(V, T, W, LOAD, SET1, MIN, MAX, ADD, SUB, STORE)         \
  {                                                                     \
    T first = MO_LOADN(T, p), a = first, b = first;                     \
    T lanes[4 * (W)];                                                   \
    V mn0 = SET1(first), mn1 = mn0, mn2 = mn0, mn3 = mn0;               \
    V mx0 = mn0, mx1 = mn0, mx2 = mn0, mx3 = mn0;                       \
    V c0 = SET1((T)0), c1 = c0, c2 = c0, c3 = c0;                       \
    size_t k = 0;                                                       \
    int l, bad = first != first;                                        \
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
      c0 = ADD(c0, SUB(x0, x0)); c1 = ADD(c1, SUB(x1, x1));             \
      c2 = ADD(c2, SUB(x2, x2)); c3 = ADD(c3, SUB(x3, x3));             \
    }                                                                   \
    STORE(lanes, MIN(mn0, MIN(mn1, MIN(mn2, mn3))));                    \
    FOLD(a, lanes, W, MIN1);                                            \
    STORE(lanes, MAX(mx0, MAX(mx1, MAX(mx2, mx3))));                    \
    FOLD(b, lanes, W, MAX1);                                            \
    STORE(lanes, ADD(ADD(c0, c1), ADD(c2, c3)));                        \
    for (l = 0; l < (W); l++) bad |= lanes[l] != lanes[l];              \
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
** address; the pointer is never dereferenced as T). */
static int minmax_f64_sse2(const unsigned char *p, size_t n, int want,
                           double *lo, double *hi)
MINMAX_BODY(__m128d, double, 2, _mm_loadu_pd, _mm_set1_pd, _mm_min_pd,
            _mm_max_pd, _mm_add_pd, _mm_sub_pd, _mm_storeu_pd)

static int minmax_f32_sse2(const unsigned char *p, size_t n, int want,
                           float *lo, float *hi)
MINMAX_BODY(__m128, float, 4, _mm_loadu_ps, _mm_set1_ps, _mm_min_ps,
            _mm_max_ps, _mm_add_ps, _mm_sub_ps, _mm_storeu_ps)

__attribute__((target("avx2")))
static int minmax_f64_avx2(const unsigned char *p, size_t n, int want,
                           double *lo, double *hi)
MINMAX_BODY(__m256d, double, 4, _mm256_loadu_pd, _mm256_set1_pd, _mm256_min_pd,
            _mm256_max_pd, _mm256_add_pd, _mm256_sub_pd, _mm256_storeu_pd)

__attribute__((target("avx2")))
static int minmax_f32_avx2(const unsigned char *p, size_t n, int want,
                           float *lo, float *hi)
MINMAX_BODY(__m256, float, 8, _mm256_loadu_ps, _mm256_set1_ps, _mm256_min_ps,
            _mm256_max_ps, _mm256_add_ps, _mm256_sub_ps, _mm256_storeu_ps)

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
  return have_avx2() ? minmax_f64_avx2(p, n, want, lo, hi)
                     : minmax_f64_sse2(p, n, want, lo, hi);
}

int mo_minmax_f32(const unsigned char *p, size_t n, int want, float *lo,
                  float *hi) {
  return have_avx2() ? minmax_f32_avx2(p, n, want, lo, hi)
                     : minmax_f32_sse2(p, n, want, lo, hi);
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

/*
** expr_eval.c: runs an expression program over blocks of MO_EXPR_BLOCK
** elements. Each register is a block-sized buffer (int64, double or one
** byte per bool), so the working set stays in L1/L2; array inputs are
** converted into registers block by block (contiguous native float64 and
** int64 ones are read in place), each instruction is one loop over the
** block, and the result is stored (or reduced) before the next block.
** Built with -O3 -fno-math-errno (no -ffast-math: results are Lua's),
** run_block gets an AVX2 clone (MO_KERNEL). sin cos tan exp log log10 go
** through glibc's vector math library (libmvec, documented at <= 4 ulp),
** its AVX-512 or AVX2 entry points where the CPU has them.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "../runtime/core/os.h"
#include "array.h"
#include "array_kernels.h"
#include "expr.h"

#define B MO_EXPR_BLOCK
#define LOOP(body) for (k = 0; k < m; k++) { body; }

/* ---- Vector math (libmvec) ---- */

typedef void (*vfn)(double *restrict r, const double *restrict a, size_t m);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    defined(__linux__)
#include <immintrin.h>
#define MO_HAVE_MVEC 1
/* glibc's vector ABI names: 2 doubles (SSE2) and 4 doubles (AVX2). */
__m128d _ZGVbN2v_sin(__m128d);
__m128d _ZGVbN2v_cos(__m128d);
__m128d _ZGVbN2v_tan(__m128d);
__m128d _ZGVbN2v_exp(__m128d);
__m128d _ZGVbN2v_log(__m128d);
__m128d _ZGVbN2v_log10(__m128d);
#pragma GCC push_options
#pragma GCC target("avx2")
__m256d _ZGVdN4v_sin(__m256d);
__m256d _ZGVdN4v_cos(__m256d);
__m256d _ZGVdN4v_tan(__m256d);
__m256d _ZGVdN4v_exp(__m256d);
__m256d _ZGVdN4v_log(__m256d);
__m256d _ZGVdN4v_log10(__m256d);
#define V4(name, f, scalar)                                             \
  static void name(double *restrict r, const double *restrict a, size_t m) { \
    size_t k = 0;                                                       \
    for (; k + 4 <= m; k += 4) _mm256_storeu_pd(r + k, f(_mm256_loadu_pd(a + k))); \
    for (; k < m; k++) r[k] = scalar(a[k]);                             \
  }
V4(sin4, _ZGVdN4v_sin, sin)
V4(cos4, _ZGVdN4v_cos, cos)
V4(tan4, _ZGVdN4v_tan, tan)
V4(exp4, _ZGVdN4v_exp, exp)
V4(log4, _ZGVdN4v_log, log)
V4(log104, _ZGVdN4v_log10, log10)
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f")
__m512d _ZGVeN8v_sin(__m512d);
__m512d _ZGVeN8v_cos(__m512d);
__m512d _ZGVeN8v_tan(__m512d);
__m512d _ZGVeN8v_exp(__m512d);
__m512d _ZGVeN8v_log(__m512d);
__m512d _ZGVeN8v_log10(__m512d);
#define V8(name, f, scalar)                                             \
  static void name(double *restrict r, const double *restrict a, size_t m) { \
    size_t k = 0;                                                       \
    for (; k + 8 <= m; k += 8) _mm512_storeu_pd(r + k, f(_mm512_loadu_pd(a + k))); \
    for (; k < m; k++) r[k] = scalar(a[k]);                             \
  }
V8(sin8, _ZGVeN8v_sin, sin)
V8(cos8, _ZGVeN8v_cos, cos)
V8(tan8, _ZGVeN8v_tan, tan)
V8(exp8, _ZGVeN8v_exp, exp)
V8(log8, _ZGVeN8v_log, log)
V8(log108, _ZGVeN8v_log10, log10)
#pragma GCC pop_options
#define V2(name, f, scalar)                                             \
  static void name(double *restrict r, const double *restrict a, size_t m) { \
    size_t k = 0;                                                       \
    for (; k + 2 <= m; k += 2) _mm_storeu_pd(r + k, f(_mm_loadu_pd(a + k))); \
    for (; k < m; k++) r[k] = scalar(a[k]);                             \
  }
V2(sin2, _ZGVbN2v_sin, sin)
V2(cos2, _ZGVbN2v_cos, cos)
V2(tan2, _ZGVbN2v_tan, tan)
V2(exp2_, _ZGVbN2v_exp, exp)
V2(log2_, _ZGVbN2v_log, log)
V2(log102, _ZGVbN2v_log10, log10)

/* 2: AVX-512F, 1: AVX2, 0: SSE2 (asked once; the same answer in every
** thread, so the race is benign). */
static int vector_level(void) {
  static int known = -1;
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
  }
  return known;
}

/* XI_SIN .. XI_LOG10 order: sin cos tan exp log log10. */
static vfn vmath(int op) {
  static const vfn v[3][6] = {{sin2, cos2, tan2, exp2_, log2_, log102},
                              {sin4, cos4, tan4, exp4, log4, log104},
                              {sin8, cos8, tan8, exp8, log8, log108}};
  int i = op == XI_SIN ? 0 : op == XI_COS ? 1 : op == XI_TAN ? 2
        : op == XI_EXP ? 3 : op == XI_LOG ? 4 : 5;
  return v[vector_level()][i];
}
#else
#define SCALARFN(name, f)                                               \
  static void name(double *restrict r, const double *restrict a, size_t m) { \
    size_t k;                                                           \
    for (k = 0; k < m; k++) r[k] = f(a[k]);                             \
  }
SCALARFN(sin1, sin)
SCALARFN(cos1, cos)
SCALARFN(tan1, tan)
SCALARFN(exp1, exp)
SCALARFN(log1, log)
SCALARFN(log101, log10)
static vfn vmath(int op) {
  return op == XI_SIN ? sin1 : op == XI_COS ? cos1 : op == XI_TAN ? tan1
       : op == XI_EXP ? exp1 : op == XI_LOG ? log1 : log101;
}
#endif

/* ---- Lua's arithmetic, per element ---- */

/* m // n and m % n for integers, n not 0 (lvm.c: luaV_idiv, luaV_mod). */
static inline int64_t idiv_i(int64_t a, int64_t b) {
  if (b == -1) return (int64_t)(0u - (uint64_t)a);
  {
    int64_t q = a / b;
    if ((a ^ b) < 0 && a % b != 0) q -= 1;
    return q;
  }
}
static inline int64_t mod_i(int64_t a, int64_t b) {
  if (b == -1) return 0;
  {
    int64_t r = a % b;
    if (r != 0 && (r ^ b) < 0) r += b;
    return r;
  }
}
static inline double mod_f(double a, double b) {
  double r = fmod(a, b);
  if ((r > 0) ? b < 0 : (r < 0 && b > 0)) r += b;  /* the sign of b */
  return r;
}

/* Exact comparisons of an integer with a float (as Lua's LTintfloat...):
** a float outside the int64 range is above or below every integer. */
static inline int lt_if(int64_t i, double f) {
  if (f != f) return 0;
  if (f >= 0x1p63) return 1;
  if (f < -0x1p63) return 0;
  return i < (int64_t)ceil(f);
}
static inline int le_if(int64_t i, double f) {
  if (f != f) return 0;
  if (f >= 0x1p63) return 1;
  if (f < -0x1p63) return 0;
  return i <= (int64_t)floor(f);
}
static inline int lt_fi(double f, int64_t i) {
  if (f != f) return 0;
  if (f >= 0x1p63) return 0;
  if (f < -0x1p63) return 1;
  return (int64_t)floor(f) < i;
}
static inline int le_fi(double f, int64_t i) {
  if (f != f) return 0;
  if (f >= 0x1p63) return 0;
  if (f < -0x1p63) return 1;
  return (int64_t)ceil(f) <= i;
}
static inline int eq_if(int64_t i, double f) {
  return f >= -0x1p63 && f < 0x1p63 && (double)(int64_t)f == f && (int64_t)f == i;
}

/* ---- One block ---- */

/* Run the program over m elements; reg[r] points at register r's values.
** Returns 0, or 1 + the index of an instruction that divided an integer
** by zero. */
MO_KERNEL uint32_t run_block(const mo_xprog *p, void *const *reg, size_t m) {
  int i;
  size_t k;
  for (i = 0; i < p->ninsn; i++) {
    const mo_xinsn *in = &p->code[i];
    double *restrict rf = (double *)reg[in->dst];
    int64_t *restrict ri = (int64_t *)reg[in->dst];
    uint8_t *restrict rb = (uint8_t *)reg[in->dst];
    const double *restrict af = (const double *)reg[in->a];
    const double *restrict bf = (const double *)reg[in->b];
    const int64_t *restrict ai = (const int64_t *)reg[in->a];
    const int64_t *restrict bi = (const int64_t *)reg[in->b];
    const uint8_t *restrict ab = (const uint8_t *)reg[in->a];
    const uint8_t *restrict bb = (const uint8_t *)reg[in->b];
    switch (in->op) {
      case XI_ADDF: LOOP(rf[k] = af[k] + bf[k]) break;
      case XI_SUBF: LOOP(rf[k] = af[k] - bf[k]) break;
      case XI_MULF: LOOP(rf[k] = af[k] * bf[k]) break;
      case XI_DIVF: LOOP(rf[k] = af[k] / bf[k]) break;
      case XI_SQRF: LOOP(rf[k] = af[k] * af[k]) break;
      case XI_POWF: LOOP(rf[k] = bf[k] == 2 ? af[k] * af[k] : pow(af[k], bf[k])) break;
      case XI_IDIVF: LOOP(rf[k] = floor(af[k] / bf[k])) break;
      case XI_MODF: LOOP(rf[k] = mod_f(af[k], bf[k])) break;
      /* math.min(x, y) keeps x unless y < x; math.max unless x < y */
      case XI_MINF: LOOP(rf[k] = bf[k] < af[k] ? bf[k] : af[k]) break;
      case XI_MAXF: LOOP(rf[k] = af[k] < bf[k] ? bf[k] : af[k]) break;
      case XI_ADDI: LOOP(ri[k] = (int64_t)((uint64_t)ai[k] + (uint64_t)bi[k])) break;
      case XI_SUBI: LOOP(ri[k] = (int64_t)((uint64_t)ai[k] - (uint64_t)bi[k])) break;
      case XI_MULI: LOOP(ri[k] = (int64_t)((uint64_t)ai[k] * (uint64_t)bi[k])) break;
      case XI_IDIVI: case XI_MODI: {
        int zero = 0;
        LOOP(zero |= bi[k] == 0)
        if (zero) return (uint32_t)i + 1;
        if (in->op == XI_IDIVI) LOOP(ri[k] = idiv_i(ai[k], bi[k]))
        else LOOP(ri[k] = mod_i(ai[k], bi[k]))
        break;
      }
      case XI_MINI: LOOP(ri[k] = bi[k] < ai[k] ? bi[k] : ai[k]) break;
      case XI_MAXI: LOOP(ri[k] = ai[k] < bi[k] ? bi[k] : ai[k]) break;
      case XI_I2F: LOOP(rf[k] = (double)ai[k]) break;
      case XI_NEGF: LOOP(rf[k] = -af[k]) break;
      case XI_NEGI: LOOP(ri[k] = (int64_t)(0u - (uint64_t)ai[k])) break;
      case XI_ABSF: LOOP(rf[k] = fabs(af[k])) break;
      case XI_ABSI:
        LOOP(ri[k] = ai[k] < 0 ? (int64_t)(0u - (uint64_t)ai[k]) : ai[k]) break;
      case XI_SQRT: LOOP(rf[k] = sqrt(af[k])) break;
      case XI_FLOOR: LOOP(rf[k] = floor(af[k])) break;
      case XI_CEIL: LOOP(rf[k] = ceil(af[k])) break;
      case XI_SIN: case XI_COS: case XI_TAN: case XI_EXP: case XI_LOG:
      case XI_LOG10:
        vmath(in->op)(rf, af, m);
        break;
      case XI_LTF: LOOP(rb[k] = af[k] < bf[k]) break;
      case XI_LEF: LOOP(rb[k] = af[k] <= bf[k]) break;
      case XI_EQF: LOOP(rb[k] = af[k] == bf[k]) break;
      case XI_NEF: LOOP(rb[k] = af[k] != bf[k]) break;
      case XI_LTI: LOOP(rb[k] = ai[k] < bi[k]) break;
      case XI_LEI: LOOP(rb[k] = ai[k] <= bi[k]) break;
      case XI_EQI: LOOP(rb[k] = ai[k] == bi[k]) break;
      case XI_NEI: LOOP(rb[k] = ai[k] != bi[k]) break;
      case XI_LTIF: LOOP(rb[k] = (uint8_t)lt_if(ai[k], bf[k])) break;
      case XI_LEIF: LOOP(rb[k] = (uint8_t)le_if(ai[k], bf[k])) break;
      case XI_LTFI: LOOP(rb[k] = (uint8_t)lt_fi(af[k], bi[k])) break;
      case XI_LEFI: LOOP(rb[k] = (uint8_t)le_fi(af[k], bi[k])) break;
      case XI_EQIF: LOOP(rb[k] = (uint8_t)eq_if(ai[k], bf[k])) break;
      case XI_NEIF: LOOP(rb[k] = (uint8_t)!eq_if(ai[k], bf[k])) break;
      case XI_EQB: LOOP(rb[k] = ab[k] == bb[k]) break;
      case XI_NEB: LOOP(rb[k] = ab[k] != bb[k]) break;
      case XI_AND: LOOP(rb[k] = ab[k] & bb[k]) break;
      case XI_OR: LOOP(rb[k] = ab[k] | bb[k]) break;
      case XI_NOT: LOOP(rb[k] = ab[k] ^ 1) break;
      case XI_WHEREF: {
        const double *restrict cf = (const double *)reg[in->c];
        LOOP(rf[k] = ab[k] ? bf[k] : cf[k])
        break;
      }
      case XI_WHEREI: {
        const int64_t *restrict ci = (const int64_t *)reg[in->c];
        LOOP(ri[k] = ab[k] ? bi[k] : ci[k])
        break;
      }
      default: {
        const uint8_t *restrict cb = (const uint8_t *)reg[in->c];
        LOOP(rb[k] = ab[k] ? bb[k] : cb[k])
        break;
      }
    }
  }
  return 0;
}

/* ---- Loading inputs ---- */

#define LOADS(T, DT)                                                    \
  do {                                                                  \
    DT *restrict d = (DT *)dst;                                         \
    if (st == (ptrdiff_t)sizeof(T))                                     \
      for (k = 0; k < m; k++) d[k] = (DT)MO_LOADN(T, p + k * sizeof(T)); \
    else                                                                \
      for (k = 0; k < m; k++) d[k] = (DT)MO_LOADN(T, p + (ptrdiff_t)k * st); \
  } while (0)

/* Elements k0..k0+m-1 of in as register type t (int64 bits, double or
** a byte): a pointer to them, in place when the
** array already holds them natively and contiguously, else in dst. Bool
** arrays load as bytes 0 or 1. */
MO_KERNEL const void *load_input(const mo_xarr *in, size_t k0, size_t m, int t,
                                 void *dst) {
  const unsigned char *p = in->base + (ptrdiff_t)k0 * in->stride;
  ptrdiff_t st = in->stride;
  size_t k;
  if (st == 8 && ((in->et == MO_F64 && t == MO_XT_FLT) ||
                  ((in->et == MO_I64 || in->et == MO_U64) && t == MO_XT_INT)))
    return p;
  if (t == MO_XT_BOOL) {  /* a bool array: any nonzero byte is true */
    uint8_t *restrict d = (uint8_t *)dst;
    for (k = 0; k < m; k++) d[k] = p[(ptrdiff_t)k * st] != 0;
    return dst;
  }
  if (t == MO_XT_FLT) {
    switch (in->et) {
      case MO_F64: LOADS(double, double); return dst;
      case MO_F32: LOADS(float, double); return dst;
      default: break;
    }
  } else {
    switch (in->et) {
      case MO_I8: LOADS(int8_t, int64_t); return dst;
      case MO_U8: LOADS(uint8_t, int64_t); return dst;
      case MO_I16: LOADS(int16_t, int64_t); return dst;
      case MO_U16: LOADS(uint16_t, int64_t); return dst;
      case MO_I32: LOADS(int32_t, int64_t); return dst;
      case MO_U32: LOADS(uint32_t, int64_t); return dst;
      case MO_I64: case MO_U64: LOADS(int64_t, int64_t); return dst;
      default: break;
    }
  }
  /* byte-swapped: one element at a time */
  for (k = 0; k < m; k++) {
    mo_value v = mo_elem_load(in->et, p + (ptrdiff_t)k * st);
    if (t == MO_XT_FLT) ((double *)dst)[k] = v.d;
    else ((int64_t *)dst)[k] = v.i;
  }
  return dst;
}

/* ---- Storing results ---- */

#define STORES(T, ST, expr)                                             \
  do {                                                                  \
    const ST *restrict s = (const ST *)src;                             \
    if (st == (ptrdiff_t)sizeof(T))                                     \
      for (k = 0; k < n; k++) { T x = (T)(expr); memcpy(p + k * sizeof(T), &x, sizeof(T)); } \
    else                                                                \
      for (k = 0; k < n; k++) { T x = (T)(expr); memcpy(p + (ptrdiff_t)k * st, &x, sizeof(T)); } \
  } while (0)

/* Integers wrap modulo the type (as the kernels do); floats round. */
MO_KERNEL void store(const mo_xarr *out, size_t k0, size_t n, int t,
                     const void *src) {
  unsigned char *p = out->base + (ptrdiff_t)k0 * out->stride;
  ptrdiff_t st = out->stride;
  size_t k;
  if (t == MO_XT_FLT) {
    switch (out->et) {
      case MO_F64: STORES(double, double, s[k]); return;
      case MO_F32: STORES(float, double, s[k]); return;
      default: break;
    }
  } else if (t == MO_XT_INT) {
    switch (out->et) {
      case MO_F64: STORES(double, int64_t, s[k]); return;
      case MO_F32: STORES(float, int64_t, (double)s[k]); return;
      case MO_I8: case MO_U8: STORES(uint8_t, int64_t, (uint64_t)s[k]); return;
      case MO_I16: case MO_U16: STORES(uint16_t, int64_t, (uint64_t)s[k]); return;
      case MO_I32: case MO_U32: STORES(uint32_t, int64_t, (uint64_t)s[k]); return;
      case MO_I64: case MO_U64: STORES(uint64_t, int64_t, (uint64_t)s[k]); return;
      default: break;
    }
  } else {
    switch (out->et) {
      case MO_BOOL: case MO_I8: case MO_U8: STORES(uint8_t, uint8_t, s[k]); return;
      default: break;
    }
  }
  for (k = 0; k < n; k++) {
    mo_value v;
    int64_t i = t == MO_XT_INT ? ((const int64_t *)src)[k]
              : t == MO_XT_BOOL ? ((const uint8_t *)src)[k] : 0;
    if (t == MO_XT_FLT) v.d = ((const double *)src)[k];
    else if (MO_ISFLOAT(out->et)) v.d = (double)i;
    else v.i = i;
    mo_elem_store(out->et, p + (ptrdiff_t)k * st, v);
  }
}

void mo_expr_store(const mo_xarr *out, size_t k0, size_t n, int t,
                   const void *src) {
  store(out, k0, n, t, src);
}

/* ---- Reductions ---- */

MO_KERNEL void reduce_block(int fn, int t, const void *src, size_t m, mo_xred *r) {
  size_t k = 0;
  int l;
  if (t == MO_XT_BOOL) {
    const uint8_t *s = (const uint8_t *)src;
    uint64_t c = 0;
    for (k = 0; k < m; k++) c += s[k];
    r->u += c;
    return;
  }
  if (t == MO_XT_INT) {
    const int64_t *s = (const int64_t *)src;
    switch (fn) {
      case MO_XF_SUM: { uint64_t u = 0; for (k = 0; k < m; k++) u += (uint64_t)s[k]; r->u += u; break; }
      case MO_XF_PROD: for (k = 0; k < m; k++) r->u *= (uint64_t)s[k]; break;
      case MO_XF_MEAN:
        for (; k + 8 <= m; k += 8) for (l = 0; l < 8; l++) r->d[l] += (double)s[k + l];
        for (; k < m; k++) r->d[0] += (double)s[k];
        break;
      case MO_XF_RMIN:
        for (k = 0; k < m; k++) r->i = s[k] < r->i ? s[k] : r->i;
        break;
      default:
        for (k = 0; k < m; k++) r->i = s[k] > r->i ? s[k] : r->i;
        break;
    }
    return;
  }
  {
    const double *s = (const double *)src;
    double d[8];
    memcpy(d, r->d, sizeof d);
    switch (fn) {
      case MO_XF_SUM: case MO_XF_MEAN:
        for (; k + 8 <= m; k += 8) for (l = 0; l < 8; l++) d[l] += s[k + l];
        for (; k < m; k++) d[0] += s[k];
        break;
      case MO_XF_PROD:
        for (; k + 8 <= m; k += 8) for (l = 0; l < 8; l++) d[l] *= s[k + l];
        for (; k < m; k++) d[0] *= s[k];
        break;
      case MO_XF_RMIN:
        for (k = 0; k < m; k++) {
          r->nan |= s[k] != s[k];
          d[k & 7] = s[k] < d[k & 7] ? s[k] : d[k & 7];
        }
        break;
      default:
        for (k = 0; k < m; k++) {
          r->nan |= s[k] != s[k];
          d[k & 7] = s[k] > d[k & 7] ? s[k] : d[k & 7];
        }
        break;
    }
    memcpy(r->d, d, sizeof d);
  }
}

static void red_init(int fn, mo_xred *r) {
  int l;
  memset(r, 0, sizeof *r);
  for (l = 0; l < 8; l++)
    r->d[l] = fn == MO_XF_PROD ? 1.0 : fn == MO_XF_RMIN ? INFINITY
            : fn == MO_XF_RMAX ? -INFINITY : 0.0;
  if (fn == MO_XF_PROD) r->u = 1;
  r->i = fn == MO_XF_RMIN ? INT64_MAX : INT64_MIN;
}

/* Fold the partial result b (a later range) into a. */
static void red_merge(int fn, int t, mo_xred *a, const mo_xred *b) {
  int l;
  a->nan |= b->nan;
  for (l = 0; l < 8; l++) {
    if (fn == MO_XF_PROD) a->d[l] *= b->d[l];
    else if (fn == MO_XF_RMIN) a->d[l] = b->d[l] < a->d[l] ? b->d[l] : a->d[l];
    else if (fn == MO_XF_RMAX) a->d[l] = b->d[l] > a->d[l] ? b->d[l] : a->d[l];
    else a->d[l] += b->d[l];
  }
  if (fn == MO_XF_PROD && t != MO_XT_BOOL) a->u *= b->u;
  else a->u += b->u;
  a->i = fn == MO_XF_RMIN ? (b->i < a->i ? b->i : a->i) : (b->i > a->i ? b->i : a->i);
}

/* ---- A range of blocks (one thread's share) ---- */

typedef struct worker {
  const mo_xjob *job;
  size_t k0, k1;         /* elements */
  unsigned char *work;
  mo_xred red;
  uint32_t errinsn;      /* 1 + the instruction that divided by zero */
  const char *fault;     /* a lost page (mapped file) */
  mo_os_thread tid;
  int started;
} worker;

size_t mo_expr_worksize(const mo_xprog *p) {
  return (size_t)p->nregs * B * 8;
}

static void run_range(worker *w) {
  const mo_xjob *job = w->job;
  const mo_xprog *p = job->p;
  void *reg[MO_EXPR_MAXREGS];
  size_t k0, k;
  int r;
  red_init(p->reduce, &w->red);
  for (r = 0; r < p->nregs; r++) {
    reg[r] = w->work + (size_t)r * B * 8;
    if (p->rsrc[r] == MO_XR_CONST || p->rsrc[r] == MO_XR_SCALAR) {
      mo_xval v = p->rsrc[r] == MO_XR_CONST ? p->rconst[r] : job->scal[p->rname[r]];
      if (p->rtype[r] == MO_XT_BOOL) memset(reg[r], v.i != 0, B);
      else for (k = 0; k < B; k++) ((mo_xval *)reg[r])[k] = v;
    }
  }
  for (k0 = w->k0; k0 < w->k1; k0 += B) {
    size_t m = w->k1 - k0 < B ? w->k1 - k0 : B;
    void *cur[MO_EXPR_MAXREGS];
    for (r = 0; r < p->nregs; r++) {
      cur[r] = reg[r];
      if (p->rsrc[r] == MO_XR_INPUT)
        cur[r] = (void *)load_input(&job->in[p->rname[r]], k0, m, p->rtype[r], reg[r]);
    }
    if (job->direct) cur[p->result] = job->out.base + (ptrdiff_t)k0 * job->out.stride;
    if ((w->errinsn = run_block(p, cur, m)) != 0) break;
    if (p->reduce >= 0) reduce_block(p->reduce, p->rtype[p->result], cur[p->result], m, &w->red);
    else if (!job->direct) store(&job->out, k0, m, p->rtype[p->result], cur[p->result]);
  }
  /* the fault flag is per thread: a worker hands its fault to the caller */
  if (mo_fault_pending) w->fault = mo_fault_take(NULL, SIZE_MAX);
}

static void *thread_main(void *arg) {
  run_range((worker *)arg);
  return NULL;
}

#define MAXTHREADS 64

int mo_expr_run(const mo_xjob *job, mo_xred *red, char *err) {
  worker w[MAXTHREADS];
  int t, nt = job->nthreads < 1 ? 1 : job->nthreads > MAXTHREADS ? MAXTHREADS
                                                                  : job->nthreads;
  size_t nb = (job->n + B - 1) / B, ws = mo_expr_worksize(job->p);
  memset(w, 0, sizeof w[0]);
  if ((size_t)nt > nb) nt = nb > 0 ? (int)nb : 1;
  for (t = 0; t < nt; t++) {
    memset(&w[t], 0, sizeof w[t]);
    w[t].job = job;
    w[t].k0 = nb * (size_t)t / (size_t)nt * B;
    w[t].k1 = t == nt - 1 ? job->n : nb * (size_t)(t + 1) / (size_t)nt * B;
    w[t].work = job->work + (size_t)t * ws;
  }
  for (t = 1; t < nt; t++)
    w[t].started = mo_os_thread_start(&w[t].tid, thread_main, &w[t]) == 0;
  run_range(&w[0]);
  for (t = 1; t < nt; t++) {
    if (w[t].started) mo_os_thread_join(w[t].tid);
    else run_range(&w[t]);  /* no thread: this range runs here */
  }
  *red = w[0].red;
  for (t = 1; t < nt; t++) red_merge(job->p->reduce, job->p->rtype[job->p->result], red, &w[t].red);
  for (t = 0; t < nt; t++) {
    if (w[t].fault) {
      snprintf(err, MO_EXPR_ERRLEN, "memobj: %s", w[t].fault);
      return -1;
    }
    if (w[t].errinsn) {
      const mo_xinsn *in = &job->p->code[w[t].errinsn - 1];
      snprintf(err, MO_EXPR_ERRLEN, "attempt to perform 'n%s0' at position %u",
               in->op == XI_MODI ? "%" : "//", (unsigned)in->pos);
      return -1;
    }
  }
  return 0;
}

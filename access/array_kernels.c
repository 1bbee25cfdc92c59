/*
** array_kernels.c: the numeric kernels of typed arrays: the reductions
** sum, min, max, minmax, mean and dot over a range, and the in-place
** arithmetic add, sub, mul, div. Contiguous native-order arrays run loops
** written for the vectoriser (several independent lanes, no branch on the
** data, NaN handled without a branch); this file is built with -O3 (see
** the Makefile). Strided and byte-swapped arrays take a generic path.
** No -ffast-math: a float sum adds in a fixed order of lanes, so its
** result is the same on every run.
*/
#include <limits.h>
#include <math.h>
#include "array.h"
#include "array_kernels.h"

/* Independent lanes per loop: enough to hide the add latency and to fill
** two vector registers of doubles with AVX (the vectoriser maps lanes to
** vector elements; it may not reorder one float accumulator by itself). */
#define LANES 8

#define KERNEL MO_KERNEL

/* ---- Sums ---- */

/* Float sums: LANES partial sums added in a fixed tree at the end. */
#define FSUM_FN(name, T)                                                \
  KERNEL double name(const unsigned char *p, size_t n) {                \
    double s[LANES] = {0};                                              \
    size_t k = 0;                                                       \
    int l;                                                              \
    for (; k + LANES <= n; k += LANES)                                  \
      for (l = 0; l < LANES; l++) s[l] += MO_LOADN(T, p + (k + l) * sizeof(T)); \
    for (; k < n; k++) s[0] += MO_LOADN(T, p + k * sizeof(T));          \
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])); \
  }
FSUM_FN(sum_f64, double)
FSUM_FN(sum_f32, float)

/* Integer sums wrap like Lua integers (unsigned here, to stay defined);
** integer adds are associative, so one accumulator vectorises. */
#define ISUM_FN(name, T)                                                \
  KERNEL uint64_t name(const unsigned char *p, size_t n) {              \
    uint64_t s = 0;                                                     \
    size_t k;                                                           \
    for (k = 0; k < n; k++) s += (uint64_t)(int64_t)MO_LOADN(T, p + k * sizeof(T)); \
    return s;                                                           \
  }
ISUM_FN(sum_i8, int8_t)
ISUM_FN(sum_u8, uint8_t)
ISUM_FN(sum_i16, int16_t)
ISUM_FN(sum_u16, uint16_t)
ISUM_FN(sum_i32, int32_t)
ISUM_FN(sum_u32, uint32_t)
ISUM_FN(sum_u64, uint64_t)

/* The sum of elements start..start+n-1: a double for float types, the
** wrapped integer otherwise. */
static mo_value sum_range(const mo_array *a, size_t start, size_t n) {
  mo_value r;
  size_t k;
  const unsigned char *p = MO_AELEM(a, start);
  r.u = 0;
  if (mo_array_contiguous(a)) {
    switch (a->etype) {
      case MO_F64: r.d = sum_f64(p, n); return r;
      case MO_F32: r.d = sum_f32(p, n); return r;
      case MO_I8: r.u = sum_i8(p, n); return r;
      case MO_U8: r.u = sum_u8(p, n); return r;
      case MO_I16: r.u = sum_i16(p, n); return r;
      case MO_U16: r.u = sum_u16(p, n); return r;
      case MO_I32: r.u = sum_i32(p, n); return r;
      case MO_U32: r.u = sum_u32(p, n); return r;
      case MO_I64: case MO_U64: r.u = sum_u64(p, n); return r;
      default: break;
    }
  }
  if (MO_ISFLOAT(a->etype)) {
    double s[4] = {0};
    for (k = 0; k < n; k++) s[k & 3] += mo_elem_load(a->etype, MO_AELEM(a, start + k)).d;
    r.d = (s[0] + s[2]) + (s[1] + s[3]);
  } else {
    for (k = 0; k < n; k++) r.u += mo_elem_load(a->etype, MO_AELEM(a, start + k)).u;
  }
  return r;
}

/* ---- Minimum and maximum ---- */

/*
** Integers: min and max are associative, so the loop vectoriser takes a
** plain loop (pminsd...); the AVX2 clone runs where the CPU has it. Floats
** are in array_minmax.c. WANT: 1 min, 2 max, 3 both.
*/
#define IMINMAX_FN(name, T, WANT)                                       \
  KERNEL void name(const unsigned char *p, size_t n, T *lo, T *hi) {    \
    T mn = MO_LOADN(T, p), mx = mn;                                     \
    size_t k;                                                           \
    for (k = 1; k < n; k++) {                                           \
      T x = MO_LOADN(T, p + k * sizeof(T));                             \
      if (WANT & 1) mn = x < mn ? x : mn;                               \
      if (WANT & 2) mx = x > mx ? x : mx;                               \
    }                                                                   \
    *lo = mn;                                                           \
    *hi = mx;                                                           \
  }
#define IMINMAX_3(suffix, T)                                            \
  IMINMAX_FN(min_##suffix, T, 1)                                        \
  IMINMAX_FN(max_##suffix, T, 2)                                        \
  IMINMAX_FN(minmax_##suffix, T, 3)
IMINMAX_3(i8, int8_t)
IMINMAX_3(u8, uint8_t)
IMINMAX_3(i16, int16_t)
IMINMAX_3(u16, uint16_t)
IMINMAX_3(i32, int32_t)
IMINMAX_3(u32, uint32_t)
IMINMAX_3(i64, int64_t)
IMINMAX_3(u64, uint64_t)

/* The second pass: is there a NaN among n items of type T at p? */
#define HASNAN_FN(name, T)                                              \
  static int name(const unsigned char *p, size_t n) {                   \
    size_t k;                                                           \
    for (k = 0; k < n; k++) {                                           \
      T x = MO_LOADN(T, p + k * sizeof(T));                             \
      if (x != x) return 1;                                             \
    }                                                                   \
    return 0;                                                           \
  }
HASNAN_FN(hasnan_f64, double)
HASNAN_FN(hasnan_f32, float)

/* Dispatch on the base type: run the kernel for WANT (1, 2, 3) and
** store the results as values of that type. */
#define MM_CASE(B, suffix, T, FIELD)                                    \
  case B: {                                                             \
    T x, y;                                                             \
    (want == 1 ? min_##suffix : want == 2 ? max_##suffix : minmax_##suffix)(p, n, &x, &y); \
    lo->FIELD = x;                                                      \
    hi->FIELD = y;                                                      \
    break;                                                              \
  }
static int minmax_native(int base, const unsigned char *p, size_t n, int want,
                         mo_value *lo, mo_value *hi) {
  int bad = 0;
  switch (base) {
    case MO_F32: {
      float x, y;
      bad = mo_minmax_f32(p, n, want, &x, &y);
      lo->d = x;
      hi->d = y;
      break;
    }
    case MO_F64: bad = mo_minmax_f64(p, n, want, &lo->d, &hi->d); break;
    MM_CASE(MO_I8, i8, int8_t, i)
    MM_CASE(MO_U8, u8, uint8_t, i)
    MM_CASE(MO_I16, i16, int16_t, i)
    MM_CASE(MO_U16, u16, uint16_t, i)
    MM_CASE(MO_I32, i32, int32_t, i)
    MM_CASE(MO_U32, u32, uint32_t, i)
    MM_CASE(MO_I64, i64, int64_t, i)
    default: MM_CASE(MO_U64, u64, uint64_t, u)
  }
  return bad;
}

/* Is x before y in the order of element type et? (uint64 compares
** unsigned; floats by value.) */
static inline int less(int et, mo_value x, mo_value y) {
  if (MO_ISFLOAT(et)) return x.d < y.d;
  if (MO_BASE(et) == MO_U64) return x.u < y.u;
  return x.i < y.i;
}

/* The generic path: any layout, any byte order. */
static void minmax_generic(const mo_array *a, size_t start, size_t n,
                           mo_value *lo, mo_value *hi) {
  size_t k;
  *lo = *hi = mo_elem_load(a->etype, MO_AELEM(a, start));
  for (k = 1; k < n; k++) {
    mo_value v = mo_elem_load(a->etype, MO_AELEM(a, start + k));
    if (MO_ISFLOAT(a->etype) && v.d != v.d) {
      *lo = *hi = v;
      return;
    }
    if (less(a->etype, v, *lo)) *lo = v;
    if (less(a->etype, *hi, v)) *hi = v;
  }
  if (MO_ISFLOAT(a->etype) && lo->d != lo->d) *hi = *lo;
}

/* Smallest and/or largest (want: 1, 2, 3) of elements start..start+n-1
** (n >= 1). */
static void minmax_range(const mo_array *a, size_t start, size_t n, int want,
                         mo_value *lo, mo_value *hi) {
  const unsigned char *p = MO_AELEM(a, start);
  if (!mo_array_contiguous(a) || MO_SWAPPED(a->etype) || MO_ISBOOL(a->etype)) {
    /* bool: any nonzero byte is true, so its bytes are not its values */
    minmax_generic(a, start, n, lo, hi);
  } else if (minmax_native(a->etype, p, n, want, lo, hi) &&
             (a->etype == MO_F64 ? hasnan_f64(p, n) : hasnan_f32(p, n))) {
    lo->d = hi->d = NAN;
  }
}

/* ---- Dot product ---- */

/* Two float arrays of type T: LANES partial sums of products, each
** product taken in double (float32 products do not round to float). */
#define FDOT_FN(name, T)                                                 \
  KERNEL double name(const unsigned char *p, const unsigned char *q,    \
                     size_t n) {                                        \
    double s[LANES] = {0};                                              \
    size_t k = 0;                                                       \
    int l;                                                              \
    for (; k + LANES <= n; k += LANES)                                  \
      for (l = 0; l < LANES; l++)                                       \
        s[l] += (double)MO_LOADN(T, p + (k + l) * sizeof(T)) *          \
                (double)MO_LOADN(T, q + (k + l) * sizeof(T));           \
    for (; k < n; k++)                                                  \
      s[0] += (double)MO_LOADN(T, p + k * sizeof(T)) *                  \
              (double)MO_LOADN(T, q + k * sizeof(T));                   \
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])); \
  }
FDOT_FN(dot_f64, double)
FDOT_FN(dot_f32, float)

/* Two integer arrays of the same native type: products summed with
** wrap-around in 64 bits (one accumulator: integer adds reassociate). */
#define IDOT_FN(name, T)                                                \
  KERNEL uint64_t name(const unsigned char *p, const unsigned char *q, size_t n) { \
    uint64_t s = 0;                                                     \
    size_t k;                                                           \
    for (k = 0; k < n; k++)                                             \
      s += (uint64_t)(int64_t)MO_LOADN(T, p + k * sizeof(T)) *          \
           (uint64_t)(int64_t)MO_LOADN(T, q + k * sizeof(T));           \
    return s;                                                           \
  }
IDOT_FN(dot_i8, int8_t)
IDOT_FN(dot_u8, uint8_t)
IDOT_FN(dot_i16, int16_t)
IDOT_FN(dot_u16, uint16_t)
IDOT_FN(dot_i32, int32_t)
IDOT_FN(dot_u32, uint32_t)
IDOT_FN(dot_u64, uint64_t)

static uint64_t (*const idots[MO_F32])(const unsigned char *, const unsigned char *,
                                       size_t) = {
  dot_i8, dot_u8, dot_i16, dot_u16, dot_i32, dot_u32, dot_u64, dot_u64};

/* Element k of a as a double (the generic, one-element-at-a-time path). */
static inline double elem_double(const mo_array *a, size_t k) {
  return mo_value_todouble(a->etype, mo_elem_load(a->etype, MO_AELEM(a, k)));
}

/* ---- Lua methods: reductions ---- */

static mo_array *checkrange(lua_State *L, size_t *start, size_t *n) {
  mo_array *a = mo_checkarray(L, 1);
  *n = mo_array_range(L, a, 2, start);
  mo_noextra(L, 3);
  return a;
}

/* a:sum([i [, j]]): 0 for an empty range. */
static int array_sum(lua_State *L) {
  size_t start, n;
  mo_array *a = checkrange(L, &start, &n);
  mo_value r = sum_range(a, start, n);
  mo_fault_check(L);
  if (MO_ISFLOAT(a->etype)) lua_pushnumber(L, r.d);
  else lua_pushinteger(L, r.i);
  return 1;
}

/* Push the min (which 1), max (2) or both (3); nothing for an empty range. */
static int push_minmax(lua_State *L, int which) {
  size_t start, n;
  mo_array *a = checkrange(L, &start, &n);
  mo_value lo, hi;
  if (n == 0) return 0;
  minmax_range(a, start, n, which, &lo, &hi);
  mo_fault_check(L);
  if (which & 1) mo_value_push(L, a->etype, lo);
  if (which & 2) mo_value_push(L, a->etype, hi);
  return which == 3 ? 2 : 1;
}

static int array_min(lua_State *L) { return push_minmax(L, 1); }
static int array_max(lua_State *L) { return push_minmax(L, 2); }
static int array_minmax(lua_State *L) { return push_minmax(L, 3); }

/* a:mean([i [, j]]): a float; nil for an empty range. Integer types up to
** 32 bits sum exactly (no wrap below 2^31 elements); 64-bit ones in
** doubles, as numpy does. */
static int array_mean(lua_State *L) {
  size_t start, n, k;
  mo_array *a = checkrange(L, &start, &n);
  double s;
  if (n == 0) return 0;
  if (MO_ISFLOAT(a->etype)) {
    s = sum_range(a, start, n).d;
  } else if (a->itemsize < 8) {
    s = (double)sum_range(a, start, n).i;
  } else {
    double acc[4] = {0};
    for (k = 0; k < n; k++)
      acc[k & 3] += elem_double(a, start + k);
    s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
  }
  mo_fault_check(L);
  lua_pushnumber(L, s / (double)n);
  return 1;
}

/* a:dot(b): the sum of products over two arrays of the same length, any
** types: an integer (wrapping) when both are integer arrays, else a
** float. */
static int array_dot(lua_State *L) {
  mo_array *a = mo_checkarray(L, 1), *b = mo_checkarray(L, 2);
  size_t n = a->v.count, k;
  int fa = MO_ISFLOAT(a->etype), fb = MO_ISFLOAT(b->etype);
  mo_noextra(L, 2);
  if (MO_ISBOOL(a->etype) && MO_ISBOOL(b->etype))
    return luaL_error(L, "memobj: dot: both arrays are bool (numpy's answer "
                      "is a bool; count with a:sum() or copy into integers)");
  if (b->v.count != n)
    return luaL_error(L, "memobj: dot: lengths differ (%I and %I)",
                      (lua_Integer)n, (lua_Integer)b->v.count);
  if (!fa && !fb) {
    uint64_t s = 0;
    if (a->etype == b->etype && !MO_SWAPPED(a->etype) && mo_array_contiguous(a) &&
        mo_array_contiguous(b))
      s = idots[a->etype](a->v.ptr, b->v.ptr, n);
    else for (k = 0; k < n; k++)
      s += mo_elem_load(a->etype, MO_AELEM(a, k)).u *
           mo_elem_load(b->etype, MO_AELEM(b, k)).u;
    mo_fault_check(L);
    lua_pushinteger(L, (lua_Integer)s);
    return 1;
  }
  {
    double s;
    if (mo_array_contiguous(a) && mo_array_contiguous(b) && a->etype == b->etype &&
        a->etype == MO_F64) {
      s = dot_f64(a->v.ptr, b->v.ptr, n);
    } else if (mo_array_contiguous(a) && mo_array_contiguous(b) &&
               a->etype == b->etype && a->etype == MO_F32) {
      s = dot_f32(a->v.ptr, b->v.ptr, n);
    } else {
      double acc[4] = {0};
      for (k = 0; k < n; k++)
        acc[k & 3] += elem_double(a, k) * elem_double(b, k);
      s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    }
    mo_fault_check(L);
    lua_pushnumber(L, s);
    return 1;
  }
}

const luaL_Reg mo_array_kernel_methods[] = {
  {"sum", array_sum},       {"min", array_min},   {"max", array_max},
  {"minmax", array_minmax}, {"mean", array_mean}, {"dot", array_dot},
  {NULL, NULL}};

/*
** array_bulk.c: typed array operations that run whole loops in C: fill,
** copy, totable, sum, min, max, sort, find. Native-order types get loops
** the compiler can unroll; byte-swapped types take a generic path.
*/
#include <limits.h>
#include <stdlib.h>
#include "array.h"

#define ELEM(a, i) ((a)->v.ptr + (size_t)(i) * (a)->itemsize)

/* Clamp optional arguments i, j (1-based, string.sub rules) to a 0-based
** start and a count. */
static size_t range_args(lua_State *L, mo_array *a, int arg, size_t *start) {
  size_t from, to;
  mo_range(luaL_optinteger(L, arg, 1), luaL_optinteger(L, arg + 1, -1),
           a->v.count, &from, &to);
  *start = from - 1;
  return from > to ? 0 : to - from + 1;
}

/* ---- fill ---- */

static int array_fill(lua_State *L) {
  mo_array *a = mo_checkarray(L, 1);
  mo_value v;
  unsigned char pattern[8];
  size_t start, n, k;
  unsigned char *p;
  mo_checkwritable(L, &a->v);
  v = mo_value_check(L, a->etype, 2);
  n = range_args(L, a, 3, &start);
  if (n == 0) return 0;
  mo_prewrite(L, a->v.mem, a->v.offset + start * a->itemsize, n * a->itemsize);
  mo_elem_store(a->etype, pattern, v);
  p = ELEM(a, start);
  switch (a->itemsize) {
    case 1: memset(p, pattern[0], n); break;
    case 2: for (k = 0; k < n; k++) memcpy(p + 2 * k, pattern, 2); break;
    case 4: for (k = 0; k < n; k++) memcpy(p + 4 * k, pattern, 4); break;
    default: for (k = 0; k < n; k++) memcpy(p + 8 * k, pattern, 8); break;
  }
  mo_fault_check(L);
  return 0;
}

/* ---- copy ---- */

/* Convert n items of the table at idx into buf, in a's element format. */
static void convert_table(lua_State *L, mo_array *a, int idx, size_t n,
                          unsigned char *buf) {
  size_t i;
  for (i = 0; i < n; i++) {
    mo_value v;
    const char *why;
    int t = lua_rawgeti(L, idx, (lua_Integer)i + 1);
    if (t != LUA_TNUMBER)
      luaL_error(L, "memobj: copy: item %I is %s, not a number",
                 (lua_Integer)i + 1, luaL_typename(L, -1));
    if (lua_isinteger(L, -1)) {
      v.i = lua_tointeger(L, -1);
      why = mo_value_convert(MO_I64, a->etype, &v);
    } else {
      v.d = lua_tonumber(L, -1);
      why = mo_value_convert(MO_F64, a->etype, &v);
    }
    if (why) luaL_error(L, "memobj: copy: item %I: %s", (lua_Integer)i + 1, why);
    mo_elem_store(a->etype, buf + i * a->itemsize, v);
    lua_pop(L, 1);
  }
}

/* Convert n items of src into buf, in a's element format. */
static void convert_array(lua_State *L, mo_array *a, mo_array *src, size_t n,
                          unsigned char *buf) {
  size_t i;
  for (i = 0; i < n; i++) {
    mo_value v = mo_elem_load(src->etype, ELEM(src, i));
    const char *why = mo_value_convert(src->etype, a->etype, &v);
    if (why) luaL_error(L, "memobj: copy: item %I: %s", (lua_Integer)i + 1, why);
    mo_elem_store(a->etype, buf + i * a->itemsize, v);
  }
}

/* a:copy(src [, i]): write the items of src (array or table) from index i.
** Everything is converted before any byte of a changes. */
static int array_copy(lua_State *L) {
  /* pinned: the scratch userdata below can run a finalizer (core.h) */
  mo_array *a = (mo_array *)mo_pinview(L, 1, 3, MO_TAG_ARRAY, "typed array");
  mo_array *src = NULL;
  lua_Integer i = luaL_optinteger(L, 3, 1);
  size_t n, start, bytes;
  mo_pinarg(L, 2);
  mo_checkwritable(L, &a->v);
  if (lua_istable(L, 2)) n = lua_rawlen(L, 2);
  else n = (src = mo_checkarray(L, 2))->v.count;
  if (i < 0) i = (lua_Integer)a->v.count + i + 1;
  if (i < 1 || (lua_Unsigned)i - 1 > a->v.count || n > a->v.count - (size_t)(i - 1))
    return luaL_error(L, "memobj: copy: %I items do not fit at index %I of %I",
                      (lua_Integer)n, luaL_optinteger(L, 3, 1),
                      (lua_Integer)a->v.count);
  start = (size_t)(i - 1);
  bytes = n * a->itemsize;
  if (src && src->etype == a->etype) {  /* same format: overlap-safe move */
    mo_prewrite(L, a->v.mem, a->v.offset + start * a->itemsize, bytes);
    memmove(ELEM(a, start), src->v.ptr, bytes);
  } else if (n > 0) {
    /* a scratch userdata: collected even if a conversion raises */
    unsigned char *buf = lua_newuserdatauv(L, bytes, 0);
    if (a->v.released || (src && src->v.released))
      return luaL_error(L, "memobj: view is released");
    if (src) convert_array(L, a, src, n, buf);
    else convert_table(L, a, 2, n, buf);
    mo_prewrite(L, a->v.mem, a->v.offset + start * a->itemsize, bytes);
    memcpy(ELEM(a, start), buf, bytes);
  }
  mo_fault_check(L);
  lua_settop(L, 1);
  return 1;
}

/* ---- totable ---- */

static int array_totable(lua_State *L) {
  mo_array *a = (mo_array *)mo_pinview(L, 1, 3, MO_TAG_ARRAY, "typed array");
  size_t start, n = range_args(L, a, 2, &start), k;
  luaL_argcheck(L, n < (size_t)INT_MAX, 1, "too many elements for a table");
  lua_createtable(L, (int)n, 0);
  if (a->v.released) return luaL_error(L, "memobj: view is released");
  for (k = 0; k < n; k++) {
    mo_value_push(L, a->etype, mo_elem_load(a->etype, ELEM(a, start + k)));
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  mo_fault_check(L);
  return 1;
}

/* ---- sum ---- */

/* Four accumulators: a float sum is latency-bound with one. */
#define SUM_LOOP(T, ACC, p, n, result)                                   \
  do {                                                                   \
    ACC s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                  \
    size_t k = 0;                                                        \
    for (; k + 4 <= (n); k += 4) {                                       \
      s0 += (ACC)MO_LOADN(T, (p) + (k) * sizeof(T));                     \
      s1 += (ACC)MO_LOADN(T, (p) + (k + 1) * sizeof(T));                 \
      s2 += (ACC)MO_LOADN(T, (p) + (k + 2) * sizeof(T));                 \
      s3 += (ACC)MO_LOADN(T, (p) + (k + 3) * sizeof(T));                 \
    }                                                                    \
    for (; k < (n); k++) s0 += (ACC)MO_LOADN(T, (p) + k * sizeof(T));    \
    result = (s0 + s1) + (s2 + s3);                                      \
  } while (0)

/* Integer sums wrap around like Lua integer arithmetic (unsigned here,
** to stay defined). */
static int array_sum(lua_State *L) {
  mo_array *a = mo_checkarray(L, 1);
  const unsigned char *p = a->v.ptr;
  size_t n = a->v.count, k;
  double d = 0;
  lua_Unsigned u = 0;
  switch (a->etype) {
    case MO_I8: SUM_LOOP(int8_t, lua_Unsigned, p, n, u); break;
    case MO_U8: SUM_LOOP(uint8_t, lua_Unsigned, p, n, u); break;
    case MO_I16: SUM_LOOP(int16_t, lua_Unsigned, p, n, u); break;
    case MO_U16: SUM_LOOP(uint16_t, lua_Unsigned, p, n, u); break;
    case MO_I32: SUM_LOOP(int32_t, lua_Unsigned, p, n, u); break;
    case MO_U32: SUM_LOOP(uint32_t, lua_Unsigned, p, n, u); break;
    case MO_I64: case MO_U64: SUM_LOOP(uint64_t, lua_Unsigned, p, n, u); break;
    case MO_F32: SUM_LOOP(float, double, p, n, d); break;
    case MO_F64: SUM_LOOP(double, double, p, n, d); break;
    default:  /* byte-swapped */
      for (k = 0; k < n; k++) {
        mo_value v = mo_elem_load(a->etype, ELEM(a, k));
        if (MO_ISFLOAT(a->etype)) d += v.d;
        else u += v.u;
      }
  }
  mo_fault_check(L);
  if (MO_ISFLOAT(a->etype)) lua_pushnumber(L, d);
  else lua_pushinteger(L, (lua_Integer)u);
  return 1;
}

/* ---- min and max ---- */

/* Is x before y in the order of element type et? (uint64 compares
** unsigned; floats by value.) */
static inline int less(int et, mo_value x, mo_value y) {
  if (MO_ISFLOAT(et)) return x.d < y.d;
  if (MO_BASE(et) == MO_U64) return x.u < y.u;
  return x.i < y.i;
}

/* Smallest (want_max = 0) or largest element; a NaN anywhere makes the
** result NaN; nil for an empty array. */
static int minmax(lua_State *L, int want_max) {
  mo_array *a = mo_checkarray(L, 1);
  size_t n = a->v.count, k;
  mo_value best;
  if (n == 0) return 0;
  best = mo_elem_load(a->etype, ELEM(a, 0));
  for (k = 1; k < n; k++) {
    mo_value v = mo_elem_load(a->etype, ELEM(a, k));
    if (MO_ISFLOAT(a->etype) && v.d != v.d) {
      best = v;
      break;
    }
    if (want_max ? less(a->etype, best, v) : less(a->etype, v, best)) best = v;
  }
  mo_fault_check(L);
  mo_value_push(L, a->etype, best);
  return 1;
}

static int array_min(lua_State *L) { return minmax(L, 0); }
static int array_max(lua_State *L) { return minmax(L, 1); }

/* ---- sort ---- */

#define CMP_FN(name, T)                                              \
  static int name(const void *x, const void *y) {                    \
    T a = MO_LOADN(T, x), b = MO_LOADN(T, y);                        \
    return (a > b) - (a < b);                                        \
  }
CMP_FN(cmp_i8, int8_t)
CMP_FN(cmp_u8, uint8_t)
CMP_FN(cmp_i16, int16_t)
CMP_FN(cmp_u16, uint16_t)
CMP_FN(cmp_i32, int32_t)
CMP_FN(cmp_u32, uint32_t)
CMP_FN(cmp_i64, int64_t)
CMP_FN(cmp_u64, uint64_t)

/* Floats: NaN sorts after every number. */
#define CMP_FLOAT_FN(name, T)                                        \
  static int name(const void *x, const void *y) {                    \
    T a = MO_LOADN(T, x), b = MO_LOADN(T, y);                        \
    if (a != a || b != b) return (a != a) - (b != b);                \
    return (a > b) - (a < b);                                        \
  }
CMP_FLOAT_FN(cmp_f32, float)
CMP_FLOAT_FN(cmp_f64, double)

static int (*const comparators[MO_NBASE])(const void *, const void *) = {
  cmp_i8, cmp_u8, cmp_i16, cmp_u16, cmp_i32, cmp_u32, cmp_i64, cmp_u64,
  cmp_f32, cmp_f64};

/* Reverse the bytes of each of n items of the given size. */
static void swap_items(unsigned char *p, size_t n, size_t size) {
  size_t k, b;
  for (k = 0; k < n; k++, p += size)
    for (b = 0; b < size / 2; b++) {
      unsigned char t = p[b];
      p[b] = p[size - 1 - b];
      p[size - 1 - b] = t;
    }
}

static int array_sort(lua_State *L) {
  mo_array *a = mo_checkarray(L, 1);
  size_t n = a->v.count;
  mo_checkwritable(L, &a->v);
  if (n < 2) return 0;
  mo_prewrite(L, a->v.mem, a->v.offset, a->v.length);
  if (MO_SWAPPED(a->etype)) swap_items(a->v.ptr, n, a->itemsize);
  qsort(a->v.ptr, n, a->itemsize, comparators[MO_BASE(a->etype)]);
  if (MO_SWAPPED(a->etype)) swap_items(a->v.ptr, n, a->itemsize);
  mo_fault_check(L);
  return 0;
}

/* ---- find ---- */

/* a:find(v [, init]): index of the first element equal to v from init (a
** negative init counts from the end), or nil. A value the type cannot
** hold is simply not found. */
static int array_find(lua_State *L) {
  mo_array *a = mo_checkarray(L, 1);
  lua_Integer init = luaL_optinteger(L, 3, 1);
  size_t n = a->v.count, k;
  mo_value want;
  if (init < 0) init = (lua_Integer)n + init + 1;
  if (init < 1) init = 1;
  if ((lua_Unsigned)init > n) return 0;
  if (lua_isinteger(L, 2)) {
    want.i = lua_tointeger(L, 2);
    if (mo_value_convert(MO_I64, a->etype, &want)) return 0;
  } else {
    want.d = luaL_checknumber(L, 2);
    if (mo_value_convert(MO_F64, a->etype, &want)) return 0;
  }
  for (k = (size_t)init - 1; k < n; k++) {
    mo_value v = mo_elem_load(a->etype, ELEM(a, k));
    if (MO_ISFLOAT(a->etype) ? v.d == want.d : v.u == want.u) {
      mo_fault_check(L);
      lua_pushinteger(L, (lua_Integer)k + 1);
      return 1;
    }
  }
  mo_fault_check(L);
  return 0;
}

const luaL_Reg mo_array_bulk_methods[] = {
  {"fill", array_fill}, {"copy", array_copy}, {"totable", array_totable},
  {"sum", array_sum},   {"min", array_min},   {"max", array_max},
  {"sort", array_sort}, {"find", array_find}, {NULL, NULL}};

/*
** array_bulk.c: typed array operations that run whole loops in C: fill,
** copy, totable, sort, find. Contiguous native-order arrays get loops the
** compiler can unroll; strided and byte-swapped ones a generic path. The
** numeric kernels (sum, min, max, dot, add...) live in array_kernels.c.
*/
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include "array.h"

size_t mo_array_range(lua_State *L, mo_array *a, int arg, size_t *start) {
  size_t from, to;
  mo_range(luaL_optinteger(L, arg, 1), luaL_optinteger(L, arg + 1, -1),
           a->v.count, &from, &to);
  if (from > to) {  /* empty: start 0, so no address is computed past the end */
    *start = 0;
    return 0;
  }
  *start = from - 1;
  return to - from + 1;
}

/* Announce a write to elements k .. k+n-1 (n >= 1). */
static void prewrite(lua_State *L, mo_array *a, size_t k, size_t n) {
  size_t off, len;
  mo_array_span(a, k, n, &off, &len);
  mo_prewrite(L, a->v.mem, off, len);
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
  n = mo_array_range(L, a, 3, &start);
  mo_noextra(L, 4);
  if (n == 0) return 0;
  prewrite(L, a, start, n);
  mo_elem_store(a->etype, pattern, v);
  p = MO_AELEM(a, start);
  if (!mo_array_contiguous(a)) {
    for (k = 0; k < n; k++) memcpy(MO_AELEM(a, start + k), pattern, a->itemsize);
  } else {
    switch (a->itemsize) {
      case 1: memset(p, pattern[0], n); break;
      case 2: for (k = 0; k < n; k++) memcpy(p + 2 * k, pattern, 2); break;
      case 4: for (k = 0; k < n; k++) memcpy(p + 4 * k, pattern, 4); break;
      default: for (k = 0; k < n; k++) memcpy(p + 8 * k, pattern, 8); break;
    }
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
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    if ((why = mo_value_get(L, a->etype, -1, &v)) != NULL)
      luaL_error(L, "memobj: copy: item %I: %s", (lua_Integer)i + 1,
                 mo_value_why(L, a->etype, -1, why));
    mo_elem_store(a->etype, buf + i * a->itemsize, v);
    lua_pop(L, 1);
  }
}

/* Convert n items of src into buf, in a's element format. The same
** format copies the bytes as they are (a NaN keeps its payload). */
static void convert_array(lua_State *L, mo_array *a, mo_array *src, size_t n,
                          unsigned char *buf) {
  size_t i;
  if (src->etype == a->etype) {
    for (i = 0; i < n; i++)
      memcpy(buf + i * a->itemsize, MO_AELEM(src, i), a->itemsize);
    mo_fault_check(L);
    return;
  }
  for (i = 0; i < n; i++) {
    mo_value v = mo_elem_load(src->etype, MO_AELEM(src, i));
    const char *why = mo_value_convert(src->etype, a->etype, &v);
    if (why) luaL_error(L, "memobj: copy: item %I: %s", (lua_Integer)i + 1, why);
    mo_elem_store(a->etype, buf + i * a->itemsize, v);
  }
  mo_fault_check(L);
}

/* Write n contiguous items of buf (a's format) to elements start... */
static void scatter(mo_array *a, size_t start, size_t n, const unsigned char *buf) {
  size_t k;
  if (mo_array_contiguous(a)) {
    memcpy(MO_AELEM(a, start), buf, n * a->itemsize);
    return;
  }
  for (k = 0; k < n; k++)
    memcpy(MO_AELEM(a, start + k), buf + k * a->itemsize, a->itemsize);
}

/* a:copy(src [, i]): write the items of src (array or table) from index i.
** Everything is converted before any byte of a changes, into a scratch
** buffer when the formats or the layouts differ (so overlap is safe). */
static int array_copy(lua_State *L) {
  mo_array *a, *src = NULL;
  lua_Integer i;
  size_t n, start, bytes;
  mo_noextra(L, 3);
  a = mo_checkarray(L, 1);
  i = luaL_optinteger(L, 3, 1);
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
  if (n == 0) return lua_settop(L, 1), 1;
  if (src && src->etype == a->etype && mo_array_contiguous(a) &&
      mo_array_contiguous(src)) {  /* same format: overlap-safe move */
    prewrite(L, a, start, n);
    memmove(MO_AELEM(a, start), src->v.ptr, bytes);
  } else {
    /* a scratch userdata: collected even if a conversion raises */
    unsigned char *buf = mo_scratch(L, bytes);
    if (a->v.released || (src && src->v.released))
      return luaL_error(L, "memobj: view is released");
    if (src) convert_array(L, a, src, n, buf);
    else convert_table(L, a, 2, n, buf);
    prewrite(L, a, start, n);
    scatter(a, start, n, buf);
  }
  mo_fault_check(L);
  lua_settop(L, 1);
  return 1;
}

/* ---- totable ---- */

static int array_totable(lua_State *L) {
  mo_array *a;
  size_t start, n, k;
  mo_noextra(L, 3);
  a = mo_checkarray(L, 1);
  n = mo_array_range(L, a, 2, &start);
  luaL_argcheck(L, n < (size_t)INT_MAX, 1, "too many elements for a table");
  lua_createtable(L, (int)n, 0);
  if (a->v.released) return luaL_error(L, "memobj: view is released");
  for (k = 0; k < n; k++) {
    mo_value_push(L, a->etype, mo_elem_load(a->etype, MO_AELEM(a, start + k)));
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  mo_fault_check(L);
  return 1;
}

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
  cmp_f32, cmp_f64, cmp_u8 /* bool: false (0) first */};

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

/* a:sort([i [, j]]): ascending, in place. A strided range is gathered
** into a scratch buffer, sorted there and written back. */
static int array_sort(lua_State *L) {
  mo_array *a;
  size_t start, n, k;
  unsigned char *p;
  mo_noextra(L, 3);
  /* pinned: a strided range is gathered into a new userdata */
  a = (mo_array *)mo_pinview(L, 1, 3, MO_TAG_ARRAY, "typed array");
  n = mo_array_range(L, a, 2, &start);
  mo_checkwritable(L, &a->v);
  if (n < 2) return 0;
  if (mo_array_contiguous(a)) {
    prewrite(L, a, start, n);
    p = MO_AELEM(a, start);
  } else {
    p = mo_scratch(L, n * a->itemsize);
    if (a->v.released) return luaL_error(L, "memobj: view is released");
    for (k = 0; k < n; k++)
      memcpy(p + k * a->itemsize, MO_AELEM(a, start + k), a->itemsize);
    mo_fault_check(L);
    prewrite(L, a, start, n);
  }
  if (MO_SWAPPED(a->etype)) swap_items(p, n, a->itemsize);
  qsort(p, n, a->itemsize, comparators[MO_BASE(a->etype)]);
  if (MO_SWAPPED(a->etype)) swap_items(p, n, a->itemsize);
  if (!mo_array_contiguous(a)) scatter(a, start, n, p);
  mo_fault_check(L);
  return 0;
}

/* ---- find ---- */

/*
** The number at idx as the double that a float element must equal to be
** `== v` in Lua, which compares integers and floats exactly: 2^63 - 1 is
** not 2^63, and 0.1 is no float32 value. Returns 0 when no element of
** the type can equal it (no conversion that rounds may find a match).
*/
static int float_needle(lua_State *L, int idx, int f32, double *out) {
  double d;
  if (lua_isinteger(L, idx)) {
    lua_Integer i = lua_tointeger(L, idx);
    d = (double)i;
    if (d >= 9223372036854775808.0 || (lua_Integer)d != i) return 0;
  } else {
    d = luaL_checknumber(L, idx);
  }
  if (f32 && d == d && !isinf(d) &&
      (fabs(d) > FLT_MAX || (double)(float)d != d))
    return 0;
  *out = d;
  return 1;
}

/* a:find(v [, init]): index of the first element equal to v (as `==`
** in Lua) from init (a negative init counts from the end), or nil. A
** value the type cannot hold is simply not found. */
static int array_find(lua_State *L) {
  mo_array *a = mo_checkarray(L, 1);
  lua_Integer init = luaL_optinteger(L, 3, 1);
  size_t n = a->v.count, k;
  mo_value want;
  int bad;
  mo_noextra(L, 3);
  if (init < 0) init = init < -(lua_Integer)n ? 1 : (lua_Integer)n + init + 1;
  if (init < 1) init = 1;
  if (MO_ISFLOAT(a->etype)) {
    bad = !float_needle(L, 2, a->itemsize == 4, &want.d);
  } else if (MO_ISBOOL(a->etype) && lua_type(L, 2) == LUA_TBOOLEAN) {
    want.u = (uint64_t)lua_toboolean(L, 2);  /* a number is never `==` */
    bad = 0;
  } else if (lua_isinteger(L, 2)) {
    want.i = lua_tointeger(L, 2);
    bad = mo_value_convert(MO_I64, a->etype, &want) != NULL;
  } else {
    want.d = luaL_checknumber(L, 2);
    bad = mo_value_convert(MO_F64, a->etype, &want) != NULL;
  }
  if (bad || (lua_Unsigned)init > n) return 0;
  for (k = (size_t)init - 1; k < n; k++) {
    mo_value v = mo_elem_load(a->etype, MO_AELEM(a, k));
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
  {"sort", array_sort}, {"find", array_find}, {NULL, NULL}};

/*
** array_arith.c: in-place arithmetic on typed arrays: a:add(x), a:sub(x),
** a:mul(x), a:div(x), with x a number or an array of the same length of
** any type. Float arrays compute in double and round to their type;
** integer arrays take only integers and wrap modulo 2^bits as C's
** unsigned arithmetic does (div is refused). Every check runs before the
** first write, so a refused call changes nothing. Built with -O3 (see the
** Makefile) so the contiguous loops vectorise.
*/
#include <stdint.h>
#include "array.h"
#include "array_kernels.h"

/* Out of line, with an AVX2 clone on x86-64 (see array_kernels.c). */
#define KERNEL MO_KERNEL

enum { OP_ADD = MO_ARITH_ADD, OP_SUB = MO_ARITH_SUB, OP_MUL = MO_ARITH_MUL,
       OP_DIV = MO_ARITH_DIV };
static const char *const opnames[] = {"add", "sub", "mul", "div"};

/* Values taken from an operand array per block: a stack buffer keeps the
** generic path out of Lua's allocator. */
#define BLOCK 512

/* ---- Float arrays ---- */

static inline double fop(int op, double x, double y) {
  switch (op) {
    case OP_ADD: return x + y;
    case OP_SUB: return x - y;
    case OP_MUL: return x * y;
    default: return x / y;
  }
}

/* x (a number) into every element of contiguous native p: one loop per
** operation so each is a plain vectorisable loop. */
#define FSCALAR_FN(name, T)                                             \
  KERNEL void name(unsigned char *p, size_t n, int op, double x) {        \
    size_t k;                                                           \
    switch (op) {                                                       \
      case OP_ADD:                                                      \
        for (k = 0; k < n; k++) { T v = (T)(MO_LOADN(T, p + k * sizeof(T)) + x); \
          memcpy(p + k * sizeof(T), &v, sizeof(T)); } break;            \
      case OP_SUB:                                                      \
        for (k = 0; k < n; k++) { T v = (T)(MO_LOADN(T, p + k * sizeof(T)) - x); \
          memcpy(p + k * sizeof(T), &v, sizeof(T)); } break;            \
      case OP_MUL:                                                      \
        for (k = 0; k < n; k++) { T v = (T)(MO_LOADN(T, p + k * sizeof(T)) * x); \
          memcpy(p + k * sizeof(T), &v, sizeof(T)); } break;            \
      default:                                                          \
        for (k = 0; k < n; k++) { T v = (T)(MO_LOADN(T, p + k * sizeof(T)) / x); \
          memcpy(p + k * sizeof(T), &v, sizeof(T)); } break;            \
    }                                                                   \
  }
FSCALAR_FN(fscalar_f64, double)
FSCALAR_FN(fscalar_f32, float)

/* float32 op a float32 value, in float: the same result as rounding the
** double result (a float op computed in double and rounded once is
** correctly rounded: 53 >= 2 * 24 + 2 bits), at twice the vector width. */
#define FSCALAR32_FN(name)                                              \
  KERNEL void name(unsigned char *p, size_t n, int op, float x) {       \
    size_t k;                                                           \
    float v;                                                            \
    switch (op) {                                                       \
      case OP_ADD: for (k = 0; k < n; k++) { v = MO_LOADN(float, p + 4 * k) + x; \
        memcpy(p + 4 * k, &v, 4); } break;                              \
      case OP_SUB: for (k = 0; k < n; k++) { v = MO_LOADN(float, p + 4 * k) - x; \
        memcpy(p + 4 * k, &v, 4); } break;                              \
      case OP_MUL: for (k = 0; k < n; k++) { v = MO_LOADN(float, p + 4 * k) * x; \
        memcpy(p + 4 * k, &v, 4); } break;                              \
      default: for (k = 0; k < n; k++) { v = MO_LOADN(float, p + 4 * k) / x; \
        memcpy(p + 4 * k, &v, 4); } break;                              \
    }                                                                   \
  }
FSCALAR32_FN(fscalar32_f32)

/* Elementwise with n doubles at xs (any alignment), contiguous native
** float64 p. */
KERNEL void fvec_f64(unsigned char *p, size_t n, int op, const unsigned char *xs) {
  size_t k;
  switch (op) {
    case OP_ADD:
      for (k = 0; k < n; k++) { double v = MO_LOADN(double, p + 8 * k) + MO_LOADN(double, xs + 8 * k); memcpy(p + 8 * k, &v, 8); }
      break;
    case OP_SUB:
      for (k = 0; k < n; k++) { double v = MO_LOADN(double, p + 8 * k) - MO_LOADN(double, xs + 8 * k); memcpy(p + 8 * k, &v, 8); }
      break;
    case OP_MUL:
      for (k = 0; k < n; k++) { double v = MO_LOADN(double, p + 8 * k) * MO_LOADN(double, xs + 8 * k); memcpy(p + 8 * k, &v, 8); }
      break;
    default:
      for (k = 0; k < n; k++) { double v = MO_LOADN(double, p + 8 * k) / MO_LOADN(double, xs + 8 * k); memcpy(p + 8 * k, &v, 8); }
      break;
  }
}

/* ---- Integer arrays ---- */

/* W: an unsigned type at least as wide as T and at least unsigned int,
** so that no operation is done in signed int (which could overflow). */
#define ISCALAR_FN(name, T, W)                                          \
  KERNEL void name(unsigned char *p, size_t n, int op, uint64_t x64) {  \
    W x = (W)x64;                                                       \
    size_t k;                                                           \
    switch (op) {                                                       \
      case OP_ADD:                                                      \
        for (k = 0; k < n; k++) { T v = (T)((W)MO_LOADN(T, p + k * sizeof(T)) + x); \
          memcpy(p + k * sizeof(T), &v, sizeof(T)); } break;            \
      case OP_SUB:                                                      \
        for (k = 0; k < n; k++) { T v = (T)((W)MO_LOADN(T, p + k * sizeof(T)) - x); \
          memcpy(p + k * sizeof(T), &v, sizeof(T)); } break;            \
      default:                                                          \
        for (k = 0; k < n; k++) { T v = (T)((W)MO_LOADN(T, p + k * sizeof(T)) * x); \
          memcpy(p + k * sizeof(T), &v, sizeof(T)); } break;            \
    }                                                                   \
  }
ISCALAR_FN(iscalar_8, uint8_t, unsigned)
ISCALAR_FN(iscalar_16, uint16_t, unsigned)
ISCALAR_FN(iscalar_32, uint32_t, uint32_t)
ISCALAR_FN(iscalar_64, uint64_t, uint64_t)

static inline uint64_t iop(int op, uint64_t x, uint64_t y) {
  switch (op) {
    case OP_ADD: return x + y;
    case OP_SUB: return x - y;
    default: return x * y;
  }
}

/* ---- Generic element loop ---- */

/* Elements start..start+m-1 of a op the operand: a number (xs NULL, x)
** or m values xs (double for float arrays, integer bits otherwise). Any
** layout and byte order; mo_elem_store truncates integers (the wrap). */
static void apply_generic(mo_array *a, size_t start, size_t m, int op,
                          mo_value x, const mo_value *xs) {
  size_t k;
  for (k = 0; k < m; k++) {
    unsigned char *p = MO_AELEM(a, start + k);
    mo_value v = mo_elem_load(a->etype, p), y = xs ? xs[k] : x;
    if (MO_ISFLOAT(a->etype)) v.d = fop(op, v.d, y.d);
    else v.u = iop(op, v.u, y.u);
    mo_elem_store(a->etype, p, v);
  }
}

/* Elements before the first 64-byte boundary of p (all n when fewer; none
** when the elements are not aligned to their size). The kernels run in two
** calls, so the long one reads and writes whole cache lines: a
** 16-byte-aligned malloc block otherwise splits every other 32-byte
** access across two lines (2.02 against 1.72 ms for a C loop over 64 MiB,
** doc/performance.md). */
static size_t head_count(const unsigned char *p, size_t n, size_t size) {
  size_t h = (size_t)(-(uintptr_t)p & 63);
  if (h % size) return 0;
  h /= size;
  return h < n ? h : n;
}

/* x into n contiguous native elements of type base at p. */
static void scalar_run(int base, unsigned char *p, size_t n, int op, mo_value x) {
  switch (base) {
    case MO_F64: fscalar_f64(p, n, op, x.d); break;
    case MO_F32:
      if ((double)(float)x.d == x.d) fscalar32_f32(p, n, op, (float)x.d);
      else if (op == OP_DIV) mo_f32div(p, n, x.d, NULL);
      else {
        size_t done = mo_f32arith(p, n, op, x.d);
        fscalar_f32(p + 4 * done, n - done, op, x.d);
      }
      break;
    case MO_I8: case MO_U8: iscalar_8(p, n, op, x.u); break;
    case MO_I16: case MO_U16: iscalar_16(p, n, op, x.u); break;
    case MO_I32: case MO_U32: iscalar_32(p, n, op, x.u); break;
    default: iscalar_64(p, n, op, x.u); break;
  }
}

/* Number operand over the whole array. */
static void apply_scalar(mo_array *a, int op, mo_value x) {
  unsigned char *p = a->v.ptr;
  size_t n = a->v.count, size, h;
  int base = MO_BASE(a->etype);
  if (!mo_array_contiguous(a) || MO_SWAPPED(a->etype)) {
    apply_generic(a, 0, n, op, x, NULL);
    return;
  }
  size = mo_base_size[base];
  h = head_count(p, n, size);
  if (h) scalar_run(base, p, h, op, x);
  scalar_run(base, p + h * size, n - h, op, x);
}

/* Operand element k of b as a's arithmetic takes it. */
static inline mo_value operand(const mo_array *a, const mo_array *b, size_t k) {
  mo_value v = mo_elem_load(b->etype, MO_AELEM(b, k));
  if (MO_ISFLOAT(a->etype) && !MO_ISFLOAT(b->etype))
    v.d = mo_value_todouble(b->etype, v);
  return v;
}

/* Array operand, same length. An operand overlapping a is first copied
** whole (so every value is read before any is written, as numpy does);
** otherwise it is converted block by block. */
static void apply_array(lua_State *L, mo_array *a, mo_array *b, int op) {
  size_t n = a->v.count, k0, k;
  mo_value buf[BLOCK];
  if (mo_array_mayshare(a, b)) {
    mo_value *all;
    if (n > SIZE_MAX / sizeof(mo_value)) luaL_error(L, "memobj: not enough memory");
    all = mo_scratch(L, n * sizeof(mo_value));
    /* a and b are pinned (arith): their bytes stay, but a finalizer run
    ** by the allocation may have released either view */
    mo_array_live(L, a);
    mo_array_live(L, b);
    for (k = 0; k < n; k++) all[k] = operand(a, b, k);
    mo_fault_check(L);  /* never write what lost pages read as */
    apply_generic(a, 0, n, op, all[0], all);
    lua_pop(L, 1);
    return;
  }
  if (a->etype == MO_F64 && b->etype == MO_F64 && mo_array_contiguous(a) &&
      mo_array_contiguous(b)) {
    size_t h = head_count(a->v.ptr, n, 8);
    if (h) fvec_f64(a->v.ptr, h, op, b->v.ptr);
    fvec_f64(a->v.ptr + 8 * h, n - h, op, b->v.ptr + 8 * h);
    return;
  }
  for (k0 = 0; k0 < n; k0 += BLOCK) {
    size_t m = n - k0 < BLOCK ? n - k0 : BLOCK;
    for (k = 0; k < m; k++) buf[k] = operand(a, b, k0 + k);
    if (a->etype == MO_F64 && mo_array_contiguous(a)) {
      double d[BLOCK];
      for (k = 0; k < m; k++) d[k] = buf[k].d;
      fvec_f64(MO_AELEM(a, k0), m, op, (const unsigned char *)d);
    } else {
      apply_generic(a, k0, m, op, buf[0], buf);
    }
  }
}

/* ---- Lua methods ---- */

static int arith(lua_State *L, int op) {
  mo_array *a = (mo_array *)mo_self(L), *b = NULL;
  int isfloat = MO_ISFLOAT(a->etype);
  const char *name = opnames[op];
  mo_value x;
  x.u = 0;
  mo_pinarg(L, 2);  /* self is pinned by the trampoline */
  if (MO_ISBOOL(a->etype))
    return luaL_error(L, "memobj: %s: bool arrays take no arithmetic", name);
  if (!isfloat && op == OP_DIV)
    return luaL_error(L, "memobj: div: %s is an integer array (use a float "
                      "array)", mo_etype_name(a->etype));
  if (lua_type(L, 2) == LUA_TNUMBER ||
      (lua_type(L, 2) == LUA_TSTRING && lua_isnumber(L, 2))) {
    /* numeric strings as every store takes them ("2", "0x10") */
    if (isfloat) {
      x.d = lua_tonumber(L, 2);
    } else {
      int ok;
      x.i = lua_tointegerx(L, 2, &ok);
      if (!ok)
        return luaL_error(L, "memobj: %s: %s array takes only integers, not %f",
                          name, mo_etype_name(a->etype), lua_tonumber(L, 2));
    }
  } else {
    b = mo_toview(L, 2, MO_TAG_ARRAY) ? mo_checkarray(L, 2) : NULL;
    if (b == NULL) return luaL_typeerror(L, 2, "number or typed array");
    if (b->v.count != a->v.count)
      return luaL_error(L, "memobj: %s: lengths differ (%I and %I)", name,
                        (lua_Integer)a->v.count, (lua_Integer)b->v.count);
    if (!isfloat && MO_ISFLOAT(b->etype))
      return luaL_error(L, "memobj: %s: %s array takes only integers, not a "
                        "%s array", name, mo_etype_name(a->etype),
                        mo_etype_name(b->etype));
  }
  if (a->v.count > 0) {
    mo_array_wspan(L, a, 0, a->v.count);
    if (b) apply_array(L, a, b, op);
    else apply_scalar(a, op, x);
  }
  lua_settop(L, 1);
  return 1;
}

static int array_add(lua_State *L) { return arith(L, OP_ADD); }
static int array_sub(lua_State *L) { return arith(L, OP_SUB); }
static int array_mul(lua_State *L) { return arith(L, OP_MUL); }
static int array_div(lua_State *L) { return arith(L, OP_DIV); }

/* pinned: an overlapping operand is copied into a new userdata */
#define ARITH (MO_M_PINS | MO_M_WRITES | MO_M_BYTES)
#define MO_METHOD_KIND mo_array_kind
#define ARITH_METHODS(X)           \
  X("add", array_add, 1, ARITH)    \
  X("sub", array_sub, 1, ARITH)    \
  X("mul", array_mul, 1, ARITH)    \
  X("div", array_div, 1, ARITH)
MO_METHODS(, mo_array_arith_methods, ARITH_METHODS);

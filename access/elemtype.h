/*
** elemtype.h: the element types of typed arrays: names, sizes, and the
** conversions between stored bytes and Lua values, exactly as
** string.pack / string.unpack do them.
*/
#ifndef MO_ELEMTYPE_H
#define MO_ELEMTYPE_H

#include <stdint.h>
#include <string.h>
#include "../runtime/core.h"

typedef enum {
  MO_I8, MO_U8, MO_I16, MO_U16, MO_I32, MO_U32, MO_I64, MO_U64, MO_F32, MO_F64,
  MO_BOOL,  /* one byte; loads as 0 or 1 (any nonzero byte is true, as numpy) */
  MO_NBASE
} mo_base;

/* An element type is a base type, plus MO_NBASE when its bytes are stored
** in the non-native order. */
#define MO_BASE(et) ((et) % MO_NBASE)
#define MO_SWAPPED(et) ((et) >= MO_NBASE)
#define MO_ISFLOAT(et) ((unsigned)MO_BASE(et) - MO_F32 <= 1u)
#define MO_ISBOOL(et) ((et) == MO_BOOL)
#define MO_ISUNSIGNED(et) (MO_BASE(et) <= MO_U64 && (MO_BASE(et) & 1))

extern const uint8_t mo_base_size[MO_NBASE];

/* Parse "float64", "f64", "int32be", numpy's "<i4", "f8", "|b1", "bool"...;
** -1 if unknown. */
int mo_etype_parse(const char *name);
/* Canonical name: "float64", or "int32be" for a non-native order. */
const char *mo_etype_name(int et);

/* A value on its way to or from memory: the stored integer bits, or the
** floating value. */
typedef union mo_value {
  uint64_t u;
  lua_Integer i;
  double d;
} mo_value;

/* ---- Loading ---- */

#define MO_LOADN(T, p) ({ T x_; memcpy(&x_, (p), sizeof x_); x_; })

/* Load the element at p as stored bits (integers, sign-extended) or as a
** double (floats). */
static inline mo_value mo_elem_load(int et, const unsigned char *p) {
  mo_value v;
  switch (et) {
    case MO_I8: v.i = (int8_t)*p; break;
    case MO_U8: v.i = *p; break;
    case MO_I16: v.i = MO_LOADN(int16_t, p); break;
    case MO_U16: v.i = MO_LOADN(uint16_t, p); break;
    case MO_I32: v.i = MO_LOADN(int32_t, p); break;
    case MO_U32: v.i = MO_LOADN(uint32_t, p); break;
    case MO_I64: case MO_U64: v.u = MO_LOADN(uint64_t, p); break;
    case MO_F32: v.d = MO_LOADN(float, p); break;
    case MO_F64: v.d = MO_LOADN(double, p); break;
    case MO_BOOL: v.i = *p != 0; break;
    case MO_NBASE + MO_I8: v.i = (int8_t)*p; break;
    case MO_NBASE + MO_U8: v.i = *p; break;
    case MO_NBASE + MO_I16:
      v.i = (int16_t)__builtin_bswap16(MO_LOADN(uint16_t, p)); break;
    case MO_NBASE + MO_U16: v.i = __builtin_bswap16(MO_LOADN(uint16_t, p)); break;
    case MO_NBASE + MO_I32:
      v.i = (int32_t)__builtin_bswap32(MO_LOADN(uint32_t, p)); break;
    case MO_NBASE + MO_U32: v.i = __builtin_bswap32(MO_LOADN(uint32_t, p)); break;
    case MO_NBASE + MO_I64: case MO_NBASE + MO_U64:
      v.u = __builtin_bswap64(MO_LOADN(uint64_t, p)); break;
    case MO_NBASE + MO_F32: {
      uint32_t b = __builtin_bswap32(MO_LOADN(uint32_t, p));
      float f;
      memcpy(&f, &b, 4);
      v.d = f;
      break;
    }
    default: {
      uint64_t b = __builtin_bswap64(MO_LOADN(uint64_t, p));
      memcpy(&v.d, &b, 8);
      break;
    }
  }
  return v;
}

static inline void mo_value_push(lua_State *L, int et, mo_value v) {
  if (MO_ISFLOAT(et)) lua_pushnumber(L, v.d);
  else if (MO_UNLIKELY(MO_ISBOOL(et))) lua_pushboolean(L, (int)v.i);
  else lua_pushinteger(L, v.i);
}

/* ---- Storing ---- */

static inline void mo_elem_store(int et, unsigned char *p, mo_value v) {
  switch (et) {
    case MO_I8: case MO_U8: case MO_NBASE + MO_I8: case MO_NBASE + MO_U8:
      *p = (uint8_t)v.u; break;
    case MO_BOOL: *p = v.u != 0; break;
    case MO_I16: case MO_U16: { uint16_t x = (uint16_t)v.u; memcpy(p, &x, 2); break; }
    case MO_I32: case MO_U32: { uint32_t x = (uint32_t)v.u; memcpy(p, &x, 4); break; }
    case MO_I64: case MO_U64: memcpy(p, &v.u, 8); break;
    case MO_F32: { float f = (float)v.d; memcpy(p, &f, 4); break; }
    case MO_F64: memcpy(p, &v.d, 8); break;
    case MO_NBASE + MO_I16: case MO_NBASE + MO_U16: {
      uint16_t x = __builtin_bswap16((uint16_t)v.u);
      memcpy(p, &x, 2);
      break;
    }
    case MO_NBASE + MO_I32: case MO_NBASE + MO_U32: {
      uint32_t x = __builtin_bswap32((uint32_t)v.u);
      memcpy(p, &x, 4);
      break;
    }
    case MO_NBASE + MO_I64: case MO_NBASE + MO_U64: {
      uint64_t x = __builtin_bswap64(v.u);
      memcpy(p, &x, 8);
      break;
    }
    case MO_NBASE + MO_F32: {
      float f = (float)v.d;
      uint32_t x;
      memcpy(&x, &f, 4);
      x = __builtin_bswap32(x);
      memcpy(p, &x, 4);
      break;
    }
    default: {
      uint64_t x;
      memcpy(&x, &v.d, 8);
      x = __builtin_bswap64(x);
      memcpy(p, &x, 8);
      break;
    }
  }
}

/* ---- Converting Lua numbers ---- */

/* Why a number does not fit an element type, or NULL if it does. Integer
** types take integers, or floats with an exact integer value; the range
** checks and messages are string.pack's. */
static inline const char *mo_int_fits(int et, lua_Integer n) {
  int size = mo_base_size[MO_BASE(et)];
  if (size == 8) return NULL;
  if (MO_ISUNSIGNED(et))
    return (lua_Unsigned)n < ((lua_Unsigned)1 << (size * 8))
               ? NULL : "unsigned overflow";
  {
    lua_Integer lim = (lua_Integer)1 << (size * 8 - 1);
    return (-lim <= n && n < lim) ? NULL : "integer overflow";
  }
}

/*
** The Lua value at idx as a value of element type et: NULL when it fits
** (*v set), else why not; "" means "not a number at all" (see
** mo_value_why). Numbers and numeric strings ("1.5", "0x10") as
** string.pack takes them; a bool element takes booleans only. Every
** store of a Lua value goes through here (or assign in array.c, the same
** rules inlined), so every method takes the same values.
*/
static inline const char *mo_value_get(lua_State *L, int et, int idx,
                                       mo_value *v) {
  int ok;
  v->u = 0;  /* set on every path (callers may store it after raising) */
  if (MO_ISFLOAT(et)) {
    v->d = lua_tonumberx(L, idx, &ok);
    return ok ? NULL : "";
  }
  if (MO_UNLIKELY(MO_ISBOOL(et))) {
    if (lua_type(L, idx) != LUA_TBOOLEAN) return "";
    v->u = (uint64_t)lua_toboolean(L, idx);
    return NULL;
  }
  v->i = lua_tointegerx(L, idx, &ok);
  if (MO_LIKELY(ok)) return mo_int_fits(et, v->i);
  return lua_isnumber(L, idx) ? "number has no integer representation" : "";
}

/* The message of a `why` from mo_value_get: "" becomes "number expected,
** got table" (or "boolean expected, got number" for bool). */
static inline const char *mo_value_why(lua_State *L, int et, int idx,
                                       const char *why) {
  if (*why != '\0') return why;
  return lua_pushfstring(L, "%s expected, got %s",
                         MO_ISBOOL(et) ? "boolean" : "number",
                         luaL_typename(L, idx));
}

/* Convert the Lua value at idx for element type et, or raise an argument
** error on idx. */
static inline mo_value mo_value_check(lua_State *L, int et, int idx) {
  mo_value v;
  const char *why = mo_value_get(L, et, idx, &v);
  if (MO_UNLIKELY(why != NULL))
    luaL_argerror(L, idx, mo_value_why(L, et, idx, why));
  return v;
}

/* A value loaded from element type et as a double (integers round as C
** converts them). */
static inline double mo_value_todouble(int et, mo_value v) {
  if (MO_ISFLOAT(et)) return v.d;
  return MO_BASE(et) == MO_U64 ? (double)v.u : (double)v.i;
}

/* Convert a value loaded from element type `from` for element type `to`;
** NULL when it fits, else why not. */
static inline const char *mo_value_convert(int from, int to, mo_value *v) {
  /* a bool element stores booleans only: not a number that happens to
  ** be 0 or 1 */
  if (MO_ISBOOL(to) && !MO_ISBOOL(from))
    return "a bool array stores booleans only";
  if (MO_ISFLOAT(to)) {
    v->d = mo_value_todouble(from, *v);
    return NULL;
  }
  if (MO_ISFLOAT(from)) {
    double d = v->d;
    /* the range test is written so that NaN fails it */
    if (!(d >= -0x1p63 && d < 0x1p63) || (double)(lua_Integer)d != d)
      return "number has no integer representation";
    v->i = (lua_Integer)d;
  }
  return mo_int_fits(to, v->i);
}

#endif

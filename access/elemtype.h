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
  MO_NBASE
} mo_base;

/* An element type is a base type, plus MO_NBASE when its bytes are stored
** in the non-native order. */
#define MO_BASE(et) ((et) % MO_NBASE)
#define MO_SWAPPED(et) ((et) >= MO_NBASE)
#define MO_ISFLOAT(et) (MO_BASE(et) >= MO_F32)
#define MO_ISUNSIGNED(et) (MO_BASE(et) <= MO_U64 && (MO_BASE(et) & 1))

extern const uint8_t mo_base_size[MO_NBASE];

/* Parse "float64", "f64", "int32be"...; -1 if unknown. */
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
  else lua_pushinteger(L, v.i);
}

/* ---- Storing ---- */

static inline void mo_elem_store(int et, unsigned char *p, mo_value v) {
  switch (et) {
    case MO_I8: case MO_U8: case MO_NBASE + MO_I8: case MO_NBASE + MO_U8:
      *p = (uint8_t)v.u; break;
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

/* Convert the Lua value at idx for element type et, or raise an argument
** error on idx. */
static inline mo_value mo_value_check(lua_State *L, int et, int idx) {
  mo_value v;
  int ok;
  /* lua_to*x directly: the luaL_check* wrappers cost a call on the hot
  ** path; on failure they run to raise their usual messages */
  if (MO_ISFLOAT(et)) {
    v.d = lua_tonumberx(L, idx, &ok);
    if (MO_UNLIKELY(!ok)) luaL_checknumber(L, idx);
  } else {
    const char *why;
    v.i = lua_tointegerx(L, idx, &ok);
    if (MO_UNLIKELY(!ok)) luaL_checkinteger(L, idx);
    if ((why = mo_int_fits(et, v.i)) != NULL) luaL_argerror(L, idx, why);
  }
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

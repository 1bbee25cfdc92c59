/*
** shvalue.h: how queues and dictionaries store one Lua value: a tag
** byte, then the payload. Strings, numbers and booleans are stored as
** they are (no codec call, so the common values cost one copy); any
** other value is the codec's encoding (access/codec.h). Integers and
** floats are 8 bytes, little endian (doc/structures.md).
*/
#ifndef MO_SHVALUE_H
#define MO_SHVALUE_H

#include <stdint.h>
#include <string.h>
#include "../runtime/core.h"

#define SV_FALSE 'F'
#define SV_TRUE 'T'
#define SV_INT 'i'
#define SV_FLT 'd'
#define SV_STR 's'
#define SV_CODEC 'c'

static inline void sv_put64(unsigned char *p, uint64_t v) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(p, &v, 8);
#else
  int i;
  for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
#endif
}

static inline uint64_t sv_get64(const unsigned char *p) {
  uint64_t v;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(&v, p, 8);
#else
  int i;
  v = 0;
  for (i = 7; i >= 0; i--) v = (v << 8) | p[i];
#endif
  return v;
}

/* A value that needs no codec: its tag, with the payload at *p (n bytes;
** numbers are written into tmp). 0: the codec must encode it. Never
** allocates (a number is not converted to a string). */
static inline int sv_simple(lua_State *L, int idx, unsigned char tmp[8],
                            const void **p, size_t *n) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING:
      *p = lua_tolstring(L, idx, n);
      return SV_STR;
    case LUA_TNUMBER: {
      uint64_t u;
      *p = tmp;
      *n = 8;
      if (lua_isinteger(L, idx)) {
        sv_put64(tmp, (uint64_t)lua_tointeger(L, idx));
        return SV_INT;
      } else {
        double d = lua_tonumber(L, idx);
        memcpy(&u, &d, 8);
        sv_put64(tmp, u);
        return SV_FLT;
      }
    }
    case LUA_TBOOLEAN:
      *p = tmp;
      *n = 0;
      return lua_toboolean(L, idx) ? SV_TRUE : SV_FALSE;
    default:
      return 0;
  }
}

/* Push the value stored as tag p[0] and payload p[1 .. n); raises
** "memobj: <what>: damaged value" on bytes that are none. */
void sv_push(lua_State *L, const unsigned char *p, size_t n,
             const char *what);

#endif

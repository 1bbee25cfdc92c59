/*
** shvalue.c: reading back a value stored by a queue or a dictionary
** (shvalue.h). The bytes were copied out of shared memory first: they
** are private here, but still untrusted.
*/
#include "codec.h"
#include "shvalue.h"

void sv_push(lua_State *L, const unsigned char *p, size_t n,
             const char *what) {
  if (n == 0) luaL_error(L, "memobj: %s: damaged value (empty)", what);
  switch (p[0]) {
    case SV_FALSE: case SV_TRUE:
      if (n != 1) break;
      lua_pushboolean(L, p[0] == SV_TRUE);
      return;
    case SV_INT:
      if (n != 9) break;
      lua_pushinteger(L, (lua_Integer)sv_get64(p + 1));
      return;
    case SV_FLT: {
      uint64_t u;
      double d;
      if (n != 9) break;
      u = sv_get64(p + 1);
      memcpy(&d, &u, 8);
      lua_pushnumber(L, d);
      return;
    }
    case SV_STR:
      lua_pushlstring(L, (const char *)p + 1, n - 1);
      return;
    case SV_CODEC:
      if (mo_codec_decode(L, p + 1, n - 1, 0) != n - 1)
        luaL_error(L, "memobj: %s: damaged value (trailing bytes)", what);
      return;
    default:
      break;
  }
  luaL_error(L, "memobj: %s: damaged value (tag %d, %I bytes)", what,
             (int)p[0], (lua_Integer)n);
}

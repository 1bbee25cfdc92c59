/*
** fuzz_codec.c: libFuzzer target for the value decoder (access/codec.h).
** Each input is handed to mo_codec_decode as a malloc'd copy of exactly
** its bytes (ASan sees any read beyond them). It must either raise
** "memobj: decode: <why> at byte N" with N inside the input or one past
** it, or give a value and a length within the input; a value that decodes
** must encode (mo_codec_encode and memobj.encode) and decode again to an
** equal value (deep compare: float bits, integer/float subtype, typed
** arrays by type and elements, table keys by content). Built by
** `make fuzz`; the seeds are encodings of assorted values.
*/
#include <stdint.h>
#include <string.h>
#include "fuzz_lua.h"
#include "../../access/codec.h"

static const char *const check_src =
  "local memobj = require('memobj')\n"
  "local same\n"
  "-- a key that is a table or an array matches an unused equal key with\n"
  "-- an equal value (equal keys may hold different values)\n"
  "local function findpair(t, k, v, used)\n"
  "  if type(k) ~= 'table' and type(k) ~= 'userdata' then\n"
  "    local v2 = rawget(t, k)\n"
  "    return v2 ~= nil and same(v, v2)\n"
  "  end\n"
  "  for k2, v2 in pairs(t) do\n"
  "    if not used[k2] and type(k2) == type(k) and same(k, k2) and same(v, v2) then\n"
  "      used[k2] = true\n"
  "      return true\n"
  "    end\n"
  "  end\n"
  "  return false\n"
  "end\n"
  "function same(a, b)\n"
  "  if type(a) ~= type(b) then return false end\n"
  "  if type(a) == 'number' then\n"
  "    if math.type(a) ~= math.type(b) then return false end\n"
  "    if math.type(a) == 'float' then\n"
  "      return string.pack('<d', a) == string.pack('<d', b)\n"
  "    end\n"
  "    return a == b\n"
  "  end\n"
  "  if type(a) == 'userdata' then\n"
  "    if a.type ~= b.type or #a ~= #b then return false end\n"
  "    return tostring(a:bytes()) == tostring(b:bytes())\n"
  "  end\n"
  "  if type(a) ~= 'table' then return a == b end\n"
  "  local n, used = 0, {}\n"
  "  for k, v in pairs(a) do\n"
  "    if not findpair(b, k, v, used) then return false end\n"
  "    n = n + 1\n"
  "  end\n"
  "  for _ in pairs(b) do n = n - 1 end\n"
  "  return n == 0\n"
  "end\n"
  "return function(v, cenc)\n"
  "  local e = memobj.encode(v)\n"
  "  if e ~= cenc then return 'memobj.encode and mo_codec_encode differ' end\n"
  "  local w, n = memobj.decode(e)\n"
  "  if n ~= #e + 1 then return 'encoding not used whole' end\n"
  "  if not same(v, w) then return 'round trip differs' end\n"
  "  local b = memobj.heap(#e + 3):bytes()\n"
  "  if b:encode(v, 3) ~= #e + 3 then return 'b:encode' end\n"
  "  if not same(v, (b:decode(3))) then return 'b:decode differs' end\n"
  "  return nil\n"
  "end\n";

static const unsigned char *in_p;
static size_t in_len, in_used;

/* Decode the input, then encode the value through the C contract. */
static int decode_encode(lua_State *L) {
  luaL_Buffer B;
  in_used = mo_codec_decode(L, in_p, in_len, 0);
  luaL_buffinit(L, &B);
  mo_codec_encode(L, 1, &B);
  luaL_pushresult(&B);
  return 2;
}

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "codec fuzz: %s: %s\n", what, detail ? detail : "");
  abort();
}

/* "memobj: decode: <why> at byte N", N in 1 .. len + 1. */
static void check_error(const char *msg, size_t len) {
  const char *at;
  long long n;
  if (msg == NULL || strncmp(msg, "memobj: decode: ", 16) != 0)
    fail("not a decode error", msg);
  at = strstr(msg, " at byte ");
  if (at == NULL || sscanf(at + 9, "%lld", &n) != 1 || n < 1 ||
      (size_t)n > len + 1)
    fail("bad position", msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = fuzz_state(check_src, "check");
  unsigned char *copy = malloc(size ? size : 1);
  int top = lua_gettop(L);
  if (copy == NULL) abort();
  memcpy(copy, data, size);
  in_p = size ? copy : NULL;
  in_len = size;
  lua_pushcfunction(L, decode_encode);
  if (lua_pcall(L, 0, 2, 0) != LUA_OK) {
    check_error(lua_tostring(L, -1), size);
  } else {
    if (in_used < 2 || in_used > size) fail("bad length used", NULL);
    lua_getglobal(L, "check");
    lua_insert(L, -3);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) fail("round trip raised", lua_tostring(L, -1));
    if (!lua_isnil(L, -1)) fail("round trip", lua_tostring(L, -1));
  }
  lua_settop(L, top);
  free(copy);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}

/*
** fuzz_ffisig.c: libFuzzer target for the memobj.ffi signature parser.
** The input is split at ',' into a return type and argument type names
** (any bytes); making the function must either succeed or raise a Lua
** error, never crash. Built by `make fuzz`.
*/
#include <stdint.h>
#include "fuzz_lua.h"

static const char *const make_src =
  "local ffi = require('memobj.ffi')\n"
  "local lib = assert(ffi.load())\n"
  "return function(ret, args, errno)\n"
  "  local ok, f = pcall(lib.func, lib, 'abs', ret, args, {errno = errno})\n"
  "  if ok and type(f) ~= 'function' then error('func gave ' .. type(f)) end\n"
  "  pcall(ffi.callback, print, ret, args)\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = fuzz_state(make_src, "make");
  size_t i, start = 0;
  int n = 0;
  if (size < 1 || size > 512) return 0;
  lua_getglobal(L, "make");
  lua_newtable(L);   /* args; the return type is pushed before it */
  for (i = 1; i <= size; i++) {
    if (i == size || data[i] == ',') {
      lua_pushlstring(L, (const char *)data + 1 + start, i - 1 - start);
      if (n == 0) lua_insert(L, -2);  /* the first name is the return type */
      else lua_rawseti(L, -2, n);
      n++;
      start = i;
    }
  }
  lua_pushboolean(L, data[0] & 1);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
    fprintf(stderr, "make raised outside pcall: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}

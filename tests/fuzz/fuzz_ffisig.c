/*
** fuzz_ffisig.c: libFuzzer target for the memobj.ffi signature parser.
** The input is split at ',' into a return type and argument type names
** (any bytes); making the function must either succeed or raise a Lua
** error, never crash. Built by `make fuzz`.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_memobj(lua_State *L);
int luaopen_memobj_ffi(lua_State *L);

static const char *const make_src =
  "local ffi = require('memobj.ffi')\n"
  "local lib = assert(ffi.load())\n"
  "return function(ret, args, errno)\n"
  "  local ok, f = pcall(lib.func, lib, 'abs', ret, args, {errno = errno})\n"
  "  if ok and type(f) ~= 'function' then error('func gave ' .. type(f)) end\n"
  "  pcall(ffi.callback, print, ret, args)\n"
  "end\n";

static lua_State *state(void) {
  static lua_State *L;
  if (L) return L;
  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "memobj", luaopen_memobj, 0);
  luaL_requiref(L, "memobj.ffi", luaopen_memobj_ffi, 0);
  lua_pop(L, 2);
  if (luaL_dostring(L, make_src) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
  lua_setglobal(L, "make");
  return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = state();
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

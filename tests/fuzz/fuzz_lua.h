/*
** fuzz_lua.h: the Lua state shared by the libFuzzer targets: standard
** libraries, memobj and memobj.ffi loaded, and a Lua chunk whose result
** (the function each input is handed to) is stored in a global.
*/
#ifndef FUZZ_LUA_H
#define FUZZ_LUA_H

#include <stdio.h>
#include <stdlib.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_memobj(lua_State *L);
int luaopen_memobj_ffi(lua_State *L);

static lua_State *fuzz_state(const char *chunk, const char *global) {
  static lua_State *L;
  if (L) return L;
  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "memobj", luaopen_memobj, 0);
  luaL_requiref(L, "memobj.ffi", luaopen_memobj_ffi, 0);
  lua_pop(L, 2);
  if (luaL_dostring(L, chunk) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
  lua_setglobal(L, global);
  return L;
}

#endif

/*
** poke.c: a test-only C module that writes raw bytes at an address, as a
** buggy C library would: tests use it to write past the end of a heap
** block and check that memobj.check() names the block.
*/
#include <stdint.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>

/* poke.write(address, offset, byte [, count]): count bytes (default 1)
** of `byte` at address + offset. No checks: that is the point. */
static int poke_write(lua_State *L) {
  uintptr_t a = (uintptr_t)luaL_checkinteger(L, 1);
  lua_Integer off = luaL_checkinteger(L, 2);
  int byte = (int)luaL_checkinteger(L, 3);
  size_t n = (size_t)luaL_optinteger(L, 4, 1);
  memset((void *)(a + (uintptr_t)off), byte, n);
  return 0;
}

/* poke.read(address, offset): the byte at address + offset. */
static int poke_read(lua_State *L) {
  uintptr_t a = (uintptr_t)luaL_checkinteger(L, 1);
  lua_Integer off = luaL_checkinteger(L, 2);
  lua_pushinteger(L, *(const unsigned char *)(a + (uintptr_t)off));
  return 1;
}

int luaopen_poke(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"write", poke_write}, {"read", poke_read}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}

/*
** memmem.c: the baseline for b:find(needle, 1, true): glibc's memmem over
** the same bytes, reached through memobj.h. Built by bench/bytes.lua into
** /tmp.
*/
#define _GNU_SOURCE
#include <string.h>
#include <memobj.h>

/* find(buffer, needle): 1-based start of the first match, or nil */
static int find(lua_State *L) {
  memobj_buffer b;
  size_t ln;
  const char *n = luaL_checklstring(L, 2, &ln);
  const unsigned char *p;
  memobj_getbuffer(L, 1, &b, MEMOBJ_READ, "memmem");
  p = memmem(b.ptr, b.len, n, ln);
  if (p) lua_pushinteger(L, (lua_Integer)(p - b.ptr) + 1);
  else lua_pushnil(L);
  memobj_releasebuffer(L, &b);
  return 1;
}

int luaopen_memmem(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, find);
  lua_setfield(L, -2, "find");
  return 1;
}

/*
** type.c: identity by metatable (type.h) and scratch boxes.
*/
#include <string.h>
#include "../core.h"

/* registry[&types_key] = {[metatable] = tag | size << 32 | view << 31}:
** reachable from Lua only through debug.getregistry. */
static const char types_key = 0;

#define ENTRY(tag, size, view) \
  ((lua_Integer)(tag) | ((lua_Integer)(view) << 32) | ((lua_Integer)(size) << 33))

static void pushtypes(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &types_key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_createtable(L, 0, 16);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &types_key);
}

void mo_type_register(lua_State *L, int mtidx, uint32_t tag, size_t size,
                      int view) {
  mtidx = lua_absindex(L, mtidx);
  pushtypes(L);
  lua_pushvalue(L, mtidx);
  lua_pushinteger(L, ENTRY(tag, size, view != 0));
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

uint32_t mo_type_of(lua_State *L, int idx, int *view) {
  lua_Integer e;
  size_t size;
  uint32_t tag;
  if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return 0;
  pushtypes(L);
  lua_pushvalue(L, -2);
  lua_rawget(L, -2);
  e = lua_tointeger(L, -1);  /* 0 for nil: not one of memobj's metatables */
  lua_pop(L, 3);
  if (e <= 0) return 0;
  tag = (uint32_t)e;
  size = (size_t)(e >> 33);
  if (lua_rawlen(L, idx) < size || *(const uint32_t *)lua_touserdata(L, idx) != tag)
    return 0;  /* a metatable moved onto another object (debug.setmetatable) */
  if (view) *view = (int)((e >> 32) & 1);
  return tag;
}

void *mo_type_test(lua_State *L, int idx, uint32_t tag) {
  return mo_type_of(L, idx, NULL) == tag ? lua_touserdata(L, idx) : NULL;
}

void *mo_type_check(lua_State *L, int idx, uint32_t tag, const char *tname) {
  void *p = mo_type_test(L, idx, tag);
  if (p == NULL) luaL_typeerror(L, idx, tname);
  return p;
}

/* ---- Scratch space ----
** A plain userdata (collected with the call's other garbage, counted by
** the collector, no __gc to call early) whose first 16 bytes stay zero:
** no object's tag is 0, so even with a metatable moved onto it by
** debug.setmetatable it never passes mo_type_of nor a hot path's tag
** test. The caller's bytes start after that header. */

#define SCRATCH_HEADER 16  /* keeps the alignment of a userdata block */

void *mo_scratch(lua_State *L, size_t n) {
  unsigned char *p;
  if (n > SIZE_MAX - SCRATCH_HEADER) luaL_error(L, "memobj: not enough memory");
  p = (unsigned char *)lua_newuserdatauv(L, SCRATCH_HEADER + n, 0);
  memset(p, 0, SCRATCH_HEADER);
  return p + SCRATCH_HEADER;
}

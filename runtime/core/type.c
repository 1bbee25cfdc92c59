/*
** type.c: identity by metatable (type.h) and scratch boxes.
*/
#include <string.h>
#include "../core.h"

/* Each metatable memobj made holds, under the light-userdata key
** &type_key, an integer: tag | view << 32 | minimum size << 33. A Lua
** program cannot give a userdata a metatable (setmetatable takes tables
** only), so reaching this entry through an object's metatable is
** identity by metatable, as luaL_checkudata decides, at the cost of one
** lookup in a small table; the debug library can move metatables and
** edit them, which the tag cross-check and doc/internals.md ("Identity")
** answer. */
static const char type_key = 0;

#define ENTRY(tag, size, view) \
  ((lua_Integer)(tag) | ((lua_Integer)(view) << 32) | ((lua_Integer)(size) << 33))

void mo_type_register(lua_State *L, int mtidx, uint32_t tag, size_t size,
                      int view) {
  mtidx = lua_absindex(L, mtidx);
  lua_pushinteger(L, ENTRY(tag, size, view != 0));
  lua_rawsetp(L, mtidx, &type_key);
}

uint32_t mo_type_of(lua_State *L, int idx, int *view) {
  lua_Integer e;
  uint32_t tag;
  if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return 0;
  lua_rawgetp(L, -1, &type_key);
  e = lua_tointeger(L, -1);  /* 0 for nil: not one of memobj's metatables */
  lua_pop(L, 2);
  if (e <= 0) return 0;
  tag = (uint32_t)e;
  if (lua_rawlen(L, idx) < (size_t)(e >> 33) ||
      *(const uint32_t *)lua_touserdata(L, idx) != tag)
    return 0;  /* a metatable moved onto another object (debug.setmetatable) */
  if (view) *view = (int)((e >> 32) & 1);
  return tag;
}

/* The common question, "is it one of `tag`": the cheap tests first (a
** userdata whose first word is the tag), then the metatable decides. */
void *mo_type_test(lua_State *L, int idx, uint32_t tag) {
  void *p;
  lua_Integer e;
  if (lua_type(L, idx) != LUA_TUSERDATA || lua_rawlen(L, idx) < sizeof tag ||
      *(const uint32_t *)(p = lua_touserdata(L, idx)) != tag ||
      !lua_getmetatable(L, idx))
    return NULL;
  lua_rawgetp(L, -1, &type_key);
  e = lua_tointeger(L, -1);
  lua_pop(L, 2);
  if ((uint32_t)e != tag || e <= 0 || lua_rawlen(L, idx) < (size_t)(e >> 33))
    return NULL;
  return p;
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

/*
** rtlib.c: the Lua face of the runtime: memobj.stats, set_allocator,
** debug, check, objects and the memobj.trace table.
*/
#include <string.h>
#include "tools.h"

void *mo_state_udata(lua_State *L, const void *key, size_t size,
                     lua_CFunction gc, int make, int *made) {
  void *p;
  lua_rawgetp(L, LUA_REGISTRYINDEX, key);
  p = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (made) *made = 0;
  if (p || !make) return p;
  p = lua_newuserdatauv(L, size, 0);
  memset(p, 0, size);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
  if (made) *made = 1;
  return p;
}

static const luaL_Reg rt_funcs[] = {
  {"stats", mo_l_stats},
  {"set_allocator", mo_l_set_allocator},
  {"debug", mo_l_debug},
  {"check", mo_l_check},
  {"objects", mo_l_objects},
  {NULL, NULL}};

void mo_runtime_open(lua_State *L) {
  mo_observe(&mo_stats_observer);
  mo_observe(&mo_objects_observer);
  mo_observe(&mo_pace_observer);
  mo_observe(&mo_debug_observer);
  luaL_setfuncs(L, rt_funcs, 0);
  mo_objects_open(L);
  mo_trace_open(L);
}

/*
** rtlib.c: the Lua face of the runtime: memobj.stats, set_allocator,
** debug, check, objects and the memobj.trace table.
*/
#include "runtime.h"

static const luaL_Reg rt_funcs[] = {
  {"stats", mo_l_stats},
  {"set_allocator", mo_l_set_allocator},
  {"debug", mo_l_debug},
  {"check", mo_l_check},
  {"objects", mo_l_objects},
  {NULL, NULL}};

void mo_runtime_open(lua_State *L) {
  luaL_setfuncs(L, rt_funcs, 0);
  mo_objects_open(L);
  mo_trace_open(L);
}

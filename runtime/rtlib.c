/*
** rtlib.c: the Lua face of the runtime: memobj.stats, set_allocator,
** debug, check and the memobj.trace table.
*/
#include "runtime.h"

static const luaL_Reg rt_funcs[] = {
  {"stats", mo_l_stats},
  {"set_allocator", mo_l_set_allocator},
  {"debug", mo_l_debug},
  {"check", mo_l_check},
  {NULL, NULL}};

void mo_runtime_open(lua_State *L) {
  luaL_setfuncs(L, rt_funcs, 0);
  mo_trace_open(L);
}

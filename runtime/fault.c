/*
** fault.c: turning faults on memory we map into Lua errors. The flag is
** set by the SIGBUS handler (installed by the mapped-file kind) and
** checked after each access, so the hot path pays one load.
*/
#include "core.h"

volatile sig_atomic_t mo_fault_pending = 0;

int mo_fault_raise(lua_State *L) {
  mo_fault_pending = 0;
  return luaL_error(L, "memobj: access to pages lost by a truncated file");
}

/*
** memobj.c: luaopen_memobj, the Lua face of the library. Each memory kind
** and access kind registers itself through its opener; this file only
** lists them.
*/
#include "../runtime/core.h"
#include "../runtime/memobj.h"
#include "../runtime/os.h"
#include "../runtime/tx.h"
#include "openers.h"

LUAMOD_API int luaopen_memobj(lua_State *L) {
  lua_newtable(L);
  lua_pushliteral(L, MEMOBJ_VERSION);
  lua_setfield(L, -2, "version");
  /* the OS table, for test modules written in C (tests/oshook) */
  lua_pushlightuserdata(L, (void *)&mo_os_seam_table);
  lua_setfield(L, LUA_REGISTRYINDEX, MO_OS_SEAM_KEY);
  mo_memory_open(L);
  mo_capi_open(L);
  mo_runtime_open(L);
  mo_tx_open(L);
  /* memory kinds */
  mo_heap_open(L);
  mo_string_open(L);
  mo_foreign_open(L);
  mo_mapped_open(L);
  mo_shared_open(L);
  mo_persistent_open(L);
  /* access kinds */
  mo_array_open(L);
  mo_bytes_open(L);
  mo_fileview_open(L);
  mo_atomics_open(L);
  return 1;
}

/*
** memobj.c: luaopen_memobj, the Lua face of the library. Each memory kind
** and access kind registers itself through its opener; the lists are in
** memobj/openers.h and access/openers.h.
*/
#include "../access/openers.h"
#include "../memobj/openers.h"
#include "../runtime/core.h"
#include "../runtime/memobj.h"
#include "../runtime/core/os.h"
#include "../runtime/core/tx.h"
#include "../runtime/core/xstate.h"
#include "../runtime/tools/tools.h"
#include "ffi.h"
#include "luaopen.h"
#include "npy.h"

/* The free option of memobj.foreign takes memobj.ffi functions
** (runtime/core/kinds.c: mo_cfunc_addr). */
static void *ffi_cfunc(lua_State *L, int idx, int *onepointer) {
  const mo_sig *sig;
  void *p = mo_ffi_fnaddr(L, idx, &sig);
  if (p) *onepointer = sig->nargs == 1 && sig->args[0] == MO_FT_POINTER;
  return p;
}

#define DECLARE(name) mo_kind_declare(L, #name);
#define OPEN(name) mo_##name##_open(L);

LUAMOD_API int luaopen_memobj(lua_State *L) {
  lua_newtable(L);
  lua_pushliteral(L, MEMOBJ_VERSION);
  lua_setfield(L, -2, "version");
  /* the OS table, for test modules written in C (tests/c/oshook.c) */
  lua_pushlightuserdata(L, (void *)&mo_os_seam_table);
  lua_setfield(L, LUA_REGISTRYINDEX, MO_OS_SEAM_KEY);
  mo_set_cfunc_resolver(ffi_cfunc);
  mo_memory_open(L);
  mo_capi_open(L);
  mo_runtime_open(L);
  mo_tx_open(L);
  mo_xstate_open(L);        /* m:export, memobj.import */
  MO_MEMORY_KINDS(DECLARE)  /* stats() lists every kind from the start */
  MO_MEMORY_KINDS(OPEN)
  MO_ACCESS_KINDS(OPEN)
  mo_npy_open(L);           /* memobj.npy: maps files with memobj.map */
  return 1;
}

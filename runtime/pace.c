/*
** pace.c: GC pacing. Lua's collector runs in proportion to what the Lua
** heap allocates, and knows nothing of the bytes a memory object holds
** outside it: a loop that drops 256 MiB buffers without closing them would
** pile up a dozen before a collection. So memory made outside the Lua heap
** is reported to the collector as if Lua had allocated it: a step with
** that much debt (lua_gc(LUA_GCSTEP, KiB)), which is what an allocation of
** the same size inside the Lua heap would have caused.
*/
#include <limits.h>
#include "runtime.h"

/* Bytes not yet reported: small objects are batched, so that a step is
** taken once per PACE_BATCH bytes rather than once per object. Per thread
** (a state runs on one thread at a time); a state that moves to another
** thread leaves at most one batch behind. */
#define PACE_BATCH ((size_t)64 << 10)
static MO_TLS size_t owed;

void mo_gc_pace(lua_State *L, size_t n) {
  size_t kb;
  owed += n;
  if (MO_LIKELY(owed < PACE_BATCH)) return;
  kb = owed >> 10;
  owed &= 1023;
  /* LUA_GCSTEP takes an int of KiB; 2^31 KiB is 2 TiB */
  lua_gc(L, LUA_GCSTEP, kb > INT_MAX ? INT_MAX : (int)kb);
}

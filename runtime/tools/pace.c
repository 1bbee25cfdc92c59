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
#include "tools.h"

/* Bytes not reported yet: lua_gc counts whole KiB, so the rest of a
** small object waits for the next. Per thread (a state runs on one thread
** at a time; one that moves leaves less than a KiB behind). Reporting
** every KiB, rather than in large batches, keeps the collector's steps
** where Lua's own allocations would put them: a batch would make every
** step fall on the object that completes it. */
static MO_TLS size_t owed;

void mo_gc_pace(lua_State *L, size_t n) {
  size_t kb;
  owed += n;
  if (MO_LIKELY(owed < 1024)) return;
  kb = owed >> 10;
  owed &= 1023;
  /* LUA_GCSTEP takes an int of KiB; 2^31 KiB is 2 TiB */
  lua_gc(L, LUA_GCSTEP, kb > INT_MAX ? INT_MAX : (int)kb);
}

static void pace_growing(lua_State *L, memobj_mem *m, size_t n) {
  (void)m;
  mo_gc_pace(L, n);
}

mo_observer mo_pace_observer = {.growing = pace_growing};

/*
** rtlib.c: the Lua face of the runtime: memobj.stats, set_allocator,
** debug, check, objects and the memobj.trace table.
*/
#include <string.h>
#include "tools.h"

/* A state userdata starts with this header: what it is and whose. */
typedef struct statehdr {
  uint32_t tag;
  const void *key;
} statehdr;

#define STATE_TAG 0x53544154u  /* "STAT" */
#define HDR ((sizeof(statehdr) + 15) & ~(size_t)15)  /* keeps 16 alignment */

static void *state_at(lua_State *L, int idx, const void *key, size_t size) {
  statehdr *h = (statehdr *)lua_touserdata(L, idx);
  if (h == NULL || lua_type(L, idx) != LUA_TUSERDATA ||
      lua_rawlen(L, idx) != HDR + size || h->tag != STATE_TAG || h->key != key)
    return NULL;
  return (char *)h + HDR;
}

void *mo_state_self(lua_State *L, const void *key, size_t size) {
  return state_at(L, 1, key, size);
}

void *mo_state_udata(lua_State *L, const void *key, size_t size,
                     lua_CFunction gc, int make, int *made) {
  statehdr *h;
  void *p;
  lua_rawgetp(L, LUA_REGISTRYINDEX, key);
  p = state_at(L, -1, key, size);  /* a replaced entry is not one */
  lua_pop(L, 1);
  if (made) *made = 0;
  if (p || !make) return p;
  h = (statehdr *)lua_newuserdatauv(L, HDR + size, 0);
  memset(h, 0, HDR + size);
  h->tag = STATE_TAG;
  h->key = key;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
  if (made) *made = 1;
  return (char *)h + HDR;
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

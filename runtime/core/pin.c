/*
** pin.c: call-scope pins. While a memobj C function uses the bytes of a
** memory object across anything that can run Lua code (any allocation
** can run the collector, and so finalizers; a callback runs Lua code),
** the memory is pinned: close, resize, protect, begin, commit and abort
** refuse it with "memory is in use by a running call". A pin is a
** to-be-closed stack slot, so it ends when the C function returns and
** when an error unwinds it; no path can forget it.
*/
#include <string.h>
#include "../core.h"

#define PIN_TAG 0x50494e53u

typedef struct mo_pinud {
  uint32_t tag;
  uint8_t percall;   /* made for one call (coroutines), not the cached one */
  unsigned held;     /* to-be-closed slots that hold this pin now */
  memobj_mem *m;
} mo_pinud;

static const char pin_mtkey = 0;  /* registry: pin metatable */

static mo_pinud *topin(lua_State *L, int idx) {
  return (mo_pinud *)mo_type_test(L, idx, PIN_TAG);
}

/* Drop one hold. A slot never releases more than it took: `held` stops
** a pin that Lua code reached (debug library) from going below zero. */
static void unhold(mo_pinud *p) {
  if (p->m == NULL || p->held == 0) return;
  p->held--;
  if (p->m->npins > 0) p->m->npins--;
}

static int pin_close(lua_State *L) {
  mo_pinud *p = topin(L, 1);
  if (p) unhold(p);
  return 0;
}

/* A per-call pin left on the stack of a coroutine that died with an error
** (its slots are closed only by coroutine.close): released when the
** coroutine is collected. */
static int pin_gc(lua_State *L) {
  mo_pinud *p = topin(L, 1);
  /* the cached pin is garbage only with its memory, when no slot can hold
  ** it: a held one here is Lua code calling __gc directly */
  while (p && p->percall && p->held) unhold(p);
  return 0;
}

/* Push a new pin for the memory at memidx (absolute). Allocates, so the
** collector may run: callers check the memory afterwards. */
static mo_pinud *newpin(lua_State *L, memobj_mem *m, int memidx, int percall) {
  mo_pinud *p = (mo_pinud *)lua_newuserdatauv(L, sizeof(mo_pinud), 1);
  memset(p, 0, sizeof *p);
  p->tag = PIN_TAG;
  p->percall = (uint8_t)percall;
  p->m = m;
  lua_pushvalue(L, memidx);  /* the pin keeps its memory alive */
  lua_setiuservalue(L, -2, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &pin_mtkey);
  lua_setmetatable(L, -2);
  return p;
}

/*
** Push the pin to use for m. On the main thread: the one cached in the
** memory's user value 2 (no allocation after the first call). An error
** on the main thread always unwinds through a pcall, which closes the
** slot. A coroutine that dies with an error does not close its slots, so
** a coroutine gets a pin of its own whose __gc releases it.
*/
static mo_pinud *pushpin(lua_State *L, memobj_mem *m, int memidx) {
  mo_pinud *p;
  int main = lua_pushthread(L);
  lua_pop(L, 1);
  if (!main) return newpin(L, m, memidx, 1);
  if (lua_getiuservalue(L, memidx, 2) == LUA_TUSERDATA &&
      (p = topin(L, -1)) != NULL && p->m == m && !p->percall)
    return p;
  lua_pop(L, 1);
  p = newpin(L, m, memidx, 0);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, memidx, 2);
  return p;
}

/* Take the pin at the top of the stack: count it, mark the slot. */
static void take(lua_State *L, mo_pinud *p, memobj_mem *m) {
  if (m->closed) luaL_error(L, "memobj: memory object is closed");
  p->held++;
  m->npins++;
  lua_toclose(L, -1);
}

void mo_pin(lua_State *L, int memidx) {
  memobj_mem *m = mo_tomem(L, memidx);
  mo_pinud *p;
  if (m == NULL) luaL_typeerror(L, memidx, "memory object");
  p = pushpin(L, m, lua_absindex(L, memidx));
  take(L, p, m);
}

mo_view *mo_pinview(lua_State *L, int idx, int top, uint32_t tag,
                    const char *tname) {
  mo_view *v = mo_checkview(L, idx, tag, tname);
  memobj_mem *m = v->mem;
  mo_pinud *p;
  if (top > 0) {  /* the function takes `top` arguments: no more */
    mo_noextra(L, top);
    lua_settop(L, top);
  }
  mo_view_pushmem(L, idx, v);
  p = pushpin(L, m, lua_gettop(L));
  lua_replace(L, -2);  /* one slot: the pin (it keeps the memory alive) */
  /* the allocation of a pin may have run a finalizer that released v
  ** (and then closed its memory): name the view, which the caller used */
  if (v->released) luaL_error(L, "memobj: view is released");
  take(L, p, m);
  return v;
}

void mo_pinarg(lua_State *L, int idx) {
  mo_view *v;
  idx = lua_absindex(L, idx);
  if (mo_tomem(L, idx) != NULL) {
    mo_pin(L, idx);
  } else if ((v = mo_toview(L, idx, 0)) != NULL && !v->released) {
    mo_pinview(L, idx, 0, v->tag, "view");
  } else {
    lua_pushnil(L);
    lua_toclose(L, -1);
  }
}

void mo_refuse_if_pinned(lua_State *L, memobj_mem *m, const char *op) {
  if (m->npins > 0)
    luaL_error(L, "memobj: %s: memory is in use by a running call", op);
}

void mo_pin_open(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, pin_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, pin_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushliteral(L, "memobj.pin");
  lua_setfield(L, -2, "__metatable");
  mo_type_register(L, -1, PIN_TAG, sizeof(mo_pinud), 0);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &pin_mtkey);
}

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
#define MAXHOLD 8   /* nested calls holding the cached pin; deeper ones get
                       a pin of their own */

/*
** Who holds a pin: the frames (call records) of the C calls that took it.
** A hold is dropped by the to-be-closed slot of its call, which Lua
** closes when the call returns (the holding frame is then the closer's
** caller, level 1) or after an error unwound the call (the frame is then
** gone from its thread's stack). Lua code can reach a pin (the debug
** library: getuservalue, getlocal) and call its __close or __gc while the
** holding call still runs and uses the bytes; those calls find the frame
** still on the stack below them and drop nothing.
**
** A frame is known by lua_Debug's i_ci (the CallInfo Lua runs it in),
** compared, never followed.
*/
typedef struct mo_pinud {
  uint32_t tag;
  uint8_t percall;   /* made for one call (coroutines), not the cached one */
  unsigned held;     /* frames[0 .. held-1] hold it now */
  memobj_mem *m;
  lua_State *thread; /* where the holding calls run (kept alive by user
                        value 2) */
  const void *frames[MAXHOLD];
} mo_pinud;

static const char pin_mtkey = 0;  /* registry: pin metatable */

static mo_pinud *topin(lua_State *L, int idx) {
  return (mo_pinud *)mo_type_test(L, idx, PIN_TAG);
}

/* The frame `level` calls below the running function of T, or NULL. */
static const void *frame_at(lua_State *T, int level) {
  lua_Debug ar;
  return lua_getstack(T, level, &ar) ? (const void *)ar.i_ci : NULL;
}

/* Is frame f still running in p's thread, at or below `from`? A thread
** that died with an error never runs its frames again. */
static int running(lua_State *L, const mo_pinud *p, const void *f, int from) {
  lua_State *T = p->thread;
  int level, st = lua_status(T);
  const void *g;
  if (st != LUA_OK && st != LUA_YIELD) return 0;
  if (T != L) from = 0;
  for (level = from; (g = frame_at(T, level)) != NULL; level++)
    if (g == f) return 1;
  return 0;
}

/* Drop hold k. */
static void drop(mo_pinud *p, unsigned k) {
  for (; k + 1 < p->held; k++) p->frames[k] = p->frames[k + 1];
  p->held--;
  if (p->m->npins > 0) p->m->npins--;
}

/* __close of a slot: drop the hold of the call that returned (the caller
** of this __close) or that an error unwound (no longer on the stack);
** nothing for Lua code calling __close while the holder runs. */
static int pin_close(lua_State *L) {
  mo_pinud *p = topin(L, 1);
  const void *caller;
  unsigned k;
  if (p == NULL || p->m == NULL || p->held == 0) return 0;
  caller = p->thread == L ? frame_at(L, 1) : NULL;
  for (k = p->held; k-- > 0;) {
    if ((caller != NULL && p->frames[k] == caller) ||
        !running(L, p, p->frames[k], 2)) {
      drop(p, k);
      break;
    }
  }
  return 0;
}

/* A per-call pin left on the stack of a coroutine that died with an error
** (its slots are closed only by coroutine.close): released when the
** coroutine is collected, or when its frames are seen dead. */
static int pin_gc(lua_State *L) {
  mo_pinud *p = topin(L, 1);
  unsigned k;
  if (p == NULL || p->m == NULL) return 0;
  for (k = p->held; k-- > 0;)
    if (!running(L, p, p->frames[k], 1)) drop(p, k);
  return 0;
}

/* Push a new pin for the memory at memidx (absolute). Allocates, so the
** collector may run: callers check the memory afterwards. */
static mo_pinud *newpin(lua_State *L, memobj_mem *m, int memidx, int percall) {
  mo_pinud *p = (mo_pinud *)lua_newuserdatauv(L, sizeof(mo_pinud), 2);
  memset(p, 0, sizeof *p);
  p->tag = PIN_TAG;
  p->percall = (uint8_t)percall;
  p->m = m;
  p->thread = L;
  lua_pushvalue(L, memidx);  /* the pin keeps its memory alive */
  lua_setiuservalue(L, -2, 1);
  lua_pushthread(L);         /* and the thread its frames are in */
  lua_setiuservalue(L, -2, 2);
  mo_regpush(L, &pin_mtkey, LUA_TTABLE);
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
      (p = topin(L, -1)) != NULL && p->m == m && !p->percall &&
      p->thread == L) {
    if (p->held < MAXHOLD) return p;
    lua_pop(L, 1);  /* nested too deep: this call gets a pin of its own */
    return newpin(L, m, memidx, 1);
  }
  lua_pop(L, 1);
  p = newpin(L, m, memidx, 0);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, memidx, 2);
  return p;
}

/* Take the pin at the top of the stack for the running C call: count it,
** note the call's frame, mark the slot. */
static void take(lua_State *L, mo_pinud *p, memobj_mem *m) {
  const void *f = frame_at(L, 0);
  if (m->closed) luaL_error(L, "memobj: memory object is closed");
  if (p->held >= MAXHOLD || f == NULL)  /* pushpin keeps room: never */
    luaL_error(L, "memobj: internal error: pin full");
  p->frames[p->held++] = f;
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

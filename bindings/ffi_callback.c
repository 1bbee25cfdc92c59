/*
** ffi_callback.c: ffi.callback(fn, ret, args): a C function pointer
** (libffi closure) that runs a Lua function. It runs on the Lua thread of
** the memobj.ffi call in progress; a Lua error inside it never unwinds
** through the C frames of that call: it is caught, the callback returns a
** zero value to C, later callbacks of the same call return zero without
** running, and the error is raised when the call returns.
*/
#include <stdio.h>
#include <string.h>
#include "../runtime/core.h"
#include "ffi.h"

static const char cb_mtkey = 0;    /* registry: callback metatable */
static const char cb_liveskey = 0; /* registry: weak table address -> callback */

typedef struct mo_ffi_cb {
  uint32_t tag;
  int active;             /* Lua frames running it now */
  ffi_closure *closure;   /* NULL once freed */
  void *code;             /* what C calls */
  const void *main;       /* Lua state it belongs to */
  mo_sig sig;
} mo_ffi_cb;

static mo_ffi_cb *tocb(lua_State *L, int idx) {
  mo_ffi_cb *cb;
  if (lua_type(L, idx) != LUA_TUSERDATA || lua_rawlen(L, idx) != sizeof(mo_ffi_cb))
    return NULL;
  cb = (mo_ffi_cb *)lua_touserdata(L, idx);
  return cb->tag == MO_TAG_FFICB ? cb : NULL;
}

static mo_ffi_cb *checkcb(lua_State *L, int idx) {
  mo_ffi_cb *cb = tocb(L, idx);
  if (cb == NULL) luaL_typeerror(L, idx, "memobj.ffi callback");
  return cb;
}

void *mo_ffi_cbaddr(lua_State *L, int idx) {
  mo_ffi_cb *cb = tocb(L, idx);
  return cb && cb->closure ? cb->code : NULL;
}

/* ---- Running ---- */

/*
** The protected part: find the callback object (which anchors it on the
** stack while it runs), call its Lua function with the C arguments and
** store its result. Arguments: cb, args, ret as light userdata.
*/
static int cb_invoke(lua_State *L) {
  mo_ffi_cb *cb = (mo_ffi_cb *)lua_touserdata(L, 1);
  void **args = (void **)lua_touserdata(L, 2);
  void *ret = lua_touserdata(L, 3);
  const mo_sig *s = &cb->sig;
  int i;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &cb_liveskey);
  if (lua_rawgetp(L, -1, cb) != LUA_TUSERDATA)
    return luaL_error(L, "memobj: callback: called after it was collected");
  lua_getiuservalue(L, -1, 1);  /* the Lua function */
  luaL_checkstack(L, s->nargs + LUA_MINSTACK, "too many callback arguments");
  for (i = 0; i < s->nargs; i++) mo_ffi_pushcval(L, s->args[i], args[i], 0);
  lua_call(L, s->nargs, s->ret == MO_FT_VOID ? 0 : 1);
  mo_ffi_toret(L, -1, s->ret, ret);
  return 0;
}

static void cb_handler(ffi_cif *cif, void *ret, void **args, void *ud) {
  mo_ffi_cb *cb = (mo_ffi_cb *)ud;
  mo_ffi_ctx *ctx = mo_ffi_current;
  lua_State *L;
  int top, status;
  size_t rsize = cif->rtype->size > sizeof(ffi_arg) ? cif->rtype->size
                                                    : sizeof(ffi_arg);
  memset(ret, 0, rsize);  /* the answer when Lua cannot run */
  if (ctx == NULL || ctx->main != cb->main) {
    fprintf(stderr, "memobj.ffi: callback %p called outside a memobj.ffi "
                    "call of its Lua state; returned 0\n", cb->code);
    return;
  }
  if (ctx->failed) return;  /* an earlier callback raised: do not run */
  L = ctx->L;
  if (!lua_checkstack(L, 8)) {
    fprintf(stderr, "memobj.ffi: callback: Lua stack overflow; returned 0\n");
    return;
  }
  top = lua_gettop(L);
  lua_pushcfunction(L, cb_invoke);
  lua_pushlightuserdata(L, cb);
  lua_pushlightuserdata(L, args);
  lua_pushlightuserdata(L, ret);
  cb->active++;
  status = lua_pcall(L, 3, 0, 0);
  cb->active--;
  if (status != LUA_OK) {
    memset(ret, 0, rsize);
    ctx->failed = 1;       /* leave the error on the stack for the caller */
    lua_settop(L, top + 1);
  } else {
    lua_settop(L, top);
  }
}

/* ---- Lua face ---- */

/* ffi.callback(fn, ret, args) */
static int ffi_callback(lua_State *L) {
  mo_ffi_cb *cb;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  cb = (mo_ffi_cb *)lua_newuserdatauv(L, sizeof(mo_ffi_cb), 1);
  memset(cb, 0, sizeof *cb);
  cb->tag = MO_TAG_FFICB;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &cb_mtkey);
  lua_setmetatable(L, -2);
  mo_sig_parse(L, 2, 3, &cb->sig, MO_SIG_CALLBACK);
  cb->main = mo_ffi_mainof(L);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  cb->closure = (ffi_closure *)ffi_closure_alloc(sizeof(ffi_closure), &cb->code);
  if (cb->closure == NULL) return luaL_error(L, "memobj: callback: out of memory");
  if (ffi_prep_closure_loc(cb->closure, &cb->sig.cif, cb_handler, cb,
                           cb->code) != FFI_OK) {
    ffi_closure_free(cb->closure);
    cb->closure = NULL;
    return luaL_error(L, "memobj: callback: libffi cannot prepare the closure");
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &cb_liveskey);
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, cb);
  lua_pop(L, 1);
  return 1;
}

static void cb_release(mo_ffi_cb *cb) {
  if (cb->closure) ffi_closure_free(cb->closure);
  cb->closure = NULL;
  cb->code = NULL;
}

/* cb:free(): C must not call the pointer afterwards. */
static int cb_free(lua_State *L) {
  mo_ffi_cb *cb = checkcb(L, 1);
  if (cb->active)
    return luaL_error(L, "memobj: callback: cannot free a running callback");
  cb_release(cb);
  return 0;
}

/* __gc: the callback object is anchored while it runs, so it is idle. */
static int cb_gc(lua_State *L) {
  mo_ffi_cb *cb = tocb(L, 1);
  if (cb && cb->active == 0) cb_release(cb);
  return 0;
}

static int cb_index(lua_State *L) {
  mo_ffi_cb *cb = checkcb(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "pointer") == 0) {
    if (cb->closure == NULL) return luaL_error(L, "memobj: callback is freed");
    lua_pushinteger(L, (lua_Integer)(uintptr_t)cb->code);
  } else if (k && strcmp(k, "freed") == 0) {
    lua_pushboolean(L, cb->closure == NULL);
  } else if (k && strcmp(k, "free") == 0) {
    lua_pushcfunction(L, cb_free);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

static int cb_tostring(lua_State *L) {
  mo_ffi_cb *cb = checkcb(L, 1);
  if (cb->closure) lua_pushfstring(L, "memobj.ffi callback: %p", cb->code);
  else lua_pushliteral(L, "memobj.ffi callback (freed)");
  return 1;
}

void mo_ffi_callback_open(lua_State *L) {
  static const luaL_Reg meta[] = {
    {"__gc", cb_gc}, {"__close", cb_free}, {"__index", cb_index},
    {"__tostring", cb_tostring}, {NULL, NULL}};
  luaL_newlib(L, meta);
  lua_pushliteral(L, "memobj.ffi.callback");
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &cb_mtkey);
  lua_newtable(L);  /* weak values: does not keep callbacks alive */
  lua_newtable(L);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &cb_liveskey);
  lua_pushcfunction(L, ffi_callback);
  lua_setfield(L, -2, "callback");
}

/*
** ffi_callback.c: ffi.callback(fn, ret, args): a C function pointer
** (libffi closure) that runs a Lua function. It runs on the Lua thread of
** the memobj.ffi call in progress; a Lua error inside it never unwinds
** through the C frames of that call: it is caught, the callback returns a
** zero value to C, later callbacks of the same call return zero without
** running, and the error is raised when the call returns.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../runtime/core.h"
#include "ffi.h"

static const char cb_mtkey = 0;    /* registry: callback metatable */
static const char cb_liveskey = 0; /* registry: weak table address -> callback */
static const char cb_zombieskey = 0; /* registry: address -> function of a
                                        callback collected during a call */

/*
** What the closure needs, allocated apart from the Lua object, so that it
** can outlive the object until the memobj.ffi call in progress returns
** (see cb_release).
*/
typedef struct mo_ffi_cbdata {
  ffi_closure *closure;
  void *code;             /* what C calls */
  const void *main;       /* Lua state it belongs to */
  int dead;               /* freed or collected: calls raise */
  struct mo_ffi_cbdata *next;    /* in the deferred list */
  mo_sig sig;             /* the closure's cif points into it */
} cbdata;

/*
** Closures freed or collected while a memobj.ffi call is in progress on
** this thread: C may still hold the pointer (a qsort comparator between
** two comparisons), so they are destroyed when the outermost call
** returns. Until then a call of one raises instead of running.
*/
__attribute__((tls_model("initial-exec")))
_Thread_local cbdata *mo_ffi_deferred = NULL;

typedef struct mo_ffi_cb {
  uint32_t tag;
  cbdata *d;              /* NULL once freed */
} mo_ffi_cb;

/* identity by metatable (runtime/core/type.h) */
static mo_ffi_cb *tocb(lua_State *L, int idx) {
  return (mo_ffi_cb *)mo_type_test(L, idx, MO_TAG_FFICB);
}

static mo_ffi_cb *checkcb(lua_State *L, int idx) {
  mo_ffi_cb *cb = tocb(L, idx);
  if (cb == NULL) luaL_typeerror(L, idx, "memobj.ffi callback");
  return cb;
}

const void *mo_ffi_tocb(lua_State *L, int idx) {
  return tocb(L, idx);
}

void *mo_ffi_cbcode(const void *cb) {
  const cbdata *d = ((const mo_ffi_cb *)cb)->d;
  return d ? d->code : NULL;
}

void *mo_ffi_cbaddr(lua_State *L, int idx) {
  mo_ffi_cb *cb = tocb(L, idx);
  return cb && cb->d ? cb->d->code : NULL;
}

/* ---- Running ---- */

/*
** The protected part: find the callback object (which anchors it on the
** stack while it runs), call its Lua function with the C arguments and
** store its result. Arguments: d, args, ret as light userdata.
*/
typedef struct cbcall {
  cbdata *d;
  void **args;
  void *ret;
} cbcall;

static int cb_invoke(lua_State *L) {
  /* taken from the running memobj.ffi call, once: Lua code that reaches
  ** this function (debug.getinfo) and calls it finds nothing to run */
  mo_ffi_ctx *ctx = mo_ffi_current;
  cbcall *c = ctx ? (cbcall *)ctx->invoke : NULL;
  cbdata *d;
  void **args;
  void *ret;
  const mo_sig *s;
  int i;
  if (c == NULL || ctx->L != L)
    return luaL_error(L, "memobj: callback: no C call of it is running");
  ctx->invoke = NULL;
  d = c->d;
  args = c->args;
  ret = c->ret;
  s = &d->sig;
  if (d->dead)
    return luaL_error(L, "memobj: callback: called after it was freed");
  mo_regpush(L, &cb_liveskey, LUA_TTABLE);
  if (lua_rawgetp(L, -1, d) == LUA_TUSERDATA) {
    lua_getiuservalue(L, -1, 1);  /* the Lua function */
  } else {  /* collected during the call in progress (see cb_release) */
    mo_regpush(L, &cb_zombieskey, LUA_TTABLE);
    if (lua_rawgetp(L, -1, d) != LUA_TFUNCTION)
      return luaL_error(L, "memobj: callback: called after its object was "
                           "collected (keep it reachable while C may call it)");
  }
  luaL_checkstack(L, s->nargs + LUA_MINSTACK, "too many callback arguments");
  for (i = 0; i < s->nargs; i++) mo_ffi_pushcval(L, s->args[i], args[i], 0);
  lua_call(L, s->nargs, s->ret == MO_FT_VOID ? 0 : 1);
  mo_ffi_toret(L, -1, s->ret, ret);
  return 0;
}

static void cb_handler(ffi_cif *cif, void *ret, void **args, void *ud) {
  cbdata *d = (cbdata *)ud;
  mo_ffi_ctx *ctx = mo_ffi_current;
  cbcall call;
  lua_State *L;
  int top, status;
  size_t rsize = cif->rtype->size > sizeof(ffi_arg) ? cif->rtype->size
                                                    : sizeof(ffi_arg);
  memset(ret, 0, rsize);  /* the answer when Lua cannot run */
  if (ctx == NULL || ctx->main != d->main) {
    fprintf(stderr, "memobj.ffi: callback %p called outside a memobj.ffi "
                    "call of its Lua state; returned 0\n", d->code);
    return;
  }
  if (ctx->failed) return;  /* an earlier callback raised: do not run */
  L = ctx->L;
  if (!lua_checkstack(L, 8)) {
    fprintf(stderr, "memobj.ffi: callback: Lua stack overflow; returned 0\n");
    return;
  }
  top = lua_gettop(L);
  call.d = d;
  call.args = args;
  call.ret = ret;
  ctx->invoke = &call;
  lua_pushcfunction(L, cb_invoke);
  status = lua_pcall(L, 0, 0, 0);
  ctx->invoke = NULL;  /* if the pcall failed before cb_invoke took it */
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
  cbdata *d;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  cb = (mo_ffi_cb *)lua_newuserdatauv(L, sizeof(mo_ffi_cb), 1);
  cb->tag = MO_TAG_FFICB;
  cb->d = NULL;
  mo_regpush(L, &cb_mtkey, LUA_TTABLE);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  d = (cbdata *)calloc(1, sizeof *d);
  if (d == NULL) return luaL_error(L, "memobj: callback: out of memory");
  cb->d = d;  /* from here __gc frees d */
  mo_sig_parse(L, 2, 3, &d->sig, MO_SIG_CALLBACK);
  d->main = mo_ffi_mainof(L);
  d->closure = (ffi_closure *)ffi_closure_alloc(sizeof(ffi_closure), &d->code);
  if (d->closure == NULL) return luaL_error(L, "memobj: callback: out of memory");
  if (ffi_prep_closure_loc(d->closure, &d->sig.cif, cb_handler, d,
                           d->code) != FFI_OK)
    return luaL_error(L, "memobj: callback: libffi cannot prepare the closure");
  mo_regpush(L, &cb_liveskey, LUA_TTABLE);
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, d);
  lua_pop(L, 1);
  return 1;
}

static void destroy(cbdata *d) {
  if (d->closure) ffi_closure_free(d->closure);
  free(d);
}

void mo_ffi_flush_deferred(lua_State *L) {
  mo_regpush(L, &cb_zombieskey, LUA_TTABLE);
  while (mo_ffi_deferred) {
    cbdata *d = mo_ffi_deferred;
    mo_ffi_deferred = d->next;
    lua_pushnil(L);
    lua_rawsetp(L, -2, d);
    destroy(d);
  }
  lua_pop(L, 1);
}

/*
** Free the closure now, or, while a memobj.ffi call is in progress (C may
** still hold the pointer: a qsort comparator between two comparisons),
** when the outermost call returns. Until then a freed callback raises
** when called; a collected one (idx: the object being finalized) keeps
** working, its function held in the zombies table: C may have been given
** only cb.pointer for this call.
*/
static void cb_release(lua_State *L, mo_ffi_cb *cb, int idx) {
  cbdata *d = cb->d;
  cb->d = NULL;
  if (d == NULL) return;
  if (mo_ffi_current == NULL) {
    destroy(d);
    return;
  }
  if (idx) {
    mo_regpush(L, &cb_zombieskey, LUA_TTABLE);
    lua_getiuservalue(L, idx, 1);
    lua_rawsetp(L, -2, d);
    lua_pop(L, 1);
  } else {
    d->dead = 1;
  }
  d->next = mo_ffi_deferred;
  mo_ffi_deferred = d;
}

/* cb:free(): C must not call the pointer after the current call. */
static int cb_free(lua_State *L) {
  cb_release(L, checkcb(L, 1), 0);
  return 0;
}

static int cb_gc(lua_State *L) {
  mo_ffi_cb *cb = tocb(L, 1);
  if (cb) cb_release(L, cb, 1);
  return 0;
}

static int cb_index(lua_State *L) {
  mo_ffi_cb *cb = checkcb(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "pointer") == 0) {
    if (cb->d == NULL) return luaL_error(L, "memobj: callback is freed");
    lua_pushinteger(L, (lua_Integer)(uintptr_t)cb->d->code);
  } else if (k && strcmp(k, "freed") == 0) {
    lua_pushboolean(L, cb->d == NULL);
  } else if (k && strcmp(k, "free") == 0) {
    lua_pushcfunction(L, cb_free);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

static int cb_tostring(lua_State *L) {
  mo_ffi_cb *cb = checkcb(L, 1);
  if (cb->d) lua_pushfstring(L, "memobj.ffi callback: %p", cb->d->code);
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
  mo_type_register(L, -1, MO_TAG_FFICB, sizeof(mo_ffi_cb), 0);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &cb_mtkey);
  lua_newtable(L);  /* weak values: does not keep callbacks alive */
  lua_newtable(L);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &cb_liveskey);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &cb_zombieskey);
  lua_pushcfunction(L, ffi_callback);
  lua_setfield(L, -2, "callback");
}

/*
** ffi.h: what memobj.ffi's files (ffi.c, ffi_callback.c, ffitype.c) and
** the foreign memory kind share.
*/
#ifndef MO_FFI_H
#define MO_FFI_H

#include "ffitype.h"

#define MO_TAG_FFIFN 0x46464946u  /* "FFIF" */
#define MO_TAG_FFICB 0x46464943u  /* "FFIC" */
#define MO_TAG_FFILIB 0x4646494cu /* "FFIL" */

/*
** The context of a call in progress through memobj.ffi, on the caller's C
** stack and linked per OS thread: a callback runs its Lua function on the
** Lua thread that made the innermost call. An error in a callback cannot
** unwind through the C frames between: it is kept on that Lua thread's
** stack (`failed`) and raised after the call returns.
*/
typedef struct mo_ffi_ctx {
  struct mo_ffi_ctx *prev;
  lua_State *L;
  const void *main;  /* identifies the Lua state (its main thread) */
  int failed;        /* a callback raised; its error is on L's stack top */
  void *invoke;      /* the callback call cb_invoke is to run, handed over
                        in C (one-shot), never through Lua values */
} mo_ffi_ctx;

extern __attribute__((tls_model("initial-exec")))
_Thread_local mo_ffi_ctx *mo_ffi_current;

/* The C address of the memobj.ffi function (a C closure) at idx, or NULL
** if idx is not one. With sig, also its signature. */
void *mo_ffi_fnaddr(lua_State *L, int idx, const mo_sig **sig);
/* The code address of the live callback at idx, or NULL. */
void *mo_ffi_cbaddr(lua_State *L, int idx);
/* The callback object at idx (NULL if not one), and the code address of
** such an object while it is not freed (NULL once freed). */
const void *mo_ffi_tocb(lua_State *L, int idx);
void *mo_ffi_cbcode(const void *cb);
/* The main thread of L's state, as an identity. */
const void *mo_ffi_mainof(lua_State *L);

/* Callbacks freed or collected during a call, destroyed by
** mo_ffi_flush_deferred when the outermost call returns (ffi_callback.c). */
extern __attribute__((tls_model("initial-exec")))
_Thread_local struct mo_ffi_cbdata *mo_ffi_deferred;
void mo_ffi_flush_deferred(lua_State *L);

/* ffi.callback (bindings/ffi_callback.c): adds `callback` to the module
** table at the top of the stack. */
void mo_ffi_callback_open(lua_State *L);

#endif

/*
** ffi.c: luaopen_memobj_ffi, calling C functions through libffi.
** ffi.load opens a library, lib:func and ffi.func make a Lua function
** from a C function and a signature parsed once; a call converts its
** arguments into C values on the C stack, locks the buffers it passes,
** calls, unlocks and converts the result.
*/
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "../runtime/core.h"
#include "ffi.h"
#include "luaopen.h"


/* initial-exec: one load instead of a __tls_get_addr call per ffi call;
** glibc keeps static TLS space for dlopen'ed modules' few bytes. */
__attribute__((tls_model("initial-exec")))
_Thread_local mo_ffi_ctx *mo_ffi_current = NULL;

static const char lib_mtkey = 0;  /* registry: library metatable */
static const char fn_mtkey = 0;   /* registry: a function's state metatable */

/* ---- Function objects ---- */

/*
** A C function with its signature: the upvalue of the Lua function that
** calls it. User value 1 keeps what the address depends on alive (the
** library, or the callback it points at); user value 2 anchors the
** strings `name` and `what` point into.
*/
typedef struct mo_ffi_fn {
  uint32_t tag;
  int errno_opt;                       /* return errno after the results */
  void (*addr)(void);
  const void *main;                    /* Lua state it belongs to */
  const char *name;                    /* for messages */
  const void *cb;                      /* the callback it calls, or NULL */
  const char *what[MO_FFI_MAXARGS];    /* lock holder names, buffers only */
  mo_sig sig;
} mo_ffi_fn;

/* A buffer argument resolved to the bytes it locks. */
typedef struct bufarg {
  memobj_mem *mem;   /* NULL: nothing to lock (nil or Lua string) */
  size_t off, len;
  int write;
  int arg;           /* 0-based argument index */
} bufarg;

static void argtypeerror(lua_State *L, int arg, const char *expected) {
  luaL_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", expected,
                                        luaL_typename(L, arg)));
}

/* Argument errors of a call name the C function: the Lua function that
** calls it often has no name of its own (a table field, pcall). */
static int callargerror(lua_State *L, const mo_ffi_fn *f, int arg,
                        const char *msg) {
  return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, f->name, msg);
}

/* Resolve a buffer argument: memory object, view, Lua string (read
** only) or nil (NULL). Nothing is locked yet. */
static void *tobuffer(lua_State *L, const mo_ffi_fn *f, int arg, int write,
                      bufarg *b) {
  mo_bytesrc src;
  int r;
  b->mem = NULL;
  if (lua_isnil(L, arg)) return NULL;
  if ((r = mo_tobytes(L, arg, &src)) < 0) callargerror(L, f, arg, src.dead);
  if (r > 0 && src.mem == NULL) {  /* a Lua string */
    if (write) callargerror(L, f, arg, "a Lua string is read-only");
    return (void *)src.ptr;
  }
  if (r > 0) {
    if (write && src.readonly) callargerror(L, f, arg, "memory is read-only");
    b->mem = src.mem;
    b->off = src.offset;
    b->len = src.length;
    b->write = write;
    return (void *)src.ptr;
  }
  callargerror(L, f, arg, lua_pushfstring(L, "%s expected, got %s",
               write ? "writable memory object or view"
                     : "memory object, view or string",
               luaL_typename(L, arg)));
  return NULL;
}

/* Resolve the nb buffer arguments into bufs and their values. */
static void resolve(lua_State *L, const mo_ffi_fn *f, bufarg *bufs, int nb,
                    mo_cval *vals) {
  int i;
  for (i = 0; i < nb; i++)
    vals[bufs[i].arg].p = tobuffer(L, f, bufs[i].arg + 1,
                                   f->sig.args[bufs[i].arg] == MO_FT_WBUFFER,
                                   &bufs[i]);
}

/* ---- Direct calls (see MO_FFI_DIRECT_INT in ffitype.h) ---- */

#if MO_FFI_DIRECT_INT > 0
#if MO_FFI_DIRECT_INT == 6
#define IPARAMS uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t
#define IARGS ir[0], ir[1], ir[2], ir[3], ir[4], ir[5]
#else
#define IPARAMS uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, \
                uint64_t, uint64_t
#define IARGS ir[0], ir[1], ir[2], ir[3], ir[4], ir[5], ir[6], ir[7]
#endif
#define FPARAMS double, double, double, double, double, double, double, double
#define FARGS fr[0].d, fr[1].d, fr[2].d, fr[3].d, fr[4].d, fr[5].d, fr[6].d, \
              fr[7].d

typedef uint64_t (*direct_ifn)(IPARAMS, FPARAMS);
typedef double (*direct_ffn)(IPARAMS, FPARAMS);

static void direct_call(const mo_sig *s, void (*fn)(void),
                        const mo_cval *vals, mo_cval *rv) {
  uint64_t ir[MO_FFI_DIRECT_INT] = {0};
  mo_cval fr[MO_FFI_DIRECT_FP] = {{0}};
  int i, ni = 0, nf = 0;
  for (i = 0; i < s->nargs; i++) {
    const mo_cval *v = &vals[i];
    switch (s->args[i]) {  /* widen to 64 bits, as a C caller would */
      case MO_FT_BOOL: case MO_FT_U8: ir[ni++] = v->u8; break;
      case MO_FT_I8: ir[ni++] = (uint64_t)(int64_t)v->i8; break;
      case MO_FT_I16: ir[ni++] = (uint64_t)(int64_t)v->i16; break;
      case MO_FT_U16: ir[ni++] = v->u16; break;
      case MO_FT_I32: ir[ni++] = (uint64_t)(int64_t)v->i32; break;
      case MO_FT_U32: ir[ni++] = v->u32; break;
      case MO_FT_I64: case MO_FT_U64: ir[ni++] = v->u64; break;
      case MO_FT_FLOAT: fr[nf++].f = v->f; break;  /* low bits of the register */
      case MO_FT_DOUBLE: fr[nf++].d = v->d; break;
      default: ir[ni++] = (uint64_t)(uintptr_t)v->p; break;
    }
  }
  if (s->ret == MO_FT_FLOAT || s->ret == MO_FT_DOUBLE)
    rv->d = ((direct_ffn)fn)(IARGS, FARGS);  /* a float is in the low bits */
  else
    rv->u64 = ((direct_ifn)fn)(IARGS, FARGS);
}
#else
static void direct_call(const mo_sig *s, void (*fn)(void),
                        const mo_cval *vals, mo_cval *rv) {
  (void)s; (void)fn; (void)vals; (void)rv;
}
#endif

/* The function's state at idx, or NULL: identity by metatable, as
** debug.setupvalue can put any value in an upvalue. */
static mo_ffi_fn *tofn(lua_State *L, int idx) {
  return (mo_ffi_fn *)mo_type_test(L, idx, MO_TAG_FFIFN);
}

/* The same for fn_call's upvalue 1, the fast way: newfunc put the
** state's address beside it as a light userdata (upvalue 2). Lua code
** can replace either upvalue (debug.setupvalue) but cannot make a light
** userdata, let alone one holding the address of a userdata it chose,
** so the two agree only for a state newfunc made; anything else asks
** the metatable (tofn). */
static mo_ffi_fn *callee(lua_State *L) {
  mo_ffi_fn *f = (mo_ffi_fn *)lua_touserdata(L, lua_upvalueindex(1));
  if (MO_LIKELY(f != NULL && f == lua_touserdata(L, lua_upvalueindex(2)) &&
                lua_type(L, lua_upvalueindex(2)) == LUA_TLIGHTUSERDATA))
    return f;
  return tofn(L, lua_upvalueindex(1));
}

static int fn_call(lua_State *L) {
  mo_ffi_fn *f = callee(L);
  const mo_sig *s;
  mo_cval vals[MO_FFI_MAXARGS], rv;
  void *av[MO_FFI_MAXARGS];
  bufarg bufs[MO_FFI_MAXBUF];
  memobj_lock locks[MO_FFI_MAXBUF];
  mo_ffi_ctx ctx;
  int i, nb = 0, err = 0, nres;
  int n = lua_gettop(L);
  if (MO_UNLIKELY(f == NULL))
    return luaL_error(L, "memobj: ffi: the function's state was replaced");
  s = &f->sig;
  if (MO_UNLIKELY(f->cb != NULL) && mo_ffi_cbcode(f->cb) == NULL)
    return luaL_error(L, "memobj: %s: the callback it calls is freed", f->name);
  if (MO_UNLIKELY(n != s->nargs))
    return luaL_error(L, "memobj: %s: expected %d argument%s, got %d",
                      f->name, s->nargs, s->nargs == 1 ? "" : "s", n);
  /* 1: convert the other arguments; anything may raise (and allocate,
  ** and so run a finalizer), nothing is locked */
  for (i = 0; i < s->nargs; i++) {
    int code = s->args[i];
    av[i] = &vals[i];
    if (code == MO_FT_BUFFER || code == MO_FT_WBUFFER) {
      bufs[nb++].arg = i;
    } else {
      const char *msg = NULL;
      int ok = 0;
      if (code == MO_FT_I64 || code == MO_FT_U64)  /* the common case */
        vals[i].i64 = lua_tointegerx(L, i + 1, &ok);
      if (!ok) msg = mo_ffi_tocval(L, i + 1, code, &vals[i]);
      if (MO_UNLIKELY(msg != NULL)) callargerror(L, f, i + 1, msg);
    }
  }
  /* 1b: then the buffers, after everything that can allocate: resolving
  ** allocates nothing, so no finalizer can close, shrink or protect a
  ** buffer's memory between its resolution and its lock */
  resolve(L, f, bufs, nb, vals);
  /* 2: log the written ranges (transactions); may raise, nothing locked.
  ** The undo log lives on the C heap: no Lua allocation, so no finalizer,
  ** from the resolution to the locks (core.h, pins). */
  for (i = 0; i < nb; i++)
    if (bufs[i].mem && bufs[i].write)
      mo_prewrite(L, bufs[i].mem, bufs[i].off, bufs[i].len);
  /* 3: lock, call, unlock; nothing in between raises */
  for (i = 0; i < nb; i++)
    if (bufs[i].mem)
      mo_lock(L, bufs[i].mem, &locks[i], bufs[i].off, bufs[i].len,
              bufs[i].write, f->what[bufs[i].arg]);
  ctx.prev = mo_ffi_current;
  ctx.L = L;
  ctx.main = f->main;
  ctx.failed = 0;
  ctx.invoke = NULL;
  mo_ffi_current = &ctx;
  if (f->errno_opt) errno = 0;
  rv.u64 = 0;
  if (s->direct) direct_call(s, f->addr, vals, &rv);
  else ffi_call((ffi_cif *)&s->cif, f->addr, &rv, av);
  if (f->errno_opt) err = errno;
  mo_ffi_current = ctx.prev;
  for (i = 0; i < nb; i++)
    if (bufs[i].mem) mo_unlock(&locks[i]);
  if (MO_UNLIKELY(mo_ffi_deferred != NULL) && ctx.prev == NULL)
    mo_ffi_flush_deferred(L);
  mo_fault_check(L);  /* C touched lost pages of a truncated file */
  if (MO_UNLIKELY(ctx.failed)) return lua_error(L);  /* a callback raised */
  nres = mo_ffi_pushcval(L, s->ret, &rv, 1);
  if (f->errno_opt) {
    lua_pushinteger(L, err);
    nres++;
  }
  return nres;
}

void *mo_ffi_fnaddr(lua_State *L, int idx, const mo_sig **sig) {
  mo_ffi_fn *f;
  if (lua_tocfunction(L, idx) != fn_call) return NULL;
  if (lua_getupvalue(L, idx, 1) == NULL) return NULL;
  f = tofn(L, -1);
  lua_pop(L, 1);
  if (f == NULL) return NULL;
  if (sig) *sig = &f->sig;
  return (void *)f->addr;
}

const void *mo_ffi_mainof(lua_State *L) {
  const void *p;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  p = lua_topointer(L, -1);
  lua_pop(L, 1);
  return p;
}

/*
** Push a Lua function calling addr with the signature at retarg/argsarg
** and options at optarg. The value at keep is kept alive by it.
*/
static int newfunc(lua_State *L, void *addr, const char *name, int keep,
                   int retarg, int argsarg, int optarg) {
  mo_ffi_fn *f;
  int i, udx;
  static const char *const options[] = {"errno", "libffi", NULL};
  mo_checkoptions(L, optarg, options);
  f = (mo_ffi_fn *)lua_newuserdatauv(L, sizeof(mo_ffi_fn), 2);
  udx = lua_gettop(L);
  memset(f, 0, sizeof *f);
  mo_regpush(L, &fn_mtkey, LUA_TTABLE);
  lua_setmetatable(L, udx);
  mo_sig_parse(L, retarg, argsarg, &f->sig, MO_SIG_CALL);
  f->tag = MO_TAG_FFIFN;
  f->addr = (void (*)(void))addr;
  f->main = mo_ffi_mainof(L);
  f->errno_opt = mo_optbool_field(L, optarg, "errno", 0);
  if (mo_optbool_field(L, optarg, "libffi", 0)) f->sig.direct = 0;
  f->cb = mo_ffi_tocb(L, keep);  /* kept alive by user value 1 */
  lua_pushvalue(L, keep);
  lua_setiuservalue(L, udx, 1);
  lua_createtable(L, 1 + f->sig.nbuf, 0);  /* the strings below */
  f->name = lua_pushstring(L, name);
  lua_rawseti(L, -2, 1);
  for (i = 0; i < f->sig.nargs; i++) {
    if (f->sig.args[i] != MO_FT_BUFFER && f->sig.args[i] != MO_FT_WBUFFER)
      continue;
    f->what[i] = lua_pushfstring(L, "argument %d of C function '%s'", i + 1,
                                 name);
    lua_rawseti(L, -2, i + 2);
  }
  lua_setiuservalue(L, udx, 2);
  lua_pushlightuserdata(L, f);
  lua_pushcclosure(L, fn_call, 2);
  return 1;
}

/* ffi.func(pointer, ret, args [, opts]) */
static int ffi_func(lua_State *L) {
  void *p;
  char name[40];
  if (!mo_ffi_topointer(L, 1, &p) || p == NULL)
    argtypeerror(L, 1, "non-NULL pointer");
  snprintf(name, sizeof name, "%p", p);
  return newfunc(L, p, name, 1, 2, 3, 4);
}

/* ffi.pointer(f): the address of a memobj.ffi function or callback. */
static int ffi_pointer(lua_State *L) {
  void *p = mo_ffi_fnaddr(L, 1, NULL);
  if (p == NULL) p = mo_ffi_cbaddr(L, 1);
  if (p == NULL) argtypeerror(L, 1, "memobj.ffi function or callback");
  lua_pushinteger(L, (lua_Integer)(uintptr_t)p);
  return 1;
}

/* ---- Libraries ---- */

typedef struct mo_ffi_lib {
  uint32_t tag;
  void *handle;  /* from dlopen; never closed */
} mo_ffi_lib;

static mo_ffi_lib *checklib(lua_State *L, int idx) {
  /* identity by metatable (runtime/core/type.h) */
  return (mo_ffi_lib *)mo_type_check(L, idx, MO_TAG_FFILIB, "memobj.ffi library");
}

static const char *libname(lua_State *L, int idx) {
  const char *name;
  lua_getiuservalue(L, idx, 1);
  name = lua_isnil(L, -1) ? "the global namespace" : lua_tostring(L, -1);
  lua_pop(L, 1);  /* still anchored by the user value */
  return name;
}

/* Look a symbol up; NULL with the reason pushed if it is missing. */
static void *findsym(lua_State *L, mo_ffi_lib *lib, const char *sym) {
  void *p;
  const char *why;
  dlerror();
  p = dlsym(lib->handle, sym);
  if (p) return p;
  why = dlerror();
  lua_pushfstring(L, "memobj: ffi: symbol '%s' not found in %s%s%s", sym,
                  libname(L, 1), why ? ": " : "", why ? why : "");
  return NULL;
}

/* lib:func(name, ret, args [, opts]) */
static int lib_func(lua_State *L) {
  mo_ffi_lib *lib = checklib(L, 1);
  const char *sym = luaL_checkstring(L, 2);
  void *p = findsym(L, lib, sym);
  if (p == NULL) return lua_error(L);
  return newfunc(L, p, sym, 1, 3, 4, 5);
}

/* lib:sym(name): the address of a symbol, or nil, message. */
static int lib_sym(lua_State *L) {
  mo_ffi_lib *lib = checklib(L, 1);
  void *p = findsym(L, lib, luaL_checkstring(L, 2));
  if (p == NULL) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)(uintptr_t)p);
  return 1;
}

static int lib_tostring(lua_State *L) {
  checklib(L, 1);
  lua_pushfstring(L, "memobj.ffi library (%s)", libname(L, 1));
  return 1;
}

static int lib_index(lua_State *L) {
  checklib(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "name") == 0) {
    lua_getiuservalue(L, 1, 1);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

/* ffi.load([name [, {global=, lazy=}]]): nil, message if it cannot. */
static int ffi_load(lua_State *L) {
  const char *name = luaL_optstring(L, 1, NULL);
  int flags = RTLD_NOW | RTLD_LOCAL;
  mo_ffi_lib *lib;
  void *h;
  static const char *const options[] = {"global", "lazy", NULL};
  mo_checkoptions(L, 2, options);
  if (mo_optbool_field(L, 2, "global", 0)) flags = (flags & ~RTLD_LOCAL) | RTLD_GLOBAL;
  if (mo_optbool_field(L, 2, "lazy", 0)) flags = (flags & ~RTLD_NOW) | RTLD_LAZY;
  lib = (mo_ffi_lib *)lua_newuserdatauv(L, sizeof(mo_ffi_lib), 1);
  lib->tag = MO_TAG_FFILIB;
  lib->handle = NULL;
  mo_regpush(L, &lib_mtkey, LUA_TTABLE);
  lua_setmetatable(L, -2);
  dlerror();
  h = dlopen(name, flags);
  if (h == NULL) {
    const char *why = dlerror();
    luaL_pushfail(L);
    lua_pushstring(L, why ? why : "cannot load library");
    return 2;
  }
  lib->handle = h;
  if (name) {
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
  }
  return 1;
}

static void lib_newmeta(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"func", lib_func}, {"sym", lib_sym}, {NULL, NULL}};
  /* no __gc: a library stays loaded for the life of the process (see
  ** doc/ffi.md), as unloading code that C may still reach is never safe */
  lua_newtable(L);  /* metatable */
  lua_pushcfunction(L, lib_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "memobj.ffi.library");
  lua_setfield(L, -2, "__metatable");
  mo_type_register(L, -1, MO_TAG_FFILIB, sizeof(mo_ffi_lib), 0);
  luaL_newlib(L, methods);
  lua_pushcclosure(L, lib_index, 1);
  lua_setfield(L, -2, "__index");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &lib_mtkey);
}

/* The state of a function (a C closure's upvalue): no methods, only an
** identity. */
static void fn_newmeta(lua_State *L) {
  lua_newtable(L);
  lua_pushliteral(L, "memobj.ffi.function");
  lua_setfield(L, -2, "__metatable");
  mo_type_register(L, -1, MO_TAG_FFIFN, sizeof(mo_ffi_fn), 0);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &fn_mtkey);
}

static const luaL_Reg ffi_funcs[] = {
  {"load", ffi_load}, {"func", ffi_func}, {"pointer", ffi_pointer},
  {NULL, NULL}};

LUAMOD_API int luaopen_memobj_ffi(lua_State *L) {
  /* the core (registry tables, memory metatable) must be initialised */
  luaL_requiref(L, "memobj", luaopen_memobj, 0);
  lua_pop(L, 1);
  lib_newmeta(L);
  fn_newmeta(L);
  luaL_newlib(L, ffi_funcs);
  mo_ffi_callback_open(L);
  return 1;
}

/*
** method.h: declared view methods. Each view kind lists its methods as
** descriptors (name, C function, most arguments, flags), one line each;
** one prologue and epilogue (mo_method_run) run every rule a method used
** to remember by hand:
**
**   before: self is a view of the kind (mo_checkview: type and release),
**           no argument beyond the declared ones (mo_noextra's message),
**           MO_M_WRITES: the view and its memory are writable,
**           MO_M_PINS: the view's memory is pinned for the call (pin.c);
**   after:  MO_M_BYTES: a pending fault of the bytes touched is raised.
**
** mo_method_run is inlined into a wrapper made for each method by
** MO_METHODS, so the descriptor's constants fold into it: a declared
** method costs what the hand-written checks cost (bench/methods.lua),
** with no upvalue read and no extra call.
**
** Inside a method, bytes are reached through mo_view_rptr/mo_view_wptr
** (self is mo_self(L)): they check the view again (an allocation may
** have run a finalizer that released it), check the range, and for
** writes log the range for a transaction (mo_prewrite). So "check again
** after an allocation" and "log before writing" are what the only way to
** a pointer does, not a rule to recall. The hot paths a[i], a[i] = v,
** b[i], b[i] = v stay hand-written.
**
** Adding a method is one descriptor line in its kind's list:
**   #define MO_METHOD_KIND records_kind
**   #define RECORDS_METHODS(X)                    \
**     X("get", records_get, 2, MO_M_BYTES)        \
**     X("set", records_set, 3, MO_M_WRITES | MO_M_BYTES)
**   MO_METHODS(static, records_methods, RECORDS_METHODS);
*/
#ifndef MO_METHOD_H
#define MO_METHOD_H

#include "view.h"
#include "pin.h"
#include "args.h"
#include "fault.h"

#define MO_M_WRITES 0x1u  /* refuse a read-only view or memory */
#define MO_M_PINS 0x2u    /* pin the memory: the method holds pointers
                             across allocations or Lua code */
#define MO_M_BYTES 0x4u   /* touches bytes: raise a pending fault after */

#define MO_NARGS_ANY (-1) /* varargs: the method checks its own count */

typedef struct mo_method {
  const char *name;
  lua_CFunction fn;   /* view methods: the wrapper MO_METHODS made, which
                         calls the method with self (checked) at 1, the
                         arguments after, a pinned one's pin above them;
                         functions without a view self: the function */
  int nargs;          /* most arguments after self, or MO_NARGS_ANY */
  unsigned flags;     /* MO_M_* */
} mo_method;

/* A view kind: what the trampoline checks self against. */
typedef struct mo_viewkind {
  const char *name;   /* "bytes", "array"...: the introspection key */
  uint32_t tag;       /* for mo_checkview */
  const char *tname;  /* its type name in errors ("byte view") */
  const void *mtkey;  /* registry key of its metatable */
  const char *closed; /* message for a released view, or NULL for
                         mo_checkview's "memobj: view is released" */
  size_t size;        /* bytes of its userdata (mo_view_new's udsize) */
} mo_viewkind;

/* Add the methods of list (ended by a NULL name; made by MO_METHODS) to
** the methods table of kind k's metatable (made by mo_view_newmeta), and
** record them for introspection. */
void mo_view_declare(lua_State *L, const mo_viewkind *k, const mo_method *list);
/* The same list for a second metatable of the same kind (strided arrays):
** not recorded again. */
void mo_view_declare_more(lua_State *L, const mo_viewkind *k,
                          const mo_method *list);

/* Functions without a view self (constructors, methods of memory
** objects, metamethods) declared the same way: only the extra-argument
** refusal and the fault check apply, and nargs counts every argument
** (a memory object's self too). The functions are set in the table at
** the top of the stack; kind names the list for introspection ("memobj",
** "npy", "memory"...). */
void mo_funcs_declare(lua_State *L, const char *kind, const mo_method *list);
/* mo_funcs_declare into the methods of every memory object (memory.c). */
void mo_mem_declare(lua_State *L, const mo_method *list);
/* mo_funcs_declare into the metatable registered at mtkey (metamethods:
** recorded under "<kind> meta"). */
void mo_meta_declare(lua_State *L, const mo_viewkind *k, const mo_method *list);

/* The view a declared method runs on (the trampoline checked it; it may
** have been released since by a finalizer: use the pointer accessors). */
static inline mo_view *mo_self(lua_State *L) {
  return (mo_view *)lua_touserdata(L, 1);
}

/* How many arguments (self included) a pinned method was given: the
** trampoline pads the declared ones with nil below the pin, so an absent
** argument reads as nil; Lua's messages say "no value". Read it before
** anything can run Lua code (a nested call sets it again). */
int mo_method_given(lua_State *L);

/* The bytes [off, off + len) of live view v, for reading: raises "view is
** released" (a finalizer run by an allocation) or for a range beyond the
** view. */
const unsigned char *mo_view_rptr(lua_State *L, mo_view *v, size_t off,
                                  size_t len);
/* Copy the bytes [off, off + len) of live view v to dst, then raise a
** pending fault: what the caller builds of the copy (tables, strings:
** allocations that may run finalizers, which could release the view)
** never holds what lost pages read as. */
void mo_view_copyout(lua_State *L, mo_view *v, size_t off, size_t len,
                     void *dst);
/* The same for writing: also refuses a read-only view or memory and logs
** the range for a transaction (mo_prewrite). The one way to a writable
** pointer outside the hot paths. */
unsigned char *mo_view_wptr(lua_State *L, mo_view *v, size_t off, size_t len);

/* ---- The prologue and epilogue ---- */

/* Self, the slow way: any metatable of the kind (mo_toview), or the
** error; a released view raises k->closed or "view is released". */
mo_view *mo_method_checkself(lua_State *L, const mo_viewkind *k);

/* Self, the fast way: a declared view method is a closure whose upvalue
** is the metatable it was declared in (mo_view_declare), so identity by
** metatable is one comparison with it, with no lookup. The size and tag
** tests keep a metatable moved onto another userdata
** (debug.setmetatable) from passing; a light userdata's size is 0. Any
** other case (a method of one metatable called on a view of the other
** one of the same kind, or no view at all) takes the slow path. */
static inline __attribute__((always_inline)) mo_view *mo_method_self(
    lua_State *L, const mo_viewkind *k) {
  mo_view *v = (mo_view *)lua_touserdata(L, 1);
  if (MO_LIKELY(v != NULL) && lua_getmetatable(L, 1)) {
    int ours = lua_rawequal(L, -1, lua_upvalueindex(1));
    lua_settop(L, -2);
    if (MO_LIKELY(ours && lua_rawlen(L, 1) >= k->size && v->tag == k->tag &&
                  !v->released))
      return v;
  }
  return mo_method_checkself(L, k);
}
/* Pin self for a method of nargs arguments (method.c; mo_method_given). */
void mo_method_pin(lua_State *L, const mo_viewkind *k, int nargs);

static inline __attribute__((always_inline)) int mo_method_run(
    lua_State *L, const mo_viewkind *k, int nargs, unsigned flags,
    lua_CFunction body) {
  mo_view *v = mo_method_self(L, k);
  int n;
  if (nargs != MO_NARGS_ANY && MO_UNLIKELY(lua_gettop(L) > nargs + 1))
    mo_noextra(L, nargs + 1);
  if (flags & MO_M_WRITES) mo_checkwritable(L, v);
  if (flags & MO_M_PINS) mo_method_pin(L, k, nargs);
  n = body(L);
  if (flags & MO_M_BYTES) mo_fault_check(L);
  return n;
}

#define MO_METHOD_WRAP(name, fn, nargs, flags)                        \
  static int fn##_declared(lua_State *L) {                            \
    return mo_method_run(L, &MO_METHOD_KIND, nargs, flags, fn);       \
  }
#define MO_METHOD_DESC(name, fn, nargs, flags) {name, fn##_declared, nargs, flags},
/* The wrappers and the descriptor table `table` (storage: static, or
** empty for one another file declares) of the list LIST, whose lines are
** X(name, function, nargs, flags), for the kind the file names as
** MO_METHOD_KIND. */
#define MO_METHODS(storage, table, LIST) \
  LIST(MO_METHOD_WRAP)                   \
  storage const mo_method table[] = {LIST(MO_METHOD_DESC){NULL, NULL, 0, 0}}

/* Register the introspection function (method.c). */
void mo_method_open(lua_State *L);

#endif

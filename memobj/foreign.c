/*
** foreign.c: the "foreign" memory kind: bytes owned by C code (a pointer
** returned by a C function through memobj.ffi). The object does not own
** the bytes unless it is given a `free` function, which it calls once,
** on close or collection.
*/
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "../runtime/core.h"
#include "openers.h"
#include "../runtime/core/xstate.h"

typedef struct foreign_mem {
  memobj_mem base;
  void (*freefn)(void *);  /* NULL: the bytes are not ours to free */
  int maywrite;            /* created "rw": protect may go back to "rw" */
} foreign_mem;

static void foreign_release(memobj_mem *m) {
  foreign_mem *f = (foreign_mem *)m;
  if (f->freefn && m->ptr) f->freefn(m->ptr);
  f->freefn = NULL;
}

/* Permission is enforced by views, as for heap memory: the pages belong
** to C code and are never mprotect'ed. */
static int foreign_protect(memobj_mem *m, int writable) {
  return writable && !((foreign_mem *)m)->maywrite ? -EACCES : 0;  /* refused */
}

/* Export: a free function may be a memobj.ffi callback or live in a
** library this state loaded, which die with the state: refused. */
static const char *foreign_exportable(memobj_mem *m) {
  return ((foreign_mem *)m)->freefn
             ? "foreign memory with a free function stays in its state "
               "(export memory that C code frees itself)"
             : NULL;
}

static const memobj_kind foreign_kind = {
  "foreign", "volatile", NULL, NULL, foreign_release, NULL, foreign_protect,
  NULL
};

/*
** The free option: a memobj.ffi function taking one pointer, or the
** address of a C function void f(void *). Returns the address; the
** value itself is kept in the object's user value, so a function keeps
** its library loaded until the object is gone.
*/
static void (*checkfree(lua_State *L, int idx))(void *) {
  int onepointer, ok;
  void *p = mo_cfunc_addr(L, idx, &onepointer);
  if (p) {
    if (!onepointer)
      luaL_error(L, "memobj: foreign: option 'free' must take one 'pointer'");
  } else {
    lua_Integer n = lua_tointegerx(L, idx, &ok);
    if (!ok || n == 0)
      luaL_error(L, "memobj: foreign: option 'free' must be a memobj.ffi "
                    "function or the address of a C function");
    p = (void *)(uintptr_t)n;
  }
  return (void (*)(void *))p;
}

/* memobj.foreign(pointer, size [, {mode=, free=}]) */
static int l_foreign(lua_State *L) {
  static const char *const modes[] = {"r", "rw", NULL};
  lua_Integer addr = luaL_checkinteger(L, 1);
  size_t size = mo_checksize(L, 2);
  void (*freefn)(void *) = NULL;
  int rw = 1;
  foreign_mem *f;
  static const char *const options[] = {"mode", "free", NULL};
  if (!lua_isnoneornil(L, 3)) {
    mo_checkoptions(L, 3, options);
    rw = mo_optmode_field(L, 3, modes, rw);
    if (lua_getfield(L, 3, "free") != LUA_TNIL) freefn = checkfree(L, -1);
  } else {
    lua_pushnil(L);
  }
  /* the free value (or nil) is at the top */
  luaL_argcheck(L, addr != 0 || size == 0, 1, "NULL pointer with a size");
  luaL_argcheck(L, (uintptr_t)addr <= UINTPTR_MAX - size, 2,
                "range wraps around the address space");
  f = (foreign_mem *)mo_mem_new(L, &foreign_kind, sizeof(foreign_mem));
  f->base.writable = (uint8_t)rw;
  f->maywrite = rw;
  f->freefn = freefn;
  lua_insert(L, -2);
  lua_setiuservalue(L, -2, 1);
  mo_mem_publish(L, &f->base, (unsigned char *)(uintptr_t)addr, size);
  return 1;
}

/* The bytes belong to C code: not counted as "outside" the Lua heap. */
static const mo_kinddesc foreign_desc = {
  .kind = &foreign_kind, .ctor = l_foreign, .flags = MO_KIND_NOT_OURS
};

void mo_foreign_open(lua_State *L) {
  mo_kind_register(L, &foreign_desc);
  mo_x_exportable(&foreign_kind, foreign_exportable);
}

/*
** method.c: the registration of declared methods (method.h), the
** trampoline of functions without a view self, the out-of-line parts of
** the view methods' prologue, the pointer accessors, and the
** introspection table the tests iterate.
*/
#include <string.h>
#include "../core.h"

static const char declared_key = 0;  /* registry: kind -> {light list, ...} */

/* the argument count of the running pinned method, before padding */
static _Thread_local int given;

int mo_method_given(lua_State *L) {
  (void)L;
  return given;
}

mo_view *mo_method_checkself(lua_State *L, const mo_viewkind *k) {
  mo_view *v = mo_toview(L, 1, k->tag);
  if (v == NULL) luaL_typeerror(L, 1, k->tname);
  if (v->released)
    luaL_error(L, "%s", k->closed ? k->closed : "memobj: view is released");
  return v;
}

void mo_method_pin(lua_State *L, const mo_viewkind *k, int nargs) {
  given = lua_gettop(L);
  mo_pinview(L, 1, nargs + 1, k->tag, k->tname);
}

/* A declared function without a view self (not a hot path): one closure
** whose upvalue is its descriptor. */
static int func_trampoline(lua_State *L) {
  const mo_method *d = (const mo_method *)lua_touserdata(L, lua_upvalueindex(1));
  int n;
  if (d->nargs != MO_NARGS_ANY && lua_gettop(L) > d->nargs)
    mo_noextra(L, d->nargs);
  n = d->fn(L);
  if (d->flags & MO_M_BYTES) mo_fault_check(L);
  return n;
}

/* Remember list under kind for introspection: registry[&declared_key][kind]
** is a sequence of light userdata (one per declared list). */
static void record(lua_State *L, const char *kind, const mo_method *list,
                   int view) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &declared_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &declared_key);
  }
  if (lua_getfield(L, -1, kind) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, kind);
  }
  lua_pushlightuserdata(L, (void *)list);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pushboolean(L, view);
  lua_setfield(L, -2, "view");
  lua_pop(L, 2);
}

static void checkdesc(lua_State *L, const mo_method *d) {
  if (d->fn == NULL || d->nargs < MO_NARGS_ANY ||
      ((d->flags & MO_M_PINS) && d->nargs == MO_NARGS_ANY))
    luaL_error(L, "memobj: method '%s' is declared wrongly", d->name);
}

void mo_view_declare_more(lua_State *L, const mo_viewkind *k,
                          const mo_method *list) {
  const mo_method *d;
  mo_regpush(L, k->mtkey, LUA_TTABLE);
  lua_getfield(L, -1, "__index");
  lua_getupvalue(L, -1, 1);  /* the methods table (mo_view_newmeta) */
  for (d = list; d->name; d++) {
    checkdesc(L, d);
    lua_pushvalue(L, -3);  /* the metatable: mo_method_self's upvalue */
    lua_pushcclosure(L, d->fn, 1);  /* the wrapper MO_METHODS made */
    lua_setfield(L, -2, d->name);
  }
  lua_pop(L, 3);
}

void mo_view_declare(lua_State *L, const mo_viewkind *k, const mo_method *list) {
  mo_view_declare_more(L, k, list);
  record(L, k->name, list, 1);
}

/* Set the functions of list in the table at t (absolute). */
static void funcs_into(lua_State *L, int t, const char *kind,
                       const mo_method *list) {
  const mo_method *d;
  for (d = list; d->name; d++) {
    checkdesc(L, d);
    if (d->flags & (MO_M_WRITES | MO_M_PINS))
      luaL_error(L, "memobj: function '%s': no self to write or pin", d->name);
    lua_pushlightuserdata(L, (void *)d);
    lua_pushcclosure(L, func_trampoline, 1);
    lua_setfield(L, t, d->name);
  }
  record(L, kind, list, 0);
}

void mo_funcs_declare(lua_State *L, const char *kind, const mo_method *list) {
  funcs_into(L, lua_gettop(L), kind, list);
}

void mo_meta_declare(lua_State *L, const mo_viewkind *k, const mo_method *list) {
  int t;
  mo_regpush(L, k->mtkey, LUA_TTABLE);
  t = lua_gettop(L);
  lua_pushfstring(L, "%s meta", k->name);
  funcs_into(L, t, lua_tostring(L, -1), list);
  lua_pop(L, 2);
}

/* ---- Pointers ---- */

static void checkrange(lua_State *L, const mo_view *v, size_t off, size_t len) {
  if (MO_UNLIKELY(v->released)) luaL_error(L, "memobj: view is released");
  if (MO_UNLIKELY(off > v->length || len > v->length - off))
    luaL_error(L, "memobj: bytes %I..%I are beyond the end of the view (%I "
               "bytes)", (lua_Integer)off, (lua_Integer)(off + len),
               (lua_Integer)v->length);
}

const unsigned char *mo_view_rptr(lua_State *L, mo_view *v, size_t off,
                                  size_t len) {
  checkrange(L, v, off, len);
  return v->ptr + off;
}

void mo_view_copyout(lua_State *L, mo_view *v, size_t off, size_t len,
                     void *dst) {
  checkrange(L, v, off, len);
  if (len > 0) memcpy(dst, v->ptr + off, len);
  mo_fault_check(L);
}

unsigned char *mo_view_wptr(lua_State *L, mo_view *v, size_t off, size_t len) {
  checkrange(L, v, off, len);
  mo_checkwritable(L, v);
  mo_prewrite(L, v->mem, v->offset + off, len);
  /* logging may allocate: the view must still be live */
  if (MO_UNLIKELY(v->released)) luaL_error(L, "memobj: view is released");
  return v->ptr + off;
}

/* ---- Introspection ---- */

/* debug.getregistry()["memobj.methods"]() -> {kind = {{name =, nargs =,
** writes =, pins =, bytes =, view =}, ...}, ...}: a new table each call, so the
** descriptors themselves cannot be changed from Lua. */
static int l_methods(lua_State *L) {
  int r;
  lua_newtable(L);
  r = lua_gettop(L);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &declared_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 1;
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) {  /* kind -> lists */
    lua_Integer j, n = (lua_Integer)lua_rawlen(L, -1), out = 0;
    int view;
    lua_getfield(L, -1, "view");
    view = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_newtable(L);
    for (j = 1; j <= n; j++) {
      const mo_method *d;
      lua_rawgeti(L, -2, j);
      d = (const mo_method *)lua_touserdata(L, -1);
      lua_pop(L, 1);
      for (; d && d->name; d++) {
        lua_createtable(L, 0, 6);
        lua_pushstring(L, d->name);
        lua_setfield(L, -2, "name");
        lua_pushinteger(L, d->nargs);
        lua_setfield(L, -2, "nargs");
        lua_pushboolean(L, (d->flags & MO_M_WRITES) != 0);
        lua_setfield(L, -2, "writes");
        lua_pushboolean(L, (d->flags & MO_M_PINS) != 0);
        lua_setfield(L, -2, "pins");
        lua_pushboolean(L, (d->flags & MO_M_BYTES) != 0);
        lua_setfield(L, -2, "bytes");
        lua_pushboolean(L, view);
        lua_setfield(L, -2, "view");
        lua_rawseti(L, -2, ++out);
      }
    }
    lua_pushvalue(L, -3);
    lua_insert(L, -2);
    lua_rawset(L, r);  /* result[kind] = descriptors */
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 1;
}

void mo_method_open(lua_State *L) {
  lua_pushcfunction(L, l_methods);
  lua_setfield(L, LUA_REGISTRYINDEX, "memobj.methods");
}

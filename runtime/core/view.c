/*
** view.c: what all access objects share: resolving their source (memory
** object, view or Lua string), creating and locking, the common fields,
** release, and string.sub-style ranges.
*/
#include <string.h>
#include "../core.h"

/* ---- Identity ----
** A view is a userdata whose metatable mo_view_new registered (type.c)
** as a view's: the core names no view, it learns their metatables. */

mo_view *mo_toview(lua_State *L, int idx, uint32_t tag) {
  int view = 0;
  uint32_t t;
  if (tag) return (mo_view *)mo_type_test(L, idx, tag);  /* the usual case */
  t = mo_type_of(L, idx, &view);
  if (t == 0 || !view) return NULL;
  return (mo_view *)lua_touserdata(L, idx);
}

memobj_mem *mo_view_pushmem(lua_State *L, int idx, const mo_view *v) {
  lua_getiuservalue(L, idx, 1);
  if (mo_tomem(L, -1) != v->mem)  /* replaced by debug.setuservalue */
    luaL_error(L, "memobj: the view's memory reference was replaced");
  return v->mem;
}

mo_view *mo_checkview(lua_State *L, int idx, uint32_t tag, const char *tname) {
  mo_view *v = mo_toview(L, idx, tag);
  if (v == NULL) luaL_typeerror(L, idx, tname);
  if (v->released) luaL_error(L, "memobj: view is released");
  return v;
}

int mo_tobytes(lua_State *L, int idx, mo_bytesrc *b) {
  memobj_mem *m;
  mo_view *v = NULL;
  uint32_t t;
  int isview = 0;
  memset(b, 0, sizeof *b);
  if (lua_type(L, idx) == LUA_TSTRING) {
    b->ptr = (const unsigned char *)lua_tolstring(L, idx, &b->length);
    b->readonly = 1;
    return 1;
  }
  t = mo_type_of(L, idx, &isview);  /* one identity check for both */
  if (t == MO_TAG_MEM) {
    m = (memobj_mem *)lua_touserdata(L, idx);
    if (m->closed) return b->dead = "memory object is closed", -1;
    b->length = m->size;
    b->readonly = !m->writable;
  } else if (t != 0 && isview) {
    v = (mo_view *)lua_touserdata(L, idx);
    if (v->released) return b->dead = "view is released", -1;
    m = v->mem;
    b->offset = v->offset;
    b->length = v->length;
    b->readonly = v->readonly || !m->writable;
  } else {
    return 0;
  }
  b->mem = m;
  b->view = v;
  b->ptr = m->ptr ? m->ptr + b->offset : NULL;
  return 1;
}

int mo_checkbytes(lua_State *L, int idx, mo_bytesrc *b) {
  int r = mo_tobytes(L, idx, b);
  if (r < 0) luaL_error(L, "memobj: %s", b->dead);
  return r;
}

int mo_tosource(lua_State *L, int idx, mo_source *s) {
  mo_bytesrc b;
  idx = lua_absindex(L, idx);
  if (!mo_checkbytes(L, idx, &b)) return 0;
  if (b.view && b.view->strided)  /* the C API takes them (MEMOBJ_STRIDED) */
    luaL_error(L, "memobj: a strided array is not a contiguous byte range");
  if (b.mem == NULL) {          /* a Lua string: a string memory over it */
    s->mem = mo_mem_from_string(L, idx);
  } else {
    s->mem = b.mem;
    if (b.view) mo_view_pushmem(L, idx, b.view);
    else lua_pushvalue(L, idx);
  }
  s->offset = b.offset;
  s->length = b.length;
  s->readonly = b.view ? b.view->readonly : b.readonly;
  s->memidx = lua_gettop(L);
  return 1;
}

void mo_checksource(lua_State *L, int idx, mo_source *s) {
  if (!mo_tosource(L, idx, s))
    luaL_typeerror(L, idx, "memory object, view or string");
}

int mo_checkviewmode(lua_State *L, int arg, const mo_source *s) {
  static const char *const modes[] = {"r", "rw", NULL};
  int rw = luaL_checkoption(L, arg, s->readonly ? "r" : "rw", modes);
  if (rw && s->readonly)
    luaL_argerror(L, arg, "memory is read-only");
  return !rw;
}

mo_view *mo_view_new(lua_State *L, size_t udsize, uint32_t tag,
                     const void *mtkey, const mo_source *s, size_t off,
                     size_t len, int readonly, const char *what) {
  memobj_mem *m = s->mem;
  mo_view *v;
  /* its metatable is a view's (type.c); before the allocation below, as
  ** registering may allocate once */
  mo_regpush(L, mtkey, LUA_TTABLE);
  mo_type_register(L, -1, tag, sizeof(mo_view), 1);
  lua_pop(L, 1);
  v = (mo_view *)lua_newuserdatauv(L, udsize, 1);
  memset(v, 0, udsize);
  /* The allocation may have run a finalizer that closed, shrank or
  ** protected the memory: check again before taking the lock. Nothing can
  ** run Lua code from here to the lock. */
  if (m->closed) luaL_error(L, "memobj: memory object is closed");
  if (off > m->size || len > m->size - off)
    luaL_error(L, "memobj: %s: bytes %I..%I are beyond the end of the "
               "memory (%I bytes)", what, (lua_Integer)off,
               (lua_Integer)(off + len), (lua_Integer)m->size);
  if (!readonly && !m->writable)
    luaL_error(L, "memobj: %s: memory is read-only", what);
  v->tag = tag;
  v->readonly = (uint8_t)readonly;
  v->offset = off;
  v->length = len;
  v->mem = s->mem;
  v->ptr = s->mem->ptr ? s->mem->ptr + off : NULL;
  mo_regpush(L, mtkey, LUA_TTABLE);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, s->memidx);   /* the view keeps its memory alive */
  lua_setiuservalue(L, -2, 1);
  mo_lock(L, s->mem, &v->lock, off, len, !readonly, what);
  return v;
}

void mo_view_release(mo_view *v) {
  if (v->released) return;
  mo_unlock(&v->lock);
  v->released = 1;
  v->ptr = NULL;
  v->count = 0;
}

void mo_checkwritable(lua_State *L, mo_view *v) {
  if (v->readonly) luaL_error(L, "memobj: view is read-only");
  if (!v->mem->writable) luaL_error(L, "memobj: memory is read-only");
}

int mo_view_field(lua_State *L, int idx, mo_view *v, const char *k) {
  if (strcmp(k, "released") == 0) {
    lua_pushboolean(L, v->released);
    return 1;
  }
  if (strcmp(k, "memory") == 0) mo_view_pushmem(L, idx, v);
  else if (strcmp(k, "offset") == 0) lua_pushinteger(L, (lua_Integer)v->offset);
  else if (strcmp(k, "length") == 0) lua_pushinteger(L, (lua_Integer)v->length);
  else if (strcmp(k, "readonly") == 0) lua_pushboolean(L, v->readonly);
  else return 0;
  return 1;
}

/* ---- Lua functions shared by every view metatable ---- */

static int view_release(lua_State *L) {
  mo_view *v = mo_toview(L, 1, 0);
  if (v == NULL) return luaL_typeerror(L, 1, "view");
  mo_view_release(v);
  return 0;
}

static int view_gc(lua_State *L) {
  mo_view *v = mo_toview(L, 1, 0);
  if (v) mo_view_release(v);
  return 0;
}

void mo_view_newmeta(lua_State *L, const void *mtkey, const luaL_Reg *methods,
                     const luaL_Reg *meta, lua_CFunction index) {
  lua_newtable(L);
  if (methods) luaL_setfuncs(L, methods, 0);
  lua_pushcfunction(L, view_release);
  lua_setfield(L, -2, "release");
  lua_newtable(L);                    /* metatable */
  if (meta) luaL_setfuncs(L, meta, 0);
  lua_pushcfunction(L, view_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, view_release);
  lua_setfield(L, -2, "__close");
  lua_pushliteral(L, "memobj.view");
  lua_setfield(L, -2, "__metatable");
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, index, 1);      /* methods as upvalue 1 */
  lua_setfield(L, -2, "__index");
  lua_rawsetp(L, LUA_REGISTRYINDEX, mtkey);
  lua_pop(L, 1);
}

void mo_view_addmethods(lua_State *L, const void *mtkey, const luaL_Reg *l) {
  mo_regpush(L, mtkey, LUA_TTABLE);
  lua_getfield(L, -1, "__index");
  lua_getupvalue(L, -1, 1);  /* the methods table (mo_view_newmeta) */
  luaL_setfuncs(L, l, 0);
  lua_pop(L, 3);
}


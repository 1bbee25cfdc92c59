/*
** string.c: the "string" memory kind: read-only, zero-copy memory over a
** Lua string, which the object keeps alive in its user value.
*/
#include <errno.h>
#include "../runtime/core.h"
#include "openers.h"

/* The bytes belong to the Lua string: dropping the reference is enough,
** and that happens when the object is collected. */
static void string_release(memobj_mem *m) {
  (void)m;
}

/* Only "r" is possible: the bytes of a Lua string are immutable. */
static int string_protect(memobj_mem *m, int writable) {
  (void)m;
  return writable ? -EACCES : 0;  /* refused: misuse, raises */
}

static const memobj_kind string_kind = {
  "string", "volatile", NULL, NULL, string_release, NULL, string_protect, NULL
};

static memobj_mem *string_new(lua_State *L, int idx) {
  size_t len;
  const char *s;
  memobj_mem *m;
  idx = lua_absindex(L, idx);
  s = lua_tolstring(L, idx, &len);
  m = mo_mem_new(L, &string_kind, sizeof(memobj_mem));
  m->writable = 0;
  lua_pushvalue(L, idx);
  lua_setiuservalue(L, -2, 1);
  mo_mem_publish(L, m, (unsigned char *)s, len);
  return m;
}

/* memobj.string(s) */
static int l_string(lua_State *L) {
  luaL_checktype(L, 1, LUA_TSTRING);
  string_new(L, 1);
  return 1;
}

/* The bytes are in the Lua heap already: not counted as "outside". */
static const mo_kinddesc string_desc = {
  .kind = &string_kind, .ctor = l_string, .role = MO_ROLE_STRING,
  .make = string_new, .flags = MO_KIND_NOT_OURS
};

void mo_string_open(lua_State *L) {
  mo_kind_register(L, &string_desc);
}

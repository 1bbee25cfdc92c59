/*
** args.c: argument and result helpers shared by every Lua function of
** memobj, as lauxlib.c keeps Lua's: sizes, options, modes, ranges, extra
** arguments, and the two error channels (raise for misuse, nil + message
** + errno for an OS failure).
*/
#include <errno.h>
#include <string.h>
#include "args.h"

int mo_oserror(lua_State *L, const char *op, int err) {
  return luaL_error(L, "memobj: %s: %s", op, strerror(err));
}

int mo_failresult(lua_State *L, const char *what, int err) {
  luaL_pushfail(L);
  if (what) lua_pushfstring(L, "%s: %s", what, strerror(err));
  else lua_pushstring(L, strerror(err));
  lua_pushinteger(L, err);
  return 3;
}

size_t mo_checksize(lua_State *L, int arg) {
  lua_Integer n = luaL_checkinteger(L, arg);
  luaL_argcheck(L, n >= 0, arg, "must be a non-negative integer");
  return (size_t)n;
}

size_t mo_optsize_field(lua_State *L, int idx, const char *field, size_t def) {
  size_t v = def;
  if (lua_type(L, idx) != LUA_TTABLE) return def;
  if (lua_getfield(L, idx, field) != LUA_TNIL) {
    int ok;
    lua_Integer n = lua_tointegerx(L, -1, &ok);
    if (!ok || n < 0)
      luaL_error(L, "memobj: option '%s' must be a non-negative integer", field);
    v = (size_t)n;
  }
  lua_pop(L, 1);
  return v;
}

int mo_optmode_field(lua_State *L, int idx, const char *const modes[],
                     int def) {
  int i = def;
  if (lua_type(L, idx) != LUA_TTABLE) return def;
  if (lua_getfield(L, idx, "mode") != LUA_TNIL) {
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    for (i = 0; s && modes[i] && strcmp(s, modes[i]) != 0; i++) {}
    if (s == NULL || modes[i] == NULL) {
      luaL_Buffer b;  /* "unknown mode 'w' (expected "r" or "rw")" */
      const char *got = s ? s : luaL_typename(L, -1);
      int k;
      luaL_buffinit(L, &b);
      luaL_addstring(&b, "unknown mode '");
      luaL_addstring(&b, got);
      luaL_addstring(&b, "' (expected ");
      for (k = 0; modes[k]; k++) {
        if (k > 0) luaL_addstring(&b, modes[k + 1] ? ", " : " or ");
        luaL_addchar(&b, '"');
        luaL_addstring(&b, modes[k]);
        luaL_addchar(&b, '"');
      }
      luaL_addchar(&b, ')');
      luaL_pushresult(&b);
      luaL_argerror(L, idx, lua_tostring(L, -1));
    }
  }
  lua_pop(L, 1);
  return i;
}

/*
** An options argument is absent (nil) or a table whose every key is one
** of `known`: a misspelt option ("creat") raises instead of being
** silently ignored, as every argument is honoured or refused.
*/
void mo_checkoptions(lua_State *L, int idx, const char *const known[]) {
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    int i = 0;
    lua_pop(L, 1);  /* the value */
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      while (known[i] && strcmp(k, known[i]) != 0) i++;
    }
    if (lua_type(L, -1) != LUA_TSTRING || known[i] == NULL) {
      const char *k = lua_type(L, -1) == LUA_TSTRING
                          ? lua_tostring(L, -1) : luaL_typename(L, -1);
      luaL_argerror(L, idx, lua_pushfstring(L, "unknown option '%s'", k));
    }
  }
}

/*
** A boolean option is true, false or absent: {seal = "no"} would read as
** true under Lua's truthiness, the opposite of what it says, so anything
** else is refused against the options argument.
*/
int mo_optbool_field(lua_State *L, int idx, const char *field, int def) {
  int v = def, t;
  if (lua_type(L, idx) != LUA_TTABLE) return def;
  t = lua_getfield(L, idx, field);
  if (t == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
  else if (t != LUA_TNIL)
    luaL_argerror(L, idx, lua_pushfstring(L, "option '%s' must be a boolean, "
                                          "not %s", field, luaL_typename(L, -1)));
  lua_pop(L, 1);
  return v;
}

void mo_regpush(lua_State *L, const void *key, int t) {
  if (MO_UNLIKELY(lua_rawgetp(L, LUA_REGISTRYINDEX, key) != t))
    luaL_error(L, "memobj: an entry of the Lua registry was replaced");
}

void mo_noextra(lua_State *L, int last) {
  int k, top = lua_gettop(L);
  for (k = last + 1; k <= top; k++)
    if (!lua_isnil(L, k)) luaL_argerror(L, k, "no value expected");
}

/*
** Clip i..j to 1..n as string.sub does: negative positions count from the
** end, 0 and very negative starts become 1, ends beyond n become n. The
** result is empty when *from > *to. Comparisons are arranged so that no
** arithmetic on user values can overflow.
*/
void mo_range(lua_Integer i, lua_Integer j, size_t n, size_t *from,
              size_t *to) {
  lua_Integer len = (lua_Integer)n;
  if (i > 0) *from = (size_t)i;
  else if (i == 0 || i < -len) *from = 1;
  else *from = (size_t)(len + i + 1);
  if (j > len) *to = n;
  else if (j >= 0) *to = (size_t)j;
  else if (j < -len) *to = 0;
  else *to = (size_t)(len + j + 1);
}

/*
** codecfloor.c: the floors for bench/codec.lua: what PUC Lua 5.4 itself
** needs, through its C API, to walk a value (the least an encoder does)
** and to build it (the least a decoder does). No memobj. Built by
** bench/codec.lua into /tmp.
**
** walk(v): every table walked with lua_next, every key and value's type
** read, every string's bytes copied into a reused scratch buffer, every
** number read; then one lua_pushlstring of as many bytes as were copied
** (an encoder returns a string). Returns that string.
**
** prepare(v) -> program: the value flattened into build operations, as a
** decoder that had parsed its input already would hold it: tables with
** their exact array and hash counts, scalars, string bytes (pointing into
** v's strings, kept alive by the program's user value), and each string
** met more than once made once and reused from a stack slot after.
** build(program) -> a new value equal to v, made with the fewest API
** calls: lua_createtable, lua_push*, lua_rawseti, lua_rawset,
** lua_pushvalue for a repeated string.
*/
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>

/* ---- walk ---- */

typedef struct wbuf {
  char *p;
  size_t n, cap;
} wbuf;

static wbuf scratch;

static void wput(lua_State *L, const void *s, size_t len) {
  if (scratch.cap - scratch.n < len) {
    size_t ncap = scratch.cap ? scratch.cap : 4096;
    char *np;
    while (ncap - scratch.n < len) ncap *= 2;
    if ((np = (char *)realloc(scratch.p, ncap)) == NULL)
      luaL_error(L, "codecfloor: no memory");
    scratch.p = np;
    scratch.cap = ncap;
  }
  memcpy(scratch.p + scratch.n, s, len);
  scratch.n += len;
}

static void walk_value(lua_State *L, int idx);

static void walk_table(lua_State *L, int idx) {
  char tag = 't';
  luaL_checkstack(L, 3, "codecfloor");
  wput(L, &tag, 1);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int top = lua_gettop(L);
    walk_value(L, top - 1);
    walk_value(L, top);
    lua_settop(L, top - 1);
  }
}

static void walk_value(lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      wput(L, s, len);
      break;
    }
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        lua_Integer i = lua_tointeger(L, idx);
        wput(L, &i, 8);
      } else {
        lua_Number d = lua_tonumber(L, idx);
        wput(L, &d, 8);
      }
      break;
    case LUA_TTABLE:
      walk_table(L, idx);
      break;
    default: {
      char b = (char)lua_toboolean(L, idx);
      wput(L, &b, 1);
    }
  }
}

static int walk(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  scratch.n = 0;
  walk_value(L, 1);
  lua_pushlstring(L, scratch.p, scratch.n);
  return 1;
}

/* ---- prepare / build ---- */

enum { OP_NEWT, OP_INT, OP_FLT, OP_BOOL, OP_STR, OP_DEF, OP_REF, OP_SETI,
       OP_SET };

typedef struct op {
  int kind;
  int a, b;          /* NEWT: narr, nhash; DEF, REF: slot; SETI: key */
  lua_Integer i;
  lua_Number d;
  const char *s;
  size_t len;
} op;

typedef struct prog {
  op *ops;
  size_t n, cap;
  int nslots;
} prog;

static int prog_gc(lua_State *L) {
  prog *g = (prog *)lua_touserdata(L, 1);
  free(g->ops);
  g->ops = NULL;
  return 0;
}

static op *emit(lua_State *L, prog *g, int kind) {
  if (g->n == g->cap) {
    size_t ncap = g->cap ? g->cap * 2 : 1024;
    op *no = (op *)realloc(g->ops, ncap * sizeof *no);
    if (no == NULL) luaL_error(L, "codecfloor: no memory");
    g->ops = no;
    g->cap = ncap;
  }
  memset(&g->ops[g->n], 0, sizeof(op));
  g->ops[g->n].kind = kind;
  return &g->ops[g->n++];
}

/* Count each string's uses into the table at cnt. */
static void count_value(lua_State *L, int idx, int cnt) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    lua_pushvalue(L, idx);
    lua_pushvalue(L, idx);
    lua_rawget(L, cnt);
    lua_pushinteger(L, lua_tointeger(L, -1) + 1);
    lua_remove(L, -2);
    lua_rawset(L, cnt);
  } else if (lua_type(L, idx) == LUA_TTABLE) {
    luaL_checkstack(L, 6, "codecfloor");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      int top = lua_gettop(L);
      count_value(L, top - 1, cnt);
      count_value(L, top, cnt);
      lua_settop(L, top - 1);
    }
  }
}

/* cnt[s]: its use count, then (once defined) -slot. */
static void prep_value(lua_State *L, prog *g, int idx, int cnt) {
  op *o;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      lua_Integer c;
      lua_pushvalue(L, idx);
      lua_rawget(L, cnt);
      c = lua_tointeger(L, -1);
      lua_pop(L, 1);
      if (c == 1) {
        o = emit(L, g, OP_STR);
      } else if (c > 1) {
        o = emit(L, g, OP_DEF);
        o->a = g->nslots++;
        lua_pushvalue(L, idx);
        lua_pushinteger(L, -(lua_Integer)o->a - 1);
        lua_rawset(L, cnt);
      } else {
        o = emit(L, g, OP_REF);
        o->a = (int)(-c - 1);
        break;
      }
      o->s = lua_tolstring(L, idx, &o->len);
      break;
    }
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) emit(L, g, OP_INT)->i = lua_tointeger(L, idx);
      else emit(L, g, OP_FLT)->d = lua_tonumber(L, idx);
      break;
    case LUA_TBOOLEAN:
      emit(L, g, OP_BOOL)->a = lua_toboolean(L, idx);
      break;
    case LUA_TTABLE: {
      size_t at = g->n;
      int narr = 0, nhash = 0, inarr = 1;
      emit(L, g, OP_NEWT);
      luaL_checkstack(L, 6, "codecfloor");
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        int top = lua_gettop(L);
        if (inarr && lua_isinteger(L, top - 1) &&
            lua_tointeger(L, top - 1) == narr + 1) {
          narr++;
          prep_value(L, g, top, cnt);
          emit(L, g, OP_SETI)->a = narr;
        } else {
          inarr = 0;
          nhash++;
          prep_value(L, g, top - 1, cnt);
          prep_value(L, g, top, cnt);
          emit(L, g, OP_SET);
        }
        lua_settop(L, top - 1);
      }
      g->ops[at].a = narr;
      g->ops[at].b = nhash;
      break;
    }
    default:
      luaL_error(L, "codecfloor: cannot prepare a %s", luaL_typename(L, idx));
  }
}

static int prepare(lua_State *L) {
  prog *g;
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  g = (prog *)lua_newuserdatauv(L, sizeof *g, 1);
  memset(g, 0, sizeof *g);
  lua_newtable(L);
  lua_pushcfunction(L, prog_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);  /* the strings the ops point into */
  lua_newtable(L);
  count_value(L, 1, 3);
  prep_value(L, g, 1, 3);
  lua_pop(L, 1);
  return 1;
}

static int build(lua_State *L) {
  prog *g = (prog *)lua_touserdata(L, 1);
  size_t k;
  int base;
  if (g == NULL || g->ops == NULL) return luaL_argerror(L, 1, "program");
  luaL_checkstack(L, g->nslots + 210, "codecfloor");
  base = lua_gettop(L) + 1;
  lua_settop(L, base + g->nslots - 1);
  for (k = 0; k < g->n; k++) {
    const op *o = &g->ops[k];
    switch (o->kind) {
      case OP_NEWT: lua_createtable(L, o->a, o->b); break;
      case OP_INT: lua_pushinteger(L, o->i); break;
      case OP_FLT: lua_pushnumber(L, o->d); break;
      case OP_BOOL: lua_pushboolean(L, o->a); break;
      case OP_STR: lua_pushlstring(L, o->s, o->len); break;
      case OP_DEF:
        lua_pushlstring(L, o->s, o->len);
        lua_copy(L, -1, base + o->a);
        break;
      case OP_REF: lua_pushvalue(L, base + o->a); break;
      case OP_SETI: lua_rawseti(L, -2, o->a); break;
      case OP_SET: lua_rawset(L, -3); break;
    }
  }
  return 1;
}

int luaopen_codecfloor(lua_State *L);
int luaopen_codecfloor(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, walk);
  lua_setfield(L, -2, "walk");
  lua_pushcfunction(L, prepare);
  lua_setfield(L, -2, "prepare");
  lua_pushcfunction(L, build);
  lua_setfield(L, -2, "build");
  return 1;
}

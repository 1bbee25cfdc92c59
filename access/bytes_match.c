/*
** bytes_match.c: the pattern methods of byte views (find, match, gmatch,
** gsub), over the matcher of access/pattern.c.
*/
#include <string.h>
#include "../runtime/core.h"
#include "bytes.h"
#include "pattern.h"

/* ---- Patterns ---- */

/* Compile the pattern at arg into stack memory when it is small, else
** into a userdata left on the stack. */
typedef union patbuf {
  mo_pattern pt;
  unsigned char raw[4096];
} patbuf;

/* The bytes of the pattern at arg, fetched again after an allocation (a
** finalizer may have resized a memory object used as the pattern). */
static const char *refetch(lua_State *L, int arg, size_t size, size_t *lp) {
  const char *p = (const char *)mo_bytes_checkstr(L, arg, lp);
  if (mo_pattern_size(*lp) != size)
    luaL_error(L, "memobj: the pattern changed while it was compiled");
  return p;
}

static mo_pattern *compile(lua_State *L, int arg, patbuf *buf, int anchor_ok) {
  size_t lp, size;
  const char *p = (const char *)mo_bytes_checkstr(L, arg, &lp);
  mo_pattern *pt = &buf->pt;
  if ((size = mo_pattern_size(lp)) == 0)
    luaL_error(L, "memobj: pattern too long");
  if (size > sizeof *buf) {
    pt = (mo_pattern *)mo_scratch(L, size);
    p = refetch(L, arg, size, &lp);
  }
  mo_pattern_compile(pt, p, lp, anchor_ok);
  return pt;
}

/*
** No pin here (core.h): the allocations (a number pattern converted, a
** big pattern compiled) come first, then the view is checked again and
** its bytes read; captures check it again between their strings.
*/
static int find_aux(lua_State *L, int find) {
  mo_view *v = mo_self(L);
  size_t ls, lp, init;
  const unsigned char *s, *p;
  lua_Integer pos = luaL_optinteger(L, 3, 1);
  int plain;
  patbuf buf;
  mo_pattern *pt = NULL;
  p = mo_bytes_checkstr(L, 2, &lp);  /* converting a number allocates */
  plain = find && (lua_toboolean(L, 4) ||
                   !mo_pattern_hasspecials((const char *)p, lp));
  if (!plain) pt = compile(L, 2, &buf, 1);
  p = mo_bytes_checkstr(L, 2, &lp);  /* again: a memory object has no lock */
  ls = v->length;
  s = mo_view_rptr(L, v, 0, ls);     /* still live: its bytes are in place */
  init = mo_bytes_posrelat(pos, ls);
  if (init > ls + 1) {  /* start after the end: no match, as Lua */
    luaL_pushfail(L);
    return 1;
  }
  if (plain) {
    const unsigned char *q = mo_memfind(s + init - 1, ls - init + 1, p, lp);
    if (q != NULL) {
      lua_pushinteger(L, (lua_Integer)(q - s) + 1);
      lua_pushinteger(L, (lua_Integer)(q - s + lp));
      return 2;
    }
  } else {
    mo_match ms;
    const unsigned char *start, *e;
    mo_match_init(&ms, L, pt, s, ls);
    ms.released = &v->released;
    e = mo_match_find(&ms, s + init - 1, NULL, &start);
    mo_fault_check(L);  /* before captures are made of the bytes */
    if (e != NULL) {
      if (!find) return mo_match_pushcaptures(&ms, start, e, 1);
      lua_pushinteger(L, (lua_Integer)(start - s) + 1);
      lua_pushinteger(L, (lua_Integer)(e - s));
      return 2 + mo_match_pushcaptures(&ms, NULL, NULL, 0);
    }
  }
  luaL_pushfail(L);
  return 1;
}

static int bytes_find(lua_State *L) {
  return find_aux(L, 1);
}

static int bytes_match(lua_State *L) {
  return find_aux(L, 0);
}

/* gmatch state: the upvalue after the view. Positions are offsets into
** the view; lastmatch is 1 + the end of the last match, 0 for none. */
typedef struct gmatch_state {
  uint32_t tag;   /* GMATCH_TAG: its metatable is its identity (type.h) */
  size_t pos, lastmatch;
  mo_pattern pt;  /* must be last: variable size */
} gmatch_state;

#define GMATCH_TAG 0x474d4154u
static const char gmatch_mtkey = 0;  /* registry: the states' metatable */

/* The state of one gmatch iterator (upvalue 2), or NULL: the tag and
** the size, as the hot paths test (doc/internals.md, "Identity"): only
** debug.setupvalue can put another value there. */
static gmatch_state *togmatch(lua_State *L, int idx) {
  gmatch_state *g = (gmatch_state *)lua_touserdata(L, idx);
  if (g == NULL || lua_type(L, idx) != LUA_TUSERDATA ||
      lua_rawlen(L, idx) < sizeof(gmatch_state) - sizeof(mo_pattern) ||
      g->tag != GMATCH_TAG)
    return NULL;
  return g;
}

/* Each step of the loop: its upvalues are tested as the hot paths test
** their argument, so that a replaced one (debug.setupvalue) raises. */
static int gmatch_aux(lua_State *L) {
  mo_view *v = mo_bytes_to(L, lua_upvalueindex(1));
  gmatch_state *g = togmatch(L, lua_upvalueindex(2));
  if (v == NULL || g == NULL)
    return luaL_error(L, "memobj: gmatch: the iterator's state was replaced");
  const unsigned char *start, *e, *last, *s;
  size_t ls;
  mo_match ms;
  if (v->released) return mo_bytes_released(L);
  s = v->ptr;
  ls = v->length;
  if (g->pos > ls) return 0;
  mo_match_init(&ms, L, &g->pt, s, ls);
  ms.released = &v->released;  /* checked between the captures' strings */
  last = g->lastmatch ? s + g->lastmatch - 1 : NULL;
  e = mo_match_find(&ms, s + g->pos, last, &start);
  mo_fault_check(L);
  if (e == NULL) {
    g->pos = ls + 1;
    return 0;
  }
  g->pos = (size_t)(e - s);
  g->lastmatch = g->pos + 1;
  return mo_match_pushcaptures(&ms, start, e, 1);
}

/* b:gmatch(pattern [, init]): as string.gmatch in Lua 5.4 ('^' is not an
** anchor there). */
static int bytes_gmatch(lua_State *L) {
  mo_view *v = mo_self(L);
  size_t lp, size, init;
  const char *p;
  gmatch_state *g;
  init = mo_bytes_posrelat(luaL_optinteger(L, 3, 1), v->length);
  if (init > v->length + 1) init = v->length + 2;  /* no match at all, as Lua */
  lua_settop(L, 2);
  p = (const char *)mo_bytes_checkstr(L, 2, &lp);
  size = mo_pattern_size(lp);
  if (size == 0 || size > (size_t)-1 - sizeof(gmatch_state))
    return luaL_error(L, "memobj: pattern too long");
  g = (gmatch_state *)lua_newuserdatauv(
      L, sizeof(gmatch_state) - sizeof(mo_pattern) + size, 0);
  g->tag = GMATCH_TAG;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &gmatch_mtkey) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "memobj.gmatch");
    lua_setfield(L, -2, "__metatable");
    mo_type_register(L, -1, GMATCH_TAG, sizeof(gmatch_state) - sizeof(mo_pattern), 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &gmatch_mtkey);
  }
  lua_setmetatable(L, -2);
  g->pos = init - 1;
  g->lastmatch = 0;
  p = refetch(L, 2, size, &lp);  /* after the allocation: fetch again */
  mo_pattern_compile(&g->pt, p, lp, 0);
  lua_pushvalue(L, 1);
  lua_insert(L, -2);
  lua_pushcclosure(L, gmatch_aux, 2);
  return 1;
}

/* Append the string replacement r[0 .. lr) for the match s..e: "%0" is
** the match, "%1".."%9" captures, "%%" a percent sign. */
static void add_string(mo_match *ms, luaL_Buffer *b, const unsigned char *s,
                       const unsigned char *e, const char *r, size_t lr) {
  lua_State *L = ms->L;
  const char *end = r + lr, *p;
  while ((p = memchr(r, '%', (size_t)(end - r))) != NULL) {
    luaL_addlstring(b, r, (size_t)(p - r));
    p++;
    if (p < end && *p == '%') {
      luaL_addchar(b, '%');
    } else if (p < end && *p >= '0' && *p <= '9') {
      if (*p == '0') {
        luaL_addlstring(b, (const char *)s, (size_t)(e - s));
      } else {
        mo_match_pushcapture(ms, *p - '1', s, e);
        luaL_tolstring(L, -1, NULL);  /* a position capture is a number */
        lua_remove(L, -2);
        luaL_addvalue(b);
      }
    } else {
      luaL_error(L, "invalid use of '%%' in replacement string");
    }
    r = p + 1;
  }
  luaL_addlstring(b, r, (size_t)(end - r));
}

/* Append the replacement of the match s..e; returns 0 when the match is
** kept (a function or table gave false or nil). Lua code runs here: the
** memory is pinned, but a view released meanwhile is not read further. */
static int add_value(mo_match *ms, luaL_Buffer *b, mo_view *v,
                     const unsigned char *s, const unsigned char *e) {
  lua_State *L = ms->L;
  switch (lua_type(L, 3)) {
    case LUA_TFUNCTION: {
      int n;
      lua_pushvalue(L, 3);
      n = mo_match_pushcaptures(ms, s, e, 1);
      lua_call(L, n, 1);
      break;
    }
    case LUA_TTABLE:
      mo_match_pushcapture(ms, 0, s, e);
      lua_gettable(L, 3);
      break;
    default: {
      size_t lr;
      const char *r = lua_tolstring(L, 3, &lr);
      add_string(ms, b, s, e, r, lr);
      return 1;
    }
  }
  if (v->released) mo_bytes_released(L);
  if (!lua_toboolean(L, -1)) {
    lua_pop(L, 1);
    luaL_addlstring(b, (const char *)s, (size_t)(e - s));
    return 0;
  }
  if (!lua_isstring(L, -1))
    return luaL_error(L, "invalid replacement value (a %s)",
                      luaL_typename(L, -1));
  luaL_addvalue(b);
  return 1;
}

/* b:gsub(pattern, repl [, n]): as string.gsub; returns a Lua string and
** the number of matches. Pinned (see its descriptor). */
static int bytes_gsub(lua_State *L) {
  mo_view *v = mo_self(L);
  const unsigned char *src = v->ptr, *end = v->ptr + v->length;
  const unsigned char *last = NULL, *e, *start;
  size_t ls = v->length;
  /* absent, not nil, when not given: the trampoline padded the arguments
  ** with nil below the pin, and Lua's message says "no value" */
  int tr = mo_method_given(L) < 3 ? LUA_TNONE : lua_type(L, 3);
  lua_Integer max, n = 0;
  patbuf buf;
  mo_match ms;
  luaL_Buffer b;
  if (tr == LUA_TNONE)
    return luaL_argerror(L, 3, "string/function/table expected, got no value");
  luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING ||
                      tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                   3, "string/function/table");
  max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
  mo_match_init(&ms, L, compile(L, 2, &buf, 1), src, ls);
  luaL_buffinit(L, &b);
  /* Lua tries each position in turn and copies the bytes where nothing
  ** matches; mo_match_find tries the same positions in the same order
  ** (so errors come at the same point), and the gap is copied at once. */
  while (n < max) {
    e = mo_match_find(&ms, src, last, &start);
    if (e == NULL) break;
    luaL_addlstring(&b, (const char *)src, (size_t)(start - src));
    n++;
    add_value(&ms, &b, v, start, e);
    src = last = e;
    if (ms.pt->anchor) break;
  }
  luaL_addlstring(&b, (const char *)src, (size_t)(end - src));
  mo_fault_check(L);  /* before the string is made */
  luaL_pushresult(&b);
  lua_pushinteger(L, n);
  return 2;
}

/* gmatch's iterator checks faults itself. gsub is pinned: a replacement
** function or table runs Lua code, and the result buffer grows by
** allocating, while src points into the view. */
#define MO_METHOD_KIND mo_bytes_kind
#define MATCH_METHODS(X)                           \
  X("find", bytes_find, 3, MO_M_BYTES)             \
  X("match", bytes_match, 2, MO_M_BYTES)           \
  X("gmatch", bytes_gmatch, 2, 0)                  \
  X("gsub", bytes_gsub, 3, MO_M_PINS | MO_M_BYTES)
MO_METHODS(, mo_bytes_match_methods, MATCH_METHODS);

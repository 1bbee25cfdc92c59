/*
** bytes.c: the byte string view. A Lua string that lives in any memory
** object: indexing, sub (a view), patterns (access/pattern.c), packing,
** comparison, and in-place writes on writable memory. Positions follow
** string.sub, string.byte and string.find exactly.
*/
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <lualib.h>
#include "../runtime/core.h"
#include "openers.h"
#include "array.h"
#include "bytes.h"
#include "pattern.h"

static const char bytes_mtkey = 0;   /* registry: byte view metatable */
static const char pack_key = 0;      /* registry: string.pack */
static const char unpack_key = 0;    /* registry: string.unpack */

static const unsigned char empty_bytes[1] = {0};

/* ---- Checking ---- */

mo_view *mo_bytes_check(lua_State *L, int idx) {
  return mo_checkview(L, idx, MO_TAG_BYTES, "byte view");
}

int mo_bytes_released(lua_State *L) {
  return luaL_error(L, "memobj: view is released");
}

/*
** The bytes of a string argument: a Lua string (or number, converted as
** Lua does), a memory object or any view. NULL if it is none of these.
*/
static const unsigned char *tostr(lua_State *L, int idx, size_t *len) {
  mo_bytesrc b;
  if (lua_type(L, idx) == LUA_TNUMBER)
    return (const unsigned char *)lua_tolstring(L, idx, len);
  if (!mo_checkbytes(L, idx, &b)) return NULL;
  *len = b.length;
  return b.ptr ? b.ptr : empty_bytes;
}

const unsigned char *mo_bytes_checkstr(lua_State *L, int idx, size_t *len) {
  const unsigned char *s = tostr(L, idx, len);
  if (s == NULL) luaL_typeerror(L, idx, "string, view or memory object");
  return s;
}

/* A byte value for a write: an integer 0..255, as string.char wants. */
static unsigned char checkbyte(lua_State *L, int arg) {
  lua_Integer c = luaL_checkinteger(L, arg);
  luaL_argcheck(L, c >= 0 && c <= UCHAR_MAX, arg, "value out of range");
  return (unsigned char)c;
}

/*
** An initial position as string.find takes it: negatives count from the
** end; 0 and positions before the start become 1. May exceed len + 1.
*/
size_t mo_bytes_posrelat(lua_Integer pos, size_t len) {
  if (pos > 0) return (size_t)pos;
  if (pos == 0 || pos < -(lua_Integer)len) return 1;
  return (size_t)((lua_Integer)len + pos) + 1;
}

/* ---- Creating ---- */

static mo_view *newview(lua_State *L, const mo_source *s, size_t off,
                        size_t len, int readonly) {
  mo_view *v = mo_view_new(L, sizeof(mo_view), MO_TAG_BYTES, &bytes_mtkey,
                           s, off, len, readonly, "byte view");
  if (v->ptr == NULL) v->ptr = (unsigned char *)empty_bytes;  /* size 0 */
  v->count = len;
  return v;
}

/* memobj.bytes(src [, offset [, length [, mode]]]) and m:bytes(...):
** offset and length in bytes within the source. */
int mo_bytes_lnew(lua_State *L) {
  mo_source s;
  size_t off, len;
  int ro;
  lua_settop(L, 4);
  mo_checksource(L, 1, &s);
  off = lua_isnil(L, 2) ? 0 : mo_checksize(L, 2);
  luaL_argcheck(L, off <= s.length, 2, "offset beyond the end");
  len = lua_isnil(L, 3) ? s.length - off : mo_checksize(L, 3);
  luaL_argcheck(L, len <= s.length - off, 3, "length beyond the end");
  ro = mo_checkviewmode(L, 4, &s);
  newview(L, &s, s.offset + off, len, ro);
  return 1;
}

/* b:sub(i [, j]): a view of the same memory, clamped like string.sub. */
static int bytes_sub(lua_State *L) {
  mo_view *v = mo_self(L);
  size_t from, to, off, len;
  mo_source s;
  mo_range(luaL_checkinteger(L, 2), luaL_optinteger(L, 3, -1), v->length,
           &from, &to);
  if (from > to) {  /* empty: keep the offset inside the view */
    off = from - 1 < v->length ? from - 1 : v->length;
    len = 0;
  } else {
    off = from - 1;
    len = to - from + 1;
  }
  mo_view_pushmem(L, 1, v);
  s.mem = v->mem;
  s.memidx = lua_gettop(L);
  s.offset = v->offset;
  s.length = v->length;
  s.readonly = v->readonly;
  newview(L, &s, v->offset + off, len, v->readonly);
  return 1;
}

/* ---- Reading ---- */

/* b[i]: the hot path. The bounds check also catches released views,
** whose count is 0. */
static int bytes_index(lua_State *L) {
  mo_view *v;
  const char *k;
  if (lua_type(L, 2) != LUA_TNUMBER) {  /* a method checks its self itself */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  }
  if (MO_UNLIKELY((v = mo_bytes_to(L, 1)) == NULL))
    return luaL_typeerror(L, 1, "byte view");
  if (lua_type(L, 2) == LUA_TNUMBER) {
    int ok;
    lua_Integer i = lua_tointegerx(L, 2, &ok);
    if (MO_LIKELY(ok && (lua_Unsigned)i - 1 < v->count)) {
      lua_pushinteger(L, v->ptr[i - 1]);
      mo_fault_check(L);
      return 1;
    }
    if (v->released) return mo_bytes_released(L);
    lua_pushnil(L);
    return 1;
  }
  if ((k = lua_tostring(L, 2)) != NULL && mo_view_field(L, 1, v, k)) return 1;
  lua_pushnil(L);
  return 1;
}

static int bytes_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)mo_bytes_check(L, 1)->length);
  return 1;
}

/* b:len() through the trampoline (#b is bytes_len) */
static int bytes_lenm(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)mo_self(L)->length);
  return 1;
}

/* b:byte([i [, j]]): as string.byte. */
static int bytes_byte(lua_State *L) {
  mo_view *v = mo_self(L);
  lua_Integer pi = luaL_optinteger(L, 2, 1);
  size_t from, to, n, k;
  const unsigned char *p;
  mo_range(pi, luaL_optinteger(L, 3, pi), v->length, &from, &to);
  if (from > to) return 0;
  if (to - from >= (size_t)INT_MAX)
    return luaL_error(L, "string slice too long");
  n = to - from + 1;
  luaL_checkstack(L, (int)n, "string slice too long");
  p = mo_view_rptr(L, v, from - 1, n);  /* after growing the stack */
  for (k = 0; k < n; k++) lua_pushinteger(L, p[k]);
  return (int)n;
}

/* b:string([i [, j]]): a copy as a Lua string, clamped like string.sub. */
static int bytes_string(lua_State *L) {
  mo_view *v = mo_self(L);
  size_t from, to;
  mo_range(luaL_optinteger(L, 2, 1), luaL_optinteger(L, 3, -1), v->length,
           &from, &to);
  if (from > to) lua_pushliteral(L, "");
  else lua_pushlstring(L, (const char *)v->ptr + from - 1, to - from + 1);
  return 1;
}

static int bytes_tostring(lua_State *L) {
  mo_view *v = mo_bytes_check(L, 1);
  lua_pushlstring(L, (const char *)v->ptr, v->length);
  return 1;
}

/* ---- string.pack and string.unpack in place ---- */

/* Our argument for each argument of string.unpack(fmt, s, pos) in
** b:unpack(fmt, pos), counting self as 1 (luaL_argerror calls it "bad
** self"); string.pack's argument k is our k + 2 in b:pack(i, fmt, ...). */
static const int unpack_args[3] = {2, 1, 3};

/*
** Raise the error of string.pack/string.unpack (at the top) as the error
** of the method the user called: "bad argument #k to 'string.unpack'"
** becomes luaL_argerror of our argument args[k] (which names the method
** and adds the caller's position), and any other message gets the
** position prefix it lost by being raised below a C function.
*/
static int rethrow(lua_State *L, int pack) {
  const char *msg = lua_tostring(L, -1), *open, *name;
  int k;
  if (msg == NULL) return lua_error(L);
  if (sscanf(msg, "bad argument #%d to ", &k) == 1 && k >= 1 &&
      (pack || k <= 3) &&
      (name = strchr(msg, '\'')) != NULL &&
      (name = strchr(name + 1, '\'')) != NULL &&
      (open = strstr(name, " (")) != NULL) {
    size_t len = strlen(open + 2);
    lua_pushlstring(L, open + 2, len > 0 ? len - 1 : 0);  /* without ')' */
    return luaL_argerror(L, pack ? k + 2 : unpack_args[k - 1],
                         lua_tostring(L, -1));
  }
  return luaL_error(L, "%s", msg);
}


/* Is the error at the top one that a longer window could avoid? Other
** errors (a bad format...) would come back on the whole view too. */
static int window_too_short(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  return msg != NULL && (strstr(msg, "data string too short") != NULL ||
                         strstr(msg, "unfinished string") != NULL);
}

/*
** b:unpack(fmt [, pos]): string.unpack over the view without copying
** it: string.unpack runs on a window of the bytes from pos that doubles
** until the format fits. The window starts 16-aligned relative to the
** view, so "!" alignment gives the same answers as on the whole view.
*/
static int bytes_unpack(lua_State *L) {
  mo_view *v = mo_self(L);
  size_t len = v->length, pos, base, avail, win;
  const unsigned char *ptr;
  int n;
  luaL_checkstring(L, 2);
  pos = mo_bytes_posrelat(luaL_optinteger(L, 3, 1), len) - 1;
  luaL_argcheck(L, pos <= len, 3, "initial position out of string");
  lua_settop(L, 2);
  base = pos & ~(size_t)15;
  avail = len - base;
  for (win = 256;; win *= 2) {
    int full = win >= avail;
    mo_regpush(L, &unpack_key, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    /* string.unpack of the last window may have run a finalizer */
    ptr = mo_view_rptr(L, v, base, full ? avail : win);
    lua_pushlstring(L, (const char *)ptr, full ? avail : win);
    mo_fault_check(L);  /* before string.unpack runs on lost pages */
    lua_pushinteger(L, (lua_Integer)(pos - base) + 1);
    if (lua_pcall(L, 3, LUA_MULTRET, 0) == LUA_OK) break;
    if (full || !window_too_short(L)) return rethrow(L, 0);
    lua_settop(L, 2);  /* try a bigger window */
  }
  n = lua_gettop(L) - 2;
  lua_pushinteger(L, lua_tointeger(L, -1) + (lua_Integer)base);
  lua_replace(L, -2);
  return n;
}

/* Check that n bytes fit at 1-based position i (negative: from the end)
** of a writable view; returns the 0-based offset. Raises, having
** written nothing, if not. */
static size_t checkput(lua_State *L, size_t len, lua_Integer i, size_t n) {
  size_t off;
  if (i < 0) i += (lua_Integer)len + 1;
  if (i < 1 || (lua_Unsigned)i > (lua_Unsigned)len + 1)
    luaL_error(L, "memobj: index %I out of range (1..%I)", i,
               (lua_Integer)len + 1);
  off = (size_t)i - 1;
  if (n > len - off)
    luaL_error(L, "memobj: %I bytes at index %I do not fit in a view of %I "
                  "bytes", (lua_Integer)n, i, (lua_Integer)len);
  return off;
}

/* b:pack(i, fmt, ...): string.pack written in place at i; returns the
** index after it. */
static int bytes_pack(lua_State *L) {
  mo_view *v = mo_self(L);
  lua_Integer i = luaL_checkinteger(L, 2);
  int top = lua_gettop(L), k;
  size_t n, off;
  const char *s;
  mo_regpush(L, &pack_key, LUA_TFUNCTION);
  for (k = 3; k <= top; k++) lua_pushvalue(L, k);
  if (lua_pcall(L, top - 2, 1, 0) != LUA_OK) return rethrow(L, 1);
  s = lua_tolstring(L, -1, &n);
  off = checkput(L, v->length, i, n);
  memcpy(mo_view_wptr(L, v, off, n), s, n);  /* live after string.pack? */
  lua_pushinteger(L, (lua_Integer)(off + n) + 1);
  return 1;
}

/* ---- Writing ---- */

/* b[i] = v: one test for the common case (integer index in range,
** byte value, writable view), then the checks that explain a refusal. */
static int bytes_newindex(lua_State *L) {
  mo_view *v = mo_bytes_to(L, 1);
  lua_Integer i, c;
  int ok, okc;
  if (v == NULL) return luaL_typeerror(L, 1, "byte view");
  i = lua_tointegerx(L, 2, &ok);
  c = lua_tointegerx(L, 3, &okc);
  if (MO_LIKELY(ok && okc && (lua_Unsigned)i - 1 < v->count &&
                (lua_Unsigned)c <= UCHAR_MAX && !v->readonly &&
                v->mem->writable && lua_type(L, 2) == LUA_TNUMBER)) {
    mo_prewrite(L, v->mem, v->offset + (size_t)i - 1, 1);
    v->ptr[i - 1] = (unsigned char)c;
    mo_fault_check(L);
    return 0;
  }
  if (v->released) return mo_bytes_released(L);
  if (!ok || lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "memobj: byte view fields are read-only");
  mo_checkwritable(L, v);
  if ((lua_Unsigned)i - 1 >= v->count)
    return luaL_error(L, "memobj: index %I out of range (1..%I)", i,
                      (lua_Integer)v->count);
  checkbyte(L, 3);
  return luaL_error(L, "memobj: byte view: cannot store");  /* not reached */
}

/* b:put(i, s): copy the bytes of s (string, view or memory) in at i;
** returns the index after them. */
static int bytes_put(lua_State *L) {
  mo_view *v = mo_self(L);
  lua_Integer i = luaL_checkinteger(L, 2);
  size_t n, off;
  const unsigned char *s;
  lua_settop(L, 3);
  s = mo_bytes_checkstr(L, 3, &n);  /* converting a number allocates: */
  off = checkput(L, v->length, i, n);
  /* the view still live? (wptr); s may be a view of the same memory */
  memmove(mo_view_wptr(L, v, off, n), s, n);
  lua_pushinteger(L, (lua_Integer)(off + n) + 1);
  return 1;
}

/* b:fill(byte [, i [, j]]): the range clamps like string.sub (as a:fill
** does for arrays); an empty range writes nothing. */
static int bytes_fill(lua_State *L) {
  mo_view *v = mo_self(L);
  unsigned char c = checkbyte(L, 2);
  size_t from, to;
  mo_range(luaL_optinteger(L, 3, 1), luaL_optinteger(L, 4, -1), v->length,
           &from, &to);
  if (from <= to)
    memset(mo_view_wptr(L, v, from - 1, to - from + 1), c, to - from + 1);
  lua_settop(L, 1);
  return 1;
}

/* ---- New strings: rep, upper, lower, reverse, .. ---- */

#define MAXRESULT (((size_t)-1) >> 1)

/* Push the n bytes built in b (copied from the view) as the result. A
** pending fault raises first: making the string may run finalizers, and a
** memobj call in one would take the fault (runtime/core/method.h). */
static int pushresult(lua_State *L, luaL_Buffer *b, size_t n) {
  mo_fault_check(L);
  luaL_pushresultsize(b, n);
  return 1;
}
#define MAXREP ((size_t)INT_MAX)  /* string.rep's MAXSIZE in Lua 5.4 */

/* b:rep(n [, sep]): as string.rep, with its limit: a result over
** INT_MAX bytes is "resulting string too large", checked before
** allocating. */
static int bytes_rep(lua_State *L) {
  mo_view *v = mo_self(L);
  lua_Integer n = luaL_checkinteger(L, 2);
  const unsigned char *src, *sep = empty_bytes;
  size_t l = v->length, lsep = 0, total, k, lsep2;
  luaL_Buffer b;
  char *p;
  lua_settop(L, 3);
  if (!lua_isnil(L, 3)) sep = mo_bytes_checkstr(L, 3, &lsep);
  if (n <= 0 || (l == 0 && lsep == 0)) {
    lua_pushliteral(L, "");
    return 1;
  }
  if (l + lsep < l || l + lsep > MAXREP / (size_t)n)
    return luaL_error(L, "resulting string too large");
  total = (size_t)n * l + (size_t)(n - 1) * lsep;
  p = luaL_buffinitsize(L, &b, total);
  /* the allocation may have run a finalizer: the view again, and the
  ** separator (a memory object has no lock) */
  src = mo_view_rptr(L, v, 0, l);
  if (lsep) {
    sep = mo_bytes_checkstr(L, 3, &lsep2);
    if (lsep2 != lsep) return luaL_error(L, "memobj: rep: the separator changed");
  }
  for (k = 0; k < (size_t)n; k++) {
    memcpy(p, src, l);
    p += l;
    if (k + 1 < (size_t)n && lsep) {
      memcpy(p, sep, lsep);
      p += lsep;
    }
  }
  return pushresult(L, &b, total);
}

/* Copy the view through a byte mapping: 0 upper, 1 lower, 2 reverse. */
static int transform(lua_State *L, int how) {
  mo_view *v = mo_self(L);
  size_t n = v->length, k;
  const unsigned char *s;
  luaL_Buffer b;
  char *p;
  p = luaL_buffinitsize(L, &b, n);
  s = mo_view_rptr(L, v, 0, n);  /* after the allocation */
  for (k = 0; k < n; k++) {
    unsigned char c = s[k];
    if (how == 0) p[k] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    else if (how == 1) p[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    else p[n - 1 - k] = (char)c;
  }
  return pushresult(L, &b, n);
}

static int bytes_upper(lua_State *L) {
  return transform(L, 0);
}

static int bytes_lower(lua_State *L) {
  return transform(L, 1);
}

static int bytes_reverse(lua_State *L) {
  return transform(L, 2);
}

static int bytes_concat(lua_State *L) {
  size_t la, lb;
  const unsigned char *a, *b;
  luaL_Buffer buf;
  char *p;
  size_t la2, lb2;
  lua_settop(L, 2);
  a = tostr(L, 1, &la);
  if (a == NULL)
    return luaL_error(L, "attempt to concatenate a %s value", luaL_typename(L, 1));
  if ((b = tostr(L, 2, &lb)) == NULL)
    return luaL_error(L, "attempt to concatenate a %s value", luaL_typename(L, 2));
  if (la > MAXRESULT - lb) return luaL_error(L, "resulting string too large");
  p = luaL_buffinitsize(L, &buf, la + lb);
  /* after the allocation, again: numbers are strings by now (no
  ** allocation), views must be live, memory objects the same size */
  a = tostr(L, 1, &la2);
  b = tostr(L, 2, &lb2);
  if (la2 != la || lb2 != lb)
    return luaL_error(L, "memobj: an operand of .. changed size");
  memcpy(p, a, la);
  memcpy(p + la, b, lb);
  return pushresult(L, &buf, la + lb);
}

/* ---- Comparison: byte order (Lua's, in the C locale) ---- */

static int compare(const unsigned char *a, size_t la, const unsigned char *b,
                   size_t lb) {
  size_t n = la < lb ? la : lb;
  int c = n ? memcmp(a, b, n) : 0;
  if (c != 0) return c;
  return la < lb ? -1 : la > lb;
}

/* Operands of < and <=: strings, views, memory; not numbers (Lua does
** not compare strings with numbers). */
static const unsigned char *cmpoperand(lua_State *L, int idx, size_t *len) {
  const unsigned char *s = lua_type(L, idx) == LUA_TNUMBER
                               ? NULL : tostr(L, idx, len);
  if (s == NULL)
    luaL_error(L, "attempt to compare %s with %s", luaL_typename(L, 1),
               luaL_typename(L, 2));
  return s;
}

static int bytes_lt(lua_State *L) {
  size_t la, lb;
  const unsigned char *a = cmpoperand(L, 1, &la), *b = cmpoperand(L, 2, &lb);
  lua_pushboolean(L, compare(a, la, b, lb) < 0);
  return 1;
}

static int bytes_le(lua_State *L) {
  size_t la, lb;
  const unsigned char *a = cmpoperand(L, 1, &la), *b = cmpoperand(L, 2, &lb);
  lua_pushboolean(L, compare(a, la, b, lb) <= 0);
  return 1;
}

/* __eq: Lua calls it for two userdata only; two byte views are equal
** when their bytes are. */
static int bytes_eq(lua_State *L) {
  size_t la, lb;
  const unsigned char *a, *b;
  /* by metatable: the other operand is any userdata */
  if (mo_toview(L, 1, MO_TAG_BYTES) == NULL || mo_toview(L, 2, MO_TAG_BYTES) == NULL) {
    lua_pushboolean(L, 0);
    return 1;
  }
  a = mo_bytes_checkstr(L, 1, &la);
  b = mo_bytes_checkstr(L, 2, &lb);
  lua_pushboolean(L, la == lb && compare(a, la, b, lb) == 0);
  return 1;
}

/* b:equals(x): same bytes as the string, view or memory x; false for
** any other value. */
static int bytes_equals(lua_State *L) {
  mo_view *v = mo_self(L);
  size_t lb;
  const unsigned char *b;
  b = lua_type(L, 2) == LUA_TNUMBER ? NULL : tostr(L, 2, &lb);
  lua_pushboolean(L, b != NULL && lb == v->length &&
                         compare(v->ptr, v->length, b, lb) == 0);
  return 1;
}

/* ---- Registration ---- */

const mo_viewkind mo_bytes_kind = {"bytes", MO_TAG_BYTES, "byte view",
                                   &bytes_mtkey, NULL, sizeof(mo_view)};

#define MO_METHOD_KIND mo_bytes_kind
#define BYTES_METHODS(X)                                         \
  X("len", bytes_lenm, 0, 0)                                     \
  X("byte", bytes_byte, 2, MO_M_BYTES)                           \
  X("sub", bytes_sub, 2, 0)                                      \
  X("string", bytes_string, 2, MO_M_BYTES)                       \
  X("unpack", bytes_unpack, 2, MO_M_BYTES)                       \
  X("rep", bytes_rep, 2, MO_M_BYTES)                             \
  X("upper", bytes_upper, 0, MO_M_BYTES)                         \
  X("lower", bytes_lower, 0, MO_M_BYTES)                         \
  X("reverse", bytes_reverse, 0, MO_M_BYTES)                     \
  X("equals", bytes_equals, 1, MO_M_BYTES)                       \
  X("put", bytes_put, 2, MO_M_WRITES | MO_M_BYTES)               \
  X("fill", bytes_fill, 3, MO_M_WRITES | MO_M_BYTES)             \
  X("pack", bytes_pack, MO_NARGS_ANY, MO_M_WRITES | MO_M_BYTES)
MO_METHODS(static, bytes_methods, BYTES_METHODS);

static const luaL_Reg bytes_meta[] = {
  {"__len", bytes_len},           {"__newindex", bytes_newindex},
  {"__concat", bytes_concat},     {NULL, NULL}};

/* metamethods that read the bytes: a pending fault raises after them */
static const mo_method bytes_declared_meta[] = {
  {"__tostring", bytes_tostring, MO_NARGS_ANY, MO_M_BYTES},
  {"__eq", bytes_eq, MO_NARGS_ANY, MO_M_BYTES},
  {"__lt", bytes_lt, MO_NARGS_ANY, MO_M_BYTES},
  {"__le", bytes_le, MO_NARGS_ANY, MO_M_BYTES},
  {NULL, NULL, 0, 0}};

/* m:bytes(...) on memory objects and a:bytes(...) on typed arrays */
static const mo_method mem_methods[] = {
  {"bytes", mo_bytes_lnew, 4, 0}, {NULL, NULL, 0, 0}};
#undef MO_METHOD_KIND
#define MO_METHOD_KIND mo_array_kind
#define ARRAY_BYTES_METHODS(X) X("bytes", mo_bytes_lnew, 3, 0)
MO_METHODS(static, array_methods, ARRAY_BYTES_METHODS);

void mo_bytes_open(lua_State *L) {
  mo_pattern_initclasses();
  mo_view_newmeta(L, &bytes_mtkey, NULL, bytes_meta, bytes_index);
  mo_view_declare(L, &mo_bytes_kind, bytes_methods);
  mo_view_declare(L, &mo_bytes_kind, mo_bytes_match_methods);
  mo_view_declare(L, &mo_bytes_kind, mo_bytes_io_methods);
  mo_meta_declare(L, &mo_bytes_kind, bytes_declared_meta);
  /* pack and unpack run string.pack/string.unpack: keep them here so
  ** that changes to the global table do not reach us */
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
  lua_getfield(L, -1, "pack");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &pack_key);
  lua_getfield(L, -1, "unpack");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &unpack_key);
  lua_pop(L, 1);
  mo_funcs_declare(L, "memobj", mem_methods);  /* memobj.bytes(src, ...) */
  mo_mem_declare(L, mem_methods);
  mo_array_declare(L, array_methods);  /* a:bytes([offset [, length [, mode]]]) */
}

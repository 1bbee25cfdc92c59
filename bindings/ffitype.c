/*
** ffitype.c: memobj.ffi's type names, conversions between Lua values and
** C values, and signature parsing (done once, when a function or callback
** is created, so that a call never looks at a string).
*/
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>
#include "ffi.h"

/* ---- Type names ---- */

/* Code for a signed/unsigned integer type of n bytes. */
#define SINT(n) ((n) == 1 ? MO_FT_I8 : (n) == 2 ? MO_FT_I16 : \
                 (n) == 4 ? MO_FT_I32 : MO_FT_I64)
#define UINT(n) ((n) == 1 ? MO_FT_U8 : (n) == 2 ? MO_FT_U16 : \
                 (n) == 4 ? MO_FT_U32 : MO_FT_U64)

static const struct { const char *name; int code; } names[] = {
  {"void", MO_FT_VOID}, {"bool", MO_FT_BOOL},
  {"int8", MO_FT_I8}, {"uint8", MO_FT_U8}, {"int16", MO_FT_I16},
  {"uint16", MO_FT_U16}, {"int32", MO_FT_I32}, {"uint32", MO_FT_U32},
  {"int64", MO_FT_I64}, {"uint64", MO_FT_U64},
  {"int8_t", MO_FT_I8}, {"uint8_t", MO_FT_U8}, {"int16_t", MO_FT_I16},
  {"uint16_t", MO_FT_U16}, {"int32_t", MO_FT_I32}, {"uint32_t", MO_FT_U32},
  {"int64_t", MO_FT_I64}, {"uint64_t", MO_FT_U64},
  {"char", CHAR_MIN < 0 ? MO_FT_I8 : MO_FT_U8},
  {"schar", MO_FT_I8}, {"signed char", MO_FT_I8},
  {"uchar", MO_FT_U8}, {"unsigned char", MO_FT_U8},
  {"short", SINT(sizeof(short))}, {"ushort", UINT(sizeof(short))},
  {"unsigned short", UINT(sizeof(short))},
  {"int", SINT(sizeof(int))}, {"uint", UINT(sizeof(int))},
  {"unsigned", UINT(sizeof(int))}, {"unsigned int", UINT(sizeof(int))},
  {"long", SINT(sizeof(long))}, {"ulong", UINT(sizeof(long))},
  {"unsigned long", UINT(sizeof(long))},
  {"longlong", SINT(sizeof(long long))}, {"long long", SINT(sizeof(long long))},
  {"ulonglong", UINT(sizeof(long long))},
  {"unsigned longlong", UINT(sizeof(long long))},
  {"unsigned long long", UINT(sizeof(long long))},
  {"size_t", UINT(sizeof(size_t))}, {"ssize_t", SINT(sizeof(ssize_t))},
  {"intptr_t", SINT(sizeof(intptr_t))}, {"uintptr_t", UINT(sizeof(uintptr_t))},
  {"float", MO_FT_FLOAT}, {"double", MO_FT_DOUBLE},
  {"pointer", MO_FT_POINTER}, {"string", MO_FT_STRING},
  {"buffer", MO_FT_BUFFER}, {"wbuffer", MO_FT_WBUFFER},
};

/* Canonical names, indexed by code, for messages. */
static const char *const canon[MO_FT_COUNT] = {
  "void", "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32",
  "int64", "uint64", "float", "double", "pointer", "string", "buffer",
  "wbuffer"};

int mo_ffitype_find(const char *name) {
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(names[i].name, name) == 0) return names[i].code;
  return -1;
}

const char *mo_ffitype_name(int code) {
  return code >= 0 && code < MO_FT_COUNT ? canon[code] : "?";
}

static ffi_type *ffitype(int code) {
  switch (code) {
    case MO_FT_VOID: return &ffi_type_void;
    case MO_FT_BOOL: case MO_FT_U8: return &ffi_type_uint8;
    case MO_FT_I8: return &ffi_type_sint8;
    case MO_FT_I16: return &ffi_type_sint16;
    case MO_FT_U16: return &ffi_type_uint16;
    case MO_FT_I32: return &ffi_type_sint32;
    case MO_FT_U32: return &ffi_type_uint32;
    case MO_FT_I64: return &ffi_type_sint64;
    case MO_FT_U64: return &ffi_type_uint64;
    case MO_FT_FLOAT: return &ffi_type_float;
    case MO_FT_DOUBLE: return &ffi_type_double;
    default: return &ffi_type_pointer;
  }
}

/* ---- Signatures ---- */

static int checktype(lua_State *L, int arg, int idx, int pos) {
  const char *name;
  int code;
  if (lua_type(L, idx) != LUA_TSTRING) {
    const char *msg = pos ? lua_pushfstring(L, "type name expected at "
                                            "position %d, got %s", pos,
                                            luaL_typename(L, idx))
                          : lua_pushfstring(L, "type name expected, got %s",
                                            luaL_typename(L, idx));
    luaL_argerror(L, arg, msg);
  }
  name = lua_tostring(L, idx);
  code = mo_ffitype_find(name);
  if (code < 0) {
    const char *msg = pos ? lua_pushfstring(L, "unknown type '%s' at "
                                            "position %d", name, pos)
                          : lua_pushfstring(L, "unknown type '%s'", name);
    luaL_argerror(L, arg, msg);
  }
  return code;
}

/* C passes variadic arguments with the default promotions: small
** integers as int, float as double. libffi wants the promoted types. */
static int promote(int code) {
  switch (code) {
    case MO_FT_BOOL: case MO_FT_I8: case MO_FT_U8:
    case MO_FT_I16: case MO_FT_U16:
      return MO_FT_I32;
    case MO_FT_FLOAT: return MO_FT_DOUBLE;
    default: return code;
  }
}

static void checkuse(lua_State *L, int arg, int code, int pos, int use) {
  if (code == MO_FT_VOID)
    luaL_argerror(L, arg, lua_pushfstring(L, "'void' is not an argument type "
                                          "(position %d)", pos));
  if (use == MO_SIG_CALLBACK &&
      (code == MO_FT_BUFFER || code == MO_FT_WBUFFER))
    luaL_argerror(L, arg, lua_pushfstring(L, "'%s' is not a callback argument "
                                          "type (position %d); use 'pointer'",
                                          canon[code], pos));
}

/* Can calls with signature s skip libffi (see MO_FFI_DIRECT_INT)? */
static int candirect(const mo_sig *s) {
  int i, nint = 0, nfp = 0;
  if (s->variadic || MO_FFI_DIRECT_INT == 0) return 0;
  for (i = 0; i < s->nargs; i++) {
    if (s->args[i] == MO_FT_FLOAT || s->args[i] == MO_FT_DOUBLE) nfp++;
    else nint++;
  }
  return nint <= MO_FFI_DIRECT_INT && nfp <= MO_FFI_DIRECT_FP;
}

void mo_sig_parse(lua_State *L, int retarg, int argsarg, mo_sig *s, int use) {
  lua_Integer i, n;
  int code;
  ffi_status st;
  memset(s, 0, sizeof *s);
  s->ret = (uint8_t)checktype(L, retarg, retarg, 0);
  if (s->ret == MO_FT_BUFFER || s->ret == MO_FT_WBUFFER ||
      (use == MO_SIG_CALLBACK && s->ret == MO_FT_STRING))
    luaL_argerror(L, retarg, lua_pushfstring(L, "'%s' is not a return type%s",
                  canon[s->ret], use == MO_SIG_CALLBACK ? " for a callback" : ""));
  if (!lua_isnoneornil(L, argsarg)) luaL_checktype(L, argsarg, LUA_TTABLE);
  n = lua_isnoneornil(L, argsarg) ? 0 : luaL_len(L, argsarg);
  for (i = 1; i <= n; i++) {
    lua_geti(L, argsarg, i);
    if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "...") == 0) {
      luaL_argcheck(L, use == MO_SIG_CALL, argsarg,
                    "a callback cannot be variadic");
      luaL_argcheck(L, !s->variadic, argsarg, "'...' appears twice");
      luaL_argcheck(L, s->nargs > 0, argsarg,
                    "'...' needs a fixed argument before it");
      s->variadic = 1;
      s->nfixed = s->nargs;
      lua_pop(L, 1);
      continue;
    }
    code = checktype(L, argsarg, -1, (int)i);
    lua_pop(L, 1);
    checkuse(L, argsarg, code, (int)i, use);
    if (s->nargs >= MO_FFI_MAXARGS)
      luaL_argerror(L, argsarg, lua_pushfstring(L, "more than %d arguments",
                                                MO_FFI_MAXARGS));
    if (code == MO_FT_BUFFER || code == MO_FT_WBUFFER) {
      if (s->nbuf >= MO_FFI_MAXBUF)
        luaL_argerror(L, argsarg, lua_pushfstring(L, "more than %d buffer "
                                                  "arguments", MO_FFI_MAXBUF));
      s->nbuf++;
    }
    if (s->variadic) code = promote(code);
    s->args[s->nargs] = (uint8_t)code;
    s->atypes[s->nargs] = ffitype(code);
    s->nargs++;
  }
  if (!s->variadic) s->nfixed = s->nargs;
  s->direct = candirect(s);
  if (s->variadic)
    st = ffi_prep_cif_var(&s->cif, FFI_DEFAULT_ABI, s->nfixed, s->nargs,
                          ffitype(s->ret), s->atypes);
  else
    st = ffi_prep_cif(&s->cif, FFI_DEFAULT_ABI, s->nargs, ffitype(s->ret),
                      s->atypes);
  if (st != FFI_OK)
    luaL_error(L, "memobj: ffi: libffi cannot prepare this signature "
                  "(status %d)", (int)st);
}

/* ---- Lua to C ---- */

/* Each check returns NULL, or a message (pushed) saying what is wrong. */
static const char *expected(lua_State *L, int idx, const char *what) {
  return lua_pushfstring(L, "%s expected, got %s", what, luaL_typename(L, idx));
}

/* An integer within [lo, hi] (as string.pack: exact floats are accepted,
** others raise). */
static const char *toint(lua_State *L, int idx, lua_Integer lo,
                         lua_Integer hi, lua_Integer *v) {
  int ok;
  *v = lua_tointegerx(L, idx, &ok);
  if (!ok)
    return lua_type(L, idx) == LUA_TNUMBER
               ? "number has no integer representation"
               : expected(L, idx, "integer");
  if (*v < lo || *v > hi) return "integer out of range";
  return NULL;
}

const char *mo_ffi_tocval(lua_State *L, int idx, int code, mo_cval *out) {
  lua_Integer n = 0;
  const char *msg = NULL;
  switch (code) {
    case MO_FT_BOOL:
      if (!lua_isboolean(L, idx)) return expected(L, idx, "boolean");
      out->u8 = (uint8_t)lua_toboolean(L, idx);
      return NULL;
    case MO_FT_I8: msg = toint(L, idx, INT8_MIN, INT8_MAX, &n); out->i8 = (int8_t)n; break;
    case MO_FT_U8: msg = toint(L, idx, 0, UINT8_MAX, &n); out->u8 = (uint8_t)n; break;
    case MO_FT_I16: msg = toint(L, idx, INT16_MIN, INT16_MAX, &n); out->i16 = (int16_t)n; break;
    case MO_FT_U16: msg = toint(L, idx, 0, UINT16_MAX, &n); out->u16 = (uint16_t)n; break;
    case MO_FT_I32: msg = toint(L, idx, INT32_MIN, INT32_MAX, &n); out->i32 = (int32_t)n; break;
    case MO_FT_U32: msg = toint(L, idx, 0, UINT32_MAX, &n); out->u32 = (uint32_t)n; break;
    case MO_FT_I64: case MO_FT_U64:  /* uint64: the same bits, as "J" */
      msg = toint(L, idx, LUA_MININTEGER, LUA_MAXINTEGER, &n);
      out->i64 = (int64_t)n;
      break;
    case MO_FT_FLOAT: case MO_FT_DOUBLE: {
      int ok;
      lua_Number d = lua_tonumberx(L, idx, &ok);
      if (!ok) return expected(L, idx, "number");
      if (code == MO_FT_FLOAT) out->f = (float)d;
      else out->d = (double)d;
      break;
    }
    case MO_FT_POINTER:
      if (!mo_ffi_topointer(L, idx, &out->p))
        return expected(L, idx, "pointer (integer or nil)");
      break;
    case MO_FT_STRING:
      if (lua_isnil(L, idx)) out->s = NULL;
      else if (lua_type(L, idx) == LUA_TSTRING) out->s = lua_tostring(L, idx);
      else return expected(L, idx, "string");
      break;
    default:
      return "no conversion for this type";
  }
  return msg;
}

void mo_ffi_toret(lua_State *L, int idx, int code, void *ret) {
  mo_cval v;
  const char *msg;
  if (code == MO_FT_VOID) return;
  if (code == MO_FT_BOOL) v.u8 = (uint8_t)lua_toboolean(L, idx);
  else if ((msg = mo_ffi_tocval(L, idx, code, &v)) != NULL)
    luaL_error(L, "memobj: callback: bad result for '%s' (%s)",
               mo_ffitype_name(code), msg);
  mo_ffi_storeret(code, &v, ret);
}

int mo_ffi_topointer(lua_State *L, int idx, void **out) {
  int ok;
  lua_Integer n;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: *out = NULL; return 1;
    case LUA_TLIGHTUSERDATA: *out = lua_touserdata(L, idx); return 1;
    case LUA_TNUMBER:
      n = lua_tointegerx(L, idx, &ok);
      if (!ok) return 0;
      *out = (void *)(uintptr_t)n;
      return 1;
    case LUA_TFUNCTION:
      *out = mo_ffi_fnaddr(L, idx, NULL);
      return *out != NULL;
    case LUA_TUSERDATA:
      *out = mo_ffi_cbaddr(L, idx);
      return *out != NULL;
    default: return 0;
  }
}

/* ---- C to Lua ---- */

int mo_ffi_pushcval(lua_State *L, int code, const void *p, int ret) {
  /* libffi widens integral return values narrower than ffi_arg */
  const mo_cval *v = (const mo_cval *)p;
  ffi_arg a = ret ? v->a : 0;
  switch (code) {
    case MO_FT_VOID: return 0;
    case MO_FT_BOOL: lua_pushboolean(L, ret ? (uint8_t)a : v->u8); break;
    case MO_FT_I8: lua_pushinteger(L, ret ? (int8_t)a : v->i8); break;
    case MO_FT_U8: lua_pushinteger(L, ret ? (uint8_t)a : v->u8); break;
    case MO_FT_I16: lua_pushinteger(L, ret ? (int16_t)a : v->i16); break;
    case MO_FT_U16: lua_pushinteger(L, ret ? (uint16_t)a : v->u16); break;
    case MO_FT_I32: lua_pushinteger(L, ret ? (int32_t)a : v->i32); break;
    case MO_FT_U32: lua_pushinteger(L, ret ? (uint32_t)a : v->u32); break;
    case MO_FT_I64: case MO_FT_U64: lua_pushinteger(L, (lua_Integer)v->i64); break;
    case MO_FT_FLOAT: lua_pushnumber(L, v->f); break;
    case MO_FT_DOUBLE: lua_pushnumber(L, v->d); break;
    case MO_FT_STRING:
      if (v->s) lua_pushstring(L, v->s);
      else lua_pushnil(L);
      break;
    default:  /* pointer, buffer, wbuffer: an address */
      if (v->p) lua_pushinteger(L, (lua_Integer)(uintptr_t)v->p);
      else lua_pushnil(L);
  }
  return 1;
}

void mo_ffi_storeret(int code, const mo_cval *v, void *ret) {
  mo_cval *r = (mo_cval *)ret;
  switch (code) {
    case MO_FT_VOID: break;
    case MO_FT_BOOL: case MO_FT_U8: r->a = v->u8; break;
    case MO_FT_I8: r->sa = v->i8; break;
    case MO_FT_I16: r->sa = v->i16; break;
    case MO_FT_U16: r->a = v->u16; break;
    case MO_FT_I32: r->sa = v->i32; break;
    case MO_FT_U32: r->a = v->u32; break;
    case MO_FT_FLOAT: r->f = v->f; break;
    default: r->u64 = v->u64; break;  /* 64-bit integers, double, pointer */
  }
}

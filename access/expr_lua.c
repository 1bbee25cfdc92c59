/*
** expr_lua.c: the Lua face of array expressions: memobj.expr(src [,
** opts]) compiles to a callable f(inputs [, out]); memobj.eval(src,
** inputs [, out]) compiles through a bounded cache keyed by src. A call
** reads the inputs table, compiles the tree for the kinds it found (the
** last program is kept), pins every array, makes the result and the
** registers, and only then runs: no Lua code runs while the loops (and
** threads) read and write the arrays.
*/
#include <math.h>
#include <string.h>
#include "array.h"
#include "expr.h"
#include "openers.h"

#define XF_TAG 0x45585052u
#define CACHE_MAX 128
#define MAX_THREADS 64

typedef struct xfunc {
  uint32_t tag;
  int nthreads;
  int haveprog;
  uint8_t kinds[MO_EXPR_MAXNAMES];  /* what the cached program was made for */
  mo_xast ast;
  mo_xprog prog;
} xfunc;

static const char xf_mtkey = 0, cache_key = 0, heap_key = 0;

/* Identity by metatable (runtime/core/type.h), as every memobj object. */
static xfunc *toxf(lua_State *L, int idx) {
  return (xfunc *)mo_type_test(L, idx, XF_TAG);
}

/* Raise "memobj.expr: msg"; messages from the runtime keep their own. */
static int xerror(lua_State *L, const char *msg) {
  if (strncmp(msg, "memobj:", 7) == 0) return luaL_error(L, "%s", msg);
  return luaL_error(L, "memobj.expr: %s", msg);
}

/* Compile src (at idx) into a new callable; pushes it. */
static xfunc *newxf(lua_State *L, int idx, int nthreads) {
  size_t len;
  const char *src = lua_tolstring(L, idx, &len);
  char err[MO_EXPR_ERRLEN];
  xfunc *f = (xfunc *)lua_newuserdatauv(L, sizeof(xfunc), 1);
  memset(f, 0, sizeof *f);
  f->tag = XF_TAG;
  f->nthreads = nthreads;
  lua_pushvalue(L, idx);
  lua_setiuservalue(L, -2, 1);
  mo_regpush(L, &xf_mtkey, LUA_TTABLE);
  lua_setmetatable(L, -2);
  if (mo_expr_parse(src, len, &f->ast, err) != 0) xerror(L, err);
  return f;
}

/* ---- Reading the inputs ---- */

typedef struct callctx {
  int base;                            /* stack slot before the values */
  size_t n;                            /* elements */
  int first;                           /* name of the first array, or -1 */
  uint8_t kinds[MO_EXPR_MAXNAMES];
  mo_xval scal[MO_EXPR_MAXNAMES];
  mo_array *arr[MO_EXPR_MAXNAMES];
} callctx;

static void push_name(lua_State *L, const xfunc *f, int fidx, int k) {
  size_t len;
  const char *src;
  /* the source text the names point into; Lua code can replace it */
  if (lua_getiuservalue(L, fidx, 1) != LUA_TSTRING)
    luaL_error(L, "memobj.expr: the function's source was replaced");
  src = lua_tolstring(L, -1, &len);
  if ((size_t)f->ast.namepos[k] - 1 + f->ast.namelen[k] > len)
    luaL_error(L, "memobj.expr: the function's source was replaced");
  lua_pushlstring(L, src + f->ast.namepos[k] - 1, f->ast.namelen[k]);
  lua_remove(L, -2);
}

/* Push the value of every name (inputs[name]) and classify it. */
static void read_inputs(lua_State *L, const xfunc *f, int fidx, int inidx,
                        callctx *c) {
  int k;
  c->first = -1;
  c->n = 0;
  c->base = lua_gettop(L);
  for (k = 0; k < f->ast.nnames; k++) {
    int idx;
    push_name(L, f, fidx, k);
    lua_gettable(L, inidx);
    idx = lua_gettop(L);
    c->arr[k] = NULL;
    c->scal[k].i = 0;
    if (lua_type(L, idx) == LUA_TNUMBER) {
      if (lua_isinteger(L, idx)) {
        c->kinds[k] = MO_XT_INT | MO_XK_SCALAR;
        c->scal[k].i = lua_tointeger(L, idx);
      } else {
        c->kinds[k] = MO_XT_FLT | MO_XK_SCALAR;
        c->scal[k].d = lua_tonumber(L, idx);
      }
    } else if (lua_type(L, idx) == LUA_TBOOLEAN) {
      c->kinds[k] = MO_XT_BOOL | MO_XK_SCALAR;
      c->scal[k].i = lua_toboolean(L, idx);
    } else if (mo_toview(L, idx, MO_TAG_ARRAY) != NULL) {
      mo_array *a = mo_checkarray(L, idx);
      c->arr[k] = a;
      c->kinds[k] = MO_ISBOOL(a->etype) ? MO_XT_BOOL
                  : MO_ISFLOAT(a->etype) ? MO_XT_FLT : MO_XT_INT;
      if (c->first < 0) {
        c->first = k;
        c->n = a->v.count;
      } else if (a->v.count != c->n) {
        push_name(L, f, fidx, k);
        push_name(L, f, fidx, c->first);
        luaL_error(L, "memobj.expr: '%s' has %I elements, '%s' has %I (arrays "
                   "of different lengths) at position %d", lua_tostring(L, -2),
                   (lua_Integer)a->v.count, lua_tostring(L, -1),
                   (lua_Integer)c->n, (int)f->ast.namepos[k]);
      }
    } else {
      push_name(L, f, fidx, k);
      if (lua_isnil(L, idx))
        luaL_error(L, "memobj.expr: unknown name '%s' at position %d (not in "
                   "the inputs)", lua_tostring(L, -1), (int)f->ast.namepos[k]);
      luaL_error(L, "memobj.expr: input '%s' is a %s, not a typed array or a "
                 "number", lua_tostring(L, -1), luaL_typename(L, idx));
    }
  }
  if (c->first < 0) luaL_error(L, "memobj.expr: no typed array among the inputs");
}

/* ---- Output ---- */

/* Element type of a new result array. */
static int result_etype(int t) {
  return t == MO_XT_FLT ? MO_F64 : t == MO_XT_INT ? MO_I64 : MO_BOOL;
}

/* Does out overlap array a other than element for element? Two objects
** another mapping can open by name may show the same bytes at two
** addresses (a file mapped twice): counted as overlapping, as
** mo_array_mayshare does. */
static int overlaps(const mo_array *out, const mo_array *a) {
  const unsigned char *o0 = out->v.ptr, *a0 = a->v.ptr;
  if (out->v.length == 0 || a->v.length == 0) return 0;
  if (out->v.mem != a->v.mem && out->v.mem->kind->label && a->v.mem->kind->label)
    return 1;
  if (!(o0 < a0 + a->v.length && a0 < o0 + out->v.length)) return 0;
  return !(MO_AELEM(out, 0) == MO_AELEM(a, 0) && out->stride == a->stride &&
           out->itemsize == a->itemsize);
}

/* Do the bytes of out and a share anything? */
static int touches(const mo_array *out, const mo_array *a) {
  const unsigned char *o0 = out->v.ptr, *a0 = a->v.ptr;
  return out->v.length > 0 && a->v.length > 0 && o0 < a0 + a->v.length &&
         a0 < o0 + out->v.length;
}

/* Does out hold values of register type t as the register does
** (contiguous, native, same width)? */
static int holds_register(const mo_array *out, int t) {
  if (!mo_array_contiguous(out)) return 0;
  if (t == MO_XT_FLT) return out->etype == MO_F64;
  if (t == MO_XT_INT) return out->etype == MO_I64 || out->etype == MO_U64;
  return out->etype == MO_BOOL || out->etype == MO_U8 || out->etype == MO_I8;
}

static void check_out(lua_State *L, mo_array *out, size_t n, int t) {
  mo_checkwritable(L, &out->v);
  if (out->v.count != n)
    luaL_error(L, "memobj.expr: out has %I elements, the inputs %I",
               (lua_Integer)out->v.count, (lua_Integer)n);
  if (t != MO_XT_BOOL && MO_ISBOOL(out->etype))
    luaL_error(L, "memobj.expr: the result is a number, out is bool (it "
               "stores comparisons only)");
  if (t == MO_XT_FLT && !MO_ISFLOAT(out->etype))
    luaL_error(L, "memobj.expr: the result is float, out is %s (an integer "
               "array)", mo_etype_name(out->etype));
}

/* A new heap array of n elements of type et, its bytes not zeroed (the
** run writes every one before the array is returned): memobj.heap(size,
** {zero = false}), upvalue 1 of the calling closure. Pushes the array. */
static mo_array *new_result(lua_State *L, size_t n, int et) {
  size_t size = mo_base_size[et];
  mo_source s;
  if (n > SIZE_MAX / size || n * size > (size_t)LUA_MAXINTEGER)
    luaL_error(L, "memobj.expr: not enough memory");
  mo_regpush(L, &heap_key, LUA_TFUNCTION);  /* memobj.heap */
  lua_pushinteger(L, (lua_Integer)(n * size));
  lua_createtable(L, 0, 1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "zero");
  lua_call(L, 2, 2);
  if (lua_isnil(L, -2))
    luaL_error(L, "memobj.expr: %s", lua_tostring(L, -1));
  lua_pop(L, 1);
  s.mem = mo_tomem(L, -1);
  s.memidx = lua_gettop(L);
  s.offset = 0;
  s.length = n * size;
  s.readonly = 0;
  return mo_array_new_strided(L, &s, 0, n, (ptrdiff_t)size, et, 0);
}

/* ---- Reductions ---- */

static double lanes_sum(const double *d) {
  return ((d[0] + d[4]) + (d[1] + d[5])) + ((d[2] + d[6]) + (d[3] + d[7]));
}

static int push_reduction(lua_State *L, const mo_xprog *p, const mo_xred *r,
                          size_t n) {
  int t = p->rtype[p->result], l;
  double x;
  switch (p->reduce) {
    case MO_XF_SUM:
      if (t == MO_XT_FLT) lua_pushnumber(L, lanes_sum(r->d));
      else lua_pushinteger(L, (lua_Integer)r->u);
      break;
    case MO_XF_PROD:
      if (t == MO_XT_FLT) {
        for (x = 1.0, l = 0; l < 8; l++) x *= r->d[l];
        lua_pushnumber(L, x);
      } else {
        lua_pushinteger(L, (lua_Integer)r->u);
      }
      break;
    case MO_XF_MEAN:
      if (n == 0) lua_pushnil(L);
      else lua_pushnumber(L, lanes_sum(r->d) / (double)n);
      break;
    case MO_XF_RMIN: case MO_XF_RMAX:
      if (n == 0) {
        lua_pushnil(L);
      } else if (t == MO_XT_INT) {
        lua_pushinteger(L, r->i);
      } else if (r->nan) {
        lua_pushnumber(L, NAN);
      } else {
        for (x = r->d[0], l = 1; l < 8; l++)
          x = p->reduce == MO_XF_RMIN ? (r->d[l] < x ? r->d[l] : x)
                                      : (r->d[l] > x ? r->d[l] : x);
        lua_pushnumber(L, x);
      }
      break;
    case MO_XF_COUNT: lua_pushinteger(L, (lua_Integer)r->u); break;
    case MO_XF_ANY: lua_pushboolean(L, r->u > 0); break;
    default: lua_pushboolean(L, r->u == n); break;
  }
  return 1;
}

/* ---- The call ---- */

static void check_live(lua_State *L, const callctx *c, int nn, const mo_array *out) {
  int k;
  for (k = 0; k < nn; k++)
    if (c->arr[k] && c->arr[k]->v.released) luaL_error(L, "memobj: view is released");
  if (out && out->v.released) luaL_error(L, "memobj: view is released");
}

static void *newbuf(lua_State *L, size_t n, size_t size) {
  if (size != 0 && n > (SIZE_MAX - 64) / size)
    luaL_error(L, "memobj.expr: not enough memory");
  return mo_scratch(L, n * size + 64);  /* never passes as an object */
}

/* f (at fidx) over inputs (table at inidx), out at outidx (or nil). */
static int run(lua_State *L, int fidx, int inidx, int outidx) {
  xfunc *f = toxf(L, fidx);
  callctx c;
  mo_xprog prog;
  mo_xarr in[MO_EXPR_MAXNAMES];
  mo_xjob job;
  mo_xred red;
  mo_array *out = NULL;
  unsigned char *tmp = NULL;
  char err[MO_EXPR_ERRLEN];
  int nn = f->ast.nnames, k, t, resultidx = 0;
  size_t ws;
  luaL_checkstack(L, 2 * nn + 16, "memobj.expr: too many inputs");
  read_inputs(L, f, fidx, inidx, &c);
  if (f->haveprog && memcmp(f->kinds, c.kinds, (size_t)nn) == 0) {
    prog = f->prog;
  } else {
    if (mo_expr_compile(&f->ast, c.kinds, &prog, err) != 0) xerror(L, err);
    f->prog = prog;
    memcpy(f->kinds, c.kinds, (size_t)nn);
    f->haveprog = 1;
  }
  t = prog.rtype[prog.result];
  if (!lua_isnoneornil(L, outidx)) {
    if (prog.reduce >= 0)
      luaL_error(L, "memobj.expr: a reduction returns a number (out given)");
    out = mo_checkarray(L, outidx);
    check_out(L, out, c.n, t);
  }
  /* pins: one slot each, never moved (runtime/pin.c) */
  for (k = 0; k < nn; k++)
    if (c.arr[k]) mo_pinarg(L, c.base + 1 + k);
  if (out) {
    mo_pinarg(L, outidx);
  } else if (prog.reduce < 0) {
    out = new_result(L, c.n, result_etype(t));
    resultidx = lua_gettop(L);
  }
  if (out && !resultidx)
    for (k = 0; k < nn && !tmp; k++)
      if (c.arr[k] && overlaps(out, c.arr[k]))
        tmp = (unsigned char *)newbuf(L, c.n, 8);
  ws = mo_expr_worksize(&prog);
  if (ws > (SIZE_MAX - 64) / (size_t)f->nthreads)
    luaL_error(L, "memobj.expr: not enough memory");
  job.work = (unsigned char *)newbuf(L, (size_t)f->nthreads, ws);
  job.work += (64 - ((uintptr_t)job.work & 63)) & 63;
  if (tmp) tmp += (64 - ((uintptr_t)tmp & 63)) & 63;
  /* the allocations above may have run finalizers */
  check_live(L, &c, nn, out);
  for (k = 0; k < nn; k++) {
    if (!c.arr[k]) continue;
    in[k].base = MO_AELEM(c.arr[k], 0);
    in[k].stride = c.arr[k]->stride;
    in[k].et = c.arr[k]->etype;
  }
  job.p = &prog;
  job.n = c.n;
  job.in = in;
  job.scal = c.scal;
  job.nthreads = f->nthreads;
  job.out.base = NULL;
  job.direct = 0;
  if (out) {
    if (tmp) {
      job.out.base = tmp;
      job.out.stride = t == MO_XT_BOOL ? 1 : 8;
      job.out.et = t == MO_XT_FLT ? MO_F64 : t == MO_XT_INT ? MO_I64 : MO_BOOL;
    } else {
      job.out.base = MO_AELEM(out, 0);
      job.out.stride = out->stride;
      job.out.et = out->etype;
      job.direct = prog.direct && holds_register(out, t);
      for (k = 0; k < nn && job.direct; k++)
        if (c.arr[k] && touches(out, c.arr[k])) job.direct = 0;
    }
    if (c.n > 0) mo_array_wspan(L, out, 0, c.n);  /* live, writable, logged */
  }
  /* a fault of the caller's thread (reading an input, or storing tmp
  ** below) is raised by the declaration (MO_M_BYTES) on return; the
  ** workers hand theirs over as err */
  if (mo_expr_run(&job, &red, err) != 0) xerror(L, err);
  if (prog.reduce >= 0) return push_reduction(L, &prog, &red, c.n);
  if (tmp) {
    mo_xarr o;
    o.base = MO_AELEM(out, 0);
    o.stride = out->stride;
    o.et = out->etype;
    mo_expr_store(&o, 0, c.n, t, tmp);
  }
  lua_pushvalue(L, resultidx ? resultidx : outidx);
  return 1;
}

/* ---- Lua functions ---- */

static int xf_call(lua_State *L) {
  if (toxf(L, 1) == NULL) return luaL_typeerror(L, 1, "memobj.expr function");
  lua_settop(L, 3);
  luaL_checktype(L, 2, LUA_TTABLE);
  return run(L, 1, 2, 3);
}

static int xf_tostring(lua_State *L) {
  if (toxf(L, 1) == NULL) return luaL_typeerror(L, 1, "memobj.expr function");
  lua_getiuservalue(L, 1, 1);
  lua_pushfstring(L, "memobj.expr(%s)", lua_tostring(L, -1));
  return 1;
}

/* memobj.expr(src [, {threads = n}]) */
static int l_expr(lua_State *L) {
  int nthreads = 1;
  luaL_checktype(L, 1, LUA_TSTRING);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      int ok;
      lua_Integer v;
      if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "threads") != 0)
        return luaL_error(L, "memobj.expr: unknown option '%s'",
                          luaL_tolstring(L, -2, NULL));
      v = lua_tointegerx(L, -1, &ok);
      if (!ok || v < 1 || v > MAX_THREADS)
        return luaL_error(L, "memobj.expr: threads must be an integer from 1 to %d",
                          MAX_THREADS);
      nthreads = (int)v;
      lua_pop(L, 1);
    }
  }
  newxf(L, 1, nthreads);
  return 1;
}

/* memobj.eval(src, inputs [, out]): compiled once per src (a cache of at
** most CACHE_MAX entries, emptied when full). */
static int l_eval(lua_State *L) {
  luaL_checktype(L, 1, LUA_TSTRING);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 3);
  mo_regpush(L, &cache_key, LUA_TTABLE);  /* 4: the cache */
  lua_pushvalue(L, 1);
  if (lua_rawget(L, 4) != LUA_TUSERDATA) {
    lua_Integer count;
    lua_pop(L, 1);
    lua_rawgeti(L, 4, 1);
    count = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (count >= CACHE_MAX) {
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_key);
      lua_replace(L, 4);
      count = 0;
    }
    newxf(L, 1, 1);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, 4);
    lua_pushinteger(L, count + 1);
    lua_rawseti(L, 4, 1);
  }
  return run(L, 5, 2, 3);
}

/* Declared (runtime/core/method.h): the extra-argument refusal and, for
** the calls that run an expression, the fault check on return. */
static const mo_method expr_funcs[] = {
  {"expr", l_expr, 2, 0}, {"eval", l_eval, 3, MO_M_BYTES}, {NULL, NULL, 0, 0}};
static const mo_method xf_meta[] = {
  {"__call", xf_call, 3, MO_M_BYTES}, {NULL, NULL, 0, 0}};

void mo_expr_open(lua_State *L) {
  lua_getfield(L, -1, "heap");  /* result arrays: see new_result */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &heap_key);
  lua_newtable(L);
  mo_funcs_declare(L, "expr meta", xf_meta);
  lua_pushcfunction(L, xf_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "memobj.expr");
  lua_setfield(L, -2, "__metatable");
  mo_type_register(L, -1, XF_TAG, sizeof(xfunc), 0);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &xf_mtkey);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_key);
  mo_funcs_declare(L, "memobj", expr_funcs);
}

/*
** array.c: the typed array view: constructors, element access (the hot
** path a[i] and a[i] = v), and the per-element methods. Bulk operations
** live in array_bulk.c.
*/
#include <limits.h>
#include <string.h>
#include "array.h"
#include "openers.h"

/* Two metatables with one methods table: contiguous arrays keep the a[i]
** path that never reads the stride; strided arrays get their own. */
static const char array_mtkey = 0;
static const char strided_mtkey = 0;

/* ---- Checking ---- */

mo_array *mo_checkarray(lua_State *L, int idx) {
  return (mo_array *)mo_checkview(L, idx, MO_TAG_ARRAY, "typed array");
}

/*
** The hot-path test of the metamethods a[i] and a[i] = v: a full userdata
** of exactly our size with our tag, no metatable lookup. The VM calls a
** metamethod with the object that has our metatable; calling it with
** another value takes the debug library, which could as well move our
** metatable onto that value, and memobj makes no userdata whose first
** word a program writes (doc/internals.md, "Identity"). Methods, which
** any code can call with any value, check by metatable (mo_checkarray).
*/
static inline mo_array *toarray_fast(lua_State *L, int idx) {
  mo_array *a = (mo_array *)lua_touserdata(L, idx);
  if (a && lua_rawlen(L, idx) == sizeof(mo_array) && a->v.tag == MO_TAG_ARRAY)
    return a;
  return NULL;
}

static int checketype(lua_State *L, int arg) {
  const char *name = luaL_checkstring(L, arg);
  int et = mo_etype_parse(name);
  if (et < 0)
    return luaL_argerror(L, arg,
                         lua_pushfstring(L, "unknown element type '%s'", name));
  return et;
}

static int index_error(lua_State *L, mo_array *a, lua_Integer i) {
  if (a->v.released) return luaL_error(L, "memobj: view is released");
  return luaL_error(L, "memobj: index %I out of range (1..%I)", i,
                    (lua_Integer)a->v.count);
}

size_t mo_array_checkindex(lua_State *L, mo_array *a, int arg) {
  lua_Integer i = luaL_checkinteger(L, arg);
  if ((lua_Unsigned)i - 1 >= a->v.count) index_error(L, a, i);
  return (size_t)(i - 1);
}

/* ---- The C API's view of an array (memobj_buffer) ---- */

/* Element formats as string.pack and Python's struct write them. */
static const char *const formats[2][MO_NBASE] = {
  {"b", "B", "<h", "<H", "<i", "<I", "<q", "<Q", "<f", "<d", "?"},
  {"b", "B", ">h", ">H", ">i", ">I", ">q", ">Q", ">f", ">d", "?"}};

static void array_describe(const mo_view *v, mo_bufinfo *out) {
  const mo_array *a = (const mo_array *)v;
  int big = (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) != MO_SWAPPED(a->etype);
  out->format = formats[big][MO_BASE(a->etype)];
  out->itemsize = a->itemsize;
  out->count = v->count;
  out->stride = a->stride;
  out->first = a->first;
}

static const mo_bufdesc array_bufdesc = {array_describe};

/* ---- Creating ---- */

/* Raise unless `bytes` is a whole number of items of `size` bytes. */
static void checkwhole(lua_State *L, const char *what, size_t bytes, size_t size) {
  if (bytes % size != 0)
    luaL_error(L, "memobj: %s: %I bytes is not a multiple of the item size %d",
               what, (lua_Integer)bytes, (int)size);
}

static mo_array *push_array(lua_State *L, const mo_source *s, int et,
                            size_t off, size_t count, int readonly) {
  size_t size = mo_base_size[MO_BASE(et)];
  mo_array *a = (mo_array *)mo_view_new(L, sizeof(mo_array), MO_TAG_ARRAY,
                                        &array_mtkey, s, off, count * size,
                                        readonly, "array view");
  a->v.desc = &array_bufdesc;
  a->etype = (uint8_t)et;
  a->itemsize = (uint8_t)size;
  a->stride = (ptrdiff_t)size;
  a->first = 0;
  a->v.count = count;
  return a;
}

mo_array *mo_array_new_strided(lua_State *L, const mo_source *s, size_t off,
                               size_t count, ptrdiff_t stride, int et,
                               int readonly) {
  size_t size = mo_base_size[MO_BASE(et)], step, span, lo;
  mo_array *a;
  if (count <= 1) stride = (ptrdiff_t)size;  /* one element is contiguous */
  if (stride == 0 || stride == PTRDIFF_MIN)
    luaL_error(L, "memobj: array: bad stride %I", (lua_Integer)stride);
  step = stride < 0 ? (size_t)-stride : (size_t)stride;
  if (step < size)
    luaL_error(L, "memobj: array: stride %I is smaller than the item size %d",
               (lua_Integer)stride, (int)size);
  if (count > 0 && (count - 1) > (SIZE_MAX - size) / step)
    luaL_error(L, "memobj: array: %I elements of stride %I overflow",
               (lua_Integer)count, (lua_Integer)stride);
  span = count == 0 ? 0 : (count - 1) * step + size;
  /* the lowest byte: element 1, or element count for a negative stride */
  lo = stride > 0 || count == 0 ? off : off - (count - 1) * step;
  if (stride < 0 && count > 0 && off < (count - 1) * step) lo = SIZE_MAX;
  if (lo < s->offset || lo > s->offset + s->length ||
      span > s->offset + s->length - lo)
    luaL_error(L, "memobj: array: elements beyond the end of the source");
  if (stride == (ptrdiff_t)size) return push_array(L, s, et, lo, count, readonly);
  a = (mo_array *)mo_view_new(L, sizeof(mo_array), MO_TAG_ARRAY, &strided_mtkey,
                              s, lo, span, readonly, "array view");
  a->v.strided = 1;
  a->v.desc = &array_bufdesc;
  a->etype = (uint8_t)et;
  a->itemsize = (uint8_t)size;
  a->stride = stride;
  a->first = off - lo;
  a->v.count = count;
  return a;
}

void mo_array_source(lua_State *L, int idx, mo_array *a, mo_source *s) {
  mo_view_pushmem(L, idx, &a->v);
  s->mem = a->v.mem;
  s->memidx = lua_gettop(L);
  s->offset = a->v.offset;
  s->length = a->v.length;
  s->readonly = a->v.readonly;
}

/* m:array(type [, offset [, count [, mode]]]): offset in bytes from the
** start of the source, count in elements (default: as many as fit). */
static int l_mem_array(lua_State *L) {
  mo_source s;
  int et = checketype(L, 2);
  size_t size = mo_base_size[MO_BASE(et)], off, avail, count;
  int readonly;
  lua_settop(L, 5);  /* mo_checksource pushes the memory object above */
  mo_checksource(L, 1, &s);
  off = lua_isnoneornil(L, 3) ? 0 : mo_checksize(L, 3);
  luaL_argcheck(L, off <= s.length, 3, "offset beyond the end");
  avail = (s.length - off) / size;
  if (lua_isnoneornil(L, 4)) {
    checkwhole(L, "array", s.length - off, size);
    count = avail;
  } else {
    count = mo_checksize(L, 4);
  }
  luaL_argcheck(L, count <= avail, 4, "range beyond the end");
  readonly = mo_checkviewmode(L, 5, &s);
  push_array(L, &s, et, s.offset + off, count, readonly);
  return 1;
}

/* Fill a new array from the sequence of the table at idx. Values are all
** converted before the array is returned, so a bad one raises cleanly. */
static void copy_table_in(lua_State *L, mo_array *a, int idx) {
  size_t i;
  for (i = 0; i < a->v.count; i++) {
    mo_value v;
    const char *why;
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    if ((why = mo_value_get(L, a->etype, -1, &v)) != NULL)
      luaL_error(L, "memobj: array: item %I of the table: %s",
                 (lua_Integer)i + 1, mo_value_why(L, a->etype, -1, why));
    mo_elem_store(a->etype, a->v.ptr + i * a->itemsize, v);
    lua_pop(L, 1);
  }
}

/* memobj.array(type, count | table | source) */
static int l_array(lua_State *L) {
  int et = checketype(L, 1);
  size_t size = mo_base_size[MO_BASE(et)];
  mo_source s;
  lua_settop(L, 3);  /* mo_checksource and mo_mem_zeroed push above */
  if (lua_type(L, 2) == LUA_TNUMBER || lua_type(L, 2) == LUA_TTABLE) {
    int istable = lua_istable(L, 2);
    mo_noextra(L, 2);
    size_t count = istable ? lua_rawlen(L, 2) : mo_checksize(L, 2);
    mo_array *a;
    luaL_argcheck(L, count <= (size_t)LUA_MAXINTEGER / size, 2, "too many elements");
    s.mem = mo_mem_zeroed(L, count * size);
    s.memidx = lua_gettop(L);
    s.offset = 0;
    s.length = count * size;
    a = push_array(L, &s, et, 0, count, 0);
    if (istable) copy_table_in(L, a, 2);
    return 1;
  }
  mo_checksource(L, 2, &s);
  checkwhole(L, "array", s.length, size);
  push_array(L, &s, et, s.offset, s.length / size,
             mo_checkviewmode(L, 3, &s));
  return 1;
}

/* ---- Element access: the hot path ---- */

/* A method, a.type, a.itemsize, a.stride or a view field. Methods are
** looked up before self is checked: a method checks its self itself. */
static int index_field(lua_State *L) {
  mo_array *a;
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if ((a = toarray_fast(L, 1)) == NULL) return luaL_typeerror(L, 1, "typed array");
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (strcmp(k, "type") == 0) lua_pushstring(L, mo_etype_name(a->etype));
    else if (strcmp(k, "itemsize") == 0) lua_pushinteger(L, a->itemsize);
    else if (strcmp(k, "stride") == 0) lua_pushinteger(L, (lua_Integer)a->stride);
    else if (!mo_view_field(L, 1, &a->v, k)) lua_pushnil(L);
  }
  return 1;
}

/* Contiguous arrays: this path is measured (bench/array.lua); it must not
** read the stride. */
static int array_index(lua_State *L) {
  mo_array *a;
  if (lua_type(L, 2) != LUA_TNUMBER) return index_field(L);
  if (MO_LIKELY((a = toarray_fast(L, 1)) != NULL)) {
    int isint;
    lua_Integer i = lua_tointegerx(L, 2, &isint);
    if (MO_LIKELY(isint && (lua_Unsigned)i - 1 < a->v.count)) {
      mo_value v = mo_elem_load(a->etype, a->v.ptr + (size_t)(i - 1) * a->itemsize);
      mo_fault_check(L);
      mo_value_push(L, a->etype, v);
      return 1;
    }
    if (a->v.released) return luaL_error(L, "memobj: view is released");
    return 0;  /* nil outside 1..#a, as a table */
  }
  return index_field(L);
}

/* Strided arrays: the same with the element address from the stride. */
static int strided_index(lua_State *L) {
  mo_array *a;
  if (lua_type(L, 2) != LUA_TNUMBER) return index_field(L);
  if (MO_LIKELY((a = toarray_fast(L, 1)) != NULL)) {
    int isint;
    lua_Integer i = lua_tointegerx(L, 2, &isint);
    if (MO_LIKELY(isint && (lua_Unsigned)i - 1 < a->v.count)) {
      mo_value v = mo_elem_load(a->etype, MO_AELEM(a, i - 1));
      mo_fault_check(L);
      mo_value_push(L, a->etype, v);
      return 1;
    }
    if (a->v.released) return luaL_error(L, "memobj: view is released");
    return 0;
  }
  return index_field(L);
}

/* A value a[i] = value cannot store: name the assignment, not the
** metamethod (an argument error would say "bad argument #3 to
** 'newindex'"). */
static int assign_error(lua_State *L, mo_array *a, const char *why) {
  const char *val = lua_type(L, 3) == LUA_TNUMBER
      ? luaL_tolstring(L, 3, NULL)
      : lua_pushfstring(L, "a %s value", luaL_typename(L, 3));
  return luaL_error(L, "memobj: %s array element %I: cannot store %s (%s)",
                    mo_etype_name(a->etype), lua_tointeger(L, 2), val, why);
}

/* a[i] = value: store, with assign_error's message. */
static inline void assign(lua_State *L, mo_array *a, unsigned char *p) {
  mo_value v;
  const char *why = mo_value_get(L, a->etype, 3, &v);
  if (MO_UNLIKELY(why != NULL))
    assign_error(L, a, mo_value_why(L, a->etype, 3, why));
  mo_prewrite(L, a->v.mem, a->v.offset + (size_t)(p - a->v.ptr), a->itemsize);
  mo_elem_store(a->etype, p, v);
  mo_fault_check(L);
}

static int newindex_error(lua_State *L, mo_array *a, lua_Integer i, int isint) {
  if (a->v.released) return luaL_error(L, "memobj: view is released");
  if (lua_type(L, 2) != LUA_TNUMBER || !isint)
    return luaL_error(L, "memobj: typed array index must be an integer");
  mo_checkwritable(L, &a->v);
  return index_error(L, a, i);
}

static int array_newindex(lua_State *L) {
  mo_array *a = toarray_fast(L, 1);
  int isint = 0;
  lua_Integer i;
  if (a == NULL) return luaL_typeerror(L, 1, "typed array");
  i = lua_tointegerx(L, 2, &isint);
  if (MO_LIKELY(isint && (lua_Unsigned)i - 1 < a->v.count && !a->v.readonly)) {
    assign(L, a, a->v.ptr + (size_t)(i - 1) * a->itemsize);
    return 0;
  }
  return newindex_error(L, a, i, isint);
}

static int strided_newindex(lua_State *L) {
  mo_array *a = toarray_fast(L, 1);
  int isint = 0;
  lua_Integer i;
  if (a == NULL) return luaL_typeerror(L, 1, "typed array");
  i = lua_tointegerx(L, 2, &isint);
  if (MO_LIKELY(isint && (lua_Unsigned)i - 1 < a->v.count && !a->v.readonly)) {
    assign(L, a, MO_AELEM(a, i - 1));
    return 0;
  }
  return newindex_error(L, a, i, isint);
}

/* ---- Per-element methods ---- */

/* The methods below run through the trampoline (runtime/core/method.h): self
** is a live typed array. */
#define SELF(L) ((mo_array *)mo_self(L))

static int array_get(lua_State *L) {
  mo_array *a = SELF(L);
  lua_Integer i = luaL_checkinteger(L, 2);
  if ((lua_Unsigned)i - 1 >= a->v.count) return 0;
  mo_value_push(L, a->etype, mo_elem_load(a->etype, MO_AELEM(a, i - 1)));
  return 1;
}

static int array_set(lua_State *L) {
  mo_array *a = SELF(L);
  size_t i = mo_array_checkindex(L, a, 2), off, len;
  mo_value v;
  luaL_checkany(L, 3);
  v = mo_value_check(L, a->etype, 3);
  mo_array_span(a, i, 1, &off, &len);
  mo_elem_store(a->etype, mo_view_wptr(L, &a->v, off - a->v.offset, len), v);
  return 0;
}

static int array_len(lua_State *L) {
  mo_array *a = mo_checkarray(L, 1);
  lua_pushinteger(L, (lua_Integer)a->v.count);
  return 1;
}

/* Push n elements from 0-based index `from`: the common types get a loop
** with the type known, the others the generic load. */
static void push_elements(lua_State *L, const mo_array *a, size_t from, size_t n) {
  const unsigned char *p = a->v.ptr + from * a->itemsize;
  size_t k;
  if (!mo_array_contiguous(a)) {
    for (k = 0; k < n; k++)
      mo_value_push(L, a->etype, mo_elem_load(a->etype, MO_AELEM(a, from + k)));
    return;
  }
  switch (a->etype) {
    case MO_F64: for (k = 0; k < n; k++) lua_pushnumber(L, MO_LOADN(double, p + 8 * k)); break;
    case MO_F32: for (k = 0; k < n; k++) lua_pushnumber(L, MO_LOADN(float, p + 4 * k)); break;
    case MO_I32: for (k = 0; k < n; k++) lua_pushinteger(L, MO_LOADN(int32_t, p + 4 * k)); break;
    case MO_I64: for (k = 0; k < n; k++) lua_pushinteger(L, MO_LOADN(int64_t, p + 8 * k)); break;
    default:
      for (k = 0; k < n; k++)
        mo_value_push(L, a->etype, mo_elem_load(a->etype, p + k * a->itemsize));
  }
}

/* a:unpack([i [, j]]): elements i..j as values, nil outside 1..#a, as
** table.unpack does. */
/* A method: a.unpack can be called with any value, so identity is by
** metatable here (the tag alone is for metamethods, see toarray_fast). */
static int array_unpack(lua_State *L) {
  mo_array *a = SELF(L);
  lua_Integer i, j, k;
  lua_Unsigned n;
  i = luaL_optinteger(L, 2, 1);
  j = luaL_opt(L, luaL_checkinteger, 3, (lua_Integer)a->v.count);
  if (i > j) return 0;
  n = (lua_Unsigned)j - (lua_Unsigned)i;
  if (n >= (unsigned)INT_MAX || !lua_checkstack(L, (int)(++n)))
    return luaL_error(L, "too many results to unpack");
  if (i >= 1 && (lua_Unsigned)j <= a->v.count) {  /* all inside */
    push_elements(L, a, (size_t)i - 1, (size_t)n);
  } else {
    for (k = i;; k++) {
      if ((lua_Unsigned)k - 1 < a->v.count) push_elements(L, a, (size_t)k - 1, 1);
      else lua_pushnil(L);
      if (k == j) break;  /* j may be LUA_MAXINTEGER */
    }
  }
  return (int)n;
}

/* The iterator of pairs(a): a C closure over a, so each step tests the
** upvalue as the hot path does (only debug.setupvalue can replace it; see
** doc/internals.md, "Identity") and that the loop's state is that a. */
static int array_next(lua_State *L) {
  mo_array *a = toarray_fast(L, lua_upvalueindex(1));
  lua_Integer i = luaL_checkinteger(L, 2);
  if (MO_UNLIKELY(a == NULL || !lua_rawequal(L, 1, lua_upvalueindex(1)))) {
    if (a == NULL) return luaL_error(L, "memobj: pairs: the iterator's array was replaced");
    return luaL_argerror(L, 1, "not the array this iterator was made for");
  }
  if (MO_UNLIKELY(a->v.released)) return luaL_error(L, "memobj: view is released");
  if (i < 0 || (lua_Unsigned)i >= a->v.count) return 0;
  lua_pushinteger(L, i + 1);
  mo_value_push(L, a->etype, mo_elem_load(a->etype, MO_AELEM(a, i)));
  mo_fault_check(L);
  return 2;
}

static int array_pairs(lua_State *L) {
  mo_checkarray(L, 1);
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, array_next, 1);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  return 3;
}

/* ---- Views of an array ---- */

/* Push a view of n elements of a (at idx 1) from 0-based index k, every
** step-th one. */
static void push_subarray(lua_State *L, mo_array *a, size_t k, size_t n,
                          lua_Integer step) {
  mo_source s;
  size_t off = n == 0 ? a->v.offset : mo_array_elemoff(a, k);
  mo_array_source(L, 1, a, &s);
  mo_array_new_strided(L, &s, off, n, n <= 1 ? (ptrdiff_t)a->itemsize
                                             : (ptrdiff_t)step * a->stride,
                       a->etype, a->v.readonly);
  lua_remove(L, s.memidx);
}

/*
** a:slice(i [, j [, step]]): elements i, i+step, ... up to j, clamped
** like string.sub. A negative step walks from i down to j (default 1).
** With n elements, |step| < n whenever two or more are taken, so step *
** stride cannot overflow.
*/
static int array_slice(lua_State *L) {
  mo_array *a = SELF(L);
  lua_Integer i = luaL_checkinteger(L, 2), step = luaL_optinteger(L, 4, 1), j;
  lua_Integer n = (lua_Integer)a->v.count;
  size_t from, to, count = 0;
  luaL_argcheck(L, step != 0, 4, "step is zero");
  if (step > 0) {
    j = luaL_optinteger(L, 3, -1);
    mo_range(i, j, a->v.count, &from, &to);
    if (from <= to) count = (to - from) / (lua_Unsigned)step + 1;
  } else {
    j = luaL_optinteger(L, 3, 1);
    /* negative positions count from the end; then clamp i to n, j to 1 */
    if (i < 0) i = i < -n ? 0 : n + i + 1;
    if (i > n) i = n;
    if (j < 0) j = j < -n ? 0 : n + j + 1;
    if (j < 1) j = 1;
    from = (size_t)i;
    to = (size_t)j;
    if (i >= 1 && i >= j)
      count = (from - to) / ((lua_Unsigned)-(step + 1) + 1) + 1;
  }
  push_subarray(L, a, count ? from - 1 : 0, count, step);
  return 1;
}

/* for first, v in a:chunks(n): views of n elements (the last may be
** shorter); first is the index of v[1] in a. */
static int chunks_next(lua_State *L) {
  mo_array *a = mo_checkarray(L, 1);
  lua_Integer prev = luaL_checkinteger(L, 2);
  size_t n = (size_t)lua_tointeger(L, lua_upvalueindex(1)), first;
  first = prev == 0 ? 0 : (size_t)prev - 1 + n;  /* 0-based */
  if (prev < 0 || first >= a->v.count) return 0;
  if (n > a->v.count - first) n = a->v.count - first;
  lua_settop(L, 1);
  lua_pushinteger(L, (lua_Integer)first + 1);
  push_subarray(L, a, first, n, 1);
  return 2;
}

static int array_chunks(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 1, 2, "chunk size must be at least 1");
  lua_pushinteger(L, n);
  lua_pushcclosure(L, chunks_next, 1);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  return 3;
}

/* a:cast(type): the same bytes seen as another element type. */
static int array_cast(lua_State *L) {
  mo_array *a = SELF(L);
  int et = checketype(L, 2);
  size_t size = mo_base_size[MO_BASE(et)];
  mo_source s;
  if (!mo_array_contiguous(a))
    luaL_error(L, "memobj: cast: a strided array is not a contiguous byte range");
  checkwhole(L, "cast", a->v.length, size);
  mo_array_source(L, 1, a, &s);
  push_array(L, &s, et, a->v.offset, a->v.length / size, a->v.readonly);
  return 1;
}

static int array_tostring(lua_State *L) {
  mo_array *a = toarray_fast(L, 1);
  if (a == NULL) return luaL_typeerror(L, 1, "typed array");
  if (a->v.released)
    lua_pushfstring(L, "memobj.array(%s, released)", mo_etype_name(a->etype));
  else if (!mo_array_contiguous(a))
    lua_pushfstring(L, "memobj.array(%s, %I items, stride %I%s): %p",
                    mo_etype_name(a->etype), (lua_Integer)a->v.count,
                    (lua_Integer)a->stride, a->v.readonly ? ", read-only" : "",
                    (void *)MO_AELEM(a, 0));
  else
    lua_pushfstring(L, "memobj.array(%s, %I items%s): %p", mo_etype_name(a->etype),
                    (lua_Integer)a->v.count, a->v.readonly ? ", read-only" : "",
                    (void *)a->v.ptr);
  return 1;
}

/* ---- Registration ---- */

/* Contiguous and strided arrays have the same methods (and tag): one kind
** whose methods go into both metatables. */
const mo_viewkind mo_array_kind = {"array", MO_TAG_ARRAY, "typed array",
                                   &array_mtkey, NULL,
                                   sizeof(mo_array)};
static const mo_viewkind strided_kind = {"array", MO_TAG_ARRAY, "typed array",
                                         &strided_mtkey, NULL,
                                         sizeof(mo_array)};

void mo_array_declare(lua_State *L, const mo_method *list) {
  mo_view_declare(L, &mo_array_kind, list);
  mo_view_declare_more(L, &strided_kind, list);
}

extern const mo_method mo_array_bulk_methods[];
extern const mo_method mo_array_kernel_methods[];
extern const mo_method mo_array_arith_methods[];

#define MO_METHOD_KIND mo_array_kind
#define ARRAY_METHODS(X)                               \
  X("get", array_get, 1, MO_M_BYTES)                   \
  X("set", array_set, 2, MO_M_WRITES | MO_M_BYTES)     \
  X("unpack", array_unpack, 2, MO_M_BYTES)             \
  X("slice", array_slice, 3, 0)                        \
  X("cast", array_cast, 1, 0)                          \
  X("chunks", array_chunks, 1, 0)
MO_METHODS(static, array_methods, ARRAY_METHODS);

static const luaL_Reg array_meta[] = {
  {"__newindex", array_newindex}, {"__len", array_len},
  {"__pairs", array_pairs},       {"__tostring", array_tostring},
  {NULL, NULL}};

static const luaL_Reg strided_meta[] = {
  {"__newindex", strided_newindex}, {"__len", array_len},
  {"__pairs", array_pairs},         {"__tostring", array_tostring},
  {NULL, NULL}};

/* m:array(type [, offset [, count [, mode]]]), memobj.array(type, ...) */
static const mo_method mem_methods[] = {
  {"array", l_mem_array, 5, 0}, {NULL, NULL, 0, 0}};
static const mo_method module_funcs[] = {
  {"array", l_array, 3, 0}, {NULL, NULL, 0, 0}};

void mo_array_open(lua_State *L) {
  mo_view_newmeta(L, &array_mtkey, NULL, array_meta, array_index);
  mo_view_newmeta(L, &strided_mtkey, NULL, strided_meta, strided_index);
  mo_array_declare(L, array_methods);
  mo_array_declare(L, mo_array_bulk_methods);
  mo_array_declare(L, mo_array_kernel_methods);
  mo_array_declare(L, mo_array_arith_methods);
  mo_mem_declare(L, mem_methods);
  mo_funcs_declare(L, "memobj", module_funcs);
}

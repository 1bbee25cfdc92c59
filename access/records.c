/*
** records.c: the records view: fixed-size records with named fields over
** any memory. Constructors, r[i] as a table, r[i] = t (every field
** checked before any byte is written), get/set of one field, and the
** fields and layout of a view, r:field(name) as a strided typed array,
** and the description C modules get (memobj.h). Layouts live in
** records_layout.c.
**
** No function here holds a pointer into the memory across an allocation
** (which may run a finalizer that releases the view): reads copy the
** record out first, writes check every value first and then allocate
** nothing. So the call-scope pins of core.h are not needed.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "openers.h"
#include "records.h"

static const char records_mtkey = 0;

/* ---- Checking ---- */

mo_records *mo_checkrecords(lua_State *L, int idx) {
  return (mo_records *)mo_checkview(L, idx, MO_TAG_RECORDS, "records view");
}

/* A records view (live or released) at idx, or NULL: our tag on a
** userdata at least as big as the view. */
static mo_records *torecords(lua_State *L, int idx) {
  mo_records *r = (mo_records *)lua_touserdata(L, idx);
  if (r && lua_rawlen(L, idx) >= sizeof(mo_records) && r->v.tag == MO_TAG_RECORDS)
    return r;
  return NULL;
}

static const mo_recfield *checkfield(lua_State *L, mo_records *r, int arg) {
  size_t n;
  const char *name = luaL_checklstring(L, arg, &n);
  long k = mo_lay_find(&r->lay, name, n);
  if (k < 0)
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown field '%s'", name));
  return mo_lay_fields(&r->lay) + k;
}

static int index_error(lua_State *L, mo_records *r, lua_Integer i) {
  if (r->v.released) return luaL_error(L, "memobj: view is released");
  return luaL_error(L, "memobj: index %I out of range (1..%I)", i,
                    (lua_Integer)r->v.count);
}

/* A 1-based record index at arg that must exist; returns it 0-based. */
static size_t checkindex(lua_State *L, mo_records *r, int arg) {
  lua_Integer i = luaL_checkinteger(L, arg);
  if ((lua_Unsigned)i - 1 >= r->v.count) index_error(L, r, i);
  return (size_t)(i - 1);
}

/* ---- Values of fields ---- */

/* Push field f of the record bytes at rec. */
static void push_field(lua_State *L, const mo_recfield *f,
                       const unsigned char *rec) {
  if (f->etype == MO_REC_BYTES)
    lua_pushlstring(L, (const char *)rec + f->offset, f->size);
  else
    mo_value_push(L, f->etype, mo_elem_load(f->etype, rec + f->offset));
}

/*
** Check that the value at idx fits field f and convert it into *v: NULL,
** or why not. The rules and messages are those of typed arrays (and
** luaL_checkinteger); a bytes field takes a string of at most its size.
*/
static const char *field_convert(lua_State *L, const mo_recfield *f, int idx,
                                 mo_value *v) {
  const char *why;
  if (f->etype == MO_REC_BYTES) {
    size_t n;
    if (lua_type(L, idx) != LUA_TSTRING)
      return lua_pushfstring(L, "string expected, got %s", luaL_typename(L, idx));
    lua_tolstring(L, idx, &n);
    if (n > f->size)
      return lua_pushfstring(L, "string of %I bytes does not fit in %I",
                             (lua_Integer)n, (lua_Integer)f->size);
    return NULL;
  }
  why = mo_value_get(L, f->etype, idx, v);
  return why ? mo_value_why(L, f->etype, idx, why) : NULL;
}

/* Store the value at idx (converted to v by field_convert) in field f of
** the record bytes at rec. */
static void field_store(lua_State *L, const mo_recfield *f, unsigned char *rec,
                        int idx, mo_value v) {
  if (f->etype == MO_REC_BYTES) {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    memcpy(rec + f->offset, s, n);
    memset(rec + f->offset + n, 0, f->size - n);
  } else {
    mo_elem_store(f->etype, rec + f->offset, v);
  }
}

/* ---- Whole records ---- */

/*
** Push record i (0-based) as a new table. The record is copied out of the
** memory first: building the table allocates, and an allocation may run a
** finalizer that releases the view or closes its memory.
*/
static void push_record(lua_State *L, mo_records *r, size_t i) {
  const mo_layout *l = &r->lay;
  const mo_recfield *f = mo_lay_fields(l);
  unsigned char small[256], *copy = small;
  size_t k;
  if (l->recsize > sizeof small)
    copy = (unsigned char *)mo_scratch(L, l->recsize);
  mo_view_copyout(L, &r->v, i * l->recsize, l->recsize, copy);
  lua_createtable(L, 0, (int)(l->nfields < 1000 ? l->nfields : 1000));
  for (k = 0; k < l->nfields; k++) {
    lua_pushlstring(L, mo_lay_name(l, k), f[k].namelen);
    push_field(L, f + k, copy);
    lua_rawset(L, -3);
  }
  if (copy != small) lua_remove(L, -2);
}

/* The field named by the key at idx of a record table, or raise. */
static const mo_recfield *key_field(lua_State *L, mo_records *r, int idx) {
  size_t n;
  const char *name;
  long k;
  if (lua_type(L, idx) != LUA_TSTRING)  /* lua_tolstring would change a key */
    luaL_error(L, "memobj: records: field names are strings, got %s",
               luaL_typename(L, idx));
  name = lua_tolstring(L, idx, &n);
  k = mo_lay_find(&r->lay, name, n);
  if (k < 0) luaL_error(L, "memobj: records: unknown field '%s'", name);
  return mo_lay_fields(&r->lay) + k;
}

/*
** Write the fields named in the table at t into record i (0-based). Every
** name and value is checked first, so a bad one raises and nothing is
** written; the second pass allocates nothing while it holds the pointer.
*/
static void write_record(lua_State *L, mo_records *r, size_t i, int t) {
  size_t recsize = r->lay.recsize;
  unsigned char *rec;
  mo_value v;
  if (!lua_istable(L, t))
    luaL_error(L, "memobj: records: a record is a table, got %s",
               luaL_typename(L, t));
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const mo_recfield *f = key_field(L, r, -2);
    const char *name = lua_tostring(L, -2);
    const char *why = field_convert(L, f, lua_gettop(L), &v);
    if (why) luaL_error(L, "memobj: field '%s': %s", name, why);
    lua_pop(L, 1);
  }
  rec = mo_view_wptr(L, &r->v, i * recsize, recsize);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const mo_recfield *f = key_field(L, r, -2);
    field_convert(L, f, lua_gettop(L), &v);
    field_store(L, f, rec, lua_gettop(L), v);
    lua_pop(L, 1);
  }
}

/* ---- Creating ---- */

static const mo_bufdesc records_bufdesc;  /* below, with the C API part */

/* Push a records view of `count` records with layout l at byte `off` of
** s->mem. */
static mo_records *push_records(lua_State *L, const mo_source *s,
                                const mo_layout *l, size_t off, size_t count,
                                int readonly) {
  size_t total = mo_lay_total(l);
  mo_records *r = (mo_records *)mo_view_new(
      L, sizeof(mo_records) - sizeof(mo_layout) + total, MO_TAG_RECORDS,
      &records_mtkey, s, off, count * l->recsize, readonly, "records view");
  memcpy(&r->lay, l, total);
  r->v.desc = &records_bufdesc;
  r->v.count = count;
  return r;
}

/* m:records(layout [, offset [, count [, mode]]]): offset in bytes,
** count in records (default: as many as fit). */
static int l_mem_records(lua_State *L) {
  mo_source s;
  mo_layout *l;
  size_t off, avail, count;
  int readonly;
  lua_settop(L, 5);
  l = mo_layout_check(L, 2);            /* 6 */
  mo_checksource(L, 1, &s);             /* 7 */
  off = lua_isnil(L, 3) ? 0 : mo_checksize(L, 3);
  luaL_argcheck(L, off <= s.length, 3, "offset beyond the end");
  avail = (s.length - off) / l->recsize;
  count = lua_isnil(L, 4) ? avail : mo_checksize(L, 4);
  luaL_argcheck(L, count <= avail, 4, "range beyond the end");
  readonly = mo_checkviewmode(L, 5, &s);
  push_records(L, &s, l, s.offset + off, count, readonly);
  return 1;
}

/* memobj.records(layout, count | {record, ...}) makes zeroed heap records;
** memobj.records(layout, src [, offset [, count [, mode]]]) views src,
** which must hold a whole number of records when count is not given. */
static int l_records(lua_State *L) {
  mo_source s;
  mo_layout *l;
  int t;
  lua_settop(L, 5);
  l = mo_layout_check(L, 1);            /* 6 */
  t = lua_type(L, 2);
  if (t == LUA_TNUMBER || t == LUA_TTABLE) {
    size_t count = t == LUA_TTABLE ? lua_rawlen(L, 2) : mo_checksize(L, 2), i;
    mo_records *r;
    luaL_argcheck(L, lua_isnil(L, 3) && lua_isnil(L, 4) && lua_isnil(L, 5), 3,
                  "no more arguments expected after a count or a table");
    luaL_argcheck(L, count <= (size_t)LUA_MAXINTEGER / l->recsize, 2, "too many records");
    s.mem = mo_mem_zeroed(L, count * l->recsize);
    s.memidx = lua_gettop(L);
    s.offset = 0;
    s.length = count * l->recsize;
    s.readonly = 0;
    r = push_records(L, &s, l, 0, count, 0);
    for (i = 0; t == LUA_TTABLE && i < count; i++) {
      if (lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TTABLE)
        luaL_error(L, "memobj: records: item %I of the table is %s, not a table",
                   (lua_Integer)i + 1, luaL_typename(L, -1));
      write_record(L, r, i, lua_gettop(L));
      lua_pop(L, 1);
    }
    return 1;
  } else {
    size_t off, rest, count;
    mo_checksource(L, 2, &s);           /* 7 */
    off = lua_isnil(L, 3) ? 0 : mo_checksize(L, 3);
    luaL_argcheck(L, off <= s.length, 3, "offset beyond the end");
    rest = s.length - off;
    if (lua_isnil(L, 4)) {
      if (rest % l->recsize != 0)
        return luaL_error(L, "memobj: records: %I bytes are not a whole number "
                          "of %I-byte records", (lua_Integer)rest,
                          (lua_Integer)l->recsize);
      count = rest / l->recsize;
    } else {
      count = mo_checksize(L, 4);
      luaL_argcheck(L, count <= rest / l->recsize, 4, "range beyond the end");
    }
    push_records(L, &s, l, s.offset + off, count, mo_checkviewmode(L, 5, &s));
    return 1;
  }
}

/* r:slice(i [, j]): a records view of records i..j, clamped like
** string.sub. */
static int records_slice(lua_State *L) {
  mo_records *r = (mo_records *)mo_self(L);
  size_t from, to;
  mo_source s;
  mo_range(luaL_checkinteger(L, 2), luaL_optinteger(L, 3, -1), r->v.count,
           &from, &to);
  if (from > to) from = 1, to = 0;
  lua_settop(L, 3);
  mo_checksource(L, 1, &s);
  push_records(L, &s, &r->lay, r->v.offset + (from - 1) * r->lay.recsize,
               to - from + 1, r->v.readonly);
  return 1;
}

/* ---- Access ---- */

static int records_index(lua_State *L) {
  mo_records *r = torecords(L, 1);
  if (r == NULL) return luaL_typeerror(L, 1, "records view");
  if (lua_type(L, 2) == LUA_TNUMBER) {
    int isint;
    lua_Integer i = lua_tointegerx(L, 2, &isint);
    if (isint && (lua_Unsigned)i - 1 < r->v.count) {
      push_record(L, r, (size_t)(i - 1));
      return 1;
    }
    if (r->v.released) return luaL_error(L, "memobj: view is released");
    return 0;  /* nil outside 1..#r, as a table */
  }
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    int known = strcmp(k, "size") == 0 || strcmp(k, "layout") == 0 ||
                strcmp(k, "format") == 0 || strcmp(k, "fields") == 0;
    if (mo_view_field(L, 1, &r->v, k)) return 1;
    if (!known) lua_pushnil(L);  /* as any other missing key */
    else if (r->v.released) return luaL_error(L, "memobj: view is released");
    else if (strcmp(k, "size") == 0) lua_pushinteger(L, (lua_Integer)r->lay.recsize);
    else if (strcmp(k, "layout") == 0) mo_layout_push(L, &r->lay);
    else if (strcmp(k, "format") == 0) mo_records_pushformat(L, &r->lay);
    else if (strcmp(k, "fields") == 0) {
      size_t j, n = r->lay.nfields;
      lua_createtable(L, (int)(n < 1000 ? n : 1000), 0);
      for (j = 0; j < n; j++) {
        lua_pushlstring(L, mo_lay_name(&r->lay, j), mo_lay_fields(&r->lay)[j].namelen);
        lua_rawseti(L, -2, (lua_Integer)j + 1);
      }
    }
  }
  return 1;
}

static int records_newindex(lua_State *L) {
  mo_records *r = torecords(L, 1);
  int isint = 0;
  lua_Integer i;
  if (r == NULL) return luaL_typeerror(L, 1, "records view");
  if (r->v.released) return luaL_error(L, "memobj: view is released");
  i = lua_tointegerx(L, 2, &isint);
  if (lua_type(L, 2) != LUA_TNUMBER || !isint)
    return luaL_error(L, "memobj: records index must be an integer");
  mo_checkwritable(L, &r->v);
  if ((lua_Unsigned)i - 1 >= r->v.count) return index_error(L, r, i);
  write_record(L, r, (size_t)(i - 1), 3);
  return 0;
}

/* r:get(i, name): one field of record i; nothing outside 1..#r. */
static int records_get(lua_State *L) {
  mo_records *r = (mo_records *)mo_self(L);
  lua_Integer i = luaL_checkinteger(L, 2);
  const mo_recfield *f = checkfield(L, r, 3);
  unsigned char small[256], *copy = small;
  size_t off;
  if ((lua_Unsigned)i - 1 >= r->v.count) return 0;
  if (f->etype == MO_REC_BYTES && f->size > sizeof small)  /* see push_record */
    copy = (unsigned char *)mo_scratch(L, f->size);
  off = (size_t)(i - 1) * r->lay.recsize + f->offset;
  if (f->etype == MO_REC_BYTES) {
    mo_view_copyout(L, &r->v, off, f->size, copy);
    lua_pushlstring(L, (const char *)copy, f->size);
  } else {
    push_field(L, f, mo_view_rptr(L, &r->v, off, f->size) - f->offset);
  }
  return 1;
}

/* r:set(i, name, v) */
static int records_set(lua_State *L) {
  mo_records *r = (mo_records *)mo_self(L);
  const mo_recfield *f;
  const char *why;
  size_t i;
  mo_value v;
  i = checkindex(L, r, 2);
  f = checkfield(L, r, 3);
  luaL_checkany(L, 4);
  if ((why = field_convert(L, f, 4, &v)) != NULL) return luaL_argerror(L, 4, why);
  field_store(L, f,
              mo_view_wptr(L, &r->v, i * r->lay.recsize + f->offset, f->size) -
                  f->offset,
              4, v);
  return 0;
}

/* r:field(name): a typed array of that field in every record (strided
** unless the record is the field). */
static int records_field(lua_State *L) {
  mo_records *r = (mo_records *)mo_self(L);
  const mo_recfield *f = checkfield(L, r, 2);
  mo_source s;
  if (f->etype == MO_REC_BYTES)
    return luaL_argerror(L, 2, "a bytes field has no typed array");
  lua_settop(L, 2);
  mo_checksource(L, 1, &s);
  mo_array_new_strided(L, &s, r->v.offset + (r->v.count ? f->offset : 0),
                       r->v.count, (ptrdiff_t)r->lay.recsize, f->etype,
                       r->v.readonly);
  return 1;
}

static int records_len(lua_State *L) {
  mo_records *r = mo_checkrecords(L, 1);
  lua_pushinteger(L, (lua_Integer)r->v.count);
  return 1;
}

static int records_next(lua_State *L) {
  mo_records *r = mo_checkrecords(L, 1);
  lua_Integer i = luaL_checkinteger(L, 2);
  if (i < 0 || (lua_Unsigned)i >= r->v.count) return 0;
  lua_pushinteger(L, i + 1);
  push_record(L, r, (size_t)i);
  return 2;
}

static int records_pairs(lua_State *L) {
  mo_checkrecords(L, 1);
  lua_pushcfunction(L, records_next);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  return 3;
}

static int records_tostring(lua_State *L) {
  mo_records *r = torecords(L, 1);
  if (r == NULL) return luaL_typeerror(L, 1, "records view");
  if (r->v.released)
    lua_pushliteral(L, "memobj.records(released)");
  else
    lua_pushfstring(L, "memobj.records(%I records of %I bytes, %I fields%s): %p",
                    (lua_Integer)r->v.count, (lua_Integer)r->lay.recsize,
                    (lua_Integer)r->lay.nfields,
                    r->v.readonly ? ", read-only" : "", (void *)r->v.ptr);
  return 1;
}

/* ---- The C API's view of a record ---- */

/* A module may hold a buffer after the view is collected, so the formats
** given to C are interned for the life of the process: one string per
** distinct layout that C code asked about. */
typedef struct fmtnode {
  struct fmtnode *next;
  size_t len;
  char s[];
} fmtnode;

static fmtnode *formats;
static pthread_mutex_t formats_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *intern_format(const mo_layout *l) {
  size_t n = mo_lay_format(l, NULL, 0);
  fmtnode *node = n ? (fmtnode *)malloc(sizeof(fmtnode) + n) : NULL, *p;
  if (node == NULL || mo_lay_format(l, node->s, n) != n) {
    free(node);
    return NULL;
  }
  node->len = n;
  pthread_mutex_lock(&formats_lock);
  for (p = formats; p; p = p->next)
    if (p->len == n && memcmp(p->s, node->s, n) == 0) break;
  if (p == NULL) {
    node->next = formats;
    formats = p = node;
    node = NULL;
  }
  pthread_mutex_unlock(&formats_lock);
  free(node);
  return p->s;
}

/* Items are records; out of memory, the view is described as bytes. */
static void records_describe(const mo_view *v, mo_bufinfo *out) {
  const mo_records *r = (const mo_records *)v;
  const char *f = intern_format(&r->lay);
  out->first = 0;
  if (f == NULL) {
    out->format = "B";
    out->itemsize = 1;
    out->count = v->length;
    out->stride = 1;
    return;
  }
  out->format = f;
  out->itemsize = r->lay.recsize;
  out->count = v->count;
  out->stride = (ptrdiff_t)r->lay.recsize;
}

static const mo_bufdesc records_bufdesc = {records_describe};

/* ---- Registration ---- */

static const mo_viewkind records_kind = {"records", MO_TAG_RECORDS,
                                         "records view", &records_mtkey, NULL, sizeof(mo_records)};

#define MO_METHOD_KIND records_kind
#define RECORDS_METHODS(X)                            \
  X("get", records_get, 2, MO_M_BYTES)                \
  X("set", records_set, 3, MO_M_WRITES | MO_M_BYTES)  \
  X("slice", records_slice, 2, 0)                     \
  X("field", records_field, 1, 0)
MO_METHODS(static, records_methods, RECORDS_METHODS);

static const luaL_Reg records_meta[] = {
  {"__len", records_len},
  {"__pairs", records_pairs},       {"__tostring", records_tostring},
  {NULL, NULL}};

static const mo_method mem_methods[] = {
  {"records", l_mem_records, 5, 0}, {NULL, NULL, 0, 0}};
/* memobj.records(layout, {record, ...}) writes records: faults checked */
static const mo_method module_funcs[] = {
  {"records", l_records, 5, MO_M_BYTES}, {NULL, NULL, 0, 0}};
/* r[i] = t writes a record */
static const mo_method declared_meta[] = {
  {"__newindex", records_newindex, MO_NARGS_ANY, MO_M_BYTES},
  {NULL, NULL, 0, 0}};

void mo_records_open(lua_State *L) {
  mo_view_newmeta(L, &records_mtkey, NULL, records_meta, records_index);
  mo_view_declare(L, &records_kind, records_methods);
  mo_meta_declare(L, &records_kind, declared_meta);
  mo_mem_declare(L, mem_methods);
  mo_funcs_declare(L, "memobj", module_funcs);
}

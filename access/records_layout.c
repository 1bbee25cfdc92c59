/*
** records_layout.c: record layouts read from a Lua table: fields
** {name, type} or {name, "bytes", n} with optional `offset = n`, C
** alignment or "packed", an optional fixed `size`; the name index; and
** the PEP 3118 format of a record.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "records.h"

/* ---- The name index ---- */

/* FNV-1a, 32 bits. */
static uint32_t name_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static uint32_t *lay_hash(const mo_layout *l) {
  return (uint32_t *)(void *)(mo_lay_fields(l) + l->nfields);
}

static char *lay_names(const mo_layout *l) {
  return (char *)(lay_hash(l) + l->hashsize);
}

size_t mo_lay_total(const mo_layout *l) {
  return sizeof(mo_layout) + l->nfields * sizeof(mo_recfield) +
         l->hashsize * sizeof(uint32_t) + l->namebytes;
}

long mo_lay_find(const mo_layout *l, const char *s, size_t n) {
  const uint32_t *h = lay_hash(l);
  const mo_recfield *f = mo_lay_fields(l);
  const char *names = lay_names(l);
  size_t mask = l->hashsize - 1, i = name_hash(s, n) & mask;
  for (;; i = (i + 1) & mask) {  /* the index is at most half full */
    uint32_t k = h[i];
    if (k == 0) return -1;
    if (f[k - 1].namelen == n && memcmp(names + f[k - 1].name, s, n) == 0)
      return (long)k - 1;
  }
}

/* Add field k; 0 if its name is already there. */
static int index_add(mo_layout *l, size_t k) {
  const mo_recfield *f = mo_lay_fields(l) + k;
  const char *name = lay_names(l) + f->name;
  uint32_t *h = lay_hash(l);
  size_t mask = l->hashsize - 1, i;
  if (mo_lay_find(l, name, f->namelen) >= 0) return 0;
  for (i = name_hash(name, f->namelen) & mask; h[i] != 0; i = (i + 1) & mask) {}
  h[i] = (uint32_t)k + 1;
  return 1;
}

/* ---- Reading a layout table ---- */

/* Field limits keep every size below computable without overflow. */
#define MAX_FIELDS ((size_t)1 << 24)
#define MAX_NAMEBYTES ((size_t)UINT32_MAX)

static int field_error(lua_State *L, int arg, lua_Integer k, const char *why) {
  return luaL_argerror(L, arg, lua_pushfstring(L, "field %I: %s", k, why));
}

/* Refuse keys other than 1..n and the names in `keys` in the table at idx
** (a misspelt option must not be ignored). */
static void check_keys(lua_State *L, int idx, lua_Integer n,
                       const char *const *keys, int arg, lua_Integer field) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int ok = 0, i;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TNUMBER) {
      lua_Integer k;
      int isint;
      k = lua_tointegerx(L, -1, &isint);
      ok = isint && k >= 1 && k <= n;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
      for (i = 0; keys[i] && !ok; i++) ok = strcmp(lua_tostring(L, -1), keys[i]) == 0;
    }
    if (!ok) {
      const char *what = lua_type(L, -1) == LUA_TSTRING
                             ? lua_pushfstring(L, "unknown key '%s'", lua_tostring(L, -1))
                             : lua_pushfstring(L, "unknown key of type %s", luaL_typename(L, -1));
      if (field) field_error(L, arg, field, what);
      luaL_argerror(L, arg, lua_pushfstring(L, "layout: %s", what));
    }
  }
}

/* What one field entry says. */
typedef struct fieldspec {
  const char *name;
  size_t namelen;
  int etype;          /* or MO_REC_BYTES */
  size_t size;
  int hasoffset;
  size_t offset;
} fieldspec;

/* Read and check field k of the layout at idx. Nothing here allocates
** except to raise, so it can run between the allocation of a layout and
** its filling. */
static void read_field(lua_State *L, int idx, int arg, lua_Integer k,
                       fieldspec *fs) {
  static const char *const keys[] = {"offset", NULL};
  int t = lua_rawgeti(L, idx, k);
  int fidx = lua_gettop(L);
  const char *type;
  if (t != LUA_TTABLE)
    field_error(L, arg, k, lua_pushfstring(L, "table expected, got %s",
                                           luaL_typename(L, -1)));
  if (lua_rawgeti(L, fidx, 1) != LUA_TSTRING)
    field_error(L, arg, k, "name must be a string");
  fs->name = lua_tolstring(L, -1, &fs->namelen);
  if (fs->namelen == 0) field_error(L, arg, k, "name is empty");
  if (lua_rawgeti(L, fidx, 2) != LUA_TSTRING)
    field_error(L, arg, k, "type must be a string");
  type = lua_tostring(L, -1);
  lua_rawgeti(L, fidx, 3);
  if (strcmp(type, "bytes") == 0) {
    int isint;
    lua_Integer n = lua_tointegerx(L, -1, &isint);
    if (!isint || n < 1)
      field_error(L, arg, k, "a bytes field needs a size of at least 1");
    fs->etype = MO_REC_BYTES;
    fs->size = (size_t)n;
    check_keys(L, fidx, 3, keys, arg, k);
  } else {
    fs->etype = mo_etype_parse(type);
    if (fs->etype < 0)
      field_error(L, arg, k, lua_pushfstring(L, "unknown element type '%s'", type));
    fs->size = mo_base_size[MO_BASE(fs->etype)];
    check_keys(L, fidx, 2, keys, arg, k);
  }
  fs->hasoffset = lua_getfield(L, fidx, "offset") != LUA_TNIL;
  if (fs->hasoffset) {
    int isint;
    lua_Integer o = lua_tointegerx(L, -1, &isint);
    if (!isint || o < 0) field_error(L, arg, k, "offset must be a non-negative integer");
    fs->offset = (size_t)o;
    if (fs->offset > SIZE_MAX / 2) field_error(L, arg, k, "offset too large");
  }
  lua_settop(L, fidx - 1);  /* the name stays alive in the field table */
}

static size_t align_up(size_t n, size_t a) {
  return (n + a - 1) / a * a;
}

/* Sorting fields by offset, to find overlaps. */
typedef struct span {
  size_t from, to, k;
} span;

static int span_cmp(const void *a, const void *b) {
  const span *x = (const span *)a, *y = (const span *)b;
  return x->from < y->from ? -1 : x->from > y->from;
}

/* Place the fields of l (offsets given or computed), check that none
** overlap, and set the record size. `spans` has room for nfields. */
static void place_fields(lua_State *L, mo_layout *l, int arg, size_t fixed,
                         span *spans) {
  mo_recfield *f = mo_lay_fields(l);
  size_t k, end = 0, maxend = 0, maxalign = 1;
  for (k = 0; k < l->nfields; k++) {
    size_t a = (l->packed || f[k].etype == MO_REC_BYTES) ? 1 : f[k].size;
    if (f[k].offset == SIZE_MAX) f[k].offset = align_up(end, a);
    if (f[k].size > SIZE_MAX / 2 - f[k].offset)
      field_error(L, arg, (lua_Integer)k + 1, "too large");
    end = f[k].offset + f[k].size;
    if (end > maxend) maxend = end;
    if (a > maxalign) maxalign = a;
    spans[k].from = f[k].offset;
    spans[k].to = end;
    spans[k].k = k;
  }
  qsort(spans, l->nfields, sizeof(span), span_cmp);
  for (k = 1; k < l->nfields; k++)
    if (spans[k].from < spans[k - 1].to)
      luaL_argerror(L, arg, lua_pushfstring(L, "fields '%s' and '%s' overlap",
                    mo_lay_name(l, spans[k - 1].k), mo_lay_name(l, spans[k].k)));
  l->recsize = align_up(maxend, maxalign);
  if (fixed) {
    if (fixed < maxend)
      luaL_argerror(L, arg, lua_pushfstring(L,
                    "layout size %I is smaller than its fields (%I bytes)",
                    (lua_Integer)fixed, (lua_Integer)maxend));
    l->recsize = fixed;
  }
}

/* Check the layout table at arg and push it as a layout (a userdata that
** holds a mo_layout and its trailing parts, then scratch space). */
mo_layout *mo_layout_check(lua_State *L, int arg) {
  static const char *const keys[] = {"align", "size", NULL};
  static const char *const aligns[] = {"c", "packed", NULL};
  lua_Integer n, k;
  size_t namebytes = 0, hashsize = 4, fixed = 0, total, spanoff;
  int packed = 0;
  fieldspec fs;
  mo_layout *l;
  char *names;
  arg = lua_absindex(L, arg);
  luaL_checktype(L, arg, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, arg);
  check_keys(L, arg, n, keys, arg, 0);
  if (lua_getfield(L, arg, "align") != LUA_TNIL) {
    const char *a = lua_tostring(L, -1);
    for (packed = 0; a && aligns[packed] && strcmp(a, aligns[packed]) != 0; packed++) {}
    if (lua_type(L, -1) != LUA_TSTRING || aligns[packed] == NULL)
      luaL_argerror(L, arg, "layout: align must be \"c\" or \"packed\"");
  }
  if (lua_getfield(L, arg, "size") != LUA_TNIL) {
    int isint;
    lua_Integer s = lua_tointegerx(L, -1, &isint);
    if (!isint || s < 1) luaL_argerror(L, arg, "layout: size must be a positive integer");
    fixed = (size_t)s;
  }
  lua_pop(L, 2);
  if (n == 0) luaL_argerror(L, arg, "layout has no fields");
  if ((size_t)n > MAX_FIELDS) luaL_argerror(L, arg, "layout has too many fields");
  for (k = 1; k <= n; k++) {  /* first pass: check and measure */
    read_field(L, arg, arg, k, &fs);
    if (fs.namelen >= MAX_NAMEBYTES - namebytes)
      luaL_argerror(L, arg, "layout: names too long");
    namebytes += fs.namelen + 1;  /* names end with a zero, for messages */
  }
  while (hashsize < 2 * (size_t)n) hashsize *= 2;
  total = sizeof(mo_layout) + (size_t)n * sizeof(mo_recfield) +
          hashsize * sizeof(uint32_t) + namebytes;
  spanoff = align_up(total, sizeof(size_t));
  /* the only allocation; a finalizer it runs may change the table, so the
  ** second pass checks again and refuses if the measures changed */
  l = (mo_layout *)mo_scratch(L, spanoff + (size_t)n * sizeof(span));
  memset(l, 0, total);
  l->nfields = (size_t)n;
  l->hashsize = hashsize;
  l->namebytes = namebytes;
  l->packed = (size_t)packed;
  names = lay_names(l);
  namebytes = 0;
  if ((lua_Integer)lua_rawlen(L, arg) != n)
    luaL_error(L, "memobj: layout changed while being read");
  for (k = 1; k <= n; k++) {
    mo_recfield *f = mo_lay_fields(l) + (k - 1);
    read_field(L, arg, arg, k, &fs);
    if (fs.namelen >= l->namebytes - namebytes)
      luaL_error(L, "memobj: layout changed while being read");
    memcpy(names + namebytes, fs.name, fs.namelen);
    names[namebytes + fs.namelen] = 0;
    f->name = (uint32_t)namebytes;
    f->namelen = (uint32_t)fs.namelen;
    namebytes += fs.namelen + 1;
    f->etype = fs.etype;
    f->size = fs.size;
    f->offset = fs.hasoffset ? fs.offset : SIZE_MAX;
    if (!index_add(l, (size_t)k - 1))
      field_error(L, arg, k, lua_pushfstring(L, "duplicate name '%s'",
                                             mo_lay_name(l, (size_t)k - 1)));
  }
  place_fields(L, l, arg, fixed, (span *)(void *)((char *)l + spanoff));
  return l;
}

/* ---- Describing a layout ---- */

void mo_layout_push(lua_State *L, const mo_layout *l) {
  const mo_recfield *f = mo_lay_fields(l);
  size_t k;
  lua_createtable(L, (int)l->nfields, 2);
  for (k = 0; k < l->nfields; k++) {
    lua_createtable(L, 3, 1);
    lua_pushlstring(L, mo_lay_name(l, k), f[k].namelen);
    lua_rawseti(L, -2, 1);
    if (f[k].etype == MO_REC_BYTES) {
      lua_pushliteral(L, "bytes");
      lua_rawseti(L, -2, 2);
      lua_pushinteger(L, (lua_Integer)f[k].size);
      lua_rawseti(L, -2, 3);
    } else {
      lua_pushstring(L, mo_etype_name(f[k].etype));
      lua_rawseti(L, -2, 2);
    }
    lua_pushinteger(L, (lua_Integer)f[k].offset);
    lua_setfield(L, -2, "offset");
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_pushinteger(L, (lua_Integer)l->recsize);
  lua_setfield(L, -2, "size");
  lua_pushstring(L, l->packed ? "packed" : "c");
  lua_setfield(L, -2, "align");
}

/* Field numbers of l in offset order (malloc'd), or NULL. */
static size_t *byoffset(const mo_layout *l) {
  span *s = (span *)malloc(l->nfields * sizeof(span));
  size_t *order = (size_t *)(void *)s, k;
  if (s == NULL) return NULL;
  for (k = 0; k < l->nfields; k++) {
    s[k].from = mo_lay_fields(l)[k].offset;
    s[k].k = k;
  }
  qsort(s, l->nfields, sizeof(span), span_cmp);
  for (k = 0; k < l->nfields; k++) order[k] = s[k].k;  /* order[k] <= s[k] */
  return order;
}

/* Append s (n bytes) to buf as far as it fits; count it all in *len. */
static void add(char *buf, size_t cap, size_t *len, const char *s, size_t n) {
  if (*len < cap) memcpy(buf + *len, s, n < cap - *len ? n : cap - *len);
  *len += n;
}

size_t mo_lay_format(const mo_layout *l, char *buf, size_t cap) {
  static const char letters[MO_NBASE] = "bBhHiIqQfd?";
  const mo_recfield *f = mo_lay_fields(l);
  size_t *order = byoffset(l), k, pos = 0, len = 0;
  char t[32];
  if (order == NULL) return 0;
  add(buf, cap, &len, "T{", 2);
  for (k = 0; k < l->nfields; k++) {
    const mo_recfield *x = f + order[k];
    if (x->offset > pos) add(buf, cap, &len, t, (size_t)snprintf(t, sizeof t, "%zux", x->offset - pos));
    if (x->etype == MO_REC_BYTES) {
      add(buf, cap, &len, t, (size_t)snprintf(t, sizeof t, "%zus", x->size));
    } else {
      int big = (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) != MO_SWAPPED(x->etype);
      if (x->size > 1) add(buf, cap, &len, big ? ">" : "<", 1);
      add(buf, cap, &len, letters + MO_BASE(x->etype), 1);
    }
    add(buf, cap, &len, ":", 1);
    add(buf, cap, &len, mo_lay_name(l, order[k]), x->namelen);
    add(buf, cap, &len, ":", 1);
    pos = x->offset + x->size;
  }
  if (l->recsize > pos) add(buf, cap, &len, t, (size_t)snprintf(t, sizeof t, "%zux", l->recsize - pos));
  add(buf, cap, &len, "}", 2);  /* with the terminating zero */
  free(order);
  return len;
}

void mo_records_pushformat(lua_State *L, const mo_layout *l) {
  size_t n = mo_lay_format(l, NULL, 0);
  char *buf;
  if (n == 0) luaL_error(L, "memobj: records: not enough memory");
  buf = (char *)mo_scratch(L, n);
  if (mo_lay_format(l, buf, n) != n) luaL_error(L, "memobj: records: not enough memory");
  lua_pushlstring(L, buf, n - 1);
  lua_remove(L, -2);
}

/*
** npy.c: memobj.npy.open and memobj.npy.save, the Lua face of the .npy
** format (access/npy_format.c reads and writes the headers). open maps
** the data part with memobj.map and views it as a typed array or a
** records view; save writes a header and the bytes of a view.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../runtime/core.h"
#include "../runtime/core/os.h"
#include "../access/array.h"
#include "../access/records.h"
#include "../access/npy_format.h"
#include "npy.h"

/* ---- A box that frees the parser's allocations ----
** Its __gc can be called by Lua code (debug.getmetatable, debug.getlocal
** on npy.open's frame), so it is checked by identity and does nothing
** while `busy`: npy.open keeps it busy from the parse until it has
** copied what it needs, then frees it itself (box_done). Only a memory
** error inside that window leaves the parser's bytes to the process. */

#define NPYBOX_TAG 0x4e505942u

typedef struct npybox {
  uint32_t tag;        /* NPYBOX_TAG: its metatable is its identity */
  int busy;
  mo_npy h;
  unsigned char *buf;  /* the header bytes */
} npybox;

static void box_done(npybox *b) {
  b->busy = 0;
  mo_npy_free(&b->h);
  memset(&b->h, 0, sizeof b->h);
  free(b->buf);
  b->buf = NULL;
}

static int box_gc(lua_State *L) {
  npybox *b = (npybox *)mo_type_test(L, 1, NPYBOX_TAG);
  if (b && !b->busy) box_done(b);
  return 0;
}

/* registry keys: memobj.map, and the box metatable */
static const char map_key = 0, box_mtkey = 0;

static npybox *newbox(lua_State *L) {
  npybox *b = (npybox *)lua_newuserdatauv(L, sizeof(npybox), 0);
  memset(b, 0, sizeof *b);
  b->tag = NPYBOX_TAG;
  b->busy = 1;
  mo_regpush(L, &box_mtkey, LUA_TTABLE);
  lua_setmetatable(L, -2);
  return b;
}

/* ---- Element types ---- */

static const char kinds[MO_NBASE] = {'i', 'u', 'i', 'u', 'i', 'u', 'i', 'u', 'f', 'f', 'b'};

static char native_order(void) {
  return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? '<' : '>';
}

/* The memobj element type name of a numeric .npy field ("float64be"). */
static const char *etype_name(lua_State *L, const mo_npy_field *f) {
  const char *base, *order;
  if (f->kind == 'b') return lua_pushliteral(L, "bool");
  base = f->kind == 'f' ? "float" : f->kind == 'i' ? "int" : "uint";
  order = f->order == '|' ? "" : f->order == '<' ? "le" : "be";
  return lua_pushfstring(L, "%s%d%s", base, (int)f->size * 8, order);
}

static void etype_field(int et, mo_npy_field *f) {
  f->kind = kinds[MO_BASE(et)];
  f->size = mo_base_size[MO_BASE(et)];
  f->order = f->size == 1 ? '|'
             : MO_SWAPPED(et) ? (native_order() == '<' ? '>' : '<') : native_order();
}

/* ---- open ---- */

/* nil, "path: why", EINVAL (a file that is not a .npy we read) */
static int badfile(lua_State *L, const char *path, const char *why) {
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: %s", path, why);
  lua_pushinteger(L, EINVAL);
  return 3;
}

/* Read and parse the header of the file at path into b. Returns 0, or the
** number of results (nil, message [, errno]) it pushed. */
static int read_header(lua_State *L, const char *path, npybox *b) {
  char err[256];
  unsigned char pre[MO_NPY_PRELUDE];
  struct stat st;
  size_t hl, n;
  int fd, e = mo_os_open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0, &fd);
  if (e) return mo_failresult(L, path, e);
  if ((e = mo_os_fstat(fd, &st)) != 0) {
    mo_os_close(fd);
    return mo_failresult(L, path, e);
  }
  if (!S_ISREG(st.st_mode)) {
    mo_os_close(fd);
    return badfile(L, path, "not a regular file");
  }
  n = (uint64_t)st.st_size < sizeof pre ? (size_t)st.st_size : sizeof pre;
  if ((e = mo_os_pread_all(fd, pre, n, 0)) != 0) {
    mo_os_close(fd);
    return mo_failresult(L, path, e);
  }
  if ((hl = mo_npy_headerlen(pre, n, err, sizeof err)) == 0) {
    mo_os_close(fd);
    return badfile(L, path, err);
  }
  if ((uint64_t)hl > (uint64_t)st.st_size) {
    mo_os_close(fd);
    return badfile(L, path, ".npy header length beyond the end of the file");
  }
  if ((b->buf = (unsigned char *)malloc(hl)) == NULL) {
    mo_os_close(fd);
    return luaL_error(L, "memobj: npy.open: out of memory");
  }
  e = mo_os_pread_all(fd, b->buf, hl, 0);
  mo_os_close(fd);
  if (e) return mo_failresult(L, path, e);
  if (mo_npy_parse(&b->h, b->buf, hl, (uint64_t)st.st_size, err, sizeof err) != 0)
    return badfile(L, path, err);
  return 0;
}

/* Push the layout table of the structured dtype in h. */
static void push_layout(lua_State *L, const mo_npy *h) {
  size_t k;
  lua_createtable(L, (int)(h->nfields < 1000 ? h->nfields : 1000), 1);
  for (k = 0; k < h->nfields; k++) {
    const mo_npy_field *f = &h->fields[k];
    lua_createtable(L, 3, 1);
    lua_pushlstring(L, h->names + f->name, f->namelen);
    lua_rawseti(L, -2, 1);
    if (f->kind == 'S') {
      lua_pushliteral(L, "bytes");
      lua_rawseti(L, -2, 2);
      lua_pushinteger(L, (lua_Integer)f->size);
      lua_rawseti(L, -2, 3);
    } else {
      etype_name(L, f);
      lua_rawseti(L, -2, 2);
    }
    lua_pushinteger(L, (lua_Integer)f->offset);
    lua_setfield(L, -2, "offset");
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_pushinteger(L, (lua_Integer)h->itemsize);
  lua_setfield(L, -2, "size");
}

/* memobj.npy.open(path [, mode]) -> view, shape */
static int npy_open(lua_State *L) {
  static const char *const modes[] = {"r", "rw", "private", NULL};
  const char *path = luaL_checkstring(L, 1);
  int mode = luaL_checkoption(L, 2, "r", modes), n, d, structured;
  uint64_t dataoff, databytes, count;
  npybox *b;
  lua_settop(L, 2);
  b = newbox(L);                                  /* 3 */
  if ((n = read_header(L, path, b)) != 0) {
    box_done(b);
    return n;
  }
  /* copy what the header says, then free the parser's bytes: no Lua code
  ** runs before they are freed (see the box) */
  structured = b->h.structured;
  dataoff = b->h.dataoff;
  databytes = b->h.databytes;
  count = b->h.count;
  if (structured) push_layout(L, &b->h);          /* 4: type or layout */
  else etype_name(L, &b->h.fields[0]);
  lua_createtable(L, b->h.ndim, 0);               /* 5: the shape */
  for (d = 0; d < b->h.ndim; d++) {
    lua_pushinteger(L, (lua_Integer)b->h.shape[d]);
    lua_rawseti(L, -2, d + 1);
  }
  box_done(b);
  /* map the data part: memobj.map(path, {mode=, offset=, size=}) */
  mo_regpush(L, &map_key, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, modes[mode]);
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)dataoff);
  lua_setfield(L, -2, "offset");
  lua_pushinteger(L, (lua_Integer)databytes);
  lua_setfield(L, -2, "size");
  lua_call(L, 2, 3);                              /* 6, 7, 8 */
  if (lua_isnil(L, 6)) return 3;
  lua_settop(L, 6);
  /* view it: m:array(type, 0, count, vmode) or m:records(layout, ...) */
  lua_getfield(L, 6, structured ? "records" : "array");
  lua_pushvalue(L, 6);
  lua_pushvalue(L, 4);
  lua_pushinteger(L, 0);
  lua_pushinteger(L, (lua_Integer)count);
  lua_pushstring(L, mode == 0 ? "r" : "rw");
  lua_call(L, 5, 1);                              /* 7: the view */
  lua_pushvalue(L, 5);
  return 2;
}

/* ---- save ---- */

/* The shape argument at arg (default {count}) into h; checks that its
** product is count. The product of the dimensions other than 0, in
** bytes, must fit in a file (as npy.open demands), even beside a 0. */
static void check_shape(lua_State *L, int arg, mo_npy *h, size_t count,
                        size_t itemsize) {
  uint64_t prod = 1;
  int d, zero = 0, over = 0;
  if (lua_isnoneornil(L, arg)) {
    h->ndim = 1;
    h->shape[0] = count;
    return;
  }
  luaL_checktype(L, arg, LUA_TTABLE);
  h->ndim = (int)(lua_rawlen(L, arg) < MO_NPY_MAXDIM + 1 ? lua_rawlen(L, arg)
                                                          : MO_NPY_MAXDIM + 1);
  luaL_argcheck(L, h->ndim <= MO_NPY_MAXDIM, arg, "too many dimensions");
  for (d = 0; d < h->ndim; d++) {
    int isint;
    lua_Integer n;
    lua_rawgeti(L, arg, d + 1);
    n = lua_tointegerx(L, -1, &isint);
    lua_pop(L, 1);
    if (!isint || n < 0)
      luaL_argerror(L, arg, "dimensions must be non-negative integers");
    h->shape[d] = (uint64_t)n;
    if (n == 0) zero = 1;
    else if (prod > UINT64_MAX / (uint64_t)n) over = 1;
    else prod *= (uint64_t)n;
  }
  if (over || (itemsize && prod > (uint64_t)INT64_MAX / itemsize))
    luaL_argerror(L, arg, "shape too large");
  if (zero) prod = 0;
  if (prod != count)
    luaL_argerror(L, arg, lua_pushfstring(L, "shape holds %I items, the view %I",
                  (lua_Integer)prod, (lua_Integer)count));
}

/* Write the elements of a strided array in order, through a buffer on
** the C stack (nothing here can run Lua code). */
static int write_strided(int fd, const mo_array *a) {
  unsigned char buf[1 << 14];
  size_t k = 0, per = sizeof buf / a->itemsize;
  while (k < a->v.count) {
    size_t n = a->v.count - k < per ? a->v.count - k : per, j;
    int e;
    for (j = 0; j < n; j++)
      memcpy(buf + j * a->itemsize, MO_AELEM(a, k + j), a->itemsize);
    if ((e = mo_os_write_all(fd, buf, n * a->itemsize)) != 0) return e;
    k += n;
  }
  return 0;
}

/* Describe the view at idx in h (fields in a userdata pushed on the
** stack); returns the view. */
static mo_view *describe(lua_State *L, int idx, mo_npy *h) {
  mo_view *v;
  if ((v = mo_toview(L, idx, MO_TAG_ARRAY)) != NULL) {
    mo_array *a = mo_checkarray(L, idx);
    h->fields = (mo_npy_field *)mo_scratch(L, sizeof(mo_npy_field));
    memset(h->fields, 0, sizeof(mo_npy_field));
    etype_field(a->etype, h->fields);
    h->nfields = 1;
    h->itemsize = a->itemsize;
    return v;
  }
  if ((v = mo_toview(L, idx, MO_TAG_RECORDS)) != NULL) {
    mo_records *r = mo_checkrecords(L, idx);
    const mo_layout *l = &r->lay;
    size_t k;
    h->fields = (mo_npy_field *)mo_scratch(L, l->nfields * sizeof(mo_npy_field));
    h->names = (char *)mo_lay_name(l, 0) - mo_lay_fields(l)[0].name;
    for (k = 0; k < l->nfields; k++) {
      const mo_recfield *rf = mo_lay_fields(l) + k;
      mo_npy_field *f = h->fields + k;
      memset(f, 0, sizeof *f);
      if (rf->etype == MO_REC_BYTES) {
        f->kind = 'S';
        f->order = '|';
        f->size = rf->size;
      } else {
        etype_field(rf->etype, f);
      }
      f->offset = rf->offset;
      f->name = rf->name;
      f->namelen = rf->namelen;
    }
    h->nfields = l->nfields;
    h->structured = 1;
    h->itemsize = l->recsize;
    return v;
  }
  luaL_typeerror(L, idx, "typed array or records view");
  return NULL;
}

/* Write the header and the view's bytes to fd; 0 or an errno value. The
** bytes may be pages of a mapped file that another process truncated:
** such a save fails (EIO or ENOSPC, *lost says why), and the fault it
** took is not left pending for the next call to raise. */
static int write_npy(int fd, const char *hdr, size_t len, mo_view *v,
                     const char **lost) {
  const unsigned char *lo = v->ptr;  /* the bytes the view covers */
  size_t span = v->length;
  int e;
  if ((*lost = mo_fault_lost_at(lo, span)) != NULL) return EIO;
  e = mo_os_write_all(fd, hdr, len);
  if (!e && v->tag == MO_TAG_ARRAY && !mo_array_contiguous((mo_array *)v))
    e = write_strided(fd, (mo_array *)v);
  else if (!e)
    e = mo_os_write_all(fd, v->ptr, v->length);
  /* the strided copy read lost pages as zeros (the fault handler's page);
  ** write(2) of a contiguous view stops at them with EFAULT */
  if ((*lost = mo_fault_take(lo, span)) != NULL ||
      (*lost = mo_fault_lost_at(lo, span)) != NULL)
    return strstr(*lost, "no space") ? ENOSPC : EIO;
  return e;
}

/*
** Write the file under a temporary name next to its final place and
** rename it there (runtime/core/os.h, mo_os_newfile): the view may be a
** mapping of the very file being replaced (truncating it first would
** lose the data being saved), and a failure leaves the old file whole.
** Symbolic links are followed, also a dangling one, whose target is
** created (as open(O_CREAT) does), so a link stays a link; an existing
** file keeps its permissions. 0 or an errno value.
*/
static int save_file(const char *path, const char *hdr, size_t len, mo_view *v,
                     const char **lost) {
  mo_os_newfile f;
  int e = mo_os_newfile_begin(&f, path, 0666);
  *lost = NULL;
  if (e) return e;
  e = write_npy(f.fd, hdr, len, v, lost);
  if (!e) e = mo_os_close(f.fd);
  f.fd = -1;
  if (!e) e = mo_os_newfile_commit(&f, MO_OS_REPLACE, 0);
  mo_os_newfile_end(&f);
  return e;
}

/* memobj.npy.save(path, view [, shape]) -> true | nil, message, errno */
static int npy_save(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char err[256];
  mo_npy h;
  mo_view *v;
  char *hdr;
  const char *lost;
  size_t len;
  int e;
  lua_settop(L, 3);
  memset(&h, 0, sizeof h);
  v = describe(L, 2, &h);                         /* 4: fields */
  check_shape(L, 3, &h, v->count, h.itemsize);
  if ((len = mo_npy_header(&h, NULL, 0, err, sizeof err)) == 0)
    return luaL_error(L, "memobj: npy.save: %s", err);
  hdr = (char *)mo_scratch(L, len);
  mo_npy_header(&h, hdr, len, err, sizeof err);
  /* no Lua allocation from here on: the view's bytes are read as they are */
  if (v->released) return luaL_error(L, "memobj: view is released");
  if ((e = save_file(path, hdr, len, v, &lost)) != 0) {
    if (lost == NULL) return mo_failresult(L, path, e);
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", path, lost);
    lua_pushinteger(L, e);
    return 3;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- Registration ---- */

static const mo_method npy_funcs[] = {
  {"open", npy_open, 2, 0}, {"save", npy_save, 3, 0}, {NULL, NULL, 0, 0}};

void mo_npy_open(lua_State *L) {
  lua_getfield(L, -1, "map");           /* npy.open maps the data part */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &map_key);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, box_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushliteral(L, "memobj.npy box");
  lua_setfield(L, -2, "__metatable");
  mo_type_register(L, -1, NPYBOX_TAG, sizeof(npybox), 0);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &box_mtkey);
  lua_createtable(L, 0, 2);
  mo_funcs_declare(L, "npy", npy_funcs);
  lua_setfield(L, -2, "npy");
}

/*
** fileview.c: file views, Lua io handles over the bytes of any memory
** object, view or Lua string: read, write, seek, lines, flush, close.
*/
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include "../runtime/core.h"
#include "openers.h"

static const char file_mtkey = 0;  /* registry: file view metatable */

/*
** The view covers the capacity [0, v.length) of the bytes; `end` is the
** logical end of the data (what a file's size would be): reads stop there
** and writes past it move it. Mode "w" starts it at 0, as truncation
** does; the bytes themselves are never resized.
*/
typedef struct mo_file {
  mo_view v;         /* v.length is the capacity */
  size_t pos;        /* current position, 0..capacity */
  size_t end;        /* logical end of data, 0..capacity */
  uint8_t canread;   /* modes r, r+, w+, a+ */
  uint8_t canwrite;  /* every mode but r */
  uint8_t append;    /* a, a+: every write goes to the logical end */
} mo_file;

#define MAXARGLINE 250    /* most formats f:lines accepts, as io */
#define MAXLENNUM 200     /* longest numeral "n" reads, as io */
#define NOSPACE "no space left in memory object"

/* ---- Checking ---- */

static mo_file *tofile_any(lua_State *L, int idx) {
  mo_file *f = (mo_file *)mo_toview(L, idx, MO_TAG_FILE);
  if (f == NULL || lua_rawlen(L, idx) < sizeof(mo_file)) return NULL;
  return f;
}

/* Bytes left to read; none when a seek went past the logical end. */
static size_t avail(const mo_file *f) {
  return f->pos < f->end ? f->end - f->pos : 0;
}

/* ---- Reading (each reader pushes a value and returns success) ---- */

static int read_line(lua_State *L, mo_file *f, int chop) {
  size_t n = avail(f), len;
  const unsigned char *p, *nl;
  if (n == 0) {
    lua_pushliteral(L, "");
    return 0;
  }
  p = f->v.ptr + f->pos;
  nl = memchr(p, '\n', n);
  if (nl == NULL) {       /* last line without a newline */
    lua_pushlstring(L, (const char *)p, n);
    f->pos += n;
    return 1;
  }
  len = (size_t)(nl - p);
  lua_pushlstring(L, (const char *)p, chop ? len : len + 1);
  f->pos += len + 1;
  return 1;
}

static int read_chars(lua_State *L, mo_file *f, size_t n) {
  size_t a = avail(f);
  if (n > a) n = a;
  lua_pushlstring(L, n ? (const char *)f->v.ptr + f->pos : "", n);
  f->pos += n;
  return n > 0;
}

static void read_all(lua_State *L, mo_file *f) {
  read_chars(L, f, avail(f));
}

/*
** "n" reads the longest prefix that can start a numeral, with io's
** grammar (sign, "0x", digits, one decimal point, exponent), at most
** MAXLENNUM characters, and then lets lua_stringtonumber judge it.
** Whatever was taken stays consumed when the conversion fails, as in io.
*/
typedef struct numscan {
  const unsigned char *p, *lim;
  size_t n;                  /* characters taken */
  char decp[2];              /* locale decimal point and '.' */
  char buff[MAXLENNUM + 1];
} numscan;

static int ns_cur(const numscan *ns) {
  return ns->p < ns->lim ? *ns->p : EOF;
}

static int ns_take(numscan *ns) {
  if (ns->n >= MAXLENNUM) {  /* too long: invalidate, stop taking */
    ns->buff[0] = '\0';
    return 0;
  }
  ns->buff[ns->n++] = (char)*ns->p++;
  return 1;
}

/* Take the current character if it is one of set[0], set[1]. */
static int ns_take2(numscan *ns, const char *set) {
  int c = ns_cur(ns);
  if (c != EOF && (c == (unsigned char)set[0] || c == (unsigned char)set[1]))
    return ns_take(ns);
  return 0;
}

static int ns_digits(numscan *ns, int hex) {
  int count = 0, c;
  while ((c = ns_cur(ns)) != EOF && (hex ? isxdigit(c) : isdigit(c)) &&
         ns_take(ns))
    count++;
  return count;
}

static int read_number(lua_State *L, mo_file *f) {
  numscan ns;
  int count = 0, hex = 0;
  size_t a = avail(f);
  ns.p = f->v.ptr + f->pos;  /* never dereferenced when a == 0 */
  ns.lim = ns.p + a;
  ns.n = 0;
  ns.decp[0] = localeconv()->decimal_point[0];
  ns.decp[1] = '.';
  while (ns.p < ns.lim && isspace(*ns.p)) ns.p++;
  ns_take2(&ns, "-+");
  if (ns_take2(&ns, "00")) {
    if (ns_take2(&ns, "xX")) hex = 1;
    else count = 1;  /* the leading 0 is a digit */
  }
  count += ns_digits(&ns, hex);
  if (ns_take2(&ns, ns.decp)) count += ns_digits(&ns, hex);
  if (count > 0 && ns_take2(&ns, hex ? "pP" : "eE")) {
    ns_take2(&ns, "-+");
    ns_digits(&ns, 0);
  }
  f->pos += (size_t)(ns.p - (f->v.ptr + f->pos));
  ns.buff[ns.n] = '\0';
  if (lua_stringtonumber(L, ns.buff)) return 1;
  lua_pushnil(L);
  return 0;
}

/*
** Read the formats at first..top as io's read does: stop at the first
** failure, which gives nil in its place. A write-only view fails as a
** write-only file does (EBADF), after the first format is checked.
*/
static int g_read(lua_State *L, mo_file *f, int first, int nargs) {
  int n, success = 1;
  if (nargs == 0) {
    if (!f->canread) return mo_failresult(L, NULL, EBADF);
    success = read_line(L, f, 1);
    n = first + 1;
  } else {
    luaL_checkstack(L, nargs + LUA_MINSTACK, "too many arguments");
    for (n = first; nargs-- && success; n++) {
      /* each read allocates a string, which may run a finalizer that
      ** closes f: while f is open its bytes are in place (core.h) */
      if (f->v.released) luaL_error(L, "attempt to use a closed file");
      if (lua_type(L, n) == LUA_TNUMBER) {
        size_t l = (size_t)luaL_checkinteger(L, n);
        if (!f->canread) return mo_failresult(L, NULL, EBADF);
        if (l == 0) {
          lua_pushliteral(L, "");
          success = avail(f) > 0;
        } else {
          success = read_chars(L, f, l);
        }
      } else {
        const char *p = luaL_checkstring(L, n);
        if (*p == '*') p++;  /* Lua 5.2 style "*l" */
        if (*p != 'n' && *p != 'l' && *p != 'L' && *p != 'a')
          return luaL_argerror(L, n, "invalid format");
        if (!f->canread) return mo_failresult(L, NULL, EBADF);
        switch (*p) {
          case 'n': success = read_number(L, f); break;
          case 'l': success = read_line(L, f, 1); break;
          case 'L': success = read_line(L, f, 0); break;
          default: read_all(L, f); break;
        }
      }
    }
  }
  mo_fault_check(L);
  if (!success) {
    lua_pop(L, 1);
    luaL_pushfail(L);
  }
  return n - first;
}

/* ---- Writing ---- */

/*
** The bytes of write argument `arg`: a string, a number formatted as io
** formats it (into nb), or the raw bytes of a view or memory object.
*/
static const char *write_arg(lua_State *L, int arg, char *nb, size_t nbsize,
                             size_t *len) {
  mo_bytesrc b;
  if (lua_type(L, arg) == LUA_TNUMBER) {
    int k = lua_isinteger(L, arg)
        ? snprintf(nb, nbsize, LUA_INTEGER_FMT,
                   (LUAI_UACINT)lua_tointeger(L, arg))
        : snprintf(nb, nbsize, LUA_NUMBER_FMT,
                   (LUAI_UACNUMBER)lua_tonumber(L, arg));
    *len = (k > 0 && (size_t)k < nbsize) ? (size_t)k : 0;
    return nb;
  }
  if (!mo_checkbytes(L, arg, &b)) return luaL_checklstring(L, arg, len);
  *len = b.length;
  return (const char *)b.ptr;
}

/*
** Put l bytes at the write position, or nothing if they do not fit. A
** write past the logical end first zero-fills the gap, as a file reads
** zeros in a hole, so no stale bytes appear inside the data.
*/
static int put(lua_State *L, mo_file *f, const char *s, size_t l) {
  size_t at = f->append ? f->end : f->pos;
  size_t from = at < f->end ? at : f->end;  /* first byte changed */
  unsigned char *p;
  if (l > f->v.length - at) return 0;
  if (l == 0) return 1;  /* as fwrite of nothing: no gap is filled */
  p = mo_view_wptr(L, &f->v, from, at + l - from) - from;
  /* s may lie in the same memory, even in the gap: copy it first */
  memmove(p + at, s, l);
  if (at > f->end) memset(p + f->end, 0, at - f->end);
  f->pos = at + l;
  if (f->pos > f->end) f->end = f->pos;
  return 1;
}

/* Raise, as io would, if write argument `arg` cannot be written. */
static void check_arg(lua_State *L, int arg) {
  mo_bytesrc b;
  if (lua_type(L, arg) == LUA_TNUMBER) return;
  if (!mo_checkbytes(L, arg, &b)) luaL_checklstring(L, arg, NULL);
}

/*
** All arguments are checked before any byte changes, so a call that
** raises writes nothing. Writing stops at the first argument that fails
** (does not fit, or a read-only view); earlier ones stay written, as io.
*/
static int g_write(lua_State *L, mo_file *f, int arg) {
  int top = lua_gettop(L), i;
  int err = 0;  /* 0, EBADF, or ENOSPC */
  char nb[64];
  for (i = arg; i <= top; i++) check_arg(L, i);
  for (i = arg; i <= top && !err; i++) {
    size_t l;
    const char *s = write_arg(L, i, nb, sizeof nb, &l);
    if (!f->canwrite) err = l ? EBADF : 0;  /* as fwrite: nothing succeeds */
    else if (!put(L, f, s, l)) err = ENOSPC;
  }
  if (err == EBADF) return mo_failresult(L, NULL, EBADF);
  if (err) {  /* as io: nil, message, errno (the message names memory) */
    luaL_pushfail(L);
    lua_pushliteral(L, NOSPACE);
    lua_pushinteger(L, ENOSPC);
    return 3;
  }
  lua_pushvalue(L, 1);
  return 1;
}

/* ---- Methods ---- */

/* The methods run through the trampoline (runtime/core/method.h), which checked the
** file view at 1 and that it is open. */
#define SELF(L) ((mo_file *)mo_self(L))

static int f_read(lua_State *L) {
  return g_read(L, SELF(L), 2, lua_gettop(L) - 1);
}

static int f_write(lua_State *L) {
  return g_write(L, SELF(L), 2);
}

/*
** Any position in 0..capacity is allowed, also past the logical end;
** anything else fails as lseek does. Arithmetic stays in size_t: the
** base is at most the capacity, and the offset is compared, not added.
*/
static int f_seek(lua_State *L) {
  static const char *const whences[] = {"set", "cur", "end", NULL};
  mo_file *f = SELF(L);
  int op = luaL_checkoption(L, 2, "cur", whences);
  lua_Integer off = luaL_optinteger(L, 3, 0);
  size_t base = op == 0 ? 0 : op == 1 ? f->pos : f->end;
  size_t cap = f->v.length;
  if (off >= 0) {
    if ((lua_Unsigned)off > cap - base) return mo_failresult(L, NULL, EINVAL);
    f->pos = base + (size_t)off;
  } else {
    lua_Unsigned back = (lua_Unsigned)0 - (lua_Unsigned)off;
    if (back > base) return mo_failresult(L, NULL, EINVAL);
    f->pos = base - (size_t)back;
  }
  lua_pushinteger(L, (lua_Integer)f->pos);
  return 1;
}

/* The file view of a lines iterator (upvalue 1), or NULL: the tag and
** the size, as the hot paths test (doc/internals.md, "Identity"): only
** debug.setupvalue can put another value there. */
static mo_file *tofile_up(lua_State *L) {
  int idx = lua_upvalueindex(1);
  mo_file *f = (mo_file *)lua_touserdata(L, idx);
  if (f == NULL || lua_type(L, idx) != LUA_TUSERDATA ||
      lua_rawlen(L, idx) != sizeof(mo_file) || f->v.tag != MO_TAG_FILE)
    return NULL;
  return f;
}

/* The iterator of f:lines(...): upvalues file, n, formats. */
static int lines_next(lua_State *L) {
  mo_file *f = tofile_up(L);
  lua_Integer ln = lua_tointeger(L, lua_upvalueindex(2));
  int i, n = (int)ln;
  if (f == NULL || ln < 0 || ln > MAXARGLINE)  /* debug.setupvalue */
    return luaL_error(L, "memobj: lines: the iterator's state was replaced");
  if (f->v.released) return luaL_error(L, "file is already closed");
  if (n == 0 && f->canread) {  /* the common case, without the stack work */
    int ok = read_line(L, f, 1);
    mo_fault_check(L);
    return ok;
  }
  lua_settop(L, 1);
  luaL_checkstack(L, n, "too many arguments");
  for (i = 1; i <= n; i++) lua_pushvalue(L, lua_upvalueindex(2 + i));
  n = g_read(L, f, 2, n);
  if (lua_toboolean(L, -n)) return n;
  if (n > 1)  /* an error message follows the nil */
    return luaL_error(L, "%s", lua_tostring(L, -n + 1));
  return 0;
}

static int f_lines(lua_State *L) {
  int n = lua_gettop(L) - 1;
  luaL_argcheck(L, n <= MAXARGLINE, MAXARGLINE + 2, "too many arguments");
  lua_pushinteger(L, n);
  lua_insert(L, 2);
  lua_pushcclosure(L, lines_next, 2 + n);
  return 1;
}

/* Syncs the bytes a writable view covers to their storage (a no-op for
** kinds without storage); fails as fflush does. */
static int f_flush(lua_State *L) {
  mo_file *f = SELF(L);
  memobj_mem *m = f->v.mem;
  if (f->canwrite && m->kind->sync) {
    int err = m->kind->sync(m, f->v.offset, f->v.length);
    if (err) return mo_failresult(L, NULL, err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* There is no buffer: the arguments are checked as io checks them. */
static int f_setvbuf(lua_State *L) {
  static const char *const modes[] = {"no", "full", "line", NULL};
  luaL_checkoption(L, 2, NULL, modes);
  luaL_optinteger(L, 3, LUAL_BUFFERSIZE);
  lua_pushboolean(L, 1);
  return 1;
}

static int f_close(lua_State *L) {
  mo_view_release(mo_self(L));
  lua_pushboolean(L, 1);
  return 1;
}

static int f_tostring(lua_State *L) {
  mo_file *f = tofile_any(L, 1);
  if (f == NULL) return luaL_typeerror(L, 1, "memobj.file");
  if (f->v.released) lua_pushliteral(L, "memobj.file (closed)");
  else lua_pushfstring(L, "memobj.file (%p)", (void *)f);
  return 1;
}

/* Methods first, then the fields every view has. */
static int f_index(lua_State *L) {
  mo_file *f = tofile_any(L, 1);
  if (f == NULL) return luaL_typeerror(L, 1, "memobj.file");
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (lua_type(L, 2) == LUA_TSTRING &&
      mo_view_field(L, 1, &f->v, lua_tostring(L, 2)))
    return 1;
  lua_pushnil(L);
  return 1;
}

/* ---- Opening ---- */

/* io.open's modes: one of r w a, then an optional +, then any b's. */
static int checkmode(const char *mode) {
  if (mode[0] != 'r' && mode[0] != 'w' && mode[0] != 'a') return 0;
  mode += mode[1] == '+' ? 2 : 1;
  while (*mode == 'b') mode++;
  return *mode == '\0';
}

/* m:file([mode]) and memobj.file(src [, mode]): a view over all of src. */
static int l_file(lua_State *L) {
  mo_source s;
  mo_file *f;
  const char *md;
  int plus;
  lua_settop(L, 2);  /* the source pushes its memory object above these */
  mo_checksource(L, 1, &s);
  md = luaL_optstring(L, 2, "r");
  luaL_argcheck(L, checkmode(md), 2, "invalid mode");
  plus = strchr(md, '+') != NULL;
  if ((md[0] != 'r' || plus) && s.readonly)
    luaL_argerror(L, 2, "memory is read-only");
  f = (mo_file *)mo_view_new(L, sizeof(mo_file), MO_TAG_FILE, &file_mtkey, &s,
                             s.offset, s.length, md[0] == 'r' && !plus,
                             "file view");
  f->v.count = s.length;
  f->canread = md[0] == 'r' || plus;
  f->canwrite = md[0] != 'r' || plus;
  f->append = md[0] == 'a';
  f->end = md[0] == 'w' ? 0 : s.length;
  f->pos = md[0] == 'a' && !plus ? f->end : 0;  /* as glibc places them */
  return 1;
}

static const mo_viewkind file_kind = {"file", MO_TAG_FILE, "memobj.file",
                                      &file_mtkey,
                                      "attempt to use a closed file", sizeof(mo_file)};

/* read, write and lines take any number of formats or values, as io;
** read checks faults in g_read (which lines' iterator shares). */
#define MO_METHOD_KIND file_kind
#define FILE_METHODS(X)                              \
  X("read", f_read, MO_NARGS_ANY, 0)                 \
  X("write", f_write, MO_NARGS_ANY, MO_M_BYTES)      \
  X("seek", f_seek, 2, 0)                            \
  X("lines", f_lines, MO_NARGS_ANY, 0)               \
  X("flush", f_flush, 0, 0)                          \
  X("setvbuf", f_setvbuf, 2, 0)                      \
  X("close", f_close, 0, 0)
MO_METHODS(static, file_methods, FILE_METHODS);

static const luaL_Reg file_meta[] = {
  {"__tostring", f_tostring}, {NULL, NULL}};

static const mo_method mem_methods[] = {
  {"file", l_file, 2, 0}, {NULL, NULL, 0, 0}};

void mo_fileview_open(lua_State *L) {
  mo_view_newmeta(L, &file_mtkey, NULL, file_meta, f_index);
  mo_view_declare(L, &file_kind, file_methods);
  mo_mem_declare(L, mem_methods);
  mo_funcs_declare(L, "memobj", mem_methods);  /* memobj.file(src [, mode]) */
}

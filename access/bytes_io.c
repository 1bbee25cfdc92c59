/*
** bytes_io.c: b:readfrom(src [, i [, j]]) and b:writeto(dst [, i [, j]]),
** zero-copy I/O between a byte view and a Lua file handle, a file
** descriptor or an object with a getfd method (LuaSocket). No Lua string
** is made. Every system call goes through runtime/os.c.
**
** A Lua file handle has a stdio buffer: nothing in it may be skipped or
** reordered. Reads take what the FILE* already holds first; writes flush
** it first. On a regular file stdio also keeps the file position, so
** there the bytes go through fread/fwrite (large transfers go straight
** between the file and the view; `f:seek` stays right); on pipes,
** sockets and terminals (no position) they go through read(2)/write(2)
** on the descriptor, so a read returns what has arrived instead of
** waiting for a full view.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "../runtime/core.h"
#include "../runtime/core/os.h"
#include "bytes.h"

typedef enum { SRC_FD, SRC_FILE, SRC_SOCKET } srckind;

typedef struct stream {
  srckind kind;
  int fd;
  FILE *f;      /* SRC_FILE */
  int regular;  /* SRC_FILE over a regular file: stdio moves the bytes */
} stream;

/* Is fd a regular file? (fstat through the OS layer) */
static int isregular(int fd) {
  struct stat st;
  return mo_os_fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/*
** The stream at idx: a Lua file handle, an integer descriptor, or an
** object with getfd (LuaSocket: it must not hold received bytes of its
** own, which a read on the descriptor would skip). Calls Lua code (getfd,
** dirty): callers check their view afterwards.
*/
static void checkstream(lua_State *L, int idx, int reading, stream *s) {
  luaL_Stream *ls;
  memset(s, 0, sizeof *s);
  if (lua_type(L, idx) == LUA_TNUMBER) {
    int isint;
    lua_Integer fd = lua_tointegerx(L, idx, &isint);
    luaL_argcheck(L, isint && fd >= 0 && fd <= 0x7fffffff, idx,
                  "file descriptor must be a non-negative integer");
    s->kind = SRC_FD;
    s->fd = (int)fd;
    return;
  }
  ls = (luaL_Stream *)luaL_testudata(L, idx, LUA_FILEHANDLE);
  if (ls != NULL) {
    if (ls->closef == NULL) luaL_error(L, "attempt to use a closed file");
    s->kind = SRC_FILE;
    s->f = ls->f;
    s->fd = fileno(ls->f);
    s->regular = isregular(s->fd);
    return;
  }
  /* a table, or a userdata whose metatable has __index (no error from
  ** indexing a userdata that has none) */
  if (!lua_istable(L, idx) &&
      (luaL_getmetafield(L, idx, "__index") == LUA_TNIL || (lua_pop(L, 1), 0)))
    luaL_typeerror(L, idx, "file, file descriptor or object with getfd");
  if (lua_getfield(L, idx, "getfd") != LUA_TFUNCTION)
    luaL_typeerror(L, idx, "file, file descriptor or object with getfd");
  lua_pushvalue(L, idx);
  lua_call(L, 1, 1);
  {
    int isint;  /* LuaSocket gives a float (5.0): any integral number */
    lua_Integer fd = lua_tointegerx(L, -1, &isint);
    if (!isint || fd < 0 || fd > 0x7fffffff)
      luaL_error(L, "memobj: %s: getfd() gave no open descriptor (a closed "
                 "socket?)", reading ? "readfrom" : "writeto");
    s->kind = SRC_SOCKET;
    s->fd = (int)fd;
  }
  lua_pop(L, 1);
  if (!reading) return;
  if (lua_getfield(L, idx, "dirty") == LUA_TFUNCTION) {
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
    if (lua_toboolean(L, -1))
      luaL_error(L, "memobj: readfrom: the socket holds received bytes in "
                 "its own buffer (s:dirty() is true): read those with "
                 "s:receive first");
  }
  lua_pop(L, 1);
}

/* Bytes the FILE* holds that have not been read yet (glibc keeps them
** between _IO_read_ptr and _IO_read_end). Elsewhere they cannot be seen,
** and stdio does every read of a file handle. */
#ifdef __GLIBC__
#define STDIO_VISIBLE 1
#else
#define STDIO_VISIBLE 0
#endif
static size_t stdio_buffered(FILE *f) {
#ifdef __GLIBC__
  return f->_IO_read_end > f->_IO_read_ptr
             ? (size_t)(f->_IO_read_end - f->_IO_read_ptr) : 0;
#else
  (void)f;
  return 0;
#endif
}

/* Read at most n bytes into p: 0 or an errno value; *got counts. */
static int stream_read(stream *s, unsigned char *p, size_t n, size_t *got) {
  *got = 0;
  if (s->kind == SRC_FILE) {
    size_t held = stdio_buffered(s->f);
    clearerr(s->f);
    if (held > 0 || s->regular || !STDIO_VISIBLE) {
      /* a pipe's buffered bytes alone: no wait for more to come */
      if (!s->regular && held > 0 && held < n) n = held;
      *got = fread(p, 1, n, s->f);
      return ferror(s->f) ? (errno ? errno : EIO) : 0;
    }
  }
  for (;;) {
    int err = mo_os_read(s->fd, p, n, got);
    /* LuaSocket keeps its descriptors non-blocking and waits itself */
    if (err == EAGAIN && s->kind == SRC_SOCKET &&
        (err = mo_os_wait_fd(s->fd, 0)) == 0)
      continue;
    return err;
  }
}

/* Write all n bytes of p: 0 or an errno value; *done counts. */
static int stream_write(stream *s, const unsigned char *p, size_t n,
                        size_t *done) {
  *done = 0;
  if (s->kind == SRC_FILE) {
    if (fflush(s->f) != 0) return errno ? errno : EIO;
    if (s->regular) {
      *done = fwrite(p, 1, n, s->f);
      if (fflush(s->f) != 0 || *done < n) return errno ? errno : EIO;
      return 0;
    }
  }
  for (;;) {
    size_t more;
    int err = mo_os_write_count(s->fd, p + *done, n - *done, &more);
    *done += more;
    if (err == EAGAIN && s->kind == SRC_SOCKET &&
        (err = mo_os_wait_fd(s->fd, 1)) == 0)
      continue;
    return err;
  }
}

/* The byte range i..j of the view at 1 (clamped like string.sub): its
** 0-based start and length. */
static mo_view *checkrange(lua_State *L, size_t *off, size_t *len) {
  mo_view *v = mo_bytes_check(L, 1);
  size_t from, to;
  mo_range(luaL_optinteger(L, 3, 1), luaL_optinteger(L, 4, -1), v->length,
           &from, &to);
  *off = from - 1;
  *len = from <= to ? to - from + 1 : 0;
  return v;
}

/* nil, message, errno (and the count for writeto) */
static int failure(lua_State *L, const char *op, int err, size_t done,
                   int withcount) {
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: %s", op, strerror(err));
  lua_pushinteger(L, err);
  if (!withcount) return 3;
  lua_pushinteger(L, (lua_Integer)done);
  return 4;
}

/* b:readfrom(src [, i [, j]]) -> count read (0 at the end) */
static int bytes_readfrom(lua_State *L) {
  stream s;
  mo_view *v;
  size_t off, len, got;
  int err;
  mo_noextra(L, 4);
  luaL_argcheck(L, !lua_isnoneornil(L, 2), 2, "file, file descriptor or "
                "object with getfd expected");
  checkstream(L, 2, 1, &s);
  /* pinned: the view's bytes stay while the system call writes them */
  v = mo_pinview(L, 1, 4, MO_TAG_BYTES, "byte view");
  mo_checkwritable(L, v);
  checkrange(L, &off, &len);
  if (len == 0) {
    lua_pushinteger(L, 0);
    return 1;
  }
  /* a transaction logs the whole range: any byte of it may change */
  mo_prewrite(L, v->mem, v->offset + off, len);
  err = stream_read(&s, v->ptr + off, len, &got);
  mo_fault_check(L);
  if (err) {
    if (err == EFAULT && mo_fault_lost_at(v->ptr + off, len))
      return luaL_error(L, "memobj: readfrom: %s",
                        mo_fault_lost_at(v->ptr + off, len));
    return failure(L, "readfrom", err, got, 0);
  }
  lua_pushinteger(L, (lua_Integer)got);
  return 1;
}

/* b:writeto(dst [, i [, j]]) -> count written (all of i..j) */
static int bytes_writeto(lua_State *L) {
  stream s;
  mo_view *v;
  size_t off, len, done;
  int err;
  mo_noextra(L, 4);
  luaL_argcheck(L, !lua_isnoneornil(L, 2), 2, "file, file descriptor or "
                "object with getfd expected");
  checkstream(L, 2, 0, &s);
  v = mo_pinview(L, 1, 4, MO_TAG_BYTES, "byte view");
  checkrange(L, &off, &len);
  if (len == 0) {
    lua_pushinteger(L, 0);
    return 1;
  }
  err = stream_write(&s, v->ptr + off, len, &done);
  mo_fault_check(L);
  if (err) {
    if (err == EFAULT && mo_fault_lost_at(v->ptr + off, len))
      return luaL_error(L, "memobj: writeto: %s",
                        mo_fault_lost_at(v->ptr + off, len));
    return failure(L, "writeto", err, done, 1);
  }
  lua_pushinteger(L, (lua_Integer)done);
  return 1;
}

const luaL_Reg mo_bytes_io_methods[] = {
  {"readfrom", bytes_readfrom}, {"writeto", bytes_writeto}, {NULL, NULL}};

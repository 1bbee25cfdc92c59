/*
** oshook.c: a test-only Lua module that replaces entries of memobj's OS
** table (runtime/core/os.h) to inject failures: an errno from the nth call,
** a short write, or a crash (_exit) at the nth call, as a power cut
** would. It is built into $(BUILD)/test/ for the specs and never
** installed; memobj itself has no way for a script to reach the table.
**
**   local oshook = package.loadlib(build .. "/test/oshook.so", "luaopen_oshook")()
**   oshook.fail("ftruncate", "ENOSPC" [, nth [, times]])  -- times -1: forever
**   oshook.short("pwrite" [, nth])       -- transfer half the bytes once
**   oshook.crash("fdatasync" [, nth [, torn]])  -- _exit(77); torn: a
**                                        -- pwrite/write writes half first
**   oshook.calls("pwrite") -> calls since the last reset
**   oshook.reset()                       -- every entry back to the OS
**   oshook.names() -> {"mmap", ...}
*/
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/os.h"

enum { PASS, FAIL, SHORT, CRASH };

typedef struct plan {
  const char *name;
  mo_os_fn prev;         /* the entry we replaced (calls go through) */
  mo_os_fn mine;         /* our wrapper */
  long calls;            /* since reset */
  long from, left;       /* act on call number `from`, `left` times */
  int action, err, torn;
} plan;

static const mo_os_seam *seam;

/* What to do on this call of p. */
static int trip(plan *p) {
  long n = ++p->calls;
  if (p->action == PASS || n < p->from || p->left == 0) return PASS;
  if (p->left > 0) p->left--;
  return p->action;
}

#define PREV(p, type) ((type)(p)->prev)
#define FAILED(p, ret) do { errno = (p)->err; return ret; } while (0)

/* Wrappers, one per signature. */
#define RANGE3(id, nm)                                            \
  static plan P_##id;                                             \
  static int W_##id(void *a, size_t n, int x) {                   \
    switch (trip(&P_##id)) {                                      \
      case FAIL: FAILED(&P_##id, -1);                             \
      case CRASH: _exit(77);                                      \
    }                                                             \
    return PREV(&P_##id, int (*)(void *, size_t, int))(a, n, x);  \
  }
#define FD1(id, nm)                                               \
  static plan P_##id;                                             \
  static int W_##id(int fd) {                                     \
    switch (trip(&P_##id)) {                                      \
      case FAIL: FAILED(&P_##id, -1);                             \
      case CRASH: _exit(77);                                      \
    }                                                             \
    return PREV(&P_##id, int (*)(int))(fd);                       \
  }
#define PATH1(id, nm)                                             \
  static plan P_##id;                                             \
  static int W_##id(const char *s) {                              \
    switch (trip(&P_##id)) {                                      \
      case FAIL: FAILED(&P_##id, -1);                             \
      case CRASH: _exit(77);                                      \
    }                                                             \
    return PREV(&P_##id, int (*)(const char *))(s);               \
  }
#define PATH2(id, nm)                                             \
  static plan P_##id;                                             \
  static int W_##id(const char *s, const char *t) {               \
    switch (trip(&P_##id)) {                                      \
      case FAIL: FAILED(&P_##id, -1);                             \
      case CRASH: _exit(77);                                      \
    }                                                             \
    return PREV(&P_##id, int (*)(const char *, const char *))(s, t); \
  }
#define OPEN3(id, nm)                                             \
  static plan P_##id;                                             \
  static int W_##id(const char *s, int fl, mode_t md) {           \
    switch (trip(&P_##id)) {                                      \
      case FAIL: FAILED(&P_##id, -1);                             \
      case CRASH: _exit(77);                                      \
    }                                                             \
    return PREV(&P_##id, int (*)(const char *, int, mode_t))(s, fl, md); \
  }

RANGE3(mprotect, "mprotect")
RANGE3(madvise, "madvise")
RANGE3(msync, "msync")
FD1(close, "close")
FD1(fdatasync, "fdatasync")
FD1(fsync, "fsync")
PATH1(unlink, "unlink")
PATH1(shm_unlink, "shm_unlink")
PATH2(rename, "rename")
PATH2(link, "link")
OPEN3(open, "open")
OPEN3(shm_open, "shm_open")

static plan P_mmap;
static void *W_mmap(void *a, size_t n, int prot, int fl, int fd, off_t off) {
  switch (trip(&P_mmap)) {
    case FAIL: FAILED(&P_mmap, MAP_FAILED);
    case CRASH: _exit(77);
  }
  return PREV(&P_mmap, void *(*)(void *, size_t, int, int, int, off_t))(
      a, n, prot, fl, fd, off);
}

static plan P_munmap;
static int W_munmap(void *a, size_t n) {
  switch (trip(&P_munmap)) {
    case FAIL: FAILED(&P_munmap, -1);
    case CRASH: _exit(77);
  }
  return PREV(&P_munmap, int (*)(void *, size_t))(a, n);
}

static plan P_fstat;
static int W_fstat(int fd, struct stat *st) {
  switch (trip(&P_fstat)) {
    case FAIL: FAILED(&P_fstat, -1);
    case CRASH: _exit(77);
  }
  return PREV(&P_fstat, int (*)(int, struct stat *))(fd, st);
}

#define STAT2(id, nm)                                             \
  static plan P_##id;                                             \
  static int W_##id(const char *s, struct stat *st) {             \
    switch (trip(&P_##id)) {                                      \
      case FAIL: FAILED(&P_##id, -1);                             \
      case CRASH: _exit(77);                                      \
    }                                                             \
    return PREV(&P_##id, int (*)(const char *, struct stat *))(s, st); \
  }
#define FDINT(id, nm, type)                                       \
  static plan P_##id;                                             \
  static int W_##id(int fd, type x) {                             \
    switch (trip(&P_##id)) {                                      \
      case FAIL: FAILED(&P_##id, -1);                             \
      case CRASH: _exit(77);                                      \
    }                                                             \
    return PREV(&P_##id, int (*)(int, type))(fd, x);              \
  }
STAT2(stat, "stat")
STAT2(lstat, "lstat")
FDINT(fchmod, "fchmod", mode_t)
FDINT(flock, "flock", int)

static plan P_readlink;
static ssize_t W_readlink(const char *s, char *b, size_t n) {
  switch (trip(&P_readlink)) {
    case FAIL: FAILED(&P_readlink, -1);
    case CRASH: _exit(77);
  }
  return PREV(&P_readlink, ssize_t (*)(const char *, char *, size_t))(s, b, n);
}

static plan P_getpid;
static pid_t W_getpid(void) {
  if (trip(&P_getpid) == CRASH) _exit(77);
  return PREV(&P_getpid, pid_t (*)(void))();
}

static plan P_ftruncate;
static int W_ftruncate(int fd, off_t n) {
  switch (trip(&P_ftruncate)) {
    case FAIL: FAILED(&P_ftruncate, -1);
    case CRASH: _exit(77);
  }
  return PREV(&P_ftruncate, int (*)(int, off_t))(fd, n);
}

static plan P_fallocate;
static int W_fallocate(int fd, int mode, off_t off, off_t n) {
  switch (trip(&P_fallocate)) {
    case FAIL: FAILED(&P_fallocate, -1);
    case CRASH: _exit(77);
  }
  return PREV(&P_fallocate, int (*)(int, int, off_t, off_t))(fd, mode, off, n);
}

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
static plan P_pwrite;
static ssize_t W_pwrite(int fd, const void *b, size_t n, off_t off) {
  switch (trip(&P_pwrite)) {
    case FAIL: FAILED(&P_pwrite, -1);
    case SHORT: return PREV(&P_pwrite, pwrite_fn)(fd, b, n / 2 ? n / 2 : n, off);
    case CRASH:
      if (P_pwrite.torn) PREV(&P_pwrite, pwrite_fn)(fd, b, n / 2, off);
      _exit(77);
  }
  return PREV(&P_pwrite, pwrite_fn)(fd, b, n, off);
}

typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
static plan P_pread;
static ssize_t W_pread(int fd, void *b, size_t n, off_t off) {
  switch (trip(&P_pread)) {
    case FAIL: FAILED(&P_pread, -1);
    case SHORT: return PREV(&P_pread, pread_fn)(fd, b, n / 2 ? n / 2 : n, off);
    case CRASH: _exit(77);
  }
  return PREV(&P_pread, pread_fn)(fd, b, n, off);
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
static plan P_write;
static ssize_t W_write(int fd, const void *b, size_t n) {
  switch (trip(&P_write)) {
    case FAIL: FAILED(&P_write, -1);
    case SHORT: return PREV(&P_write, write_fn)(fd, b, n / 2 ? n / 2 : n);
    case CRASH:
      if (P_write.torn) PREV(&P_write, write_fn)(fd, b, n / 2);
      _exit(77);
  }
  return PREV(&P_write, write_fn)(fd, b, n);
}

typedef ssize_t (*read_fn)(int, void *, size_t);
static plan P_read;
static ssize_t W_read(int fd, void *b, size_t n) {
  switch (trip(&P_read)) {
    case FAIL: FAILED(&P_read, -1);
    case SHORT: return PREV(&P_read, read_fn)(fd, b, n / 2 ? n / 2 : n);
    case CRASH: _exit(77);
  }
  return PREV(&P_read, read_fn)(fd, b, n);
}

static plan P_memfd;
static int W_memfd(const char *s, unsigned fl) {
  switch (trip(&P_memfd)) {
    case FAIL: FAILED(&P_memfd, -1);
    case CRASH: _exit(77);
  }
  return PREV(&P_memfd, int (*)(const char *, unsigned))(s, fl);
}

static plan P_fcntl;
static int W_fcntl(int fd, int cmd, int arg) {
  switch (trip(&P_fcntl)) {
    case FAIL: FAILED(&P_fcntl, -1);
    case CRASH: _exit(77);
  }
  return PREV(&P_fcntl, int (*)(int, int, int))(fd, cmd, arg);
}

#define ROW(id, nm) {nm, &P_##id, (mo_os_fn)W_##id}
static const struct {
  const char *name;
  plan *p;
  mo_os_fn w;
} rows[] = {
  ROW(mmap, "mmap"), ROW(munmap, "munmap"),
  ROW(mprotect, "mprotect"), ROW(madvise, "madvise"), ROW(msync, "msync"),
  ROW(open, "open"), ROW(close, "close"), ROW(fstat, "fstat"),
  ROW(ftruncate, "ftruncate"), ROW(fallocate, "fallocate"),
  ROW(fdatasync, "fdatasync"), ROW(fsync, "fsync"), ROW(pwrite, "pwrite"),
  ROW(pread, "pread"), ROW(write, "write"), ROW(rename, "rename"),
  ROW(link, "link"), ROW(unlink, "unlink"), ROW(shm_open, "shm_open"),
  ROW(shm_unlink, "shm_unlink"), ROW(memfd, "memfd_create"),
  ROW(fcntl, "fcntl"), ROW(stat, "stat"), ROW(lstat, "lstat"),
  ROW(fchmod, "fchmod"), ROW(flock, "flock"), ROW(readlink, "readlink"),
  ROW(getpid, "getpid"), ROW(read, "read"),
};
#define NROWS (sizeof rows / sizeof rows[0])

static plan *getplan(lua_State *L, int arg) {
  const char *name = luaL_checkstring(L, arg);
  size_t i;
  for (i = 0; i < NROWS; i++) {
    if (strcmp(rows[i].name, name) != 0) continue;
    if (rows[i].p->mine == NULL) {  /* first use: install the wrapper */
      rows[i].p->name = rows[i].name;
      rows[i].p->mine = rows[i].w;
      if (seam->set(name, rows[i].w, &rows[i].p->prev) != 0)
        luaL_error(L, "oshook: memobj has no entry '%s'", name);
    }
    return rows[i].p;
  }
  luaL_error(L, "oshook: unknown entry '%s'", name);
  return NULL;
}

static int errno_arg(lua_State *L, int arg) {
  static const struct { const char *n; int v; } names[] = {
    {"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EINTR", EINTR}, {"ENOMEM", ENOMEM},
    {"EACCES", EACCES}, {"EPERM", EPERM}, {"EBADF", EBADF}, {"EINVAL", EINVAL},
    {"EAGAIN", EAGAIN}, {"EMFILE", EMFILE}, {"EFBIG", EFBIG}, {"ENOSYS", ENOSYS},
    {"EOPNOTSUPP", EOPNOTSUPP}};
  size_t i;
  if (lua_isinteger(L, arg)) return (int)lua_tointeger(L, arg);
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(names[i].n, luaL_checkstring(L, arg)) == 0) return names[i].v;
  return luaL_argerror(L, arg, "unknown errno name");
}

static void arm(lua_State *L, plan *p, int action, long nth, long times) {
  luaL_argcheck(L, nth >= 1, 3, "nth counts from 1");
  p->action = action;
  p->from = p->calls + nth;
  p->left = times;
}

static int l_fail(lua_State *L) {
  plan *p = getplan(L, 1);
  p->err = errno_arg(L, 2);
  arm(L, p, FAIL, (long)luaL_optinteger(L, 3, 1), (long)luaL_optinteger(L, 4, 1));
  return 0;
}

static int l_short(lua_State *L) {
  plan *p = getplan(L, 1);
  arm(L, p, SHORT, (long)luaL_optinteger(L, 2, 1), 1);
  return 0;
}

static int l_crash(lua_State *L) {
  plan *p = getplan(L, 1);
  p->torn = lua_toboolean(L, 3);
  arm(L, p, CRASH, (long)luaL_optinteger(L, 2, 1), 1);
  return 0;
}

static int l_calls(lua_State *L) {
  lua_pushinteger(L, getplan(L, 1)->calls);
  return 1;
}

static int l_reset(lua_State *L) {
  size_t i;
  (void)L;
  for (i = 0; i < NROWS; i++) {
    plan *p = rows[i].p;
    if (p->mine) seam->set(rows[i].name, p->prev, NULL);
    memset(p, 0, sizeof *p);
  }
  return 0;
}

static int l_names(lua_State *L) {
  const char *n;
  int i = 0;
  lua_newtable(L);
  for (n = seam->next(NULL); n; n = seam->next(n)) {
    lua_pushstring(L, n);
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

int luaopen_oshook(lua_State *L);
int luaopen_oshook(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"fail", l_fail}, {"short", l_short}, {"crash", l_crash},
    {"calls", l_calls}, {"reset", l_reset}, {"names", l_names}, {NULL, NULL}};
  lua_getfield(L, LUA_REGISTRYINDEX, MO_OS_SEAM_KEY);
  seam = (const mo_os_seam *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (seam == NULL || seam->version != MO_OS_SEAM_VERSION)
    return luaL_error(L, "oshook: require('memobj') first");
  luaL_newlib(L, fns);
  return 1;
}

/*
** shared.c: the "shared" memory kind: POSIX shared memory (shm_open),
** shared by name between processes. It lives in the kernel until it is
** unlinked; attaching or exiting never unlinks.
**
** The creator's exact size is kept in a trailer page after the data
** (at the page-rounded size), so attachers see the size the creator
** gave, not a page-rounded one, while the data itself stays at offset 0
** where any other program that maps the object expects it. An object
** without our trailer (made by another program) attaches with its whole
** length.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../runtime/core.h"
#include <stddef.h>
#include "fmapkind.h"

typedef struct shared_mem {
  memobj_mem base;
  mo_fmap f;
  int fdwritable;  /* opened O_RDWR: may change the length */
  int trailer;     /* the object carries our size trailer */
  size_t newsize;  /* during resize: the size to set */
} shared_mem;
_Static_assert(offsetof(shared_mem, f) == offsetof(mo_fmapped, f),
               "the shared kind operations find the mapping here");

/* ---- The size trailer ---- */

#define TRAILER_MAGIC "memobjSH"
#define TRAILER_CHECK 0x6d656d6f626a5348ull

typedef struct trailer {
  char magic[8];
  uint64_t size;
  uint64_t check;  /* size ^ TRAILER_CHECK: a torn or foreign page fails */
} trailer;

/* File length for `size` bytes of data plus the trailer page; 0 on
** overflow. */
static off_t total_length(size_t size) {
  size_t ps = mo_os_pagesize(), up = mo_os_pageup(size);
  if (up == SIZE_MAX || up > (size_t)INT64_MAX - ps) return 0;
  return (off_t)(up + ps);
}

static int write_trailer(int fd, size_t size) {
  trailer t;
  memset(&t, 0, sizeof t);
  memcpy(t.magic, TRAILER_MAGIC, 8);
  t.size = size;
  t.check = size ^ TRAILER_CHECK;
  if (pwrite(fd, &t, sizeof t, (off_t)mo_os_pageup(size)) != (ssize_t)sizeof t)
    return errno ? errno : EIO;
  return 0;
}

/* The data size of the object open on fd; *has_trailer tells whether it
** came from our trailer or is the whole length. */
static int read_size(int fd, size_t *size, int *has_trailer) {
  size_t ps = mo_os_pagesize();
  struct stat st;
  trailer t;
  if (fstat(fd, &st) != 0) return errno;
  *size = (size_t)st.st_size;
  *has_trailer = 0;
  if (st.st_size < (off_t)ps || st.st_size % (off_t)ps != 0) return 0;
  if (pread(fd, &t, sizeof t, st.st_size - (off_t)ps) != (ssize_t)sizeof t)
    return 0;
  if (memcmp(t.magic, TRAILER_MAGIC, 8) != 0 ||
      t.check != (t.size ^ TRAILER_CHECK) || t.size > SIZE_MAX ||
      total_length((size_t)t.size) != st.st_size)
    return 0;
  *size = (size_t)t.size;
  *has_trailer = 1;
  return 0;
}

/* ---- Kind operations ---- */

/*
** The file change of a resize, run by mo_fmap_resize once the mapping is
** in place. Truncating to the smaller of the two sizes before extending
** zeroes every byte past the old size (the old trailer among them), so
** grown bytes read as zeros. On failure the old length and trailer are
** put back.
*/
static int set_size(void *ctx) {
  shared_mem *sm = (shared_mem *)ctx;
  size_t old = sm->base.size, n = sm->newsize;
  int err = 0;
  if (!sm->trailer) return ftruncate(sm->f.fd, (off_t)n) != 0 ? errno : 0;
  if (ftruncate(sm->f.fd, (off_t)(n < old ? n : old)) != 0 ||
      ftruncate(sm->f.fd, total_length(n)) != 0)
    err = errno;
  else
    err = write_trailer(sm->f.fd, n);
  if (err && ftruncate(sm->f.fd, total_length(old)) == 0)
    write_trailer(sm->f.fd, old);
  return err;
}

/* Other processes keep their mappings and the sizes they attached with. */
static int shared_resize(memobj_mem *m, size_t n) {
  shared_mem *sm = (shared_mem *)m;
  if (!sm->fdwritable) return EACCES;
  if (n > (size_t)INT64_MAX || (sm->trailer && total_length(n) == 0))
    return EFBIG;
  sm->newsize = n;
  return mo_fmapped_resize(m, n, 0, set_size, sm);
}

static const memobj_kind shared_kind = {
  "shared", "kernel", "name", shared_resize, mo_fmapped_release,
  mo_fmapped_sync, mo_fmapped_protect, mo_fmapped_advise
};

/* ---- Arguments ---- */

/* POSIX portable names: one leading "/", no other "/", no NUL. */
static const char *check_name(lua_State *L, int arg) {
  size_t len;
  const char *name = luaL_checklstring(L, arg, &len);
  luaL_argcheck(L, len >= 2 && name[0] == '/', arg,
                "shared memory name must be '/' followed by a name");
  luaL_argcheck(L, strchr(name + 1, '/') == NULL, arg,
                "shared memory name may not contain '/' after the first");
  luaL_argcheck(L, strlen(name) == len, arg,
                "shared memory name may not contain '\\0'");
  luaL_argcheck(L, len - 1 <= NAME_MAX, arg, "shared memory name too long");
  return name;
}

typedef struct shm_opts {
  int writable, exclusive;
  size_t perm, max;
} shm_opts;

static void check_opts(lua_State *L, int idx, shm_opts *o) {
  o->writable = 1;
  o->exclusive = mo_optbool_field(L, idx, "exclusive", 1);
  o->perm = mo_optsize_field(L, idx, "perm", 0600);
  o->max = mo_optsize_field(L, idx, "max", 0);
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  if (lua_getfield(L, idx, "mode") != LUA_TNIL) {
    const char *s = lua_tostring(L, -1);
    if (s == NULL || (strcmp(s, "r") != 0 && strcmp(s, "rw") != 0))
      luaL_argerror(L, idx, lua_pushfstring(L, "unknown mode '%s'",
                                            s ? s : luaL_typename(L, -1)));
    o->writable = s[1] == 'w';
  }
  lua_pop(L, 1);
  luaL_argcheck(L, o->perm <= 0777, idx, "perm must be within 0..0777");
}

static int fail(lua_State *L, const char *name, const char *why, int err) {
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: %s", name, why ? why : strerror(err));
  lua_pushinteger(L, err);
  return 3;
}

/* ---- Constructor ---- */

/* Finish an object whose descriptor is open: learn or set its size and
** map it. Returns 0 or an errno value. */
static int setup(shared_mem *sm, int fd, int created, size_t size,
                 const shm_opts *o) {
  int err;
  sm->f.fd = fd;
  sm->fdwritable = created || o->writable;
  if (created) {
    off_t total = total_length(size);
    if (total == 0) return EFBIG;
    if (ftruncate(fd, total) != 0) return errno;
    if ((err = write_trailer(fd, size)) != 0) return err;
    sm->trailer = 1;
  } else if ((err = read_size(fd, &size, &sm->trailer)) != 0) {
    return err;
  }
  if (o->max && o->max < size) return EINVAL;
  if ((err = mo_fmap_open(&sm->f, fd, 0, size, o->max, o->writable, 0)) != 0)
    return err;
  sm->base.ptr = mo_fmap_data(&sm->f);
  sm->base.size = size;
  sm->base.max = o->max;
  sm->base.writable = (uint8_t)o->writable;
  sm->base.closed = 0;
  return 0;
}

/* memobj.shared(name, size [, opts]) creates; memobj.shared(name [, nil,
** opts]) attaches. opts: mode, exclusive, perm, max. */
static int l_shared(lua_State *L) {
  const char *name = check_name(L, 1);
  int create = !lua_isnoneornil(L, 2);
  size_t size = create ? mo_checksize(L, 2) : 0;
  shm_opts o;
  shared_mem *sm;
  int fd, err, created = 0;
  check_opts(L, 3, &o);
  luaL_argcheck(L, !create || o.max == 0 || o.max >= size, 3,
                "max is smaller than size");
  /* the object first, closed until mapped: a Lua error cannot leak the fd */
  sm = (shared_mem *)mo_mem_new(L, &shared_kind, sizeof(shared_mem));
  sm->base.closed = 1;
  sm->f.fd = -1;
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  if (create) {
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)o.perm);
    created = fd >= 0;
    if (fd < 0 && errno == EEXIST && !o.exclusive)
      fd = shm_open(name, (o.writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
  } else {
    fd = shm_open(name, (o.writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
  }
  if (fd < 0) return fail(L, name, NULL, errno);
  err = setup(sm, fd, created, size, &o);
  if (!err && create && !created && sm->base.size != size) {
    mo_fmap_close(&sm->f);
    sm->base.closed = 1;
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: exists with size %I, not %I", name,
                    (lua_Integer)sm->base.size, (lua_Integer)size);
    lua_pushinteger(L, EEXIST);
    return 3;
  }
  if (err) {
    if (sm->f.region == NULL) {
      if (sm->f.fd >= 0) close(sm->f.fd);
    } else {
      mo_fmap_close(&sm->f);
    }
    sm->f.fd = -1;
    if (created) shm_unlink(name);
    return fail(L, name, err == EINVAL ? "max is smaller than the size" : NULL,
                err);
  }
  return 1;
}

/* m:unlink(): remove the name; every attached process keeps its mapping. */
static int l_unlink(lua_State *L) {
  memobj_mem *m = mo_checkmem(L, 1);
  const char *name;
  if (m->kind != &shared_kind)
    return luaL_error(L, "memobj: unlink: %s memory has no name to unlink",
                      m->kind->name);
  lua_getiuservalue(L, 1, 1);
  name = lua_tostring(L, -1);
  if (shm_unlink(name) != 0) return fail(L, name, NULL, errno);
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg mem_methods[] = {{"unlink", l_unlink}, {NULL, NULL}};

void mo_shared_open(lua_State *L) {
  mo_mem_addmethods(L, mem_methods);
  lua_pushcfunction(L, l_shared);
  lua_setfield(L, -2, "shared");
}

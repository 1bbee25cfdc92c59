/*
** mapped.c: the "mapped" memory kind: a file mapped into memory with
** mmap. Modes "r", "rw" (changes reach the file) and "private"
** (copy-on-write: the file never changes). Any byte offset; resize of an
** "rw" map sets the file length to offset + n. The OS calls are in
** osmap.c.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "../runtime/core.h"
#include "../runtime/core/os.h"
#include <stddef.h>
#include "fmapkind.h"
#include "openers.h"
#include "../runtime/core/xstate.h"

enum { MODE_R, MODE_RW, MODE_PRIVATE };

typedef struct mapped_mem {
  memobj_mem base;
  mo_fmap f;
  int mode;
  int device;    /* a device mapped with an explicit size: no length */
  off_t offset;  /* byte offset of the data in the file */
  off_t newlen;  /* during resize: the file length to set */
} mapped_mem;
_Static_assert(offsetof(mapped_mem, f) == offsetof(mo_fmapped, f),
               "the shared kind operations find the mapping here");

/* ---- Kind operations ---- */

static int file_length(int fd, off_t *len) {
  struct stat st;
  int err = mo_os_fstat(fd, &st);
  if (err == 0) *len = st.st_size;
  return err;
}

/* The file change of an rw resize: the length becomes offset + n. */
static int set_length(void *ctx) {
  mapped_mem *mm = (mapped_mem *)ctx;
  return mo_os_truncate(mm->f.fd, mm->newlen);
}

/*
** The mapping changes first and the file inside mo_fmap_resize's step,
** which undoes the mapping if the file cannot change: a failed resize
** leaves size, address, content and file as they were.
*/
/* A file whose size is sealed (a memfd another process shares, seen
** through /proc/<pid>/fd) cannot change that way: refused by intent, as
** a read-only map is, not left to the EPERM ftruncate would answer. */
static int size_sealed(const mapped_mem *mm, size_t n) {
  int seals;
  if (mo_os_get_seals(mm->f.fd, &seals) != 0) return 0;  /* not a memfd */
  return (n < mm->base.size && (seals & F_SEAL_SHRINK)) ||
         (n > mm->base.size && (seals & F_SEAL_GROW));
}

static int mapped_resize(memobj_mem *m, size_t n) {
  mapped_mem *mm = (mapped_mem *)m;
  off_t filelen = 0;
  int err;
  if (mm->mode == MODE_R) return -EACCES;  /* refused: misuse, raises */
  if (mm->device) return -EOPNOTSUPP;  /* a device has no length to set */
  if (n > (size_t)INT64_MAX - (size_t)mm->offset) return EFBIG;
  if (mm->mode == MODE_RW && size_sealed(mm, n)) return -EPERM;
  if (mm->mode == MODE_PRIVATE) {  /* the file is never touched */
    if ((err = file_length(mm->f.fd, &filelen)) != 0) return err;
    return mo_fmapped_resize(m, n, filelen, NULL, NULL);
  }
  mm->newlen = mm->offset + (off_t)n;
  return mo_fmapped_resize(m, n, mm->newlen, set_length, mm);
}

/* "rw" on a file opened "r" is refused here, by intent, rather than left
** to the EACCES mprotect would answer (an OS errno is an OS failure). */
static int mapped_protect(memobj_mem *m, int writable) {
  if (writable && ((mapped_mem *)m)->mode == MODE_R) return -EACCES;
  return mo_fmapped_protect(m, writable);
}

static const memobj_kind mapped_kind = {
  "mapped", "file", "path", mapped_resize, mo_fmapped_release,
  mo_fmapped_sync, mapped_protect, mo_fmapped_advise
};

/* ---- Options ---- */

typedef struct map_opts {
  int mode;
  size_t offset, size, create, max;
  int has_size, has_create;
} map_opts;

static int has_field(lua_State *L, int idx, const char *k) {
  int t;
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  t = lua_getfield(L, idx, k);
  lua_pop(L, 1);
  return t != LUA_TNIL;
}

static void check_opts(lua_State *L, int idx, map_opts *o) {
  static const char *const modes[] = {"r", "rw", "private", NULL};
  static const char *const options[] = {"mode", "offset", "size", "create",
                                        "max", NULL};
  memset(o, 0, sizeof *o);
  if (lua_isnoneornil(L, idx)) return;
  mo_checkoptions(L, idx, options);
  o->mode = mo_optmode_field(L, idx, modes, MODE_R);
  o->offset = mo_optsize_field(L, idx, "offset", 0);
  o->has_size = has_field(L, idx, "size");
  o->size = mo_optsize_field(L, idx, "size", 0);
  o->has_create = has_field(L, idx, "create");
  o->create = mo_optsize_field(L, idx, "create", 0);
  o->max = mo_optsize_field(L, idx, "max", 0);
  luaL_argcheck(L, !o->has_create || o->mode == MODE_RW, idx,
                "create needs mode 'rw'");
  luaL_argcheck(L, o->offset <= (size_t)INT64_MAX &&
                   o->create <= (size_t)INT64_MAX, idx, "offset too large");
}

/* nil, "path: why", errno */
static int fail(lua_State *L, const char *path, const char *why, int err) {
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: %s", path, why ? why : strerror(err));
  lua_pushinteger(L, err);
  return 3;
}

/* ---- Constructor ---- */

/*
** What may be mapped: a regular file whose file system can map it (not
** /proc or /sys, which list as regular files of no length), or a device
** when the caller gives the size (a device has no length to read). The
** file was opened O_NONBLOCK, so a fifo did not block the open; anything
** else fails here, at once. Returns NULL or why not; *dev tells a device.
*/
static const char *mappable(int fd, const struct stat *st, const map_opts *o,
                            int *dev) {
  *dev = S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode);
  if (*dev) {
    if (!o->has_size) return "a device maps only with an explicit size";
    if (o->has_create) return "create needs a regular file, not a device";
    return NULL;
  }
  if (S_ISDIR(st->st_mode)) return "is a directory, not a regular file";
  if (S_ISFIFO(st->st_mode)) return "is a fifo, not a regular file";
  if (!S_ISREG(st->st_mode)) return "is not a regular file";
  if (st->st_size == 0) {  /* nothing would be mapped now: try a page */
    void *p;
    if (mo_os_map(NULL, mo_page_size(), PROT_READ, MAP_SHARED, fd, 0, &p))
      return "this file cannot be mapped";
    mo_os_unmap(p, mo_page_size());
  }
  return NULL;
}

/* Close the descriptor and return nil, "path: why", err. */
static int fail_fd(lua_State *L, mapped_mem *mm, const char *path,
                   const char *why, int err) {
  mo_os_close(mm->f.fd);
  mm->f.fd = -1;
  return fail(L, path, why, err);
}

/* memobj.map(path [, {mode=, offset=, size=, create=, max=}]) */
static int l_map(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  static const int oflags[] = {O_RDONLY, O_RDWR, O_RDONLY};
  map_opts o;
  mapped_mem *mm;
  struct stat st;
  const char *why;
  off_t filelen = 0;
  int fd, err, dev;
  check_opts(L, 2, &o);
  /* the object first, closed until published: a Lua error cannot leak
  ** the fd */
  mm = (mapped_mem *)mo_mem_new(L, &mapped_kind, sizeof(mapped_mem));
  mm->f.fd = -1;
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  /* O_NONBLOCK: opening a fifo must not wait for a writer (it has no
  ** effect on regular files, and the descriptor only maps and sizes) */
  err = mo_os_open(path, oflags[o.mode] | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
                             (o.has_create ? O_CREAT : 0), 0666, &fd);
  if (err) return fail(L, path, NULL, err);
  mm->f.fd = fd;
  if ((err = mo_os_fstat(fd, &st)) != 0) return fail_fd(L, mm, path, NULL, err);
  if ((why = mappable(fd, &st, &o, &dev)) != NULL)
    return fail_fd(L, mm, path, why, S_ISDIR(st.st_mode) ? EISDIR : ENODEV);
  filelen = dev ? (off_t)INT64_MAX : st.st_size;
  if (o.has_create && filelen < (off_t)o.create) {
    if ((err = mo_os_truncate(fd, (off_t)o.create)) != 0)
      return fail_fd(L, mm, path, NULL, err);
    filelen = (off_t)o.create;
  }
  if ((off_t)o.offset > filelen)
    return fail_fd(L, mm, path, "offset beyond the end of the file", EINVAL);
  if (!o.has_size) o.size = (size_t)(filelen - (off_t)o.offset);
  else if (o.size > (size_t)(filelen - (off_t)o.offset))
    return fail_fd(L, mm, path, "range beyond the end of the file", EINVAL);
  if (o.max && o.max < o.size) {
    mo_os_close(fd);
    mm->f.fd = -1;
    return luaL_argerror(L, 2, "max is smaller than size");
  }
  err = mo_fmap_open(&mm->f, fd, (off_t)o.offset, o.size, o.max,
                     o.mode != MODE_R, o.mode == MODE_PRIVATE);
  if (err) return fail_fd(L, mm, path, NULL, err);
  mm->mode = o.mode;
  mm->device = dev;
  mm->offset = (off_t)o.offset;
  mm->base.max = o.max;
  mm->base.writable = o.mode != MODE_R;
  mo_mem_publish(L, &mm->base, mo_fmap_data(&mm->f), o.size);
  return 1;
}

void mo_mapped_open(lua_State *L) {
  mo_x_exportable(&mapped_kind, mo_fmapped_exportable);
  lua_pushcfunction(L, l_map);
  lua_setfield(L, -2, "map");
}

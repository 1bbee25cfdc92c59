/*
** shared.c: the "shared" memory kind: POSIX shared memory (shm_open),
** shared by name between processes. It lives in the kernel until it is
** unlinked; attaching or exiting never unlinks.
**
** The object is exactly its size: no header, no trailer, so any program
** (C, Python's multiprocessing.shared_memory, ls -l /dev/shm) sees what
** memobj sees. An attacher must never see a creation in progress (size
** 0, before the creator set it): the creator makes the object without a
** name (O_TMPFILE in /dev/shm, where glibc's shm_open keeps names), sets
** its size and maps it, and only then publishes it under the name with
** link(), which fails if the name exists, as O_EXCL would. Nothing that
** can fail comes after the name appears, so no failure has to unlink it.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../runtime/core.h"
#include "../runtime/core/os.h"
#include <stddef.h>
#include "fmapkind.h"
#include "openers.h"
#include "../runtime/core/xstate.h"

#define SHM_DIR "/dev/shm"

typedef struct shared_mem {
  memobj_mem base;
  mo_fmap f;
  int fdwritable;  /* opened O_RDWR: may change the length */
  size_t newsize;  /* during resize: the size to set */
} shared_mem;
_Static_assert(offsetof(shared_mem, f) == offsetof(mo_fmapped, f),
               "the shared kind operations find the mapping here");

/* ---- Kind operations ---- */

/* The file change of a resize, run by mo_fmap_resize once the mapping is
** in place: the object is exactly n bytes; grown bytes read as zeros. */
static int set_size(void *ctx) {
  shared_mem *sm = (shared_mem *)ctx;
  return mo_os_truncate(sm->f.fd, (off_t)sm->newsize);
}

/* Other processes keep their mappings and the sizes they attached with. */
static int shared_resize(memobj_mem *m, size_t n) {
  shared_mem *sm = (shared_mem *)m;
  if (!sm->fdwritable) return -EACCES;  /* refused: attached read-only */
  if (n > (size_t)INT64_MAX) return EFBIG;
  sm->newsize = n;
  return mo_fmapped_resize(m, n, 0, set_size, sm);
}

/* "rw" on an object attached read-only: refused by intent (see mapped.c). */
static int shared_protect(memobj_mem *m, int writable) {
  if (writable && !((shared_mem *)m)->fdwritable) return -EACCES;
  return mo_fmapped_protect(m, writable);
}

static const memobj_kind shared_kind = {
  "shared", "kernel", "name", shared_resize, mo_fmapped_release,
  mo_fmapped_sync, shared_protect, mo_fmapped_advise
};

/* ---- Creating complete, then publishing ---- */

/* A new unnamed object of `size` bytes in SHM_DIR: 0 or an errno value;
** its descriptor in *fd. */
static int create_unnamed(size_t size, mode_t perm, int *fd) {
  int err = mo_os_open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, perm, fd);
  if (err == 0 && (err = mo_os_truncate(*fd, (off_t)size)) != 0)
    mo_os_close(*fd);
  return err;
}

/* Give the unnamed object on fd the name; 0 or an errno value (EEXIST
** when the name is taken). */
static int publish(int fd, const char *name) {
  char to[sizeof SHM_DIR + NAME_MAX + 1];
  snprintf(to, sizeof to, "%s%s", SHM_DIR, name);
  return mo_os_link_fd(fd, to);
}

/* ---- Arguments ---- */

/* POSIX portable names: one leading "/", no other "/", no NUL; not "."
** or ".." (they name directories). */
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
  luaL_argcheck(L, strcmp(name, "/.") != 0 && strcmp(name, "/..") != 0, arg,
                "shared memory name may not be '/.' or '/..'");
  return name;
}

typedef struct shm_opts {
  int writable, exclusive;
  size_t perm, max;
} shm_opts;

static void check_opts(lua_State *L, int idx, shm_opts *o) {
  static const char *const modes[] = {"r", "rw", NULL};
  static const char *const options[] = {"mode", "exclusive", "perm", "max",
                                        NULL};
  mo_checkoptions(L, idx, options);
  o->writable = 1;
  o->exclusive = mo_optbool_field(L, idx, "exclusive", 1);
  o->perm = mo_optsize_field(L, idx, "perm", 0600);
  o->max = mo_optsize_field(L, idx, "max", 0);
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  o->writable = mo_optmode_field(L, idx, modes, o->writable);
  luaL_argcheck(L, o->perm <= 0777, idx, "perm must be within 0..0777");
}

static int fail(lua_State *L, const char *name, const char *why, int err) {
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: %s", name, why ? why : strerror(err));
  lua_pushinteger(L, err);
  return 3;
}

/* ---- Constructor ---- */

/* Map the object open on fd (size known) into sm. 0 or an errno value. */
static int setup(shared_mem *sm, int fd, int fdwritable,
                 size_t size, const shm_opts *o) {
  int err;
  sm->f.fd = fd;
  sm->fdwritable = fdwritable;
  err = mo_fmap_open(&sm->f, fd, 0, size, o->max, o->writable, 0);
  if (err) return err;
  sm->base.max = o->max;
  sm->base.writable = (uint8_t)o->writable;
  return 0;  /* the constructor publishes it */
}

/* Open the existing object `name`: its descriptor and size, or -1 and an
** errno value in *err. Only a regular file of /dev/shm is shared memory. */
static int open_existing(const char *name, int writable, size_t *size,
                         int *err) {
  struct stat st;
  int fd;
  *err = mo_os_shm_open(name, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC |
                                  O_NONBLOCK, 0, &fd);
  if (*err) return -1;
  if ((*err = mo_os_fstat(fd, &st)) == 0 && !S_ISREG(st.st_mode))
    *err = ENODEV;
  if (*err) {
    mo_os_close(fd);
    return -1;
  }
  *size = (size_t)st.st_size;
  return fd;
}

static void drop(shared_mem *sm) {
  if (sm->f.region) mo_fmap_close(&sm->f);
  else mo_os_close(sm->f.fd);
  sm->f.fd = -1;
  sm->base.closed = 1;
  sm->base.ptr = NULL;
  sm->base.size = 0;
}

/*
** Create `name` with `size` bytes into sm. The object is sized and mapped
** before it has a name, so an attacher never sees it half made and a
** failure leaves nothing where others can see it. 0 or an errno value
** (EEXIST: the name is taken; sm is then closed again).
*/
static int create_named(shared_mem *sm, const char *name, size_t size,
                        const shm_opts *o) {
  int fd, err;
  if ((err = create_unnamed(size, (mode_t)o->perm, &fd)) != 0) return err;
  if ((err = setup(sm, fd, 1, size, o)) == 0 &&
      (err = publish(fd, name)) == 0)
    return 0;
  drop(sm);
  return err;
}

/* memobj.shared(name, size [, opts]) creates; memobj.shared(name [, nil,
** opts]) attaches. opts: mode, exclusive, perm, max. */
static int l_shared(lua_State *L) {
  const char *name = check_name(L, 1);
  int create = !lua_isnoneornil(L, 2);
  size_t size = create ? mo_checksize(L, 2) : 0, have = 0;
  shm_opts o;
  shared_mem *sm;
  int fd, err;
  check_opts(L, 3, &o);
  luaL_argcheck(L, !create || size <= (size_t)INT64_MAX, 2, "size too large");
  luaL_argcheck(L, !create || o.max == 0 || o.max >= size, 3,
                "max is smaller than size");
  /* the object first, closed until published: a Lua error cannot leak
  ** the fd */
  sm = (shared_mem *)mo_mem_new(L, &shared_kind, sizeof(shared_mem));
  sm->f.fd = -1;
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  if (create) {
    if ((err = create_named(sm, name, size, &o)) == 0) {
      mo_mem_publish(L, &sm->base, mo_fmap_data(&sm->f), size);
      return 1;
    }
    if (err != EEXIST || o.exclusive) return fail(L, name, NULL, err);
  }
  /* attach (also: create with exclusive = false found the name taken) */
  if ((fd = open_existing(name, o.writable, &have, &err)) < 0)
    return fail(L, name, NULL, err);
  if (create && have != size) {
    mo_os_close(fd);
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: exists with size %I, not %I", name,
                    (lua_Integer)have, (lua_Integer)size);
    lua_pushinteger(L, EEXIST);
    return 3;
  }
  if (o.max && o.max < have) {  /* attaching: the object is larger */
    mo_os_close(fd);
    return fail(L, name, "max is smaller than the size", EINVAL);
  }
  if ((err = setup(sm, fd, o.writable, have, &o)) != 0) {
    drop(sm);
    return fail(L, name, NULL, err);
  }
  mo_mem_publish(L, &sm->base, mo_fmap_data(&sm->f), have);
  return 1;
}

/* m:unlink(): remove the name; every attached process keeps its mapping. */
static int l_unlink(lua_State *L) {
  memobj_mem *m = mo_checkmem(L, 1);
  const char *name;
  int err;
  if (m->kind != &shared_kind)
    return luaL_error(L, "memobj: unlink: %s memory has no name to unlink",
                      m->kind->name);
  /* a user value is Lua's to replace (debug.setuservalue): check it */
  if (lua_getiuservalue(L, 1, 1) != LUA_TSTRING)
    return luaL_error(L, "memobj: unlink: the object's name was replaced");
  name = lua_tostring(L, -1);
  if ((err = mo_os_shm_unlink(name)) != 0) return fail(L, name, NULL, err);
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg mem_methods[] = {{"unlink", l_unlink}, {NULL, NULL}};

void mo_shared_open(lua_State *L) {
  mo_x_exportable(&shared_kind, mo_fmapped_exportable);
  mo_mem_addmethods(L, mem_methods);
  lua_pushcfunction(L, l_shared);
  lua_setfield(L, -2, "shared");
}

/*
** memfd.c: the "memfd" memory kind: anonymous memory with a file
** descriptor (Linux memfd_create). It has no name to clean up and is gone
** when the last user closes it; another process maps it through m.path
** (/proc/<pid>/fd/<fd>) while this one lives. By default its size is
** sealed (F_SEAL_SHRINK | F_SEAL_GROW, then F_SEAL_SEAL): no process can
** shrink it under a mapping, so no attacher can be hit by SIGBUS, and
** resize raises. With seal = false it resizes like a shared file.
*/
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "../runtime/core.h"
#include "../runtime/core/os.h"
#include "fmapkind.h"
#include "openers.h"
#include "../runtime/core/xstate.h"

typedef struct memfd_mem {
  memobj_mem base;
  mo_fmap f;
  int sealed;
  off_t newlen;  /* during resize: the file length to set */
} memfd_mem;
_Static_assert(offsetof(memfd_mem, f) == offsetof(mo_fmapped, f),
               "the shared kind operations find the mapping here");

#define NAME_MAX_MEMFD 249  /* memfd_create's limit, without the NUL */

/* ---- Kind operations ---- */

static int set_length(void *ctx) {
  memfd_mem *mm = (memfd_mem *)ctx;
  return mo_os_truncate(mm->f.fd, mm->newlen);
}

/* The mapping changes first and the file in the step, which undoes the
** mapping if the file cannot change (osmap.c). */
static int memfd_resize(memobj_mem *m, size_t n) {
  memfd_mem *mm = (memfd_mem *)m;
  if (mm->sealed) return -EPERM;  /* refused: what ftruncate answers when sealed */
  if (n > (size_t)INT64_MAX) return EFBIG;
  mm->newlen = (off_t)n;
  return mo_fmapped_resize(m, n, mm->newlen, set_length, mm);
}

static const memobj_kind memfd_kind = {
  "memfd", "volatile", "path", memfd_resize, mo_fmapped_release,
  mo_fmapped_sync, mo_fmapped_protect, mo_fmapped_advise
};

/* m.fd and m.sealed */
static int memfd_field(lua_State *L, memobj_mem *m, const char *k) {
  memfd_mem *mm = (memfd_mem *)m;
  if (strcmp(k, "fd") == 0) lua_pushinteger(L, mm->f.fd);
  else if (strcmp(k, "sealed") == 0) lua_pushboolean(L, mm->sealed);
  else return 0;
  return 1;
}

/* ---- Lua constructor ---- */

static const char *optname(lua_State *L, int idx) {
  const char *name = "memobj";
  size_t len;
  if (lua_type(L, idx) != LUA_TTABLE) return name;
  if (lua_getfield(L, idx, "name") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "memobj: memfd: option 'name' must be a string");
    name = lua_tolstring(L, -1, &len);
    if (len > NAME_MAX_MEMFD || strlen(name) != len)
      luaL_error(L, "memobj: memfd: option 'name' must be at most %d bytes "
                    "without NUL", NAME_MAX_MEMFD);
  }
  lua_pop(L, 1);  /* the options table still holds the string */
  return name;
}

/* Create, size and seal the file; 0 or an errno value. *fd is -1 unless
** it succeeds. */
static int make_file(const char *name, size_t size, int seal, int *fd) {
  int err = mo_os_memfd(name, MFD_CLOEXEC | (seal ? MFD_ALLOW_SEALING : 0), fd);
  if (err) {
    *fd = -1;
    return err;
  }
  if ((err = mo_os_truncate(*fd, (off_t)size)) == 0 && seal)
    err = mo_os_add_seals(*fd, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  if (err) {
    mo_os_close(*fd);
    *fd = -1;
  }
  return err;
}

/* memobj.memfd(size [, {name=, seal=, max=}]) */
static int l_memfd(lua_State *L) {
  size_t size = mo_checksize(L, 1);
  const char *name;
  size_t max;
  int seal, fd, err;
  memfd_mem *mm;
  static const char *const options[] = {"name", "seal", "max", NULL};
  mo_checkoptions(L, 2, options);
  name = optname(L, 2);
  seal = mo_optbool_field(L, 2, "seal", 1);
  max = mo_optsize_field(L, 2, "max", 0);
  luaL_argcheck(L, max == 0 || max >= size, 2, "max is smaller than size");
  luaL_argcheck(L, max == 0 || !seal, 2,
                "a sealed memfd never grows: max needs seal = false");
  mm = (memfd_mem *)mo_mem_new(L, &memfd_kind, sizeof(memfd_mem));
  mm->f.fd = -1;
  err = make_file(name, size, seal, &fd);
  if (!err && (err = mo_fmap_open(&mm->f, fd, 0, size, max, 1, 0)) != 0)
    mo_fmap_close(&mm->f);  /* closes fd */
  if (err) return mo_failresult(L, "memfd", err);  /* never published */
  mm->sealed = seal;
  mm->base.max = max;
  lua_pushfstring(L, "/proc/%d/fd/%d", (int)mo_os_pid(), fd);
  lua_setiuservalue(L, -2, 1);
  mo_mem_publish(L, &mm->base, mo_fmap_data(&mm->f), size);
  return 1;
}

static const mo_kinddesc memfd_desc = {
  .kind = &memfd_kind, .ctor = l_memfd, .field = memfd_field
};

void mo_memfd_open(lua_State *L) {
  mo_kind_register(L, &memfd_desc);
  mo_x_exportable(&memfd_kind, mo_fmapped_exportable);
}

/*
** capi.c: the C API table that other C modules reach through memobj.h,
** published in the Lua registry under MEMOBJ_API_KEY. A buffer's handle
** is a lock record the runtime allocates, so the lock's layout stays
** internal (object.h).
*/
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "../core.h"
#include "../memobj.h"

/* Buffers this thread holds (for the fault check of `release`). */
static MO_TLS unsigned held;

/* The items of the bytes at idx: bytes ("B"), unless the view carries a
** description. */
static void describe(const mo_bytesrc *src, mo_bufinfo *info) {
  info->format = "B";
  info->itemsize = 1;
  info->count = src->length;
  info->stride = 1;
  info->first = 0;
  if (src->view != NULL && src->view->desc != NULL)
    src->view->desc->describe(src->view, info);
}

static void api_getbuffer(lua_State *L, int idx, memobj_buffer *b, int flags,
                          const char *what) {
  mo_bytesrc src;
  mo_bufinfo info;
  memobj_lock *lk;
  int write = (flags & MEMOBJ_WRITE) != 0;
  memset(b, 0, sizeof *b);
  idx = lua_absindex(L, idx);
  if (!mo_checkbytes(L, idx, &src))
    luaL_typeerror(L, idx, "memory object, view or string");
  if (write && src.mem == NULL)
    luaL_error(L, "memobj: %s: a Lua string is read-only", what);
  if (write && src.readonly)
    luaL_error(L, "memobj: %s: memory is read-only", what);
  describe(&src, &info);
  if (info.stride != (ptrdiff_t)info.itemsize && !(flags & MEMOBJ_STRIDED))
    luaL_error(L, "memobj: %s: the view's items are not contiguous "
                  "(ask with MEMOBJ_STRIDED)", what);
  if (src.mem != NULL) {  /* a Lua string needs no lock */
    /* pages of a mapped file already lost: C would read zeros */
    const char *lost = mo_fault_lost_at(src.ptr, src.length);
    if (lost) luaL_error(L, "memobj: %s: %s", what, lost);
    if ((lk = (memobj_lock *)malloc(sizeof *lk)) == NULL)
      luaL_error(L, "memobj: %s: not enough memory", what);
    mo_lock(L, src.mem, lk, src.offset, src.length, write, what);
    b->handle = lk;
    held++;
  }
  b->ptr = (unsigned char *)(src.length ? src.ptr + info.first : NULL);
  b->len = src.length;
  b->writable = write;
  b->format = info.format;
  b->itemsize = info.itemsize;
  b->count = info.count;
  b->stride = info.stride;
}

static void api_releasebuffer(memobj_buffer *b) {
  memobj_lock *lk = (memobj_lock *)b->handle;
  if (lk != NULL) {
    mo_unlock(lk);
    free(lk);
    if (held > 0) held--;
  }
  memset(b, 0, sizeof *b);
}

/* Release, then raise a fault the C code took on lost pages of a mapped
** file while it held buffers, once it holds none (so that raising never
** skips the release of another buffer). */
static void api_release(lua_State *L, memobj_buffer *b) {
  api_releasebuffer(b);
  if (held == 0) mo_fault_check(L);
}

static void api_tx_add(lua_State *L, memobj_buffer *b, size_t off, size_t len) {
  memobj_lock *lk = (memobj_lock *)b->handle;
  if (lk == NULL || lk->mem == NULL || !b->writable)
    luaL_error(L, "memobj: tx_add: buffer is not writable memory");
  if (off > b->len || len > b->len - off)
    luaL_error(L, "memobj: tx_add: range beyond the buffer");
  mo_prewrite(L, lk->mem, lk->offset + off, len);
}

static const memobj_api api = {
  MEMOBJ_API_VERSION, sizeof(memobj_api),
  api_getbuffer, api_releasebuffer, api_tx_add, api_release,
  mo_capi_newkind, mo_capi_newmemory, mo_capi_openmemory, mo_capi_checkmemory
};

void mo_capi_open(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&api);
  lua_setfield(L, LUA_REGISTRYINDEX, MEMOBJ_API_KEY);
}

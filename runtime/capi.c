/*
** capi.c: the C API table that other C modules reach through memobj.h,
** published in the Lua registry under MEMOBJ_API_KEY.
*/
#include <string.h>
#include "core.h"

static void api_getbuffer(lua_State *L, int idx, memobj_buffer *b, int flags,
                          const char *what) {
  mo_source s;
  int write = (flags & MEMOBJ_WRITE) != 0;
  int top = lua_gettop(L);
  memset(b, 0, sizeof *b);
  if (lua_type(L, idx) == LUA_TSTRING) {  /* no memory object needed */
    size_t len;
    const char *p = lua_tolstring(L, idx, &len);
    if (write) luaL_error(L, "memobj: %s: a Lua string is read-only", what);
    b->ptr = (unsigned char *)p;
    b->len = len;
    return;
  }
  mo_checksource(L, idx, &s);
  lua_settop(L, top);  /* idx keeps the memory object alive */
  if (write && s.readonly)
    luaL_error(L, "memobj: %s: memory is read-only", what);
  b->ptr = s.mem->ptr ? s.mem->ptr + s.offset : NULL;
  b->len = s.length;
  b->writable = !s.readonly;
  mo_lock(L, s.mem, &b->lock, s.offset, s.length, write, what);
}

static void api_releasebuffer(memobj_buffer *b) {
  mo_unlock(&b->lock);
  b->ptr = NULL;
  b->len = 0;
}

static void api_tx_add(lua_State *L, memobj_buffer *b, size_t off, size_t len) {
  memobj_mem *m = b->lock.mem;
  if (m == NULL) luaL_error(L, "memobj: tx_add: buffer is not writable memory");
  if (off > b->len || len > b->len - off)
    luaL_error(L, "memobj: tx_add: range beyond the buffer");
  mo_prewrite(L, m, b->lock.offset + off, len);
}

static const memobj_api api = {
  MEMOBJ_API_VERSION, sizeof(memobj_api),
  api_getbuffer, api_releasebuffer, api_tx_add
};

void mo_capi_open(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&api);
  lua_setfield(L, LUA_REGISTRYINDEX, MEMOBJ_API_KEY);
}

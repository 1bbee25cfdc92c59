/*
** fvcopy.c: the memcpy baseline for bench/fileview.lua: copy the bytes of
** a memory object out in chunks of `chunk` bytes into one scratch buffer,
** as fast as C can. Built by the benchmark into /tmp.
*/
#include <stdlib.h>
#include <string.h>
#include <memobj.h>

static int copy(lua_State *L) {
  memobj_buffer b;
  size_t chunk = (size_t)luaL_checkinteger(L, 2), off, n;
  unsigned char *scratch = malloc(chunk ? chunk : 1);
  unsigned sum = 0;
  if (scratch == NULL) return luaL_error(L, "out of memory");
  memobj_getbuffer(L, 1, &b, MEMOBJ_READ, "fvcopy");
  for (off = 0; off < b.len; off += n) {
    n = b.len - off < chunk ? b.len - off : chunk;
    memcpy(scratch, b.ptr + off, n);
    sum += scratch[n - 1];  /* keep the copy observable */
  }
  memobj_releasebuffer(L, &b);
  free(scratch);
  lua_pushinteger(L, sum);
  return 1;
}

int luaopen_fvcopy(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, copy);
  lua_setfield(L, -2, "copy");
  return 1;
}

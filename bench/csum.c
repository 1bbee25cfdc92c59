/*
** csum.c: the baseline for a:sum(): a plain C loop with four accumulators
** over the same float64 buffer, reached through memobj.h. Built by
** bench/array.lua into /tmp.
*/
#include <memobj.h>

static int sum(lua_State *L) {
  memobj_buffer b;
  const double *p;
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t n, i;
  memobj_getbuffer(L, 1, &b, MEMOBJ_READ, "csum");
  p = (const double *)b.ptr;
  n = b.len / sizeof(double);
  for (i = 0; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  for (; i < n; i++) s0 += p[i];
  memobj_releasebuffer(L, &b);
  lua_pushnumber(L, (s0 + s1) + (s2 + s3));
  return 1;
}

int luaopen_csum(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, sum);
  lua_setfield(L, -2, "sum");
  return 1;
}

/*
** f32loops.c: plain C loops over a float32 array in place, the baselines
** of bench/kernels.lua's float32 rows: the operation memobj computes
** (divide or multiply in double, round once), the multiply in double alone
** (what any exact path through doubles must at least do), and numpy's
** float division and subtraction. Built by bench/kernels.lua into /tmp with
** -O3 -mavx2 (the code memobj's AVX2 clones run).
*/
#include <memobj.h>

#define LOOP(name, expr)                                              \
  static int name(lua_State *L) {                                     \
    memobj_buffer b;                                                  \
    double y = luaL_checknumber(L, 2);                                \
    float yf = (float)y, *p;                                          \
    size_t n, k;                                                      \
    (void)yf;                                                         \
    memobj_getbuffer(L, 1, &b, MEMOBJ_WRITE, "f32loops");             \
    p = (float *)(void *)b.ptr;                                       \
    n = b.len / sizeof(float);                                        \
    for (k = 0; k < n; k++) p[k] = (expr);                            \
    memobj_releasebuffer(L, &b);                                      \
    return 0;                                                         \
  }
LOOP(div64, (float)((double)p[k] / y))
LOOP(mul64, (float)((double)p[k] * y))
LOOP(div32, p[k] / yf)
LOOP(sub32, p[k] - yf)

int luaopen_f32loops(lua_State *L) {
  static const luaL_Reg fns[] = {{"div64", div64}, {"mul64", mul64},
    {"div32", div32}, {"sub32", sub32}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}

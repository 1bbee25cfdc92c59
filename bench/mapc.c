/*
** mapc.c: baselines for bench/mmap_scan.lua and bench/ipc.lua, built by
** them into /tmp: a wall clock (os.clock counts CPU time, which misses
** time spent waiting for another process), and a plain C mmap + summing
** loop over a float64 file.
*/
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec * 1e-9);
  return 1;
}

/* mmap_sum(path): open, mmap, sum as float64 with four accumulators (as
** a:sum() does), unmap, close. */
static int mmap_sum(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  const double *p;
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t n, i;
  int fd = open(path, O_RDONLY);
  if (fd < 0 || fstat(fd, &st) != 0) return luaL_error(L, "cannot open %s", path);
  p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return luaL_error(L, "cannot map %s", path);
  n = (size_t)st.st_size / sizeof(double);
  for (i = 0; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  for (; i < n; i++) s0 += p[i];
  munmap((void *)p, (size_t)st.st_size);
  close(fd);
  lua_pushnumber(L, (s0 + s1) + (s2 + s3));
  return 1;
}

int luaopen_mapc(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, now);
  lua_setfield(L, -2, "now");
  lua_pushcfunction(L, mmap_sum);
  lua_setfield(L, -2, "mmap_sum");
  return 1;
}

/*
** arena_threads.c: two threads, each with its own Lua state switched to
** the arena (memobj.set_allocator("arena", "lua")), build and drop trees
** and strings at the same time and check what they built; each state is
** then closed through its arena, and the round repeats with new states.
** Usage: arena_threads <dir of memobj.so> [rounds]. Exit 0 when every
** thread's script succeeded.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <lauxlib.h>
#include <lualib.h>

static const char *dir;

static const char script[] =
  "local memobj = require('memobj')\n"
  "assert(memobj.set_allocator('arena', 'lua') == nil)\n"
  "local function make(d) if d == 0 then return {} end\n"
  "  return {make(d - 1), make(d - 1)} end\n"
  "local function count(t) if t[1] then return 1 + count(t[1]) + count(t[2]) end\n"
  "  return 1 end\n"
  "local keep = make(12)\n"
  "for i = 1, 60 do assert(count(make(10)) == 2047) end\n"
  "local s = {}\n"
  "for i = 1, 50000 do s[i] = ('k%d'):format(i) .. string.rep('z', i % 40) end\n"
  "for i = 1, 50000, 997 do assert(s[i] == ('k%d'):format(i) .. string.rep('z', i % 40)) end\n"
  "local m = memobj.heap(1000)\n"
  "assert(memobj.set_allocator('default', 'lua') == 'arena')\n"
  "for i = 1, 20000 do s[i] = {i} end\n"
  "assert(memobj.set_allocator('arena', 'lua') == nil)\n"
  "for i = 1, 20000 do assert(s[i][1] == i) end\n"
  "assert(count(keep) == 8191)\n";

static void *worker(void *arg) {
  long *failed = (long *)arg;
  lua_State *L = luaL_newstate();
  char path[4096];
  if (L == NULL) {
    *failed = 1;
    return NULL;
  }
  luaL_openlibs(L);
  snprintf(path, sizeof path, "package.cpath = '%s/?.so;' .. package.cpath", dir);
  if (luaL_dostring(L, path) != LUA_OK || luaL_dostring(L, script) != LUA_OK) {
    fprintf(stderr, "arena_threads: %s\n", lua_tostring(L, -1));
    *failed = 1;
  }
  lua_close(L);  /* every block goes back through the chain */
  return NULL;
}

int main(int argc, char **argv) {
  int rounds = argc > 2 ? atoi(argv[2]) : 3, r, i;
  long failed[2] = {0, 0};
  pthread_t t[2];
  if (argc < 2) {
    fprintf(stderr, "usage: arena_threads <dir of memobj.so> [rounds]\n");
    return 2;
  }
  dir = argv[1];
  for (r = 0; r < rounds; r++) {
    for (i = 0; i < 2; i++)
      if (pthread_create(&t[i], NULL, worker, &failed[i]) != 0) return 2;
    for (i = 0; i < 2; i++) pthread_join(t[i], NULL);
  }
  printf("arena_threads: %d rounds of 2 threads, %s\n", rounds,
         failed[0] || failed[1] ? "FAILED" : "ok");
  return failed[0] || failed[1];
}

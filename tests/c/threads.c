/*
** threads.c: two Lua states in two POSIX threads use memobj at the same
** time (heap, mapped files, views, transactions, the debug heap, and in
** thread A only a mapped file truncated under it), and nothing crosses
** over: each state's switches, faults and data stay its own. Started by
** tests/threads_spec.lua; prints one line per thread and exits 0 when
** both finished without an error.
**
**   threads <memobj build dir> [iterations]
*/
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Run by each thread with arguments role ("A" or "B") and iterations. */
static const char chunk[] =
  "local role, iters = ...\n"
  "local memobj = require('memobj')\n"
  "local function check(c, msg) if not c then error(role .. ': ' .. msg, 2) end end\n"
  "local function newfile(n)\n"
  "  local p = os.tmpname()\n"
  "  local f = assert(io.open(p, 'wb')); f:write(string.rep('\\0', n)); f:close()\n"
  "  return p\n"
  "end\n"
  "local mine = role == 'A'\n"
  "memobj.debug(mine)  -- the debug heap is on in A's state only\n"
  "local path = newfile(65536)\n"
  "local mul = mine and 1 or 3\n"
  "local faults = 0\n"
  "for it = 1, iters do\n"
  "  check(memobj.debug() == mine, 'the debug switch crossed over')\n"
  "  -- a fresh debug block is filled with 0xCD; a plain one is not\n"
  "  local z = assert(memobj.heap(64, {zero = false}))\n"
  "  check((z:bytes():string() == string.rep('\\xCD', 64)) == mine,\n"
  "        'a heap block of the wrong debug state')\n"
  "  z:close()\n"
  "  -- heap, typed array, transactions\n"
  "  local h = assert(memobj.heap(4096))\n"
  "  local a = h:array('i32')\n"
  "  for i = 1, #a do a[i] = i * mul end\n"
  "  check(a:sum() == mul * 1024 * 1025 // 2, 'heap contents')\n"
  "  h:begin(); a[1] = -5; a[1000] = -5; h:abort()\n"
  "  check(a[1] == mul and a[1000] == 1000 * mul, 'abort restored')\n"
  "  local ok = pcall(h.transaction, h, function() a[2] = 77; error('x') end)\n"
  "  check(not ok and a[2] == 2 * mul, 'rollback on error')\n"
  "  h:transaction(function() a[3] = it end)\n"
  "  check(a[3] == it, 'commit')\n"
  "  a:release(); h:close()\n"
  "  -- a mapped file, byte views, a transaction on it\n"
  "  local m = assert(memobj.map(path, {mode = 'rw'}))\n"
  "  local tag = role .. it\n"
  "  m:bytes():put(1, tag)\n"
  "  check(m:bytes():string(1, #tag) == tag, 'mapped contents')\n"
  "  m:transaction(function() m:array('u8')[100] = it % 256 end)\n"
  "  check(m:array('u8')[100] == it % 256, 'mapped transaction')\n"
  "  if mine then\n"
  "    -- only A's mapping loses its pages: only A may see the fault\n"
  "    local tp = newfile(8192)\n"
  "    local t = assert(memobj.map(tp, {mode = 'r'}))\n"
  "    local ta = t:array('u8')\n"
  "    assert(io.open(tp, 'wb')):close()  -- truncate to 0 under the mapping\n"
  "    local ok2 = pcall(function() return ta[8000] end)\n"
  "    check(not ok2, 'the truncated mapping did not raise')\n"
  "    faults = faults + 1\n"
  "    ta:release(); t:close(); os.remove(tp)\n"
  "  else\n"
  "    -- B reads its healthy mapping the whole time: any error is A's fault\n"
  "    local u = m:array('u8')\n"
  "    local s = 0\n"
  "    for k = 1, 2000 do s = s + u[k] end\n"
  "    u:release()\n"
  "  end\n"
  "  m:close()\n"
  "  if it % 25 == 0 then collectgarbage() end\n"
  "end\n"
  "os.remove(path)\n"
  "memobj.debug(false)\n"
  "return string.format('%s ok: %d iterations, %d faults', role, iters, faults)\n";

typedef struct job {
  const char *role;
  const char *build;
  int iters;
  pthread_barrier_t *start;
  int ok;
  char msg[512];
} job;

static void *run(void *arg) {
  job *j = (job *)arg;
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    snprintf(j->msg, sizeof j->msg, "%s: no Lua state", j->role);
    return NULL;
  }
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.so", j->build);
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  pthread_barrier_wait(j->start);  /* both states work at the same time */
  if (luaL_loadstring(L, chunk) != LUA_OK) {
    snprintf(j->msg, sizeof j->msg, "%s", lua_tostring(L, -1));
  } else {
    lua_pushstring(L, j->role);
    lua_pushinteger(L, j->iters);
    j->ok = lua_pcall(L, 2, 1, 0) == LUA_OK;
    snprintf(j->msg, sizeof j->msg, "%s", lua_tostring(L, -1));
  }
  lua_close(L);
  return NULL;
}

int main(int argc, char **argv) {
  pthread_barrier_t start;
  pthread_t t[2];
  job jobs[2];
  int i, n = argc > 2 ? atoi(argv[2]) : 200;
  if (argc < 2) {
    fprintf(stderr, "usage: threads <memobj build dir> [iterations]\n");
    return 2;
  }
  pthread_barrier_init(&start, NULL, 2);
  for (i = 0; i < 2; i++) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    jobs[i].role = i == 0 ? "A" : "B";
    jobs[i].build = argv[1];
    jobs[i].iters = n;
    jobs[i].start = &start;
    if (pthread_create(&t[i], NULL, run, &jobs[i]) != 0) return 2;
  }
  for (i = 0; i < 2; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&start);
  for (i = 0; i < 2; i++) printf("%s\n", jobs[i].msg);
  return jobs[0].ok && jobs[1].ok ? 0 : 1;
}

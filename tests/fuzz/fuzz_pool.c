/*
** fuzz_pool.c: libFuzzer target for opening and recovering pool files.
** Each input is written to a file and opened with memobj.persistent: a
** valid pool must open (recovering its log) and read back; anything else
** must give nil, message and leave the file's bytes exactly as they were.
** Built by `make fuzz`; the seeds are real pools with logs to recover.
*/
#include <stdint.h>
#include <unistd.h>
#include "fuzz_lua.h"

static const char *const check_src =
  "local memobj = require('memobj')\n"
  "local function slurp(path)\n"
  "  local f = assert(io.open(path, 'rb'))\n"
  "  local s = f:read('a')\n"
  "  f:close()\n"
  "  return s\n"
  "end\n"
  "return function(path)\n"
  "  local before = slurp(path)\n"
  "  local m, msg = memobj.persistent(path, nil, {durability = 'process'})\n"
  "  if not m then\n"
  "    assert(type(msg) == 'string', 'no message')\n"
  "    assert(slurp(path) == before, 'a refused pool changed on disk: ' .. msg)\n"
  "    return\n"
  "  end\n"
  "  local b = m:bytes()\n"
  "  assert(#b:string() == m.size)\n"
  "  b:release()\n"
  "  m:close()\n"
  "  assert(memobj.persistent(path, nil, {durability = 'process'})):close()\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = fuzz_state(check_src, "check");
  char path[64];
  FILE *f;
  snprintf(path, sizeof path, "/tmp/memobj-fuzz-%d.pool", (int)getpid());
  f = fopen(path, "wb");
  if (f == NULL) abort();
  fwrite(data, 1, size, f);
  fclose(f);
  lua_getglobal(L, "check");
  lua_pushstring(L, path);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "pool check failed: %s\n", lua_tostring(L, -1));
    abort();
  }
  unlink(path);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}

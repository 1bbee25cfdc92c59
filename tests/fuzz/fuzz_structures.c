/*
** fuzz_structures.c: libFuzzer target for queues and dictionaries over
** untrusted bytes. The first byte picks the kind and the mode: the rest
** of the input is either the whole image of the memory (attach it: a
** structure, or nil, message, 22) or a list of 3-byte patches (offset,
** value) applied to a structure that was filled first (the 64 bytes
** of the lock word are glibc's and stay whole: doc/structures.md). Then a mix of
** operations runs; each may raise a Lua error ("damaged"), none may
** crash, hang or read outside the memory. Built by `make fuzz` (ASan,
** UBSan).
*/
#include <stdint.h>
#include "fuzz_lua.h"

static const char *const check_src =
  "local memobj = require('memobj')\n"
  "local SIZE = 2048\n"
  "local function ops(s, isq)\n"
  "  if isq then\n"
  "    pcall(s.push, s, 'abc', 42, 2.5, true)\n"
  "    pcall(s.pop, s, 3)\n"
  "    pcall(s.get, s, 0)\n"
  "    pcall(s.put, s, ('x'):rep(100), 0)\n"
  "    pcall(function() return #s, s.used, s.capacity end)\n"
  "    pcall(s.pop, s, 100)\n"
  "  else\n"
  "    pcall(function() return s.k1, s.k2, s[3], #s, s.used end)\n"
  "    pcall(function() s.k1 = ('v'):rep(70) end)\n"
  "    pcall(s.incr, s, 'n', 1, 0)\n"
  "    pcall(s.delete, s, 'k2')\n"
  "    pcall(function() for k, v in pairs(s) do end end)\n"
  "    pcall(s.keys, s)\n"
  "    pcall(s.add, s, 'z', 1)\n"
  "  end\n"
  "end\n"
  "return function(data)\n"
  "  local mode = data:byte(1) or 0\n"
  "  local isq = mode % 2 == 0\n"
  "  local h = memobj.heap(SIZE)\n"
  "  local b = h:bytes()\n"
  "  local s\n"
  "  if mode & 2 == 0 then\n"
  "    -- the lock word is glibc's: keep a real one (doc/structures.md)\n"
  "    local t\n"
  "    if isq then t = h:queue() else t = h:dict() end\n"
  "    local lock = b:string(65, 128)\n"
  "    t:release()\n"
  "    b:fill(0)\n"
  "    b:put(1, data:sub(2, SIZE + 1))\n"
  "    if #data > 65 then b:put(65, lock) end\n"
  "    if isq then s = h:queue() else s = h:dict() end\n"
  "    if not s then return end\n"
  "  else\n"
  "    if isq then s = assert(h:queue()) else s = assert(h:dict()) end\n"
  "    ops(s, isq)\n"
  "    if not isq then for i = 1, 8 do s['k' .. i] = ('w'):rep(i * 9) end end\n"
  "    for i = 2, #data - 2, 3 do\n"
  "      local off = (data:byte(i) | (data:byte(i + 1) << 8)) % SIZE\n"
  "      if off < 64 or off >= 128 then b[off + 1] = data:byte(i + 2) end\n"
  "    end\n"
  "  end\n"
  "  ops(s, isq)\n"
  "  s:release(); b:release(); h:close()\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = fuzz_state(check_src, "check");
  lua_getglobal(L, "check");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "structures check failed: %s\n", lua_tostring(L, -1));
    abort();
  }
  return 0;
}

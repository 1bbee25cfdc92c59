/*
** fuzz_pattern.c: libFuzzer target for the pattern matcher, run
** differentially: every input is a (pattern, subject) pair, searched
** with Lua's own string library and with memobj byte views; any
** difference in results or error messages aborts. Built by `make fuzz`.
*/
#include <stdint.h>
#include "fuzz_lua.h"

static const char *const check_src =
  "local memobj = require('memobj')\n"
  "local function pack(ok, ...) return {ok = ok, n = select('#', ...), ...} end\n"
  "local function same(a, b)\n"
  "  if a.ok ~= b.ok or a.n ~= b.n then return false end\n"
  "  for i = 1, a.n do if a[i] ~= b[i] then return false end end\n"
  "  return true\n"
  "end\n"
  "local function complex(r) return not r.ok and tostring(r[1]):find('too complex') end\n"
  "return function(p, s, init)\n"
  "  local b = memobj.bytes(s)\n"
  "  for _, op in ipairs({'find', 'match'}) do\n"
  "    local x = pack(pcall(string[op], s, p, init))\n"
  "    local y = pack(pcall(b[op], b, p, init))\n"
  "    if not same(x, y) and not complex(x) and not complex(y) then\n"
  "      return op .. ': ' .. tostring(x[1]) .. ' vs ' .. tostring(y[1])\n"
  "    end\n"
  "  end\n"
  "  local function collect(it)\n"
  "    local t = {}\n"
  "    for i = 1, 50 do\n"
  "      local r = pack(pcall(it))\n"
  "      t[#t + 1] = r\n"
  "      if not r.ok or r[1] == nil then break end\n"
  "    end\n"
  "    return t\n"
  "  end\n"
  "  local x = collect(string.gmatch(s, p))\n"
  "  local y = collect(b:gmatch(p))\n"
  "  if #x ~= #y then return 'gmatch: count' end\n"
  "  for i = 1, #x do\n"
  "    if not same(x[i], y[i]) and not complex(x[i]) and not complex(y[i]) then\n"
  "      return 'gmatch: item ' .. i\n"
  "    end\n"
  "  end\n"
  "  return nil\n"
  "end\n";

/* Backtracking is exponential in the number of repetitions (in Lua's
** matcher as in ours): keep inputs where both finish quickly. */
static int tractable(const uint8_t *p, size_t lp, size_t ls) {
  size_t i, reps = 0;
  for (i = 0; i < lp; i++)
    reps += p[i] == '*' || p[i] == '+' || p[i] == '-' || p[i] == '?';
  return reps <= 3 && ls <= 96;
}

/* Input: one byte of pattern length, one of init, then pattern and
** subject bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = fuzz_state(check_src, "check");
  size_t lp;
  if (size < 2) return 0;
  lp = data[0] % (size - 1);
  if (lp > size - 2) lp = size - 2;
  if (!tractable(data + 2, lp, size - 2 - lp)) return 0;
  lua_getglobal(L, "check");
  lua_pushlstring(L, (const char *)data + 2, lp);
  lua_pushlstring(L, (const char *)data + 2 + lp, size - 2 - lp);
  lua_pushinteger(L, (int8_t)data[1]);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK || !lua_isnil(L, -1)) {
    fprintf(stderr, "difference: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_pop(L, 1);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}

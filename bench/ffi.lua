-- bench/ffi.lua: the cost of calling C through memobj.ffi against a plain
-- Lua C function in the same process.
--   LUA_CPATH="build/?.so;;" lua5.4 bench/ffi.lua [calls]   (default 2e6)
local memobj = require("memobj")
local ffi = require("memobj.ffi")

local N = math.tointeger(tonumber(arg and arg[1]) or 2e6)
local libc = assert(ffi.load("libc.so.6"))
local abs = libc:func("abs", "int", {"int"})
local labs = libc:func("labs", "long", {"long"})
local strlen = libc:func("strlen", "size_t", {"buffer"})
local mabs = math.abs
local clock = os.clock

local function run(f, x)
  local t = clock()
  for i = 1, N do f(-i) end
  return (clock() - t) / N * 1e9
end

local function runbuf(f, x)
  local t = clock()
  for _ = 1, N do f(x) end
  return (clock() - t) / N * 1e9
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local heap = memobj.heap(16)
libc:func("memset", "pointer", {"wbuffer", "int", "size_t"})(heap, 65, 15)
local cases = {
  {"math.abs (baseline)", function() return run(mabs) end},
  {"ffi abs (int)", function() return run(abs) end},
  {"ffi labs (long)", function() return run(labs) end},
  {"ffi strlen(Lua string)", function() return runbuf(strlen, "hello world") end},
  {"ffi strlen(heap: locked)", function() return runbuf(strlen, heap) end},
}
local res = {}
for _, c in ipairs(cases) do res[c[1]] = {} end
for _ = 1, 5 do  -- interleaved rounds, medians
  for _, c in ipairs(cases) do table.insert(res[c[1]], c[2]()) end
end
local base = median(res[cases[1][1]])
print(string.format("%d calls per run, median of 5 interleaved runs", N))
for _, c in ipairs(cases) do
  local ns = median(res[c[1]])
  print(string.format("%-28s %7.1f ns/call  %5.2fx", c[1], ns, ns / base))
end

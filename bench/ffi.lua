-- ffi.lua: the cost of calling C through memobj.ffi against calling a
-- plain Lua C function (math.abs) in the same process.
--   LUA_CPATH="build/?.so;;" LUA_PATH="bench/?.lua;;" lua5.4 bench/ffi.lua [calls]
-- (default 2,000,000 calls per run; MEMOBJ_BENCH_RUNS sets the runs)
local memobj = require("memobj")
local ffi = require("memobj.ffi")
local B = require("common")

local N = math.tointeger(tonumber(arg and arg[1]) or 2000000)
local libc = assert(ffi.load("libc.so.6"))
local abs = libc:func("abs", "int", {"int"})
local abs_ffi = libc:func("abs", "int", {"int"}, {libffi = true})
local strlen = libc:func("strlen", "size_t", {"buffer"})
local mabs = math.abs

local function calls(f)
  return function() for i = 1, N do f(-i) end end
end
local function bufcalls(f, x)
  return function() for _ = 1, N do f(x) end end
end

local function report(what, fn, goal)
  local ours, base = B.compare(fn, calls(mabs))
  print(("%-44s %6.1f ns/call, math.abs %5.1f ns/call"):format(what,
        ours / N * 1e9, base / N * 1e9))
  B.row("ffi", what, ours / base, "x", goal)
end

local heap = memobj.heap(16)
libc:func("memset", "pointer", {"wbuffer", "int", "size_t"})(heap, 65, 15)

report("abs(int) vs math.abs", calls(abs), "<= 3x")
report("abs(int) through ffi_call vs math.abs", calls(abs_ffi), "")
report("strlen(Lua string) vs math.abs", bufcalls(strlen, "hello world"), "")
report("strlen(heap memory, locked) vs math.abs", bufcalls(strlen, heap), "")

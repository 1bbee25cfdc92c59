-- array.lua: typed array costs against a plain Lua table, a plain C loop,
-- and Lua strings, all measured in this process.
local memobj = require("memobj")
local B = require("common")

local N = (B.mb and B.mb * 131072) or 10000000  -- float64 items (10M: 80 MB)

local t, a = {}, memobj.array("f64", N)
for i = 1, N do t[i] = i * 0.5; a[i] = i * 0.5 end

-- a[i] read and write
local ours, base = B.compare(function()
  local s = 0
  for i = 1, N do s = s + a[i] end
end, function()
  local s = 0
  for i = 1, N do s = s + t[i] end
end)
B.row("array", "a[i] read vs t[i]", ours / base, "x", "<= 4.5x")
print(("a[i] read %.1f ns, t[i] read %.1f ns"):format(ours / N * 1e9, base / N * 1e9))

ours, base = B.compare(function()
  for i = 1, N do a[i] = i end
end, function()
  for i = 1, N do t[i] = i end
end)
B.row("array", "a[i] = v vs t[i] = v", ours / base, "x", "<= 4.5x")

-- batching: 8 values per call
ours, base = B.compare(function()
  local s = 0
  for i = 1, N - 7, 8 do
    local v1, v2, v3, v4, v5, v6, v7, v8 = a:unpack(i, i + 7)
    s = s + v1 + v2 + v3 + v4 + v5 + v6 + v7 + v8
  end
end, function()
  local s = 0
  for i = 1, N - 7, 8 do
    s = s + t[i] + t[i + 1] + t[i + 2] + t[i + 3] + t[i + 4] + t[i + 5] + t[i + 6] + t[i + 7]
  end
end)
B.row("array", "a:unpack(i, i+7) per element vs t[i]", ours / base, "x", "<= 1.5x")

ours, base = B.compare(function()
  local s = 0
  for _, v in pairs(a) do s = s + v end
end, function()
  local s = 0
  for _, v in ipairs(t) do s = s + v end
end)
B.row("array", "pairs(a) vs ipairs(t)", ours / base, "x", "")

-- a:sum() against a plain C loop with 4 accumulators
local so = "/tmp/memobj_bench_csum.so"
local cflags = io.popen("pkg-config --cflags lua5.4"):read("a"):gsub("%s+$", "")
assert(os.execute(("gcc -O2 -shared -fPIC %s -Iruntime -o %s bench/csum.c")
  :format(cflags, so)), "cannot build the C baseline")
local csum = package.loadlib(so, "luaopen_csum")()
assert(math.abs(csum.sum(a) - a:sum()) <= 1e-6 * math.abs(a:sum()))
ours, base = B.compare(function()
  for _ = 1, 5 do a:sum() end
end, function()
  for _ = 1, 5 do csum.sum(a) end
end)
B.row("array", "a:sum() speed as % of a C 4-accumulator loop", 100 * base / ours, "%", ">= 80%")
print(("a:sum() %.1f GB/s"):format(5 * 8 * N / ours / 1e9))
t = nil

-- create + collect: memobj.heap(64) against a 64-byte Lua string
local M = 1000000
ours, base = B.compare(function()
  for _ = 1, M do local _ = memobj.heap(64) end
  collectgarbage()
end, function()
  local rep = string.rep
  for _ = 1, M do local _ = rep("x", 64) end
  collectgarbage()
end)
B.row("array", "memobj.heap(64) create+collect vs 64-byte string", ours / base, "x", "<= 1.5x")

-- mmap_scan.lua: sum a float64 file through memobj.map():array():sum()
-- against io.read + string.unpack and against a plain C mmap loop (built
-- here with gcc into /tmp). Also the cost of the SIGBUS check on the a[i]
-- hot path: the same loop against a copy of memobj built without it.
--
--   LUA_CPATH="build/?.so;;" LUA_PATH="bench/?.lua;;" lua5.4 bench/mmap_scan.lua
--   MEMOBJ_BENCH_MB=64 ...   (default 1024: a 1 GiB file)
local memobj = require("memobj")
local B = require("common")

local MB = B.mb or 1024
local N = MB * 131072                        -- float64 values
local path = "/tmp/memobj_bench_scan.f64"

local cflags = io.popen("pkg-config --cflags lua5.4"):read("a"):gsub("%s+$", "")
local so = "/tmp/memobj_bench_mapc.so"
assert(os.execute(("gcc -O2 -shared -fPIC %s -o %s bench/mapc.c"):format(cflags, so)),
       "cannot build the C baseline")
local C = package.loadlib(so, "luaopen_mapc")()

-- wall-clock medians, interleaved (a scan is mostly page-table work and
-- memory traffic; wall time is what a user waits)
local function compare(fn, base, runs)
  local a, b = {}, {}
  for i = 1, runs or B.runs do
    collectgarbage()
    local t0 = C.now(); fn(); a[i] = C.now() - t0
    collectgarbage()
    t0 = C.now(); base(); b[i] = C.now() - t0
  end
  table.sort(a); table.sort(b)
  return a[(#a + 1) // 2], b[(#b + 1) // 2]
end

-- the file: i * 0.25, written through a mapping, then warm in the cache
do
  local m <close> = assert(memobj.map(path, {mode = "rw", create = N * 8}))
  local a <close> = m:array("f64")
  for i = 1, N, 4096 do
    local j = math.min(i + 4095, N)
    a:fill(i * 0.25, i, j)
  end
end
local function ours()
  local m <close> = assert(memobj.map(path))
  local a <close> = m:array("f64")
  return a:sum()
end
local expect = ours()
assert(C.mmap_sum(path) == expect, "C and memobj sums differ")
local GB = N * 8 / 1e9

-- memobj against C mmap
local t_ours, t_c = compare(ours, function() C.mmap_sum(path) end)
print(("%d MiB: memobj %.2f GB/s, C mmap loop %.2f GB/s"):format(MB, GB / t_ours, GB / t_c))
B.row("mmap_scan", "map():array():sum() time vs C mmap loop", t_ours / t_c, "x", "<= 1.3x")

-- io.read + string.unpack, on a prefix (it is slow), per element and 8 per call
local PRE = math.min(N, 8 * 131072)          -- at most 64 MiB
local function lua_unpack1()
  local f = assert(io.open(path, "rb"))
  local s, left = 0, PRE * 8
  while left > 0 do
    local chunk = f:read(math.min(left, 1 << 20))
    left = left - #chunk
    local unpack = string.unpack
    for pos = 1, #chunk, 8 do s = s + unpack("<d", chunk, pos) end
  end
  f:close()
  return s
end
local function lua_unpack8()
  local f = assert(io.open(path, "rb"))
  local s, left = 0, PRE * 8
  while left > 0 do
    local chunk = f:read(math.min(left, 1 << 20))
    left = left - #chunk
    local unpack = string.unpack
    for pos = 1, #chunk, 64 do
      local a, b, c, d, e, g, h, k = unpack("<dddddddd", chunk, pos)
      s = s + a + b + c + d + e + g + h + k
    end
  end
  f:close()
  return s
end
local pre_gb = PRE * 8 / 1e9
local t1 = compare(lua_unpack1, function() end, 3)
local t8 = compare(lua_unpack8, function() end, 3)
print(("io.read + string.unpack: %.3f GB/s per element, %.3f GB/s 8 per call")
  :format(pre_gb / t1, pre_gb / t8))
B.row("mmap_scan", "sum speed vs io.read+unpack per element", (pre_gb / t1) ~= 0 and
      (GB / t_ours) / (pre_gb / t1) or 0, "x faster", ">= 100x")
B.row("mmap_scan", "sum speed vs io.read+unpack 8 per call", (GB / t_ours) / (pre_gb / t8),
      "x faster", "")

-- the SIGBUS check on the a[i] hot path: this build against one without it
local nofault = "/tmp/memobj_bench_nofault"
assert(os.execute(("make -s BUILD=%s CFLAGS='-O2 -g -DMO_NO_FAULT_CHECK' %s/memobj.so >/dev/null")
  :format(nofault, nofault)), "cannot build memobj without the fault check")
local memobj2 = package.loadlib(nofault .. "/memobj.so", "luaopen_memobj")()
local K = math.min(N, 4 * 1048576)
local m1 = assert(memobj.map(path))
local m2 = assert(memobj2.map(path))
local a1, a2 = m1:array("f64", 0, K), m2:array("f64", 0, K)
local with, without = compare(function()
  local s = 0
  for i = 1, K do s = s + a1[i] end
end, function()
  local s = 0
  for i = 1, K do s = s + a2[i] end
end)
print(("a[i] on a mapped file: %.1f ns with the fault check, %.1f ns without")
  :format(with / K * 1e9, without / K * 1e9))
B.row("mmap_scan", "a[i] with / without the SIGBUS check", with / without, "x", "~1.0x")
a1:release(); a2:release(); m1:close(); m2:close()

os.remove(path)

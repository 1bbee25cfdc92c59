-- plots.lua: the data behind doc/img/*.png (`make plots`): scan speed
-- against file size, the cost of each way to reach array elements, and
-- durable transactions per second against SQLite. Writes build/plots/*.dat.
local memobj = require("memobj")
local B = require("common")

local out = "build/plots"
os.execute("mkdir -p " .. out)

local function write(name, header, rows)
  local f = assert(io.open(out .. "/" .. name, "w"))
  f:write("# " .. header .. "\n")
  for _, r in ipairs(rows) do f:write(table.concat(r, "\t"), "\n") end
  f:close()
end

local cflags = io.popen("pkg-config --cflags lua5.4"):read("a"):gsub("%s+$", "")
local so = "/tmp/memobj_plots_mapc.so"
assert(os.execute(("gcc -O2 -shared -fPIC %s -o %s bench/mapc.c"):format(cflags, so)))
local C = package.loadlib(so, "luaopen_mapc")()

local function best(fn, runs)
  local t = math.huge
  for _ = 1, runs or 3 do
    local t0 = C.now()
    fn()
    t = math.min(t, C.now() - t0)
  end
  return t
end

-- 1. scan throughput against file size
local scan = {}
local path = "/tmp/memobj_plots_scan.f64"
for _, mb in ipairs({1, 4, 16, 64, 256, 1024}) do
  if mb <= (B.mb or 1024) then
    local n = mb * 131072
    do
      local m <close> = assert(memobj.map(path, {mode = "rw", create = n * 8}))
      m:resize(n * 8)
      m:array("f64"):fill(0.25)
    end
    local gb = n * 8 / 1e9
    local ours = best(function()
      local m <close> = assert(memobj.map(path))
      local a <close> = m:array("f64")
      a:sum()
    end)
    local c = best(function() C.mmap_sum(path) end)
    local prefix = math.min(n, 131072)  -- io.read + unpack: 1 MiB is enough
    local lua = best(function()
      local f <close> = assert(io.open(path, "rb"))
      local s, chunk, unpack = 0, f:read(prefix * 8), string.unpack
      for pos = 1, #chunk, 8 do s = s + unpack("<d", chunk, pos) end
    end)
    scan[#scan + 1] = {mb, gb / ours, gb / c, prefix * 8 / 1e9 / lua}
    print(("scan %5d MiB: memobj %.1f GB/s, C %.1f GB/s, io+unpack %.2f GB/s")
      :format(mb, gb / ours, gb / c, prefix * 8 / 1e9 / lua))
  end
end
os.remove(path)
write("scan.dat", "MiB memobj_GBps C_mmap_GBps io_unpack_GBps", scan)

-- 2. ns per element for each way of reaching elements
local N = 4000000
local t, a = {}, memobj.array("f64", N)
for i = 1, N do t[i] = i; a[i] = i end
local b = memobj.array("u8", N):bytes()
local function ns(fn) return best(fn) / N * 1e9 end
local ways = {
  {"t[i] read", function() local s = 0 for i = 1, N do s = s + t[i] end end},
  {"a[i] read", function() local s = 0 for i = 1, N do s = s + a[i] end end},
  {"b[i] read", function() local s = 0 for i = 1, N do s = s + b[i] end end},
  {"t[i] = v", function() for i = 1, N do t[i] = i end end},
  {"a[i] = v", function() for i = 1, N do a[i] = i end end},
  {"a:get(i)", function() local s = 0 for i = 1, N do s = s + a:get(i) end end},
  {"ipairs(a)", function() local s = 0 for _, v in ipairs(a) do s = s + v end end},
  {"pairs(a)", function() local s = 0 for _, v in pairs(a) do s = s + v end end},
  {"a:unpack(i, i+7)", function()
    local s = 0
    for i = 1, N - 7, 8 do
      local v1, v2, v3, v4, v5, v6, v7, v8 = a:unpack(i, i + 7)
      s = s + v1 + v2 + v3 + v4 + v5 + v6 + v7 + v8
    end
  end},
  {"a:sum() (C loop)", function() a:sum() end},
}
local access = {}
for k, w in ipairs(ways) do
  local v = ns(w[2])
  access[#access + 1] = {k - 1, ('"%s"'):format(w[1]), ("%.2f"):format(v)}
  print(("%-18s %6.2f ns per element"):format(w[1], v))
end
write("access.dat", "index label ns_per_element", access)
t, a, b = nil, nil, nil
collectgarbage()

-- 3. durable transactions per second (bench/tx.lua does the measuring)
local p = io.popen("lua5.4 bench/tx.lua 2 2>&1")
local text = p:read("a")
p:close()
local tx = {}
local labels = {
  {'"memobj sync"', "durability=sync%s+(%d+) tx/s"},
  {'"memobj process"', "durability=process%s+(%d+) tx/s"},
  {'"SQLite WAL FULL"', "SQLite WAL synchronous=FULL%s+(%d+) tx/s"},
}
for k, l in ipairs(labels) do
  local v = text:match(l[2])
  if v then tx[#tx + 1] = {k - 1, l[1], v} end
  print(l[1], v or "not measured")
end
write("tx.dat", "index label tx_per_second", tx)

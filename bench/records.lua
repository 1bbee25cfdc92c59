-- records.lua: records views against what a Lua program does without
-- them (string.unpack/string.pack over a binary string, tables of
-- tables), and .npy open + sum against numpy in a Python child on the
-- same file. Every time is measured in this run.
local memobj = require("memobj")
local B = require("common")

local N = 1000000
local layout = {{"id", "uint32"}, {"x", "float64"}, {"name", "bytes", 8}}
local FMT = "=I4 xxxx d c8"                 -- the same C layout, 24 bytes
local r = memobj.records(layout, N)
local parts = {}
for i = 1, N do
  r[i] = {id = i, x = i * 0.5, name = "rec"}
  parts[i] = string.pack(FMT, i, i * 0.5, "rec\0\0\0\0\0")
end
local s = table.concat(parts)
parts = nil
assert(#s == N * r.size and memobj.bytes(r):equals(s))

-- whole records as tables
local last
local ours, base = B.compare(function()
  for i = 1, N do last = r[i] end
end, function()
  for i = 1, N do
    local id, x, name = string.unpack(FMT, s, (i - 1) * 24 + 1)
    last = {id = id, x = x, name = name}
  end
end)
assert(last.id == N)
B.row("records", "r[i] vs string.unpack into a table", ours / base, "x", "<= 1x")
print(("r[i] %.0f ns, string.unpack + table %.0f ns"):format(ours / N * 1e9, base / N * 1e9))

-- one field
ours, base = B.compare(function()
  local sum = 0
  for i = 1, N do sum = sum + r:get(i, "x") end
end, function()
  local sum = 0
  for i = 1, N do sum = sum + string.unpack("=d", s, (i - 1) * 24 + 9) end
end)
B.row("records", "r:get(i, name) vs string.unpack of one field", ours / base, "x", "")

-- writing whole records, against packing them into strings
local t = {}
ours, base = B.compare(function()
  for i = 1, N do r[i] = {id = i, x = 1.5, name = "w"} end
end, function()
  for i = 1, N do
    local rec = {id = i, x = 1.5, name = "w"}
    t[i] = string.pack(FMT, rec.id, rec.x, rec.name .. ("\0"):rep(7))
  end
end)
B.row("records", "r[i] = t vs string.pack of the table", ours / base, "x", "<= 1x")
t = nil

-- a column: the strided field array's sum against a Lua loop over the
-- records as tables of tables
local tt = {}
for i = 1, N do tt[i] = {id = i, x = i * 0.5} end
local col = r:field("x")
ours, base = B.compare(function()
  col:sum()
end, function()
  local sum = 0
  for i = 1, N do sum = sum + tt[i].x end
end)
B.row("records", "r:field(name):sum() vs a loop over tables", ours / base, "x", "")
tt = nil

-- .npy: open (map) and sum 16 MiB of float64 here and in numpy
local py
for _, p in ipairs({"/usr/bin/python3", "python3"}) do
  if not py and os.execute(p .. " -c 'import numpy' >/dev/null 2>&1") then py = p end
end
if py then
  local path = os.tmpname()
  local M = 2 * 1024 * 1024
  local a = memobj.array("f64", M)
  for i = 1, M do a[i] = i end
  assert(memobj.npy.save(path, a))
  local times = {}
  for k = 1, B.runs do
    local t0 = os.clock()
    local v = memobj.npy.open(path)
    local total = v:sum()
    v:release()
    v.memory:close()
    times[k] = os.clock() - t0
    assert(total == M * (M + 1) / 2)
  end
  table.sort(times)
  local p = io.popen(py .. " -c \"import numpy as np, time, sys\n"
    .. "best = []\n"
    .. "for k in range(" .. B.runs .. "):\n"
    .. "    t = time.process_time(); a = np.load(sys.argv[1], mmap_mode='r'); s = a.sum(); del a\n"
    .. "    best.append(time.process_time() - t)\n"
    .. "best.sort(); print(best[len(best) // 2])\" " .. path)
  local npt = tonumber(p:read("a"))
  p:close()
  os.remove(path)
  local ours1 = times[(#times + 1) // 2]
  B.row("records", "npy.open + sum vs numpy.load(mmap) + sum, 16 MiB", ours1 / npt, "x", "<= 1x")
  print(("npy.open + sum %.2f ms, numpy %.2f ms"):format(ours1 * 1e3, npt * 1e3))
end

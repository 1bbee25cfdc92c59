-- map_typed_array.lua: statistics over a file of float64 values, mapped
-- into memory and read through a typed array: no read() calls, no
-- copies, bulk operations at memory speed.
--
--   LUA_CPATH="build/?.so;;" lua5.4 examples/map_typed_array.lua [file] [n]
--
-- Without a file argument it writes a sample file of n values first.
local memobj = require("memobj")

local path, n = arg[1], tonumber(arg[2]) or 1000000
if path == "" then path = nil end
local sample = path == nil
if sample then
  path = os.tmpname()
  -- create the file at its full length and fill it through a rw mapping
  local m <close> = assert(memobj.map(path, {mode = "rw", create = n * 8}))
  local a <close> = m:array("f64")
  for i = 1, n do a[i] = math.sin(i) * 100 end
  m:sync()
end

-- map it read-only (the default) and look at it as float64
local m <close> = assert(memobj.map(path))
m:advise("sequential")
local a <close> = m:array("f64")
local count = #a
assert(count > 0, "empty file")

local sum = a:sum()
local mean = sum / count
-- variance in a second pass, 512 values per call to keep Lua fast
local sq = 0
for i = 1, count, 512 do
  local t = {a:unpack(i, math.min(i + 511, count))}
  for k = 1, #t do
    local d = t[k] - mean
    sq = sq + d * d
  end
end

print(string.format("%s: %d values (%d bytes mapped)", sample and "sample" or path,
                    count, m.size))
print(string.format("min %.6f  max %.6f  mean %.6f  stddev %.6f",
                    a:min(), a:max(), mean, math.sqrt(sq / count)))

if sample then os.remove(path) end

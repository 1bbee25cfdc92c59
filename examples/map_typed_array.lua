-- map_typed_array.lua: mean and standard deviation of a file of float64
-- values, mapped into memory and read through a typed array: no read()
-- calls, no copies, every loop in C (a:sum, a:sub, a:dot), and progress
-- printed per chunk (a:chunks) while it walks the file.
--
--   LUA_CPATH="build/?.so;;" lua5.4 examples/map_typed_array.lua [file] [n]
--
-- Without a file argument it makes a sample file of n values first
-- (default 150,000,000 values: 1.2 GB), sparse: only one block in sixteen
-- is written, the rest are holes that read as zeros and take no disk. The
-- sample file is removed at the end, also after an error.
local memobj = require("memobj")

local path, n = arg[1], tonumber(arg[2]) or 150000000
if path == "" then path = nil end
local sample = path == nil
local CHUNK = 1 << 23  -- values per chunk: 64 MiB of float64

-- A sparse sample: one block of 1 Mi values (8 MiB) in every 16, copied
-- from one small array filled in Lua.
local function make_sample(file, count)
  local m <close> = assert(memobj.map(file, {mode = "rw", create = count * 8}))
  local a <close> = m:array("f64")
  local block = memobj.array("f64", math.min(count, 1 << 20))
  for i = 1, #block do block[i] = math.sin(i) * 100 end
  for first = 1, count, 16 * #block do
    local len = math.min(#block, count - first + 1)
    a:copy(block:slice(1, len), first)
  end
  m:sync()
end

local function stats(file)
  local m <close> = assert(memobj.map(file))
  m:advise("sequential")
  local a <close> = m:array("f64")
  local count = #a
  assert(count > 0, "empty file")

  -- pass 1: the sum, chunk by chunk, with progress
  local sum, lo, hi = 0, math.huge, -math.huge
  for first, v in a:chunks(CHUNK) do
    local l, h = v:minmax()
    sum, lo, hi = sum + v:sum(), math.min(lo, l), math.max(hi, h)
    io.write(("\rpass 1: %3d%%"):format((first + #v - 1) * 100 // count))
    io.flush()
  end
  local mean = sum / count

  -- pass 2: the squared deviations, through a scratch array: copy the
  -- chunk, subtract the mean, and dot it with itself
  local sq = 0
  local scratch = memobj.array("f64", math.min(CHUNK, count))
  for first, v in a:chunks(CHUNK) do
    local d = scratch:slice(1, #v)
    d:copy(v):sub(mean)
    sq = sq + d:dot(d)
    io.write(("\rpass 2: %3d%%"):format((first + #v - 1) * 100 // count))
    io.flush()
  end
  io.write("\n")
  print(("%s: %d values (%d bytes mapped)"):format(sample and "sample" or file,
                                                 count, m.size))
  print(("min %.6f  max %.6f  mean %.6f  stddev %.6f"):format(lo, hi, mean,
                                                          math.sqrt(sq / count)))
end

if sample then
  path = os.tmpname()
  local ok, err = pcall(function()
    make_sample(path, n)
    stats(path)
  end)
  os.remove(path)
  if not ok then error(err, 0) end
else
  stats(path)
end

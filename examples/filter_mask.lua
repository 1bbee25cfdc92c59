-- filter_mask.lua: a filter mask over a mapped file of readings, with
-- array expressions. The file holds float64 temperatures and int32 sensor
-- ids; one expression gives a bool mask of the readings to keep, others
-- count and summarise them, all in C over the mapped bytes.
-- Run: lua5.4 filter_mask.lua [n]
local memobj = require("memobj")

local n = tonumber(arg and arg[1]) or 200000
local path = os.tmpname()

-- write the file: n float64 temperatures, then n int32 sensor ids
do
  local f = assert(memobj.map(path, {mode = "rw", create = n * 12}))
  local temp, id = f:array("float64", 0, n), f:array("int32", n * 8, n)
  for i = 1, n do
    temp[i] = 15 + 10 * math.sin(i / 1000) + (i % 13) / 4
    id[i] = i % 50
  end
  temp:release()
  id:release()
  f:sync()
  f:close()
end

local f = assert(memobj.map(path))            -- read-only
local temp, id = f:array("float64", 0, n), f:array("int32", n * 8, n)
local keep = "temp > lo and temp < hi and id % 10 ~= 0"
local inputs = {temp = temp, id = id, lo = 12.5, hi = 22.5}
local mask = memobj.eval(keep, inputs)        -- a new bool array
local count = memobj.eval("count(" .. keep .. ")", inputs)
print(("%d of %d readings kept"):format(count, n))
assert(mask.type == "bool" and memobj.eval("count(k)", {k = mask}) == count)

-- the mean of the kept readings, with the mask as a where()
local kept_sum = memobj.eval("sum(where(k, temp, 0))", {k = mask, temp = temp})
print(("mean of the kept readings: %.3f"):format(kept_sum / count))

-- check one element in Lua
local i = 1234
local want = temp[i] > 12.5 and temp[i] < 22.5 and id[i] % 10 ~= 0
assert(mask[i] == want)
temp:release()
id:release()
f:close()
os.remove(path)

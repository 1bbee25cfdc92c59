-- npy_roundtrip.lua: records in a .npy file, for numpy and back.
-- Builds a table of weather readings as a records view (a C struct array),
-- saves it as .npy, maps the file again, updates a column through
-- r:field(name), and, when Python with numpy is installed, lets numpy
-- read the file and compute the same mean.
-- Run: lua5.4 npy_roundtrip.lua
local memobj = require("memobj")

local layout = {
  {"station", "bytes", 6},   -- numpy: S6
  {"day", "uint16"},
  {"temp", "float32"},
  {"rain", "float64"},
}

local readings = {}
for day = 1, 10 do
  readings[day] = {station = day % 2 == 0 and "OSLO" or "BERGEN", day = day,
                   temp = 10 + day / 4, rain = day % 3 * 1.5}
end
local r = memobj.records(layout, readings)
print(("%d records of %d bytes, format %s"):format(#r, r.size, r.format))

local path = os.tmpname()
assert(memobj.npy.save(path, r))

-- map it again, writable: changes go straight to the file
local m, shape = assert(memobj.npy.open(path, "rw"))
print(("mapped back: %d records, shape {%s}, first station %q"):format(
  #m, table.concat(shape, ", "), (m[1].station:gsub("%z+$", ""))))
local temp = m:field("temp")
temp:add(0.5)                                -- every temperature, in place
print(("mean temperature %.4f, total rain %.1f"):format(temp:mean(), m:field("rain"):sum()))
m.memory:sync()

-- numpy, if it is there
local python
for _, py in ipairs({"python3", "/usr/bin/python3"}) do
  if not python and os.execute(py .. " -c 'import numpy' >/dev/null 2>&1") then python = py end
end
if python then
  local p = io.popen((python .. " -c \"import numpy as np; a = np.load('%s'); "
    .. "print('numpy sees', a.dtype, a.shape, 'mean temperature %%.4f' %% a['temp'].mean())\""):format(path))
  io.write(p:read("a"))
  p:close()
else
  print("(python3 with numpy is not installed: skipping the numpy check)")
end

temp:release()
m:release()
collectgarbage()
os.remove(path)

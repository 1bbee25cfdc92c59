-- normalize_npy.lua: normalise one column of a matrix stored in a .npy
-- file, in place, with array expressions. The file is mapped (nothing is
-- read into memory), the column is a strided view of it, and the result
-- is written back through that same view: out = the column.
-- Run: lua5.4 normalize_npy.lua [rows]
local memobj = require("memobj")

local rows = tonumber(arg and arg[1]) or 100000
local cols = 3

-- a rows x 3 float64 matrix (C order) saved as .npy
local m = memobj.array("float64", rows * cols)
for i = 1, rows do
  m[(i - 1) * cols + 1] = i
  m[(i - 1) * cols + 2] = 20 + 5 * math.sin(i / 10) + (i % 7)   -- the column to normalise
  m[(i - 1) * cols + 3] = -i
end
local path = os.tmpname()
assert(memobj.npy.save(path, m, {rows, cols}))
m = nil

-- map it writable: column 2 is every third element from the second
local a, shape = assert(memobj.npy.open(path, "rw"))
assert(shape[1] == rows and shape[2] == cols)
local col = a:slice(2, #a, cols)
local mean = memobj.eval("mean(x)", {x = col})
local sd = math.sqrt(memobj.eval("mean((x - m)^2)", {x = col, m = mean}))
print(("column 2 before: mean %.4f, sd %.4f"):format(mean, sd))

memobj.eval("(x - m) / s", {x = col, m = mean, s = sd}, col)   -- in place, in the file

local mean2 = memobj.eval("mean(x)", {x = col})
local sd2 = math.sqrt(memobj.eval("mean((x - m)^2)", {x = col, m = mean2}))
print(("column 2 after:  mean %.2e, sd %.6f"):format(mean2, sd2))
assert(math.abs(mean2) < 1e-9 and math.abs(sd2 - 1) < 1e-9)
-- the other columns are untouched
assert(a[1] == 1 and a[3] == -1 and a[#a] == -rows)
a.memory:sync()
col:release()
a:release()
a.memory:close()
os.remove(path)

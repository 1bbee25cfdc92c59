-- kernels.lua: typed array kernels (sum, min, max, minmax, mean, dot, add,
-- sub, mul, div; integer arrays refuse div) on 64 MiB arrays against numpy on the same bytes, in the same run:
-- the array is written to a temporary file that a python3 child loads with
-- numpy.fromfile and times with the same repetitions. Both sides report
-- the best of RUNS CPU times (time.process_time, os.clock), which is the
-- least disturbed figure on a shared machine, over ROUNDS alternations of
-- memobj and numpy (so a slow minute hits both). numpy's BLAS (dot) is held
-- to one thread, as our loops are. Ratio = memobj / numpy (<= 1: as fast
-- or faster). Also: a[i] reads, contiguous and strided, against t[i].
local memobj = require("memobj")
local B = require("common")

local MB = B.mb or 64
local RUNS = tonumber(os.getenv("MEMOBJ_BENCH_KRUNS")) or 7
local ROUNDS = 3
local PY = os.getenv("PYTHON") or "/usr/bin/python3"

local PYCODE = [[
import sys, time, numpy as np
path, dtype, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
a = np.fromfile(path, dtype=dtype)
b = a.copy()
isint = a.dtype.kind == "i"
x = 3 if isint else 1.5
y = 3 if isint else 1.0000001
ops = [
  ("sum", lambda: a.sum()),
  ("min", lambda: a.min()),
  ("max", lambda: a.max()),
  ("minmax", lambda: (a.min(), a.max())),
  ("mean", lambda: a.mean()),
  ("dot", lambda: a.dot(b)),
  ("add", lambda: np.add(a, x, out=a)),
  ("sub", lambda: np.subtract(a, x, out=a)),
  ("mul", lambda: np.multiply(a, y, out=a)),
]
if not isint:
  ops.append(("div", lambda: np.divide(a, y, out=a)))
for name, fn in ops:
  best = float("inf")
  for _ in range(runs):
    t0 = time.process_time(); fn(); t = time.process_time() - t0
    best = min(best, t)
  print(name, best)
]]

local function best(fn)
  local t = math.huge
  for _ = 1, RUNS do
    local t0 = os.clock()
    fn()
    t = math.min(t, os.clock() - t0)
  end
  return t
end

-- Fill a with values from a small LCG: floats in [-50, 50), integers in
-- [-1000, 1000] (no NaN, no infinity).
local function fill(a)
  local n, s = #a, 12345
  local isint = a.type == "int32"
  local chunk = memobj.array(a.type, 4096)
  for first = 1, n, 4096 do
    for k = 1, 4096 do
      s = (s * 1103515245 + 12345) % 2147483648
      chunk[k] = isint and s % 2001 - 1000 or s / 2147483648 * 100 - 50
    end
    local m = math.min(4096, n - first + 1)
    a:slice(first, first + m - 1):copy(chunk:slice(1, m))
  end
end

local NUMPY_TYPE = {float64 = "<f8", float32 = "<f4", int32 = "<i4"}

local function numpy_times(a)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(a:bytes():string())
  f:close()
  local p = assert(io.popen(("OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 %s -c '%s' %s '%s' %d")
    :format(PY, PYCODE, path, NUMPY_TYPE[a.type], RUNS)))
  local out = p:read("a")
  local ok = p:close()
  os.remove(path)
  if not ok then return nil end
  local t = {}
  for name, v in out:gmatch("(%a+) (%S+)") do t[name] = tonumber(v) end
  return t
end

local function row(type)
  local size = ({float64 = 8, float32 = 4, int32 = 4})[type]
  local n = MB * 1048576 // size
  local a = memobj.array(type, n)
  fill(a)
  local b = memobj.array(type, n)
  b:copy(a)
  local isint = type == "int32"
  local x, y = isint and 3 or 1.5, isint and 3 or 1.0000001
  local fns = {
    sum = function() a:sum() end,
    min = function() a:min() end,
    max = function() a:max() end,
    minmax = function() a:minmax() end,
    mean = function() a:mean() end,
    dot = function() a:dot(b) end,
    add = function() a:add(x) end,
    sub = function() a:sub(x) end,
    mul = function() a:mul(y) end,
    div = not isint and function() a:div(y) end or nil,
  }
  local ours, np = {}, {}
  for _ = 1, ROUNDS do
    local t = numpy_times(a)
    for op, fn in pairs(fns) do
      ours[op] = math.min(ours[op] or math.huge, best(fn))
      if t and t[op] then np[op] = math.min(np[op] or math.huge, t[op]) end
    end
  end
  if next(np) == nil then np = nil end
  for _, op in ipairs({"sum", "min", "max", "minmax", "mean", "dot", "add", "sub", "mul", "div"}) do
    if not fns[op] then goto continue end
    local gbs = n * size * (op == "dot" and 2 or 1) / ours[op] / 1e9
    if np and np[op] then
      print(("%-8s %-7s memobj %7.2f ms (%5.1f GB/s)  numpy %7.2f ms  ratio %.2f")
        :format(type, op, ours[op] * 1e3, gbs, np[op] * 1e3, ours[op] / np[op]))
      B.row("kernels", ("%s %s vs numpy"):format(type, op), ours[op] / np[op], "x", "<= 1.0x")
    else
      print(("%-8s %-7s memobj %7.2f ms (%5.1f GB/s)  numpy: not available")
        :format(type, op, ours[op] * 1e3, gbs))
    end
    ::continue::
  end
end

-- MEMOBJ_BENCH_KTYPES (e.g. "float32,int32") runs only those rows.
local only = os.getenv("MEMOBJ_BENCH_KTYPES")
for _, type in ipairs({"float64", "float32", "int32"}) do
  if not only or (","..only..","):find(","..type..",", 1, true) then row(type) end
end

-- float32 in-place loops against plain C loops on the same 64 MiB
-- (bench/f32loops.c, -O3 -mavx2), alternated in ROUNDS: what a:div(y),
-- a:mul(y) and a:sub(x) cost next to the same operation in C, next to
-- the multiply in double alone (the least any exact path through doubles
-- does), and next to numpy's float32 operations.
if not only or only:find("float32", 1, true) then
  local so = "/tmp/memobj_bench_f32loops.so"
  local cflags = io.popen("pkg-config --cflags lua5.4"):read("a"):gsub("%s+$", "")
  assert(os.execute(("gcc -O3 -mavx2 -shared -fPIC %s -Iruntime -o %s bench/f32loops.c")
    :format(cflags, so)), "cannot build the C baseline")
  local c = package.loadlib(so, "luaopen_f32loops")()
  local n = MB * 1048576 // 4
  local a = memobj.array("float32", n)
  fill(a)
  local y, x = 1.0000001, 1.5
  local cases = {
    {"a:div(y)", function() a:div(y) end},
    {"C: divide in double", function() c.div64(a, y) end},
    {"C: multiply in double by 1/y", function() c.mul64(a, 1 / y) end},
    {"C: float divide by float(y)", function() c.div32(a, y) end},
    {"a:mul(y)", function() a:mul(y) end},
    {"C: multiply in double", function() c.mul64(a, y) end},
    {"a:sub(x)", function() a:sub(x) end},
    {"C: float subtract", function() c.sub32(a, x) end},
  }
  local t = {}
  for _ = 1, ROUNDS do
    for k, case in ipairs(cases) do t[k] = math.min(t[k] or math.huge, best(case[2])) end
  end
  for k, case in ipairs(cases) do
    print(("float32 %-30s %7.2f ms (%5.1f GB/s in+out)"):format(case[1], t[k] * 1e3,
      2 * 4 * n / t[k] / 1e9))
  end
  B.row("kernels", "float32 a:div(y) vs C loop dividing in double", t[1] / t[2], "x", "")
  B.row("kernels", "float32 a:div(y) vs C loop multiplying in double", t[1] / t[3], "x", "")
  B.row("kernels", "float32 a:mul(y) vs C loop multiplying in double", t[5] / t[6], "x", "~1.0x")
  B.row("kernels", "float32 a:sub(x) vs C float loop", t[7] / t[8], "x", "~1.0x")
end

-- a[i] reads: contiguous and strided against a Lua table.
local N = 2000000
local t, a = {}, memobj.array("f64", N)
local s = memobj.array("f64", 2 * N):slice(1, -1, 2)
for i = 1, N do t[i] = i; a[i] = i; s[i] = i end
local function reads(x)
  return function()
    local sum = 0
    for i = 1, N do sum = sum + x[i] end
  end
end
local ours, base = B.compare(reads(a), reads(t))
B.row("kernels", "a[i] read vs t[i] (contiguous)", ours / base, "x", "<= 4.5x")
print(("a[i] read %.1f ns, t[i] %.1f ns"):format(ours / N * 1e9, base / N * 1e9))
ours, base = B.compare(reads(s), reads(t))
B.row("kernels", "a[i] read vs t[i] (strided)", ours / base, "x", "<= 4.5x")

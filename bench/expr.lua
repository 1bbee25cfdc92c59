-- expr.lua: memobj.expr against numexpr (Debian python3-numexpr, one
-- thread) and numpy on four expressions over 10M float64, same data, same
-- run. A python3 child generates a and b (saved as .npy files in a
-- temporary directory), loads them, times each expression with numexpr
-- and with numpy (best of RUNS wall-clock times) and prints them; this
-- side loads the same files into heap arrays and times memobj.expr the
-- same way. Rounds alternate the two sides. Ratios are time / time (<= 1:
-- as fast or faster). Also threads = 2 against 1 on the transcendental
-- expression (a speedup; the machine has 2 cores shared with others).
--
--   LUA_CPATH="build/?.so;;" LUA_PATH="bench/?.lua;;" lua5.4 bench/expr.lua
--   MEMOBJ_BENCH_N=1000000 ... (default 10M elements)
local memobj = require("memobj")
local B = require("common")

local N = tonumber(os.getenv("MEMOBJ_BENCH_N")) or 10000000
local RUNS = tonumber(os.getenv("MEMOBJ_BENCH_XRUNS")) or 5
local ROUNDS = 3
local PY = os.getenv("PYTHON") or "/usr/bin/python3"

-- a wall clock (os.clock adds up the CPU time of every thread)
local cflags = io.popen("pkg-config --cflags lua5.4"):read("a"):gsub("%s+$", "")
local so = os.tmpname() .. ".so"
assert(os.execute(("gcc -O2 -shared -fPIC %s -o %s bench/mapc.c"):format(cflags, so)),
       "cannot build the wall clock")
local now = package.loadlib(so, "luaopen_mapc")().now
os.remove(so)

local EXPRS = {
  {name = "2*a + 3*b", ne = "2*a + 3*b", np = "2*a + 3*b"},
  {name = "a*b - 4.1*a > 2.5*b", ne = "a*b - 4.1*a > 2.5*b", np = "a*b - 4.1*a > 2.5*b"},
  {name = "sin(a)^2 + cos(b)^2", ne = "sin(a)**2 + cos(b)**2",
   np = "np.sin(a)**2 + np.cos(b)**2"},
  {name = "sum(a*b)", ne = "sum(a*b)", np = "np.sum(a*b)"},
}

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir " .. dir))

local function python(code, ...)
  local script = dir .. "/bench.py"
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local args = table.concat({...}, " ")
  local p = assert(io.popen(("OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NUMEXPR_NUM_THREADS=1 %s %s %s")
    :format(PY, script, args)))
  local out = p:read("a")
  local ok = p:close()
  return ok and out or nil
end

local gen = python(([[
import numpy as np, sys
rng = np.random.default_rng(23)
np.save(sys.argv[1] + "/a.npy", rng.standard_normal(%d))
np.save(sys.argv[1] + "/b.npy", rng.standard_normal(%d))
print("ok")
]]):format(N, N), dir)
if not gen then
  os.execute("rm -rf " .. dir)
  print("python3 with numpy is not available: nothing to compare with")
  return
end

local PYTIME = [[
import sys, time, numpy as np
d, runs = sys.argv[1], int(sys.argv[2])
a = np.load(d + "/a.npy"); b = np.load(d + "/b.npy")
try:
  import numexpr as ne
  ne.set_num_threads(1)
except ImportError:
  ne = None
exprs = [%s]
for i, (nes, nps) in enumerate(exprs):
  for side in ("numexpr", "numpy"):
    if side == "numexpr" and ne is None: continue
    fn = (lambda: ne.evaluate(nes)) if side == "numexpr" else (lambda: eval(nps))
    best = float("inf")
    for _ in range(runs):
      t0 = time.perf_counter(); r = fn(); t = time.perf_counter() - t0
      del r
      best = min(best, t)
    print(side, i + 1, best)
]]

local list = {}
for _, e in ipairs(EXPRS) do list[#list + 1] = ("(%q, %q)"):format(e.ne, e.np) end
local pycode = PYTIME:format(table.concat(list, ", "))

local function load(name)
  local m = assert(memobj.npy.open(dir .. "/" .. name .. ".npy"))
  local a = memobj.array("float64", #m)
  a:copy(m)
  m:release()
  return a
end
local a, b = load("a"), load("b")
local inputs = {a = a, b = b}

local function best(fn)
  local t = math.huge
  for _ = 1, RUNS do
    collectgarbage()
    local t0 = now()
    fn()
    t = math.min(t, now() - t0)
  end
  return t
end

local ours, ours2, ne, np = {}, {}, {}, {}
for _ = 1, ROUNDS do
  local out = python(pycode, dir, RUNS)
  for side, i, t in (out or ""):gmatch("(%a+) (%d+) (%S+)") do
    local tbl = side == "numexpr" and ne or np
    i = tonumber(i)
    tbl[i] = math.min(tbl[i] or math.huge, tonumber(t))
  end
  for i, e in ipairs(EXPRS) do
    local f1 = memobj.expr(e.name)
    ours[i] = math.min(ours[i] or math.huge, best(function() return f1(inputs) end))
    if i == 3 then
      local f2 = memobj.expr(e.name, {threads = 2})
      ours2[i] = math.min(ours2[i] or math.huge, best(function() return f2(inputs) end))
    end
  end
end
os.execute("rm -rf " .. dir)

for i, e in ipairs(EXPRS) do
  local line = ("%-22s memobj %7.2f ms"):format(e.name, ours[i] * 1e3)
  if ne[i] then
    line = line .. ("  numexpr %7.2f ms (ratio %.2f)"):format(ne[i] * 1e3, ours[i] / ne[i])
    B.row("expr", e.name .. " vs numexpr", ours[i] / ne[i], "x", "<= 1.0x")
  end
  if np[i] then
    line = line .. ("  numpy %7.2f ms (ratio %.2f)"):format(np[i] * 1e3, ours[i] / np[i])
    B.row("expr", e.name .. " vs numpy", ours[i] / np[i], "x",
          i == 2 and "<= 0.5x" or "")
  end
  print(line)
end
print(("%-22s threads=2 %7.2f ms, speedup %.2fx over 1 thread")
  :format(EXPRS[3].name, ours2[3] * 1e3, ours[3] / ours2[3]))
B.row("expr", EXPRS[3].name .. ": threads=2 speedup", ours[3] / ours2[3], "x", ">= 1.6x")

-- alloc.lua: the Lua state's own allocator. Each workload runs in a child
-- lua5.4 three ways: glibc (lua5.4's default), LD_PRELOAD mimalloc, and
-- memobj.set_allocator("arena", "lua") called first in the script. The
-- child reports its CPU time for the workload and its peak RSS (VmHWM).
-- Then a C microbenchmark (bench/arena_bench.c): small-block throughput of
-- the arena against mimalloc and glibc, and the cost of the ownership test
-- that every free of a switched state pays.
local B = require("common")

local LUA = os.getenv("LUA") or "lua5.4"
local MIMALLOC = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"
local RUNS = tonumber(os.getenv("MEMOBJ_BENCH_RUNS")) or 3

local prologue = [[
local memobj = require("memobj")
if os.getenv("MO_ARENA") then memobj.set_allocator("arena", "lua") end
local function hwm()
  for l in io.lines("/proc/self/status") do
    local kb = l:match("^VmHWM:%s*(%d+)")
    if kb then return tonumber(kb) end
  end
end
local t0 = os.clock()
]]

local epilogue = [[
io.write(("%.4f %d\n"):format(os.clock() - t0, hwm()))
]]

local workloads = {
  {"binary-trees depth 15", [[
local function make(d)
  if d == 0 then return {} end
  d = d - 1
  return {make(d), make(d)}
end
local function check(t)
  if t[1] then return 1 + check(t[1]) + check(t[2]) end
  return 1
end
local maxd = 15
local long = make(maxd)
for d = 4, maxd, 2 do
  local iters = 1 << (maxd - d + 4)
  local c = 0
  for _ = 1, iters do c = c + check(make(d)) end
end
assert(check(long) == (1 << (maxd + 1)) - 1)
]]},
  {"300,000 strings", [[
local t = {}
for i = 1, 300000 do
  t[i] = "item-" .. i .. ":" .. string.rep("ab", i % 20)
end
local u = {}
for i = 1, #t do u[i] = t[i]:upper() end
assert(#u == 300000)
]]},
  {"table churn 1M entries", [[
for _ = 1, 3 do
  local t, h = {}, {}
  for i = 1, 1000000 do t[i] = i end
  for i = 1, 1000000, 4 do h[i + 0.5] = i end
  for i = 1, 1000000 do t[i] = nil end
  for i = 1, 1000000, 4 do h[i + 0.5] = nil end
end
]]},
  {"JSON-like decode", [[
local function gen(d)
  if d == 0 then return '{"id": 12345, "name": "leaf node", "ok": true}' end
  local parts = {}
  for i = 1, 4 do parts[i] = gen(d - 1) end
  return '{"level": ' .. d .. ', "tags": ["a", "b", "c"], "kids": [' ..
         table.concat(parts, ", ") .. ']}'
end
local text = gen(6)
local pos
local value
local function skip() pos = text:find("[^ \n\t,:]", pos) end
local function object()
  local o = {}
  pos = pos + 1
  skip()
  while text:sub(pos, pos) ~= "}" do
    local k = text:match('^"([^"]*)"', pos)
    pos = pos + #k + 2
    skip()
    o[k] = value()
    skip()
  end
  pos = pos + 1
  return o
end
local function array()
  local a = {}
  pos = pos + 1
  skip()
  while text:sub(pos, pos) ~= "]" do
    a[#a + 1] = value()
    skip()
  end
  pos = pos + 1
  return a
end
function value()
  local c = text:sub(pos, pos)
  if c == "{" then return object() end
  if c == "[" then return array() end
  if c == '"' then
    local s = text:match('^"([^"]*)"', pos)
    pos = pos + #s + 2
    return s
  end
  local lit = text:match("^[%w%.%-]+", pos)
  pos = pos + #lit
  if lit == "true" then return true end
  if lit == "false" then return false end
  return tonumber(lit)
end
local keep = {}
for i = 1, 40 do
  pos = 1
  keep[i % 4] = value()
end
assert(keep[1].level == 6)
]]},
}

local tmp = os.tmpname()

-- Run one workload one way; returns seconds and peak RSS in KiB (the best
-- time and the smallest peak of RUNS runs).
local function run(code, env)
  local f = assert(io.open(tmp, "w"))
  f:write(prologue, code, epilogue)
  f:close()
  local best, peak
  for _ = 1, RUNS do
    local p = assert(io.popen(("%s %s %s"):format(env, LUA, tmp)))
    local out = p:read("a")
    assert(p:close(), "workload failed: " .. out)
    local t, kb = out:match("([%d.]+) (%d+)")
    t, kb = tonumber(t), tonumber(kb)
    best = best and math.min(best, t) or t
    peak = peak and math.min(peak, kb) or kb
  end
  return best, peak
end

local have_mi = io.open(MIMALLOC) ~= nil
print(("%-24s %9s %9s %9s  %7s %7s  %s"):format("workload", "glibc s", "mimalloc",
  "arena s", "/glibc", "/mi", "RSS arena/glibc (KiB)"))
local only = os.getenv("MEMOBJ_BENCH_ONLY")  -- a pattern: run only those
for _, w in ipairs(workloads) do
  local name, code = w[1], w[2]
  if only and not name:find(only) then goto next end
  local tg, rg = run(code, "")
  local tm, rm = 0 / 0, 0 / 0
  if have_mi then tm, rm = run(code, "LD_PRELOAD=" .. MIMALLOC) end
  local ta, ra = run(code, "MO_ARENA=1")
  print(("%-24s %9.3f %9.3f %9.3f  %6.2fx %6.2fx  %.2fx (%d / %d; mimalloc %d)"):format(
    name, tg, tm, ta, ta / tg, ta / tm, ra / rg, ra, rg, rm))
  B.row("alloc", name .. ": arena time vs glibc", ta / tg, "x", "<= 0.75x")
  B.row("alloc", name .. ": arena time vs mimalloc", ta / tm, "x", "<= 1.1x")
  B.row("alloc", name .. ": arena peak RSS vs glibc", ra / rg, "x", "<= 1.1x")
  ::next::
end
os.remove(tmp)

-- The C microbenchmark.
local exe = os.tmpname()
assert(os.execute(("gcc -O2 -D_GNU_SOURCE -o %s bench/arena_bench.c runtime/tools/arena.c runtime/core/os.c -ldl")
  :format(exe)), "cannot build bench/arena_bench.c")
local p = assert(io.popen(exe))
local out = p:read("a")
p:close()
os.remove(exe)
io.write(out)
for what, v in out:gmatch("RATIO ([^\t]+)\t([%d.]+)") do
  B.row("alloc", what, tonumber(v), "x", "")
end
for what, v in out:gmatch("NS ([^\t]+)\t([%d.]+)") do
  B.row("alloc", what, tonumber(v), "ns", "")
end

-- trace.lua: what memobj.trace costs on an allocation-heavy Lua loop
-- (tables, closures and strings made and dropped), trace on vs off, in
-- this process. MEMOBJ_BENCH_MB scales the loop (default 2M iterations).
local memobj = require("memobj")
local B = require("common")

local N = (B.mb and B.mb * 20000) or 2000000

local function work()
  local keep = {}
  for i = 1, N do
    local t = {i, i + 1, x = i}
    local f = function() return t end
    keep[i % 1024 + 1] = f
    local s = "key" .. i
    keep[s] = nil
  end
  return keep
end

-- With trace stopped nothing of it remains: this is the "off" baseline.
local on, off = B.compare(function()
  memobj.trace.start()
  work()
  memobj.trace.stop()
end, work)
B.row("trace", "allocation loop, trace on vs off", on / off, "x", "<= 2x")
print(("per iteration: %.0f ns traced, %.0f ns untraced"):format(on / N * 1e9, off / N * 1e9))

on, off = B.compare(function()
  memobj.trace.start(4)
  work()
  memobj.trace.stop()
end, work)
B.row("trace", "allocation loop, trace on (4 frames) vs off", on / off, "x", "")

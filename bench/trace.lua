-- trace.lua: what the runtime costs when it is on: memobj.trace on an
-- allocation-heavy Lua loop (tables, closures and strings made and
-- dropped) and on a call-heavy one, and memobj.debug on heap creation;
-- each against the same work with it off, in this process.
-- MEMOBJ_BENCH_MB scales the loops (default 500k iterations).
local memobj = require("memobj")
local B = require("common")

local N = (B.mb and B.mb * 20000) or 500000

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

local function pair(i) return {i} end
local function calls()
  local keep = {}
  for i = 1, N do
    keep[i % 1024 + 1] = pair(i)
    keep[#keep + 1] = nil
  end
  return keep
end

local function traced(fn, frames)
  return function()
    memobj.trace.start(frames)
    fn()
    memobj.trace.stop()
  end
end

-- With trace stopped nothing of it remains: the plain loop is "off".
local on, off = B.compare(traced(work), work)
B.row("trace", "allocation loop, trace on vs off", on / off, "x", "<= 2x")
print(("per iteration: %.0f ns traced, %.0f ns untraced"):format(on / N * 1e9, off / N * 1e9))

on, off = B.compare(traced(work, 4), work)
B.row("trace", "allocation loop, trace on (4 frames) vs off", on / off, "x", "")

on, off = B.compare(traced(calls), calls)
B.row("trace", "call-heavy loop, trace on vs off", on / off, "x", "")

local M = N // 4
local function heaps()
  for _ = 1, M do memobj.heap(64) end
end
on, off = B.compare(function()
  memobj.debug(true)
  heaps()
  memobj.debug(false)
end, heaps)
B.row("trace", "memobj.heap(64) create+collect, debug on vs off", on / off, "x", "")

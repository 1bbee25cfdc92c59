-- common.lua: timing helpers shared by the benchmarks. Every figure is a
-- ratio against a baseline measured in the same process, interleaved, as
-- the median of several runs.
local M = {}

M.runs = tonumber(os.getenv("MEMOBJ_BENCH_RUNS")) or 5

-- Seconds taken by fn(), once.
local function once(fn)
  local t0 = os.clock()
  fn()
  return os.clock() - t0
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- Time fn and baseline alternately; return median seconds of each.
function M.compare(fn, baseline)
  local a, b = {}, {}
  for i = 1, M.runs do
    collectgarbage()
    a[i] = once(fn)
    collectgarbage()
    b[i] = once(baseline)
  end
  return median(a), median(b)
end

-- Print one result row; `make bench` gathers the rows into its table.
-- ratio: time of ours / time of the baseline (lower is better) unless the
-- row says otherwise.
function M.row(bench, what, value, unit, goal)
  print(("RESULT\t%s\t%s\t%.3g %s\t%s"):format(bench, what, value, unit, goal or ""))
end

M.mb = tonumber(os.getenv("MEMOBJ_BENCH_MB"))

return M

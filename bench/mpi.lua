-- mpi.lua: memobj.mpi against mpi4py with numpy, the same operations on
-- two ranks of one machine: 8-byte ping-pong latency, allreduce (sum) of
-- 64 MiB of float64, a 1 MiB put through a window (between fences).
-- Run by `make bench-mpi` (or bench/run.sh, as lua5.4 bench/mpi.lua): it starts
-- `mpirun -np 2` with this script (the ranks measure memobj.mpi) and then
-- with bench/mpi_baseline.py (the same loops in mpi4py), alternately,
-- MEMOBJ_BENCH_RUNS times, and prints the median time of each and the
-- ratio memobj / mpi4py (goal: at most 1.1); and the allreduce against
-- numpy without transparent huge pages (bench/mpi_baseline.py).
local RANKS_ENV = os.getenv("OMPI_COMM_WORLD_SIZE")

local PINGS = tonumber(os.getenv("MEMOBJ_MPI_PINGS")) or 20000
local ALLREDUCE_REPS = tonumber(os.getenv("MEMOBJ_MPI_ALLREDUCE")) or 6
local PUTS = tonumber(os.getenv("MEMOBJ_MPI_PUTS")) or 300

if RANKS_ENV then
  -- a rank: measure memobj.mpi, print "name seconds" lines on rank 0
  local memobj = require("memobj")
  local mpi = require("memobj.mpi")
  local me = mpi.rank
  local function report(name, t)
    if me == 0 then print(("%s %.9g"):format(name, t)) end
  end

  local a = memobj.array("float64", 1)
  local send, recv = mpi.send, mpi.recv
  for _ = 1, 2 do  -- the first pass warms up
    mpi.barrier()
    local t0 = mpi.wtime()
    if me == 0 then
      for _ = 1, PINGS do send(a, 1); recv(a, 1) end
    elseif me == 1 then
      for _ = 1, PINGS do recv(a, 0); send(a, 0) end
    end
    report("pingpong", (mpi.wtime() - t0) / (2 * PINGS))
  end

  local n = 64 * 1024 * 1024 // 8
  local src, dst = memobj.array("float64", n), memobj.array("float64", n)
  src:fill(1)
  mpi.allreduce(src, dst, "sum")
  mpi.barrier()
  local t0 = mpi.wtime()
  for _ = 1, ALLREDUCE_REPS do mpi.allreduce(src, dst, "sum") end
  report("allreduce", (mpi.wtime() - t0) / ALLREDUCE_REPS)
  assert(dst[n] == mpi.size)
  src:release(); dst:release()

  local w = mpi.window(1024 * 1024)
  local buf = memobj.array("float64", 1024 * 1024 // 8)
  buf:fill(2)
  for pass = 1, 2 do
    mpi.barrier()
    t0 = mpi.wtime()
    for _ = 1, PUTS do
      w:fence()
      if me == 0 then w:put(buf, 1, 0) end
      w:fence()
    end
    if pass == 2 then report("put", (mpi.wtime() - t0) / PUTS) end
  end
  w:close()
  return
end

-- the driver
local common = require("common")

local function is_root()
  local p = io.popen("id -u")
  local uid = p:read("l")
  p:close()
  return uid == "0"
end

local function python()
  for _, py in ipairs({"python3", "/usr/bin/python3"}) do
    if os.execute(py .. " -c 'import mpi4py, numpy' 2>/dev/null") then return py end
  end
  return nil
end

local MPIRUN = ("mpirun %s-np 2 --oversubscribe --mca btl self,vader -x LUA_PATH -x LUA_CPATH "
  .. "-x MEMOBJ_MPI_PINGS=%d -x MEMOBJ_MPI_ALLREDUCE=%d -x MEMOBJ_MPI_PUTS=%d "):format(
  is_root() and "--allow-run-as-root " or "", PINGS, ALLREDUCE_REPS, PUTS)

local function run(cmd)
  local p = io.popen(MPIRUN .. cmd .. " 2>&1")
  local out = p:read("a")
  assert(p:close(), "failed: " .. cmd .. "\n" .. out)
  local t = {}
  for name, v in out:gmatch("(%a+) ([%d.e+-]+)") do t[name] = tonumber(v) end
  return t
end

local py = python()
if not py then
  print("mpi4py with numpy is not installed (python3-mpi4py): nothing to compare")
  return
end
local script = debug.getinfo(1, "S").source:match("^@(.*)$")
local ours, theirs = {}, {}
for _ = 1, common.runs do
  local a = run((os.getenv("LUA") or "lua5.4") .. " " .. script)
  local base = script:gsub("mpi%.lua$", "mpi_baseline.py")
  local b = run(py .. " " .. base)
  for k, v in pairs(run("-x MEMOBJ_MPI_NOHUGE=1 " .. py .. " " .. base)) do b[k] = v end
  for k, v in pairs(a) do ours[k] = ours[k] or {}; table.insert(ours[k], v) end
  for k, v in pairs(b) do theirs[k] = theirs[k] or {}; table.insert(theirs[k], v) end
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local ROWS = {
  {"pingpong", "8-byte ping-pong latency (one way)", 1e6, "us"},
  {"allreduce", "allreduce sum, 64 MiB float64", 1e3, "ms"},
  {"put", "1 MiB put through a window + 2 fences", 1e6, "us"},
}
-- memobj.heap takes no transparent huge pages; numpy does on arrays of
-- 4 MiB and more: the same allreduce against numpy without them
ours.allreducenohuge = ours.allreduce
table.insert(ROWS, 3, {"allreducenohuge", "allreduce, numpy without huge pages", 1e3, "ms",
  "(same pages)"})
for _, r in ipairs(ROWS) do
  local o, t = median(ours[r[1]]), median(theirs[r[1]])
  print(("%-40s memobj %8.2f %s   mpi4py %8.2f %s   ratio %.3f"):format(
    r[2], o * r[3], r[4], t * r[3], r[4], o / t))
  common.row("mpi", r[2] .. " vs mpi4py", o / t, "x", r[5] or "<= 1.1")
end

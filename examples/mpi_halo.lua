-- mpi_halo.lua: a 1-D heat equation on a ring of cells split over the
-- ranks. Each rank's cells live in an MPI window, with one halo cell on
-- each side: [left halo | cells ... | right halo]. Every step puts this
-- rank's edge cells into its neighbours' halos (w:put between two
-- fences), then updates its cells from their neighbours. The heat on the
-- ring is conserved, which the end checks with an allreduce.
-- Run: mpirun -np 4 lua5.4 mpi_halo.lua [cells per rank] [steps]
local memobj = require("memobj")
local mpi = require("memobj.mpi")

local n = math.tointeger(tonumber(arg[1] or "")) or 1000
local steps = math.tointeger(tonumber(arg[2] or "")) or 200
local k = 0.25                       -- diffusion number (stable below 0.5)
local left, right = (mpi.rank - 1) % mpi.size, (mpi.rank + 1) % mpi.size

local w <close> = mpi.window((n + 2) * 8)   -- collective
local u = w:array("float64")                -- u[1] and u[n + 2]: halos
local first, last = u:slice(2, 2), u:slice(n + 1, n + 1)
local new = memobj.array("float64", n)

-- a hot spot on rank 0, cold elsewhere
u:fill(0)
if mpi.rank == 0 then for i = 2, 11 do u[i] = 100 end end

local function total()
  local t = memobj.array("float64", 1)
  mpi.allreduce(memobj.array("float64", {u:sum(2, n + 1)}), t, "sum")
  return t[1]
end

local before = total()
local t0 = mpi.wtime()
for _ = 1, steps do
  w:fence()                                 -- neighbours are done reading
  w:put(first, left, (n + 1) * 8)           -- my first cell: left's right halo
  w:put(last, right, 0)                     -- my last cell: right's left halo
  w:fence()                                 -- the halos have arrived
  for i = 2, n + 1 do
    new[i - 1] = u[i] + k * (u[i - 1] - 2 * u[i] + u[i + 1])
  end
  for i = 2, n + 1 do u[i] = new[i - 1] end
end
w:fence()
local elapsed = mpi.wtime() - t0
local after = total()

if mpi.rank == 0 then
  print(("%d ranks x %d cells, %d steps in %.3f s"):format(mpi.size, n, steps, elapsed))
  print(("heat before %.6f, after %.6f: %s"):format(before, after,
    math.abs(after - before) < 1e-9 * before and "heat conserved" or "NOT CONSERVED"))
end
assert(math.abs(after - before) < 1e-9 * before)
first:release(); last:release(); u:release()

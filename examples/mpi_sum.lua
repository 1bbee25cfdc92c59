-- mpi_sum.lua: the sum of one large .npy file, each rank mapping only its
-- own slice of it (memobj.map at the slice's offset: pages of the other
-- slices are never read here), summing it with the array kernels, and
-- combining the partial sums with mpi.allreduce.
-- Run: mpirun -np 4 lua5.4 mpi_sum.lua [count]
-- (across hosts the file must be on a shared file system: doc/mpi.md)
local memobj = require("memobj")
local mpi = require("memobj.mpi")

local N = math.tointeger(tonumber(arg[1] or "")) or 1000000

-- rank 0 writes the file (0, 1, 2, ... N-1 as float64) and tells the
-- others its name
local name = memobj.heap(256):bytes()
if mpi.rank == 0 then
  local path = os.tmpname()
  local a = memobj.array("float64", N)
  for i = 1, N do a[i] = i - 1 end
  assert(memobj.npy.save(path, a))
  name:put(1, path)
end
mpi.bcast(name, 0)
local path = tostring(name):match("^[^%z]+")

-- the data is the last N * 8 bytes of a .npy file (after its header)
local f = assert(io.open(path, "rb"))
local data_offset = f:seek("end") - N * 8
f:close()

-- this rank's slice: elements lo .. lo + count - 1 (0-based)
local per = N // mpi.size
local lo = mpi.rank * per
local count = mpi.rank == mpi.size - 1 and N - lo or per
local m = assert(memobj.map(path, {offset = data_offset + lo * 8, size = count * 8}))
local slice = m:array("float64")
local partial = memobj.array("float64", {slice:sum()})
slice:release()
m:close()

local total = memobj.array("float64", 1)
mpi.allreduce(partial, total, "sum")
local expected = N * (N - 1) / 2
print(("rank %d of %d: %d values from %d, partial sum %.0f"):format(
  mpi.rank, mpi.size, count, lo, partial[1]))
mpi.barrier()
if mpi.rank == 0 then
  print(("total %.0f, expected %.0f: %s"):format(total[1], expected,
    total[1] == expected and "sum ok" or "WRONG"))
  os.remove(path)
end
assert(total[1] == expected)

-- exit.lua: os.exit without closing the Lua state, with a window and a
-- finished request still open: MPI is finalized at exit all the same
-- (mpirun reports a rank that exits without MPI_Finalize as a failure).
local memobj = require("memobj")
local H = require("mpi_harness")
local mpi, check, eq = H.mpi, H.check, H.eq

local w = mpi.window(64)
local a = memobj.array("int32", 4)
check("a window and a request left open at os.exit", function()
  local r = mpi.irecv(a, mpi.rank, 5)
  mpi.send(memobj.array("int32", {1, 2, 3, 4}), mpi.rank, 5)
  eq(select(3, r:wait()), 16, "bytes")
  eq(w.closed, false, "window open")
end)
H.done()
os.exit(0, false)

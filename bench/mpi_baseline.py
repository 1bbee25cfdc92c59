# mpi_baseline.py: the loops of bench/mpi.lua in mpi4py with numpy, run
# by that script under the same mpirun options; prints "name seconds"
# lines on rank 0.
import os
import numpy as np
from mpi4py import MPI

# MEMOBJ_MPI_NOHUGE=1: numpy without transparent huge pages (it asks for
# them on arrays of 4 MiB and more; memobj.heap does not), allreduce only
NOHUGE = os.environ.get("MEMOBJ_MPI_NOHUGE") == "1"
if NOHUGE:
    import numpy.core.multiarray
    numpy.core.multiarray._set_madvise_hugepage(False)

comm = MPI.COMM_WORLD
me = comm.Get_rank()
PINGS = int(os.environ.get("MEMOBJ_MPI_PINGS", "20000"))
ALLREDUCE_REPS = int(os.environ.get("MEMOBJ_MPI_ALLREDUCE", "6"))
PUTS = int(os.environ.get("MEMOBJ_MPI_PUTS", "300"))


def report(name, t):
    if me == 0:
        print("%s %.9g" % (name, t), flush=True)


a = np.zeros(1, dtype=np.float64)
Send, Recv = comm.Send, comm.Recv
for _ in range(0 if NOHUGE else 2):
    comm.Barrier()
    t0 = MPI.Wtime()
    if me == 0:
        for _ in range(PINGS):
            Send(a, 1)
            Recv(a, 1)
    elif me == 1:
        for _ in range(PINGS):
            Recv(a, 0)
            Send(a, 0)
    report("pingpong", (MPI.Wtime() - t0) / (2 * PINGS))

n = 64 * 1024 * 1024 // 8
src = np.ones(n, dtype=np.float64)
dst = np.empty(n, dtype=np.float64)
comm.Allreduce(src, dst, op=MPI.SUM)
comm.Barrier()
t0 = MPI.Wtime()
for _ in range(ALLREDUCE_REPS):
    comm.Allreduce(src, dst, op=MPI.SUM)
report("allreducenohuge" if NOHUGE else "allreduce",
       (MPI.Wtime() - t0) / ALLREDUCE_REPS)
assert dst[-1] == comm.Get_size()
del src, dst
if NOHUGE:
    raise SystemExit

win = MPI.Win.Allocate(1024 * 1024, comm=comm)
buf = np.full(1024 * 1024 // 8, 2.0)
for p in range(2):
    comm.Barrier()
    t0 = MPI.Wtime()
    for _ in range(PUTS):
        win.Fence()
        if me == 0:
            win.Put(buf, 1)
        win.Fence()
    if p == 1:
        report("put", (MPI.Wtime() - t0) / PUTS)
win.Free()

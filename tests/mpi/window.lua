-- window.lua: MPI windows as memory objects of kind "mpi" under mpirun
-- -np 4: views over them, put/get/accumulate with fence and with
-- passive-target locks, flush, origin views locked until completion,
-- range checks, MPI errors, shared windows and peers, close.
local memobj = require("memobj")
local H = require("mpi_harness")
local mpi, check, eq, raises = H.mpi, H.check, H.eq, H.raises
local me, n = mpi.rank, mpi.size
local right, left = (me + 1) % n, (me - 1) % n

check("a window is a memory object that takes every view", function()
  local w <close> = mpi.window(64)
  eq(w.kind, "mpi", "kind")
  eq(w.size, 64, "size")
  eq(w.persistence, "volatile", "persistence")
  eq(w.permission, "rw", "permission")
  local a = w:array("float64")
  eq(#a, 8, "array length")
  a[1] = me + 0.25
  local b = w:bytes(8, 8)
  b:put(1, "abcdefgh")
  local r = w:records({{"x", "float64"}}, 0, 1)
  eq(r[1].x, me + 0.25, "records see the same bytes")
  raises(function() w:close() end, "locked")
  raises(function() w:resize(128) end, "fixed size")
  a:release(); b:release(); r:release()
  assert(tostring(w):find("memobj.mpi: 64 bytes", 1, true))
  eq(memobj.stats().mpi ~= nil, true, "stats know the kind")
end)

check("put and get with fence", function()
  local w = mpi.window(8 * n)
  local mine = w:array("float64")
  mine:fill(0)
  w:fence()
  -- every rank writes its number into slot `me` of every other rank
  local v = memobj.array("float64", {me + 0.5})
  for r = 0, n - 1 do w:put(v, r, 8 * me) end
  -- the origin view stays locked until the epoch ends
  raises(function() v.memory:close() end, "close")
  w:fence()
  for r = 0, n - 1 do eq(mine[r + 1], r + 0.5, "slot " .. r) end
  -- get the right neighbour's whole part
  local got = memobj.array("float64", n)
  w:get(got, right, 0)
  w:fence()
  for r = 0, n - 1 do eq(got[r + 1], r + 0.5, "got slot " .. r) end
  v:release()
  v.memory:close()     -- free after the fence
  mine:release()
  w:close()
  eq(w.closed, true, "closed")
end)

check("accumulate: sum and max of every rank", function()
  local w = mpi.window(16)
  local a = w:array("int64")
  a:fill(0)
  w:fence()
  w:accumulate(memobj.array("int64", {me + 1}), 0, 0, "sum")
  w:accumulate(memobj.array("int64", {me * 7}), 0, 8, "max")
  w:fence()
  if me == 0 then
    eq(a[1], 10, "sum")
    eq(a[2], 21, "max")
  end
  raises(function() w:accumulate(memobj.heap(8):bytes(), 0, 0, "sum") end,
    "typed array of numbers")
  a:release()
  w:close()
end)

check("strided origins", function()
  local w = mpi.window(32)
  local a = w:array("int32")
  a:fill(0)
  w:fence()
  local src = memobj.array("int32", 8)
  for i = 1, 8 do src[i] = me * 100 + i end
  w:put(src:slice(8, 1, -2), right, 0)   -- items 8, 6, 4, 2
  w:fence()
  eq(a[1], left * 100 + 8, "first")
  eq(a[4], left * 100 + 2, "last")
  local back = memobj.array("int32", 8)
  back:fill(-1)
  w:get(back:slice(1, 8, 2), me, 0)
  w:fence()
  eq(back[1], left * 100 + 8, "strided get")
  eq(back[2], -1, "gap")
  a:release()
  w:close()
end)

check("passive target: lock, put, flush, unlock", function()
  local w = mpi.window(8 * n)
  local a = w:array("int64")
  a:fill(-1)
  mpi.barrier()
  local v = memobj.array("int64", {me * 11})
  w:lock(right, "exclusive")
  w:put(v, right, 8 * me)
  w:flush(right)
  v:release()
  v.memory:close()       -- flushed: the put no longer holds it
  w:unlock(right)
  local v2 = memobj.array("int64", {me})
  w:lock(left)
  w:accumulate(v2, left, 8 * left, "sum")   -- the target's own slot
  raises(function() v2.memory:close() end, "close")   -- until unlock
  w:unlock(left)
  v2:release()
  v2.memory:close()
  mpi.barrier()
  w:lock(me)
  eq(a[left + 1], left * 11, "put by the left neighbour")
  eq(a[me + 1], -1 + right, "accumulated by the right neighbour")
  w:flush()             -- every target (none pending)
  w:unlock(me)
  raises(function() w:flush(right) end, "MPI_ERR_RMA_SYNC")   -- no epoch
  raises(function() w:lock(me, "sole") end, "invalid option")
  a:release()
  w:close()
end)

check("ranges are checked before MPI sees them", function()
  local w = mpi.window(16 + me)   -- parts of different sizes
  w:fence()
  raises(function() w:put(memobj.array("int8", 17 + right), right, 0) end, "beyond rank")
  raises(function() w:put(memobj.array("int8", 1), right, 16 + right) end, "beyond rank")
  w:put(memobj.array("int8", 1), right, 15 + right)   -- the last byte: fine
  raises(function() w:get(memobj.array("int8", 1), n, 0) end, "no such rank")
  raises(function() w:put("abc", right, 0) end, "memobj.string")
  raises(function() w:get(memobj.heap(4):array("int8", 0, 4, "r"), right, 0) end,
    "read-only")
  w:fence()
  w:close()
end)

check("MPI's errors on windows are Lua errors", function()
  local w = mpi.window(8)
  -- a put outside any epoch: MPI returns an error, the view is unlocked
  local v = memobj.array("int32", 1)
  local err = raises(function() w:put(v, right, 0) end, "memobj.mpi: put: MPI_ERR_RMA")
  assert(err)
  eq(v.memory.locks, 1, "no lock left")
  raises(function() w:unlock(right) end, "memobj.mpi: unlock:")
  w:fence()
  w:close()
end)

check("methods refuse other memory and closed windows", function()
  local h = memobj.heap(8)
  raises(function() h:fence() end, "mpi memory expected")
  local w = mpi.window(8)
  w:close()
  raises(function() w:fence() end, "closed")
  raises(function() w:array("int8") end, "closed")
end)

check("shared windows: peer memory over each rank's part", function()
  local w = mpi.window(8, {shared = true})
  local mine = w:array("float64")
  mine[1] = me * 2.5
  w:fence()
  local p = w:peer(right)
  eq(p.kind, "mpi", "peer kind")
  eq(p.size, 8, "peer size")
  local pa = p:array("float64")
  eq(pa[1], right * 2.5, "plain load of the neighbour's part")
  raises(function() w:close() end, "locked")   -- the peer holds the window
  raises(function() p:put(memobj.array("int8", 1), 0, 0) end, "plain memory")
  w:fence()
  pa:release()
  p:close()
  mine:release()
  raises(function() mpi.window(8):peer(0) end, "shared = true")
  w:close()
  raises(function() mpi.window(8, {shard = true}) end, "unknown option 'shard'")
end)

check("a window nobody closed is freed at finalize", function()
  do local _ = mpi.window(1024) end
  collectgarbage()
  collectgarbage()
  local w = mpi.window(4)   -- later windows still work
  w:fence()
  w:close()
end)

H.done()

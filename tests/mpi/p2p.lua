-- p2p.lua: point to point (send, recv, isend, irecv, requests) under
-- mpirun -np 4: every element type, strided views, bytes, records,
-- strings, locks held while a request runs, MPI errors as Lua errors.
local memobj = require("memobj")
local H = require("mpi_harness")
local mpi, check, eq, raises = H.mpi, H.check, H.eq, H.raises
local me, n = mpi.rank, mpi.size
local right, left = (me + 1) % n, (me - 1) % n

check("rank and size", function()
  eq(n, 4, "size")
  assert(me >= 0 and me < n)
  eq(math.type(mpi.ANY), "integer", "ANY")
  eq(mpi.thread, "multiple", "thread level")
end)

check("wtime and barrier", function()
  local t0 = mpi.wtime()
  mpi.barrier()
  assert(mpi.wtime() >= t0)
  raises(function() mpi.barrier(1) end, "no value expected")
end)

-- every rank sends to its right and receives from its left, with the
-- values of each element type (odd ranks receive first: no deadlock
-- even for large messages)
local function ring(sendv, recvv, tag)
  if me % 2 == 0 then
    mpi.send(sendv, right, tag)
    return mpi.recv(recvv, left, tag)
  end
  local s, t, b = mpi.recv(recvv, left, tag)
  mpi.send(sendv, right, tag)
  return s, t, b
end

local TYPES = {"int8", "uint8", "int16", "uint16", "int32", "uint32",
  "int64", "uint64", "float32", "float64", "int32be", "float64be", "uint16le"}
for k, ty in ipairs(TYPES) do
  check("send and recv " .. ty, function()
    local a = memobj.array(ty, 5)
    local b = memobj.array(ty, 5)
    for i = 1, 5 do a[i] = me * 10 + i end
    local s, t, bytes = ring(a, b, k)
    eq(s, left, "source")
    eq(t, k, "tag")
    eq(bytes, #b.memory, "bytes")
    for i = 1, 5 do eq(b[i], left * 10 + i, ty .. " item") end
  end)
end

check("strided views both ways", function()
  local a = memobj.array("float64", 10)
  for i = 1, 10 do a[i] = me + i / 8 end
  local b = memobj.array("float64", 10)
  b:fill(-1)
  -- items 1,3,5,7,9 go into b's 10,8,6,4,2
  ring(a:slice(1, 10, 2), b:slice(10, 1, -2), 20)
  for i = 1, 5 do
    eq(b[12 - 2 * i], left + (2 * i - 1) / 8, "strided item")
    eq(b[11 - 2 * i], -1, "gap untouched")
  end
end)

check("bytes, records and strings", function()
  local m = memobj.heap(16)
  local bv = m:bytes()
  bv:put(1, ("r" .. me):rep(8))
  local got = memobj.heap(16)
  ring(bv, got:bytes(), 21)
  eq(tostring(got:bytes()), ("r" .. left):rep(8), "bytes")
  local rec = memobj.records({{"x", "float64"}, {"n", "int32"}}, 3)
  for i = 1, 3 do rec[i] = {x = me + i, n = me * i} end
  local out = memobj.records({{"x", "float64"}, {"n", "int32"}}, 3)
  ring(rec, out, 22)
  for i = 1, 3 do
    eq(out[i].x, left + i, "record x")
    eq(out[i].n, left * i, "record n")
  end
  -- a Lua string is a read-only message
  local s = "hello from " .. me .. "   "
  local into = memobj.heap(#s)
  ring(s:sub(1, 14), into:bytes(1, 14), 23)
  eq(tostring(into:bytes(1, 14)), ("hello from " .. left .. "   "):sub(1, 14), "string")
end)

check("recv: ANY source and tag, shorter messages, truncation", function()
  local buf = memobj.array("int32", 8)
  if me == 0 then
    for _ = 1, n - 1 do
      local s, t, bytes = mpi.recv(buf, mpi.ANY, mpi.ANY)
      eq(t, 100 + s, "tag")
      eq(bytes, 4 * s, "bytes of a short message")
      for i = 1, s do eq(buf[i], s, "item") end
    end
  else
    local a = memobj.array("int32", me)
    a:fill(me)
    mpi.send(a, 0, 100 + me)
  end
  mpi.barrier()
  -- a message longer than the buffer: MPI's error, raised
  if me == 1 then
    mpi.send(memobj.array("int32", 4), 0, 30)
  elseif me == 0 then
    raises(function() mpi.recv(memobj.array("int32", 2), 1, 30) end, "MPI_ERR_TRUNCATE")
  end
end)

check("an MPI error is a Lua error with MPI's message", function()
  local a = memobj.array("int32", 2)
  raises(function() mpi.send(a, 99) end, "memobj.mpi: send: MPI_ERR_RANK")
  raises(function() mpi.recv(a, 99) end, "memobj.mpi: recv: MPI_ERR_RANK")
  raises(function() mpi.isend(a, 99) end, "MPI_ERR_RANK")
  -- the failed calls left no lock behind: the view's own is the only one
  eq(a.memory.locks, 1, "locks")
end)

check("argument errors", function()
  local a = memobj.array("int32", 2)
  raises(function() mpi.send({}, 1) end, "bad argument #1")
  raises(function() mpi.send(a, -2) end, "bad argument #2")
  raises(function() mpi.send(a, 1, -5) end, "bad argument #3")
  raises(function() mpi.send(a, 1, 0, 0) end, "no value expected")
  raises(function() mpi.recv("abc", 1) end, "read-only")
  raises(function() mpi.recv(a.memory:array("int32", 0, 2, "r"), 1) end, "read-only")
  a:release()
  raises(function() mpi.send(a, 1) end, "view is released")
  raises(function() mpi.isend("abc", 1) end, "memobj.string")
end)

check("isend and irecv: wait, test, locks held until done", function()
  local m = memobj.heap(4 * 1024 * 1024)   -- past the eager limit
  local a = m:array("int32")
  if me == 0 then
    for i = 1, 8 do a[i] = i end
    local r = mpi.isend(a, 1, 40)
    raises(function() m:close() end, "close")        -- locked by the request
    raises(function() m:resize(16) end, "resize")
    mpi.send(memobj.array("int32", 1), 1, 41)        -- let rank 1 post
    eq(r:wait(), true, "isend wait")
    eq(r:wait(), true, "wait again")
    eq(tostring(r):match("done") ~= nil, true, "tostring")
    a:release()
    m:close()                                        -- free now
  elseif me == 1 then
    local r = mpi.irecv(a, 0, 40)
    raises(function() m:close() end, "close")
    eq(r:test() == false or true, true, "test")
    mpi.recv(memobj.array("int32", 1), 0, 41)
    local s, t, bytes = r:wait()
    eq(s, 0, "source")
    eq(t, 40, "tag")
    eq(bytes, #m, "bytes")
    eq(a[8], 8, "data")
    local s2 = r:test()
    eq(s2, 0, "test after completion")
    a:release()
    m:close()
  end
end)

check("a request dropped before completion keeps its lock", function()
  -- irecv dropped: cancelled by the collector, so the memory closes
  local m = memobj.heap(64)
  do local _ = mpi.irecv(m:array("int32"), right, 999) end
  collectgarbage()
  collectgarbage()
  m:close()
  -- isend dropped while the receiver has not posted: MPI still reads the
  -- bytes, so close stays refused until it is done
  local big = memobj.heap(8 * 1024 * 1024)
  if me == 0 then
    do local _ = mpi.isend(big:array("uint8"), 1, 50) end
    collectgarbage()
    collectgarbage()
    raises(function() big:close() end, "close")
    mpi.send(memobj.array("int32", 1), 1, 51)
  elseif me == 1 then
    mpi.recv(memobj.array("int32", 1), 0, 51)
    mpi.recv(big:array("uint8"), 0, 50)
  end
  mpi.barrier()  -- also sweeps the finished requests
  big:close()
end)

check("<close> on a request waits", function()
  local got = memobj.array("int64", 1)
  do
    local _ <close> = mpi.irecv(got, left, 60)
    mpi.send(memobj.array("int64", {me}), right, 60)
  end
  eq(got[1], left, "received by the time the scope ends")
end)

check("recv into memory that refuses writes releases its lock", function()
  local path = os.tmpname()
  os.remove(path)
  local pool = assert(memobj.persistent(path, 65536))
  local a = pool:array("int32", 0, 4)
  -- outside a transaction a pool refuses writes: the receive never starts
  raises(function() mpi.recv(a, right, 70) end, "transaction")
  a:release()
  pool:close()
  os.remove(path)
end)

check("finalizers called by Lua code on other userdata do nothing", function()
  local r = mpi.irecv(memobj.array("int32", 1), right, 80)
  local mt = debug.getmetatable(r)
  mt.__gc(io.stdout)
  mt.__gc(memobj.heap(64))
  raises(function() mt.__close(io.stdout) end, "request")
  raises(function() return r.wait(io.stdout) end, "request")
  mpi.send(memobj.array("int32", {me}), left, 80)
  r:wait()
  local reg = debug.getregistry()
  for _, v in pairs(reg) do
    local vmt = type(v) == "table" and rawget(v, "__close")
    if vmt and rawget(v, "__gc") == vmt then vmt(io.stdout) end  -- the pair's
  end
end)

H.done()

-- coll.lua: collectives under mpirun -np 4: bcast, reduce, allreduce
-- (every op), gather, allgather, scatter; every element type; in place;
-- the checks of types, lengths and byte order.
local memobj = require("memobj")
local H = require("mpi_harness")
local mpi, check, eq, raises = H.mpi, H.check, H.eq, H.raises
local me, n = mpi.rank, mpi.size

local INTS = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
local FLOATS = {"float32", "float64"}

check("bcast of every element type", function()
  for _, ty in ipairs({"int8", "uint16", "int32", "uint64", "float32", "float64",
                       "int64be", "float32be"}) do
    local a = memobj.array(ty, 3)
    if me == 2 then for i = 1, 3 do a[i] = 10 + i end end
    mpi.bcast(a, 2)
    for i = 1, 3 do eq(a[i], 10 + i, ty) end
  end
  local b = memobj.heap(5):bytes()
  if me == 0 then b:put(1, "hello") end
  mpi.bcast(b, 0)
  eq(tostring(b), "hello", "bytes")
end)

check("allreduce: sum of every number type", function()
  for _, ty in ipairs(INTS) do
    local s = memobj.array(ty, {me + 1, 2 * me})
    local d = memobj.array(ty, 2)
    mpi.allreduce(s, d, "sum")
    eq(d[1], 10, ty .. " sum")     -- 1+2+3+4
    eq(d[2], 12, ty .. " sum 2")   -- 0+2+4+6
  end
  for _, ty in ipairs(FLOATS) do
    local s = memobj.array(ty, {me + 0.5})
    local d = memobj.array(ty, 1)
    mpi.allreduce(s, d, "sum")
    eq(d[1], 8.0, ty .. " sum")    -- 0.5+1.5+2.5+3.5
  end
end)

check("allreduce: prod min max band bor bxor", function()
  local s = memobj.array("int32", {me + 1, me + 1, me + 1, 1 << me, 1 << me, 3})
  local function op(name, i)
    local d = memobj.array("int32", 1)
    mpi.allreduce(s:slice(i, i), d, name)
    return d[1]
  end
  eq(op("prod", 1), 24, "prod")
  eq(op("min", 2), 1, "min")
  eq(op("max", 3), 4, "max")
  eq(op("bor", 4), 15, "bor")
  eq(op("band", 5), 0, "band")
  eq(op("bxor", 6), 0, "bxor")   -- 3 ~ 3 ~ 3 ~ 3
  local f = memobj.array("float64", {-me * 1.5})
  local d = memobj.array("float64", 1)
  mpi.allreduce(f, d, "min")
  eq(d[1], -4.5, "float min")
  raises(function() mpi.allreduce(s, memobj.array("int32", 6), "avg") end, "invalid option 'avg'")
end)

check("reduce to a root; nil destination elsewhere", function()
  local s = memobj.array("float64", {me, me * me})
  local d = me == 3 and memobj.array("float64", 2) or nil
  mpi.reduce(s, d, "sum", 3)
  if me == 3 then
    eq(d[1], 6.0, "sum")
    eq(d[2], 14.0, "sum of squares")
  end
end)

check("in place: the same view twice", function()
  local a = memobj.array("int64", {me, 1})
  mpi.allreduce(a, a, "sum")
  eq(a[1], 6, "in place")
  eq(a[2], 4, "in place 2")
  local b = memobj.array("int64", {me + 1})
  mpi.reduce(b, b, "prod", 0)
  if me == 0 then eq(b[1], 24, "reduce in place at the root") end
  if me ~= 0 then eq(b[1], me + 1, "untouched off the root") end
end)

check("strided views in reductions are refused", function()
  -- MPI's predefined operations take no derived datatypes
  local a = memobj.array("float64", 6)
  raises(function() mpi.allreduce(a:slice(1, 6, 2), memobj.array("float64", 3), "max") end,
    "contiguous")
  raises(function() mpi.allreduce(memobj.array("float64", 3), a:slice(6, 1, -2), "max") end,
    "contiguous")
  collectgarbage()   -- the slices made above
  eq(a.memory.locks, 1, "no lock left")
end)

check("reductions refuse what has no arithmetic", function()
  local be = memobj.array("int32be", {me})
  raises(function() mpi.allreduce(be, memobj.array("int32be", 1), "sum") end,
    "byte order")
  -- bitwise operations work on the bytes: fine in any byte order
  local d = memobj.array("int32be", 1)
  mpi.allreduce(memobj.array("int32be", {1 << me}), d, "bor")
  eq(d[1], 15, "bor of big-endian ints")
  local bytes = memobj.heap(4):bytes()
  raises(function() mpi.allreduce(bytes, memobj.heap(4):bytes(), "sum") end,
    "typed array of numbers")
  local u8 = memobj.array("uint8", {me})
  local u8d = memobj.array("uint8", 1)
  mpi.allreduce(u8, u8d, "sum")
  eq(u8d[1], 6, "uint8 arrays are numbers")
  raises(function() mpi.allreduce(memobj.array("int32", 2), memobj.array("int32", 3), "sum") end,
    "different lengths")
  raises(function() mpi.allreduce(memobj.array("int32", 2), memobj.array("float32", 2), "sum") end,
    "different element types")
  local o = memobj.array("int32", 4)
  raises(function() mpi.allreduce(o:slice(1, 2), o:slice(2, 3), "sum") end, "overlap")
end)

check("gather, allgather, scatter", function()
  local s = memobj.array("int16", {me, -me})
  local all = memobj.array("int16", 2 * n)
  mpi.allgather(s, all)
  for r = 0, n - 1 do
    eq(all[2 * r + 1], r, "allgather")
    eq(all[2 * r + 2], -r, "allgather 2")
  end
  local g = me == 1 and memobj.array("int16", 2 * n) or nil
  mpi.gather(s, g, 1)
  if me == 1 then for r = 0, n - 1 do eq(g[2 * r + 1], r, "gather") end end
  local src = me == 0 and memobj.array("float64", 3 * n) or nil
  if src then for i = 1, 3 * n do src[i] = i end end
  local part = memobj.array("float64", 3)
  mpi.scatter(src, part, 0)
  for i = 1, 3 do eq(part[i], 3 * me + i, "scatter") end
  -- a strided source is fine; the gathered side must be contiguous
  local st = memobj.array("int32", 4)
  for i = 1, 4 do st[i] = me * 10 + i end
  local gathered = memobj.array("int32", 2 * n)
  mpi.allgather(st:slice(1, 4, 2), gathered)
  eq(gathered[2 * me + 2], me * 10 + 3, "strided source")
  raises(function() mpi.allgather(s, memobj.array("int16", n)) end, "size times")
  raises(function() mpi.allgather(s, memobj.array("int16", 4 * n):slice(1, 4 * n, 2)) end,
    "contiguous")
end)

check("collective errors leave no locks", function()
  local a = memobj.array("int32", 2)
  raises(function() mpi.bcast(a, 99) end, "MPI_ERR_ROOT")
  raises(function() mpi.allreduce(a, memobj.heap(8):array("int32", 0, 2, "r"), "sum") end,
    "read-only")
  eq(a.memory.locks, 1, "only the view's own lock")
end)

H.done()

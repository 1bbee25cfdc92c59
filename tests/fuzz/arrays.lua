-- arrays.lua: a differential fuzzer for typed arrays. A heap memory object
-- and a model of it (a Lua table of bytes) go through the same random
-- operations: views of every element type and byte order at random
-- offsets, views of views (slice with any step, cast, memobj.array over a
-- view), element reads and writes, every bulk method and kernel with
-- random (often out of range, negative or wrong) arguments. The model
-- converts with string.pack/string.unpack; every call must give the same
-- values or raise where the model raises, and leave the same bytes.
-- usage: lua5.4 tests/fuzz/arrays.lua [seed] [steps] [-v]
-- On a difference it prints the recent operations and exits 1.
local memobj = require("memobj")

local seed = tonumber(arg[1]) or os.time()
local steps = tonumber(arg[2]) or 20000
local verbose = arg[3] == "-v"
math.randomseed(seed)
local R = math.random

local FMT = {i8 = "i1", u8 = "I1", i16 = "i2", u16 = "I2", i32 = "i4", u32 = "I4",
  i64 = "j", u64 = "J", f32 = "f", f64 = "d"}
local SIZE = {i8 = 1, u8 = 1, i16 = 2, u16 = 2, i32 = 4, u32 = 4, i64 = 8, u64 = 8,
  f32 = 4, f64 = 8}
local BASES = {"i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64"}
local LITTLE = string.pack("=i2", 1) == string.pack("<i2", 1)

-- ---- Types ----

local function newtype()
  local b = BASES[R(#BASES)]
  local order = ({"", "", "le", "be"})[R(4)]
  return {name = b .. order, base = b, size = SIZE[b],
    fmt = ((order == "le" and "<") or (order == "be" and ">") or "=") .. FMT[b],
    float = b:sub(1, 1) == "f", unsigned = b:sub(1, 1) == "u"}
end

-- ---- The model ----

local mem, M          -- model bytes (1-based table), size
local real, all       -- the heap memory object, a u8 array over all of it
local views = {}      -- {a = real array, t = type, off = byte offset of
                      --  element 1 (0-based), stride, n, ro, released}
local log = {}

local function note(s)
  log[#log + 1] = s
  if #log > 40 then table.remove(log, 1) end
  if verbose then print(s) end
end

local function fail(msg)
  io.stderr:write(("difference (seed %d): %s\nlast operations:\n  %s\n"):format(
    seed, msg, table.concat(log, "\n  ")))
  os.exit(1)
end

-- The byte order a type stores in, and whether two types are the same
-- element type (then copy moves bytes, not values).
local function order(t)
  local c = t.fmt:sub(1, 1)
  if c == "=" then return LITTLE and "<" or ">" end
  return c
end
local function same_etype(a, b)
  return a.base == b.base and (a.size == 1 or order(a) == order(b))
end

local function elemoff(v, k) return v.off + (k - 1) * v.stride end

local function mread(v, k)
  local o = elemoff(v, k)
  local s = string.char(table.unpack(mem, o + 1, o + v.t.size))
  return (string.unpack(v.t.fmt, s))
end

local function mwrite_bytes(v, k, s)
  local o = elemoff(v, k)
  for b = 1, #s do mem[o + b] = s:byte(b) end
end

-- Integer wrap to the type (as C's unsigned arithmetic), as a Lua value.
local function wrap(t, x)
  if t.size == 8 then return x end
  local bits = 8 * t.size
  x = x & ((1 << bits) - 1)
  if not t.unsigned and x >= 1 << (bits - 1) then x = x - (1 << bits) end
  return x
end

-- A value read from type `from` as a float (uint64 unsigned).
local function tofloat(from, x)
  if from.float then return x end
  if from.base == "u64" and x < 0 then return ((x >> 1) | (x & 1)) * 2.0 end
  return x + 0.0
end

-- string.pack's conversion into type t, or nil, why.
local function pack(t, x)
  local ok, s = pcall(string.pack, t.fmt, x)
  if ok then return s end
  return nil, s
end

-- A value read from `from` converted for `to` (mo_value_convert), packed.
local function convert(from, to, x)
  if to.float then return pack(to, tofloat(from, x)) end
  return pack(to, x)
end

local function same(x, y)
  if x ~= x and y ~= y then return true end
  return x == y and math.type(x) == math.type(y)
end

-- Sums in another order: equal within rounding. Near the top of the float
-- range an order may overflow where another does not: not compared.
local function close(x, y, scale)
  if x ~= x or y ~= y then return x ~= x and y ~= y end
  if x == y or not (scale < 1e300) then return true end
  return math.abs(x - y) <= 1e-9 * scale
end

local function check_bytes(what)
  local got = all:totable()
  for i = 1, M do
    if got[i] ~= mem[i] then
      fail(("%s: byte %d is %d, model %d"):format(what, i - 1, got[i], mem[i]))
    end
  end
end

-- Accept the real bytes of view v's elements from..to (after an operation
-- whose values were checked NaN-aware or whose order among equals is free).
local function adopt(v, from, to)
  local got = all:totable()
  for k = from, to do
    local o = elemoff(v, k)
    for b = 1, v.t.size do mem[o + b] = got[o + b] end
  end
end

-- ---- Random arguments ----

local function value(t)
  local c = R(12)
  if c == 1 then return 0 / 0 end
  if c == 2 then return ({math.huge, -math.huge, -0.0, 0.5, 1e300})[R(5)] end
  if c == 3 then return ({math.maxinteger, math.mininteger, -1, 255, 256, 65536,
    2147483648, -2147483649, 1 << 32})[R(9)] end
  if c == 4 then return R(-300, 300) + 0.0 end
  if c == 5 then return R(-1000, 1000) / 8 end
  if t and not t.float and t.size < 8 then
    local bits = 8 * t.size
    if t.unsigned then return R(0, (1 << bits) - 1) end
    return R(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
  end
  return R(-1000, 1000)
end

local function position(n)
  local c = R(8)
  if c == 1 then return R(-n - 3, 0) end
  if c == 2 then return ({math.mininteger, math.maxinteger, n + 1, n + 5})[R(4)] end
  return R(1, math.max(n, 1))
end

local function clamp(i, j, n)
  local s = i > 0 and i or (i == 0 or i < -n) and 1 or n + i + 1
  local e = j > n and n or j >= 0 and j or j < -n and 0 or n + j + 1
  return s, e
end

-- ---- Views ----

local function live()
  local list = {}
  for _, v in ipairs(views) do if not v.released then list[#list + 1] = v end end
  return list
end

local function pick()
  local l = live()
  if #l == 0 then return nil end
  return l[R(#l)]
end

local function add_view(v)
  views[#views + 1] = v
  if #views > 12 then
    local old = table.remove(views, 1)
    if not old.released then old.a:release() end
  end
end

-- The model of a:slice(i, j, step) over n elements: first index, count.
local function slice_model(i, j, step, n)
  if step > 0 then
    local s, e = clamp(i, j, n)
    if s > e then return 1, 0 end
    return s, (e - s) // step + 1
  end
  if i < 0 then i = i < -n and 0 or n + i + 1 end
  if i > n then i = n end
  if j < 0 then j = j < -n and 0 or n + j + 1 end
  if j < 1 then j = 1 end
  if i < 1 or i < j then return 1, 0 end
  return i, (i - j) // -step + 1
end

-- Every call: the real one under pcall; `expect_error` from the model.
local function call(what, expect_error, fn)
  local ok, r1, r2 = pcall(fn)
  if expect_error ~= nil then
    if ok == expect_error then
      fail(("%s: %s"):format(what, ok and "no error, model raises" or "raised: " .. tostring(r1)))
    end
  end
  return ok, r1, r2
end

local ops = {}

function ops.new_view()
  local t = newtype()
  local off, n = R(0, M + 1), R(0, M // t.size + 1)
  local ro = R(5) == 1
  local bad = off > M or n * t.size > M - off
  note(("m:array(%q, %d, %d%s)"):format(t.name, off, n, ro and ', "r"' or ""))
  local ok, a = call("m:array", bad, function()
    return real:array(t.name, off, n, ro and "r" or nil)
  end)
  if ok then add_view({a = a, t = t, off = off, stride = t.size, n = n, ro = ro}) end
end

function ops.slice()
  local v = pick()
  if not v then return end
  local i, j, step = position(v.n), position(v.n), ({1, 1, 2, 3, -1, -2, -5, 0, 7})[R(9)]
  if R(4) == 1 then j = nil end
  note(("v:slice(%d, %s, %d) of n=%d stride=%d"):format(i, tostring(j), step, v.n, v.stride))
  local ok, s = call("slice", step == 0, function() return v.a:slice(i, j, step) end)
  if not ok then return end
  local first, n = slice_model(i, j or (step > 0 and -1 or 1), step, v.n)
  local nv = {a = s, t = v.t, off = n > 0 and elemoff(v, first) or 0, n = n, ro = v.ro,
    stride = n > 1 and v.stride * step or v.t.size}
  if #s ~= n then fail(("slice: %d elements, model %d"):format(#s, n)) end
  if s.stride ~= nv.stride then fail(("slice: stride %d, model %d"):format(s.stride, nv.stride)) end
  add_view(nv)
end

function ops.cast()
  local v = pick()
  if not v then return end
  local t = newtype()
  local contiguous = v.stride == v.t.size
  local bytes = v.n * v.t.size
  note(("v:cast(%q) n=%d stride=%d"):format(t.name, v.n, v.stride))
  local ok, c = call("cast", not contiguous or bytes % t.size ~= 0, function()
    return v.a:cast(t.name)
  end)
  if ok then
    add_view({a = c, t = t, off = v.n > 0 and v.off or c.offset, stride = t.size,
      n = bytes // t.size, ro = v.ro})
    if #c ~= bytes // t.size then fail("cast: count") end
  end
end

function ops.array_of_view()
  local v = pick()
  if not v then return end
  local t = newtype()
  local contiguous = v.stride == v.t.size
  local bytes = v.n * v.t.size
  note(("memobj.array(%q, v) n=%d stride=%d"):format(t.name, v.n, v.stride))
  local ok, c = call("memobj.array(view)", not contiguous or bytes % t.size ~= 0, function()
    return memobj.array(t.name, v.a)
  end)
  if ok then
    add_view({a = c, t = t, off = v.n > 0 and v.off or c.offset, stride = t.size,
      n = bytes // t.size, ro = v.ro})
  end
end

function ops.read()
  local v = pick()
  if not v then return end
  local i = position(v.n)
  local want = (i >= 1 and i <= v.n) and mread(v, i) or nil
  local got = v.a[i]
  note(("v[%d] n=%d -> %s"):format(i, v.n, tostring(got)))
  if not (want == nil and got == nil) and not same(want, got) then
    fail(("v[%d] = %s, model %s"):format(i, tostring(got), tostring(want)))
  end
end

function ops.write()
  local v = pick()
  if not v then return end
  local i, x = position(v.n), value(v.t)
  local s = pack(v.t, x)
  local bad = v.ro or not (i >= 1 and i <= v.n) or s == nil
  note(("v[%d] = %s (%s n=%d)"):format(i, tostring(x), v.t.name, v.n))
  local ok = call("v[i] = x", bad, function() v.a[i] = x end)
  if ok then mwrite_bytes(v, i, s) end
  check_bytes("write")
end

function ops.fill()
  local v = pick()
  if not v then return end
  local x, i, j = value(v.t), position(v.n), position(v.n)
  local s = pack(v.t, x)
  note(("v:fill(%s, %d, %d) %s n=%d"):format(tostring(x), i, j, v.t.name, v.n))
  local ok = call("fill", v.ro or s == nil, function() v.a:fill(x, i, j) end)
  if ok then
    local from, to = clamp(i, j, v.n)
    for k = from, to do mwrite_bytes(v, k, s) end
  end
  check_bytes("fill")
end

function ops.totable()
  local v = pick()
  if not v then return end
  local i, j = position(v.n), position(v.n)
  note(("v:totable(%d, %d) n=%d"):format(i, j, v.n))
  local got = v.a:totable(i, j)
  local from, to = clamp(i, j, v.n)
  if #got ~= math.max(0, to - from + 1) then fail("totable: length") end
  for k = from, to do
    if not same(got[k - from + 1], mread(v, k)) then fail("totable: item " .. k) end
  end
  local u = {v.a:unpack(from, to)}
  for k = from, to do
    if not same(u[k - from + 1], mread(v, k)) then fail("unpack: item " .. k) end
  end
  local seen = 0
  for k, x in pairs(v.a) do
    seen = seen + 1
    if k ~= seen or not same(x, mread(v, k)) then fail("pairs: item " .. k) end
  end
  if seen ~= v.n then fail("pairs: count") end
end

-- The model's reductions over from..to.
local function reduce(v, from, to)
  local sum, scale, lo, hi, nan = 0, 0, nil, nil, false
  local ult = v.t.base == "u64"
  for k = from, to do
    local x = mread(v, k)
    sum = sum + x
    if v.t.float then scale = scale + math.abs(x) end
    if x ~= x then nan = true
    else
      if lo == nil or (ult and math.ult(x, lo) or not ult and x < lo) then lo = x end
      if hi == nil or (ult and math.ult(hi, x) or not ult and x > hi) then hi = x end
    end
  end
  if nan then lo, hi = 0 / 0, 0 / 0 end
  return sum, scale, lo, hi
end

function ops.reduce()
  local v = pick()
  if not v then return end
  local i, j = position(v.n), position(v.n)
  note(("v:sum/min/max/minmax/mean(%d, %d) %s n=%d stride=%d"):format(i, j, v.t.name,
    v.n, v.stride))
  local from, to = clamp(i, j, v.n)
  local sum, scale, lo, hi = reduce(v, from, to)
  local n = math.max(0, to - from + 1)
  if v.t.float then
    if not close(v.a:sum(i, j), sum, scale + 1) then
      fail(("sum %s, model %s"):format(v.a:sum(i, j), sum))
    end
  elseif v.a:sum(i, j) ~= sum then
    fail(("sum %s, model %s"):format(v.a:sum(i, j), sum))
  end
  local l, h = v.a:minmax(i, j)
  if n == 0 then
    if l ~= nil or v.a:min(i, j) ~= nil or v.a:mean(i, j) ~= nil then fail("empty range") end
    return
  end
  if not same(l, lo) or not same(h, hi) or not same(v.a:min(i, j), lo) or
     not same(v.a:max(i, j), hi) then
    fail(("min/max %s %s, model %s %s"):format(l, h, lo, hi))
  end
  local mean = v.a:mean(i, j)
  local want = v.t.float and sum / n or nil
  if not v.t.float then
    if v.t.size < 8 then want = sum / n
    else
      local s = 0
      for k = from, to do s = s + tofloat(v.t, mread(v, k)) end
      want = s / n
      scale = math.abs(s) * 4
    end
  end
  if not close(mean, want, scale / n + 1) then fail(("mean %s, model %s"):format(mean, want)) end
end

function ops.find()
  local v = pick()
  if not v then return end
  local x, init = value(v.t), R(4) == 1 and position(v.n) or nil
  note(("v:find(%s, %s) %s n=%d"):format(tostring(x), tostring(init), v.t.name, v.n))
  local got = v.a:find(x, init)
  local start = init or 1
  if start < 0 then start = start < -v.n and 1 or v.n + start + 1 end
  if start < 1 then start = 1 end
  local want
  local s = convert({float = math.type(x) == "float", base = "x"}, v.t, x)
  local representable = s ~= nil and (v.t.float or math.tointeger(x) ~= nil)
  if representable then
    for k = start, v.n do
      local e = mread(v, k)
      if v.t.float and e == x or not v.t.float and e == math.tointeger(x) then
        want = k
        break
      end
    end
  end
  if got ~= want then fail(("find %s, model %s"):format(tostring(got), tostring(want))) end
end

function ops.sort()
  local v = pick()
  if not v then return end
  local i, j = position(v.n), position(v.n)
  note(("v:sort(%d, %d) %s n=%d stride=%d"):format(i, j, v.t.name, v.n, v.stride))
  local ok = call("sort", v.ro, function() v.a:sort(i, j) end)
  if not ok then return end
  local from, to = clamp(i, j, v.n)
  local t = {}
  for k = from, to do t[#t + 1] = mread(v, k) end
  local ult = v.t.base == "u64"
  table.sort(t, function(a, b)
    if a ~= a or b ~= b then return a == a and b ~= b end
    if ult then return math.ult(a, b) end
    return a < b
  end)
  for k = from, to do
    local got = v.a[k]
    if not (got == t[k - from + 1] or got ~= got and t[k - from + 1] ~= t[k - from + 1]) then
      fail(("sort: item %d is %s, model %s"):format(k, got, t[k - from + 1]))
    end
  end
  if to >= from then adopt(v, from, to) end  -- NaNs and zeros: order free
  check_bytes("sort")
end

function ops.copy()
  local v = pick()
  if not v then return end
  local src, items, srcv = nil, {}, nil
  if R(2) == 1 then
    src = {}
    for k = 1, R(0, v.n + 1) do src[k] = value(v.t); items[k] = src[k] end
  else
    srcv = pick()
    src = srcv.a
    for k = 1, srcv.n do items[k] = mread(srcv, k) end
  end
  local at = R(4) == 1 and position(v.n) or nil
  local i = at or 1
  if i < 0 then i = v.n + i + 1 end
  note(("v:copy(%s n=%d, %s) into %s n=%d"):format(srcv and srcv.t.name or "table",
    #items, tostring(at), v.t.name, v.n))
  local packed, bad = {}, v.ro or i < 1 or i - 1 > v.n or #items > v.n - (i - 1)
  if not bad then
    for k = 1, #items do
      local s
      if srcv and same_etype(srcv.t, v.t) then  -- same format: the bytes
        local o = elemoff(srcv, k)
        s = string.char(table.unpack(mem, o + 1, o + v.t.size))
      else
        s = convert(srcv and srcv.t or {float = math.type(items[k]) == "float", base = "x"},
          v.t, items[k])
      end
      if s == nil then bad = true break end
      packed[k] = s
    end
  end
  local ok = call("copy", bad, function() return v.a:copy(src, at) end)
  if ok then
    for k = 1, #packed do
      local want = (string.unpack(v.t.fmt, packed[k]))
      if not same(v.a[i + k - 1], want) then
        fail(("copy: item %d is %s, model %s"):format(i + k - 1, v.a[i + k - 1], want))
      end
      mwrite_bytes(v, i + k - 1, packed[k])
    end
    -- a NaN converted between float types: its payload is the C cast's
    if srcv and srcv.t.float and v.t.float and #packed > 0 then
      adopt(v, i, i + #packed - 1)
    end
  end
  check_bytes("copy")
end

local OPS = {"add", "sub", "mul", "div"}
local function arith(op, x, y, t)
  if t.float then
    if op == "add" then return x + y elseif op == "sub" then return x - y
    elseif op == "mul" then return x * y else return x / y end
  end
  if op == "add" then return wrap(t, x + y) elseif op == "sub" then return wrap(t, x - y) end
  return wrap(t, x * y)
end

function ops.arith()
  local v = pick()
  if not v then return end
  local op = OPS[R(4)]
  local operand, ys, bad, w = nil, {}, v.ro, nil
  if R(2) == 1 then
    operand = value(v.t)
    if not v.t.float then
      if math.tointeger(operand) == nil then bad = true end
      operand = math.tointeger(operand) or operand
    end
    for k = 1, v.n do ys[k] = operand end
  else
    w = pick()
    operand = w.a
    if w.n ~= v.n or (not v.t.float and w.t.float) then bad = true end
    if not bad then
      for k = 1, v.n do ys[k] = v.t.float and tofloat(w.t, mread(w, k)) or mread(w, k) end
    end
  end
  if not v.t.float and op == "div" then bad = true end
  note(("v:%s(%s) %s n=%d stride=%d"):format(op, w and (w.t.name .. " n=" .. w.n) or
    tostring(operand), v.t.name, v.n, v.stride))
  local results = {}
  if not bad then
    for k = 1, v.n do results[k] = arith(op, mread(v, k), ys[k], v.t) end
  end
  local ok, r = call(op, bad, function() return v.a[op](v.a, operand) end)
  if ok then
    if r ~= v.a then fail(op .. " does not return the array") end
    for k = 1, v.n do
      local want = (string.unpack(v.t.fmt, string.pack(v.t.fmt, results[k])))
      if not same(v.a[k], want) then
        fail(("%s: item %d is %s, model %s"):format(op, k, v.a[k], want))
      end
      if not v.t.float then mwrite_bytes(v, k, string.pack(v.t.fmt, results[k])) end
    end
    if v.t.float and v.n > 0 then adopt(v, 1, v.n) end  -- NaN payloads
  end
  check_bytes(op)
end

function ops.dot()
  local v, w = pick(), pick()
  if not v then return end
  note(("v:dot(w) %s n=%d, %s n=%d"):format(v.t.name, v.n, w.t.name, w.n))
  local ok, got = call("dot", v.n ~= w.n, function() return v.a:dot(w.a) end)
  if not ok then return end
  local want, scale = 0, 0
  if not v.t.float and not w.t.float then
    for k = 1, v.n do want = want + mread(v, k) * mread(w, k) end
    if got ~= want then fail(("dot %s, model %s"):format(got, want)) end
  else
    for k = 1, v.n do
      local p = tofloat(v.t, mread(v, k)) * tofloat(w.t, mread(w, k))
      want, scale = want + p, scale + math.abs(p)
    end
    if not close(got, want, scale + 1) then fail(("dot %s, model %s"):format(got, want)) end
  end
end

function ops.chunks()
  local v = pick()
  if not v then return end
  local size = R(1, v.n + 2)
  note(("v:chunks(%d) n=%d"):format(size, v.n))
  local expect = 1
  for first, c in v.a:chunks(size) do
    if first ~= expect then fail("chunks: first " .. first) end
    for k = 1, #c do
      if not same(c[k], mread(v, first + k - 1)) then fail("chunks: item") end
    end
    expect = first + #c
    c:release()
  end
  if expect ~= v.n + 1 then fail("chunks: covered " .. (expect - 1)) end
end

function ops.release()
  local v = pick()
  if not v then return end
  note("v:release()")
  v.a:release()
  v.released = true
  if pcall(function() return v.a:sum() end) then fail("a released view works") end
end

local WEIGHTS = {new_view = 3, slice = 4, cast = 2, array_of_view = 1, read = 6,
  write = 8, fill = 4, totable = 3, reduce = 5, find = 3, sort = 3, copy = 5,
  arith = 6, dot = 2, chunks = 1, release = 1}
local BAG = {}
for name, w in pairs(WEIGHTS) do for _ = 1, w do BAG[#BAG + 1] = name end end
table.sort(BAG)

local function new_memory()
  for _, v in ipairs(views) do if not v.released then v.a:release() end end
  views = {}
  if all then all:release() end
  M = R(3) == 1 and R(97, 1500) or R(1, 96)  -- big enough for the vector loops
  real = memobj.heap(M)
  all = real:array("u8")
  mem = {}
  for i = 1, M do mem[i] = R(0, 255); all[i] = mem[i] end
  note(("memobj.heap(%d)"):format(M))
  ops.new_view()
end

new_memory()
for step = 1, steps do
  if step % 300 == 0 then new_memory() end
  ops[BAG[R(#BAG)]]()
  if #live() == 0 then ops.new_view() end
end
check_bytes("end")
print(("seed %d, %d steps: ok"):format(seed, steps))

-- Numeric kernels of typed arrays: reductions over ranges, dot, and the
-- in-place add/sub/mul/div, checked against plain Lua arithmetic, with the
-- edge cases of the vector loops (NaN, infinities, tails, unaligned data,
-- byte-swapped and strided arrays).
local memobj = require("memobj")

local TYPES = {"i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64",
  "i32be", "f64be", "u16le"}
local FMT = {i8 = "i1", u8 = "I1", i16 = "i2", u16 = "I2", i32 = "i4", u32 = "I4",
  i64 = "i8", u64 = "J", f32 = "f", f64 = "d"}

local function base(t) return (t:gsub("[bl]e$", "")) end
local function isfloat(t) return base(t):sub(1, 1) == "f" end

-- A value for type t from an integer seed, in the type's range.
local function value(t, s)
  local b = base(t)
  if isfloat(t) then return (s % 2001 - 1000) / 8 end
  if b == "u8" then return s % 256 end
  if b == "i8" then return s % 256 - 128 end
  if b == "u16" then return s % 65536 end
  if b == "i16" then return s % 65536 - 32768 end
  if b:sub(1, 1) == "u" then return s % 200001 end
  return s % 200001 - 100000
end

-- Round-trip through the element format, as the array stores it.
local function stored(t, v)
  local f = FMT[base(t)]
  return (string.unpack(f, string.pack(f, v)))
end

local function model(t, n, seed)
  local m = {}
  for i = 1, n do m[i] = stored(t, value(t, seed * 7919 + i * 104729)) end
  return m
end

local function clamp(i, j, n)
  local s = i > 0 and i or (i == 0 or i < -n) and 1 or n + i + 1
  local e = j > n and n or j >= 0 and j or j < -n and 0 or n + j + 1
  return s, e
end

describe("reductions", function()
  it("sum, min, max, minmax and mean agree with Lua over ranges, every type", function()
    for _, t in ipairs(TYPES) do
      for _, n in ipairs({0, 1, 2, 7, 8, 9, 31, 64, 65, 200}) do
        local m = model(t, n, n)
        local a = memobj.array(t, m)
        for _, r in ipairs({{1, -1}, {2, -2}, {-5, -1}, {3, 3}, {5, 2}, {-100, 100}}) do
          local s, e = clamp(r[1], r[2], n)
          local sum, lo, hi = 0, nil, nil
          for k = s, e do
            sum = sum + m[k]
            lo = (lo == nil or m[k] < lo) and m[k] or lo
            hi = (hi == nil or m[k] > hi) and m[k] or hi
          end
          local what = ("%s n=%d %d..%d"):format(t, n, r[1], r[2])
          if isfloat(t) then
            assert.is_true(math.abs(a:sum(r[1], r[2]) - sum) <= 1e-9 * (1 + math.abs(sum)), what)
          else
            assert.equal(sum, a:sum(r[1], r[2]), what)
          end
          assert.equal(lo, a:min(r[1], r[2]), what)
          assert.equal(hi, a:max(r[1], r[2]), what)
          local l2, h2 = a:minmax(r[1], r[2])
          assert.is_true(l2 == lo and h2 == hi, what)
          if e >= s then
            assert.is_true(math.abs(a:mean(r[1], r[2]) - sum / (e - s + 1)) <= 1e-9 * (1 + math.abs(sum)), what)
          else
            assert.is_nil(a:mean(r[1], r[2]), what)
            assert.equal(0, select("#", a:minmax(r[1], r[2])), what)
          end
        end
      end
    end
  end)

  it("take the range of issue 16 (sum, min, max and sort of 1..3)", function()
    local a = memobj.array("i32", {5, 1, 9, -4, 100})
    assert.equal(15, a:sum(1, 3))
    assert.equal(1, a:min(1, 3))
    assert.equal(9, a:max(1, 3))
    a:sort(1, 3)
    assert.same({1, 5, 9, -4, 100}, a:totable())
  end)

  it("compute no address for an empty range far past the end (fuzzer, UBSan)", function()
    local a = memobj.array("i16", {1, 2, 3})
    local big = math.maxinteger
    assert.equal(0, a:sum(big))
    assert.is_nil(a:min(big))
    assert.is_nil(a:mean(big, big))
    assert.same({}, a:totable(big))
    a:fill(9, big)
    a:sort(big)
    assert.same({1, 2, 3}, a:totable())
    local s = a:slice(-1, 1, -1)
    assert.equal(0, s:sum(big, -big))
    assert.is_nil(s:max(big))
  end)

  it("propagate NaN like numpy, wherever it is", function()
    for _, t in ipairs({"f64", "f32", "f64be"}) do
      for _, n in ipairs({1, 5, 16, 33, 100}) do
        for pos = 1, n, math.max(1, n // 7) do
          local a = memobj.array(t, n)
          for i = 1, n do a[i] = i end
          a[pos] = 0 / 0
          local lo, hi = a:minmax()
          assert.is_true(a:min() ~= a:min() and a:max() ~= a:max(), t .. " " .. pos)
          assert.is_true(lo ~= lo and hi ~= hi, t .. " " .. pos)
          if pos > 1 then assert.equal(1, a:min(1, pos - 1)) end
          assert.is_true(a:sum() ~= a:sum())
        end
      end
    end
  end)

  it("handle infinities without taking them for NaN", function()
    local a = memobj.array("f64", 40)
    for i = 1, 40 do a[i] = i end
    a[17], a[30] = math.huge, -math.huge
    assert.same({-math.huge, math.huge}, {a:minmax()})
    assert.equal(-math.huge, a:min())
    assert.equal(1, a:min(1, 29))
    local f = memobj.array("f32", {1, math.huge, 3})
    assert.equal(math.huge, f:max())
    assert.equal(1, f:min())
  end)

  it("compare uint64 unsigned and sum with wrap-around", function()
    local a = memobj.array("u64", {1, -1, 5})
    assert.equal(1, a:min())
    assert.equal(-1, a:max())                -- 2^64 - 1 reads as -1
    assert.equal(5, a:sum())                 -- wraps like Lua integers
    local i = memobj.array("i64", {math.maxinteger, 1})
    assert.equal(math.mininteger, i:sum())
  end)

  it("read unaligned data", function()
    local m = memobj.heap(8 * 70 + 3)
    for _, t in ipairs({"f64", "f32", "i32", "i16", "i64"}) do
      local size = ({f64 = 8, f32 = 4, i32 = 4, i16 = 2, i64 = 8})[t]
      local a = m:array(t, 3, 64)
      for i = 1, 64 do a[i] = (i * 37) % 61 - 30 end
      a[41] = 99
      a[23] = -77
      assert.equal(-77, a:min(), t)
      assert.equal(99, a:max(), t)
      a:add(1)
      assert.equal(100, a[41], t)
      assert.equal(a:sum(), a:dot(memobj.array(t, 64):add(1)), t)
      a:release()
      assert.is_true(size > 0)
    end
  end)

  it("dot over any two types, integer when both are integers", function()
    local a = memobj.array("i16", {1, -2, 3})
    local b = memobj.array("f32", {0.5, 4, 2})
    assert.equal(0.5 - 8 + 6, a:dot(b))
    assert.is_true(math.type(a:dot(memobj.array("u8", {1, 2, 3}))) == "integer")
    assert.equal(1 - 4 + 9, a:dot(memobj.array("u8", {1, 2, 3})))
    assert.equal(14, memobj.array("i32", {1, 2, 3}):dot(memobj.array("i32", {1, 2, 3})))
    assert.equal(0, memobj.array("f64", 0):dot(memobj.array("f64", 0)))
    assert.error_matches(function() a:dot(memobj.array("u8", 2)) end, "lengths differ")
    assert.error_matches(function() a:dot({1, 2, 3}) end, "typed array")
    assert.error_matches(function() a:dot(a, 1) end, "no value expected")
  end)
end)

describe("in-place arithmetic", function()
  it("add, sub, mul, div a number on floats and return the array", function()
    for _, t in ipairs({"f64", "f32", "f64be", "f32le"}) do
      for _, n in ipairs({0, 1, 9, 40}) do
        local m = model(t, n, 3)
        local a = memobj.array(t, m)
        assert.equal(a, a:add(2.5))
        a:sub(1):mul(3):div(2)
        for i = 1, n do
          local want = stored(t, stored(t, stored(t, stored(t, m[i] + 2.5) - 1) * 3) / 2)
          assert.equal(want, a[i], t .. " " .. i)
        end
      end
    end
  end)

  it("rounds float32 results from float64 arithmetic", function()
    local a = memobj.array("f32", {1, 3})
    a:mul(1.0000001)          -- not a float32 value: computed in double
    assert.equal(string.unpack("f", string.pack("f", 1.0000001)), a[1])
    a:div(0)
    assert.equal(math.huge, a[1])
  end)

  -- issue 23: float32 a:div(y) by a y that is not a float32 value runs a
  -- multiply-and-check path (access/array_kernels_f32.c) whose answer
  -- must be, bit for bit, the Lua loop a[i] = a[i] / y
  describe("float32 div by a double", function()
    local F32 = function(bits) return (string.unpack("<f", string.pack("<I4", bits))) end
    local function dbits(d) return (string.unpack("<i8", string.pack("<d", d))) end
    local function fromd(i) return (string.unpack("<d", string.pack("<i8", i))) end
    local function isf32(y) return y ~= y or string.unpack("<f", string.pack("<f", y)) == y end
    local seed = 20261207
    local function rnd(n)                       -- a small LCG, the same every run
      seed = (seed * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
      return (seed >> 20) % n
    end
    local function anyx() return F32(rnd(1 << 16) << 16 | rnd(1 << 16)) end
    -- a normal float32 with exponent e
    local function normalx(e)
      return F32(rnd(2) << 31 | (e + 127) << 23 | rnd(1 << 23))
    end
    -- a:div(y) (or a:add, a:sub, a:mul) against the Lua loop; the bytes
    -- must be the same
    local OPS = {div = function(x, y) return x / y end, add = function(x, y) return x + y end,
      sub = function(x, y) return x - y end, mul = function(x, y) return x * y end}
    local function same(xs, y, what, op)
      op = op or "div"
      local a = memobj.array("f32", xs)
      local b = memobj.array("f32", #xs)
      a[op](a, y)
      for i = 1, #xs do b[i] = OPS[op](xs[i], y) end
      local ga, gb = a:bytes():string(), b:bytes():string()
      if ga ~= gb then
        for i = 1, #xs do
          -- which of two NaN operands add and mul return is the C
          -- compiler's choice of operand order (not so for div)
          local nans = op ~= "div" and a[i] ~= a[i] and b[i] ~= b[i] and xs[i] ~= xs[i]
          if ga:sub(4 * i - 3, 4 * i) ~= gb:sub(4 * i - 3, 4 * i) and not nans then
            error(("%s: x = %a, y = %a: a:%s gives %a, the loop %a")
              :format(what, xs[i], y, op, a[i], b[i]))
          end
        end
      end
    end

    it("special and random y over every kind of x", function()
      local ys = {0.0, -0.0, math.huge, -math.huge, 0 / 0, 2 ^ -1074, -2 ^ -1060, 3, 1e30,
        2 ^ -1022, 2 ^ 1023, -1.5 * 2 ^ 1022, 1e-300, 1e300, 1e-30, -1e30, 1.0000001,
        -1.0000001, 0.1, -0.1, 0.2, 0.3, 0.05, 0.01, 0.001, 1 / 3, 3 + 2 ^ -51, 0.7,
        1e-45, 1e38, 3.5e38, 1 + 2 ^ -52, 1 - 2 ^ -53, 2 + 2 ^ -51, 0.5 - 2 ^ -55,
        2 ^ -126 * (1 + 2 ^ -30), 2 ^ 127 * (1 + 2 ^ -40), 1.5 * 2 ^ -149, math.pi}
      for _ = 1, 60 do                          -- random y, not float32
        local y
        repeat y = fromd(rnd(2) << 63 | (1023 - 170 + rnd(341)) << 52 | rnd(1 << 52))
        until not isf32(y)
        ys[#ys + 1] = y
      end
      local edge = {0.0, -0.0, math.huge, -math.huge, 0 / 0, 2 ^ -149, -2 ^ -149,
        2 ^ -126, F32(0x007fffff), F32(0x7f7fffff), F32(0xff7fffff), 1, -1}
      for _, y in ipairs(ys) do
        for _, n in ipairs{1, 7, 8, 23, 600} do   -- tails, a block and more
          local xs = {}
          for i = 1, n do xs[i] = anyx() end
          for k, v in ipairs(edge) do if k <= n then xs[(k * 7) % n + 1] = v end end
          same(xs, y, "any x")
          for _, op in ipairs{"add", "sub", "mul"} do same(xs, y, "any x", op) end
          for i = 1, n do xs[i] = normalx(rnd(41) - 20) end
          same(xs, y, "normal x")
        end
      end
    end)

    it("quotients a few double ulps from a float32 midpoint", function()
      for round = 1, 400 do
        local x = normalx(rnd(121) - 60)
        local m
        if round % 4 == 0 then                  -- a float32 subnormal result
          m = (2 * rnd(1 << 23) + 1) * 2 ^ -150
        else
          local bits = rnd(1 << 31)
          local f = F32(bits)
          if f ~= f or f == math.huge or f == 0 then f = 1.5 end
          m = (f + F32(bits + 1)) / 2           -- halfway to the next float
        end
        local y0 = x / m
        if y0 == y0 and y0 ~= 0 and math.abs(y0) < math.huge then
          for j = -6, 6 do
            local y = fromd(dbits(y0) + j)
            if not isf32(y) and math.abs(1 / y) < math.huge then
              local xs = {}
              for i = 1, 16 do xs[i] = normalx(0) * 2 ^ (math.floor(math.log(math.abs(x), 2))) end
              xs[rnd(16) + 1] = x
              same(xs, y, "near a midpoint")
            end
          end
        end
      end
    end)

    it("y whose reciprocal has few bits: 0.1, 1/3 and the like", function()
      for _ = 1, 200 do
        local r = (rnd(1 << (1 + rnd(29))) + 1) * 2 ^ (rnd(60) - 30)
        for j = -2, 2 do
          local y = fromd(dbits(1 / r) + j)
          if not isf32(y) then
            local xs = {}
            for i = 1, 64 do xs[i] = i % 2 == 0 and anyx() or normalx(rnd(61) - 30) end
            same(xs, y, "few-bit reciprocal")
          end
        end
      end
    end)

    it("millions of pairs in C, bit for bit (tests/c/f32div.c)", function()
      local prog = (os.getenv("MEMOBJ_BUILD") or "build") .. "/test/f32div"
      local p = assert(io.popen(prog .. " 300 " .. os.time() .. " 2>&1"))
      local out = p:read("a")
      local ok = p:close()
      assert.is_true(ok, out)
      assert.matches("^ok %d+ pairs", out)
      -- every path ran, and the checked one divided some blocks again
      local exact, prod, checked, again = out:match(
        "exact (%d+) products (%d+) checked (%d+), (%d+) elements")
      assert.is_true(tonumber(exact) > 0 and tonumber(prod) > 0 and
        tonumber(checked) > 0 and tonumber(again) > 0, out)
    end)
  end)

  it("wrap integers modulo the type and refuse div and non-integers", function()
    local u = memobj.array("u8", {250, 3, 128})
    u:add(10)
    assert.same({4, 13, 138}, u:totable())
    u:mul(2)
    assert.same({8, 26, 20}, u:totable())
    u:sub(30)
    assert.same({234, 252, 246}, u:totable())
    local i = memobj.array("i16be", {32767, -32768})
    i:add(1)
    assert.same({-32768, -32767}, i:totable())
    local w = memobj.array("i64", {math.maxinteger})
    w:add(1)
    assert.equal(math.mininteger, w[1])
    local before = u:totable()
    assert.error_matches(function() u:div(2) end, "integer array")
    assert.error_matches(function() u:add(1.5) end, "takes only integers")
    assert.error_matches(function() u:add(memobj.array("f32", 3)) end, "takes only integers")
    assert.error_matches(function() u:add(memobj.array("u8", 2)) end, "lengths differ")
    assert.error_matches(function() u:add("x") end, "number or typed array")
    assert.error_matches(function() u:add(1, 2) end, "no value expected")
    assert.same(before, u:totable())
    u:add(2.0)                                  -- an integral float is an integer
    assert.equal(236, u[1])
    local ro = memobj.array("u8", "abc")
    assert.error_matches(function() ro:add(1) end, "read%-only")
  end)

  it("take an array of any type, read whole first when it overlaps", function()
    local a = memobj.array("f64", {1, 2, 3, 4})
    a:add(memobj.array("i8", {10, 20, 30, 40}))
    assert.same({11, 22, 33, 44}, a:totable())
    a:sub(a)
    assert.same({0, 0, 0, 0}, a:totable())
    local b = memobj.array("i32", {1, 2, 3, 4, 5})
    b:slice(2, 5):add(b:slice(1, 4))            -- numpy: b[1:] += b[:-1]
    assert.same({1, 3, 5, 7, 9}, b:totable())
    b:add(b:slice(-1, 1, -1))                   -- reversed view of itself
    assert.same({10, 10, 10, 10, 10}, b:totable())
    local big = memobj.array("f64", 2000)
    for i = 1, 2000 do big[i] = i end
    big:mul(memobj.array("u16", 2000):add(2))   -- block path, other type
    assert.equal(4000, big[2000])
    assert.equal(2 * 2001 * 1000 * 2, big:sum() * 2)
  end)

  -- issue 20: overlap is found by address, not by memory object: the same
  -- bytes seen through a second memory object give numpy's answer
  it("find overlap by address: a foreign object over the same bytes", function()
    for _, n in ipairs{5, 2000} do                -- whole-copy path, both sizes
      local m = memobj.heap(8 * n)
      local a = m:array("f64")
      local f = memobj.foreign(m.pointer, 8 * n)  -- same bytes, another object
      for i = 1, n do a[i] = i end
      -- a[2:] += a[:-1] through the foreign object: each element gets the
      -- old value of its left neighbour, read before anything is written
      a:slice(2, n):add(f:array("f64"):slice(1, n - 1))
      for i = 2, n do assert.equal(i + (i - 1), a[i], "element " .. i) end
      local b = m:array("i32", 0, 2 * n)          -- same-type, reversed operand
      for i = 1, 2 * n do b[i] = i end
      b:add(f:array("i32", 0, 2 * n):slice(-1, 1, -1))
      for i = 1, 2 * n do assert.equal(2 * n + 1, b[i], "i32 element " .. i) end
      a:release()
      b:release()
      f:close()
      m:close()
    end
  end)

  it("find overlap by address: a file mapped twice", function()
    local path = os.tmpname()
    local h = assert(io.open(path, "wb"))
    h:write(string.rep("\0", 8 * 64))
    h:close()
    local m1 = assert(memobj.map(path, {mode = "rw"}))
    local m2 = assert(memobj.map(path, {mode = "rw"}))
    local a, b = m1:array("f64"), m2:array("f64")
    for i = 1, 64 do a[i] = i end
    assert.equal(64, b[64])                      -- one file, two mappings
    -- two addresses, one file: the operand is read whole before writing
    a:slice(2, 64):mul(b:slice(1, 63))
    for i = 2, 64 do assert.equal(i * (i - 1), a[i], "mul element " .. i) end
    for i = 1, 64 do a[i] = i end
    a:slice(2, 64):copy(b:slice(1, 63))          -- same type: no plain memmove
    for i = 2, 64 do assert.equal(i - 1, a[i], "copy element " .. i) end
    a:release()
    b:release()
    m1:close()
    m2:close()
    os.remove(path)
  end)
end)

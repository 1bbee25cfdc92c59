-- Typed arrays: types, conversions (string.pack is the oracle), element
-- access, methods, and a randomized differential test against a table.
local memobj = require("memobj")

-- element type -> string.pack format (native order)
local FORMATS = {
  int8 = "i1", uint8 = "I1", int16 = "i2", uint16 = "I2", int32 = "i4",
  uint32 = "I4", int64 = "i8", uint64 = "J", float32 = "f", float64 = "d",
}
local ALIASES = {
  i8 = "int8", u8 = "uint8", i16 = "int16", u16 = "uint16", i32 = "int32",
  u32 = "uint32", i64 = "int64", u64 = "uint64", f32 = "float32", f64 = "float64",
}
local NATIVE = string.pack("=i2", 1) == string.pack("<i2", 1) and "<" or ">"

local function bytes_of(a)
  return string.char(table.unpack(a:cast("u8"):totable()))
end

local function strip(msg)
  msg = tostring(msg):gsub("^.-bad argument #%d+ to '[^']*' %((.*)%)$", "%1")
  return (msg:gsub("^.-array element %d+: cannot store .- %((.*)%)$", "%1"))
end

describe("typed array types", function()
  it("knows all ten types, aliases and byte-order suffixes", function()
    for name, fmt in pairs(FORMATS) do
      local a = memobj.array(name, 3)
      assert.equal(name, a.type)
      assert.equal(string.packsize(fmt), a.itemsize)
      assert.equal(3, #a)
    end
    for short, long in pairs(ALIASES) do
      assert.equal(long, memobj.array(short, 1).type)
      local other = NATIVE == "<" and "be" or "le"
      local a = memobj.array(short .. other, 1)
      if a.itemsize > 1 then assert.equal(long .. other, a.type)
      else assert.equal(long, a.type) end
      local same = NATIVE == "<" and "le" or "be"
      assert.equal(long, memobj.array(short .. same, 1).type)
    end
  end)

  it("rejects unknown types with the argerror form", function()
    assert.has_error(function() memobj.array("flaot64", 3) end,
      "bad argument #1 to 'array' (unknown element type 'flaot64')")
    assert.has_error(function() memobj.array("int8x", 3) end)
    assert.has_error(function() memobj.array("le", 3) end)
    assert.has_error(function() memobj.heap(8):array("double") end)
  end)
end)

describe("typed array conversions match string.pack", function()
  local values = {
    0, 1, -1, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768, -32769,
    65535, 65536, 2147483647, 2147483648, -2147483648, -2147483649,
    4294967295, 4294967296, math.maxinteger, math.mininteger,
    0.0, -0.0, 1.0, 1.5, -2.5, 3.0, 1e10, 2^53, 2^63, -2^63, 2^64,
    1/0, -1/0, 0/0, 3.4028234663852886e38, 3.4028235677973366e38, 1e39, -1e39,
    1e-45, 1.4e-45, 0.1, "10", "0x10", "1.5", "abc",
  }
  local orders = {"", "le", "be"}

  for name, fmt in pairs(FORMATS) do
    for _, order in ipairs(orders) do
      local tname = name .. order
      local prefix = order == "le" and "<" or order == "be" and ">" or "="
      it("for " .. tname, function()
        local a = memobj.array(tname, 1)
        for _, v in ipairs(values) do
          local ok, packed = pcall(string.pack, prefix .. fmt, v)
          local ok2, err = pcall(function() a[1] = v end)
          assert.equal(ok, ok2, ("%s = %s: pack %s, array %s"):format(
            tname, tostring(v), tostring(packed), tostring(err)))
          if ok then
            assert.equal(packed, bytes_of(a), tname .. " bytes of " .. tostring(v))
            local expect = string.unpack(prefix .. fmt, packed)
            local got = a[1]
            if expect ~= expect then
              assert.is_true(got ~= got)
            else
              assert.equal(math.type(expect), math.type(got))
              assert.equal(expect, got)
              if expect == 0 and math.type(expect) == "float" then
                assert.equal(1 / expect, 1 / got)  -- the sign of zero
              end
            end
          else
            assert.equal(strip(packed), strip(err))
          end
        end
      end)
    end
  end

  it("uint64 reads the signed integer with the same bits", function()
    local a = memobj.array("u64", {-1, math.mininteger})
    assert.equal(-1, a[1])
    assert.equal(math.mininteger, a[2])
    assert.equal(string.unpack("J", string.pack("J", -1)), a[1])
  end)

  it("float32 rounds to nearest and overflows to infinity", function()
    local a = memobj.array("f32", {0.1, 1e39, -1e39, 16777217})
    assert.equal(string.unpack("f", string.pack("f", 0.1)), a[1])
    assert.equal(1 / 0, a[2])
    assert.equal(-1 / 0, a[3])
    assert.equal(16777216.0, a[4])
  end)

  it("a failed store leaves the element unchanged", function()
    local a = memobj.array("i8", {5})
    assert.has_error(function() a[1] = 128 end)
    assert.has_error(function() a[1] = 0.5 end)
    assert.has_error(function() a[1] = "x" end)
    assert.has_error(function() a[1] = nil end)
    assert.equal(5, a[1])
  end)
end)

describe("typed array access", function()
  it("reads nil outside 1..#a and raises on writes there", function()
    local a = memobj.array("i32", {10, 20, 30})
    assert.is_nil(a[0])
    assert.is_nil(a[4])
    assert.is_nil(a[-1])
    assert.is_nil(a[1.5])
    assert.is_nil(a[math.mininteger])
    assert.equal(20, a[2.0])
    assert.has_error(function() a[4] = 1 end, "memobj: index 4 out of range (1..3)")
    assert.has_error(function() a[0] = 1 end, "memobj: index 0 out of range (1..3)")
    assert.has_error(function() a[1.5] = 1 end, "memobj: typed array index must be an integer")
    assert.has_error(function() a.x = 1 end)
    local n = 0
    for i, v in ipairs(a) do n = n + 1; assert.equal(i * 10, v) end
    assert.equal(3, n)
  end)

  it("get and set mirror indexing", function()
    local a = memobj.array("u16", 2)
    a:set(2, 65535)
    assert.equal(65535, a:get(2))
    assert.is_nil(a:get(3))
    assert.has_error(function() a:set(3, 1) end)
    assert.has_error(function() a:set(1, 65536) end)
  end)

  it("unpack works as table.unpack", function()
    local a = memobj.array("i16", {1, 2, 3, 4, 5})
    assert.same({1, 2, 3, 4, 5}, {a:unpack()})
    assert.same({2, 3}, {a:unpack(2, 3)})
    assert.same({table.unpack({1, 2, 3, 4, 5}, 4, 7)}, {a:unpack(4, 7)})
    assert.equal(0, select("#", a:unpack(3, 2)))
    assert.equal(3, select("#", a:unpack(-1, 1)))
    assert.has_error(function() a:unpack(1, 1e8) end, "too many results to unpack")
    assert.has_error(function() a:unpack(math.mininteger, math.maxinteger) end)
  end)

  it("pairs runs index, value in order", function()
    local a = memobj.array("f64", {1.5, 2.5})
    local seen = {}
    for i, v in pairs(a) do seen[#seen + 1] = i .. "=" .. v end
    assert.same({"1=1.5", "2=2.5"}, seen)
  end)

  it("has the view fields", function()
    local m = memobj.heap(64)
    local a = m:array("i32", 8, 4)
    assert.equal(8, a.offset)
    assert.equal(16, a.length)
    assert.equal(4, #a)
    assert.is_false(a.readonly)
    assert.is_false(a.released)
    assert.is_true(rawequal(m, a.memory))
    assert.matches("^memobj%.array%(int32, 4 items%)", tostring(a))
    local r = m:array("u8", 0, nil, "r")
    assert.is_true(r.readonly)
    assert.has_error(function() r[1] = 1 end, "memobj: view is read-only")
    assert.equal("memobj.view", getmetatable(a))
  end)

  it("checks offsets and counts", function()
    local m = memobj.heap(16)
    assert.equal(4, #m:array("f32"))
    assert.equal(3, #m:array("f32", 1, 3))
    assert.error_matches(function() m:array("f32", 1) end,
                         "15 bytes is not a multiple of the item size 4")
    assert.equal(0, #m:array("f32", 16))
    assert.has_error(function() m:array("f32", 17) end)
    assert.has_error(function() m:array("f32", 0, 5) end)
    assert.has_error(function() m:array("f32", -1) end)
    assert.has_error(function() m:array("f32", 0, -1) end)
    assert.has_error(function() m:array("f32", math.maxinteger) end)
    assert.has_error(function() m:array("f32", 0, math.maxinteger) end)
    assert.has_error(function() m:array("f32", 0, nil, "w") end)
    assert.has_error(function() memobj.array("f32", -1) end)
    assert.has_error(function() memobj.array("f64", math.maxinteger) end)
    assert.has_error(function() memobj.array("f64", true) end)
    assert.has_error(function() memobj.array("f64", {1, "x"}) end)
  end)

  it("works over Lua strings without copying and read-only", function()
    local a = memobj.array("u8", "AB")
    assert.same({65, 66}, a:totable())
    assert.is_true(a.readonly)
    assert.has_error(function() a:fill(0) end, "memobj: view is read-only")
    assert.has_error(function() memobj.array("u8", "AB", "rw") end)
  end)
end)

describe("typed array bulk methods", function()
  it("fill clamps like string.sub", function()
    local a = memobj.array("i32", 5)
    a:fill(7, 2, -2)
    assert.same({0, 7, 7, 7, 0}, a:totable())
    a:fill(1, 10)
    a:fill(2, -100, 1)
    assert.same({2, 7, 7, 7, 0}, a:totable())
    assert.has_error(function() a:fill(2^40) end)
    assert.same({2, 7, 7, 7, 0}, a:totable())
  end)

  it("copy from tables and arrays of other types, all or nothing", function()
    local a = memobj.array("u8", 4)
    a:copy({1, 2})
    a:copy({9}, 4)
    assert.same({1, 2, 0, 9}, a:totable())
    assert.has_error(function() a:copy({1, 2, 300}) end,
      "memobj: copy: item 3: unsigned overflow")
    assert.has_error(function() a:copy({1, 2, 3}, 3) end)
    assert.has_error(function() a:copy({1.5}) end)
    assert.has_error(function() a:copy({"x"}) end)
    assert.same({1, 2, 0, 9}, a:totable())
    local f = memobj.array("f64", {1.0, 2.0, 3.5})
    assert.has_error(function() a:copy(f) end)
    assert.same({1, 2, 0, 9}, a:totable())
    a:copy(f:slice(1, 2), 3)
    assert.same({1, 2, 1, 2}, a:totable())
    local big = memobj.array("u64", {-1})
    f:copy(big)
    assert.equal(2.0^64, f[1])
  end)

  it("copy handles overlapping views of the same memory", function()
    local a = memobj.array("i32", {1, 2, 3, 4, 5})
    a:copy(a:slice(1, 4), 2)
    assert.same({1, 1, 2, 3, 4}, a:totable())
    local b = memobj.array("i16", {1, 0, 2, 0})
    local wide = b:cast("i32")
    assert.same({1, 2}, wide:totable())
    b:copy(wide)  -- different types over the same bytes
    assert.same({1, 2, 2, 0}, b:totable())
  end)

  it("totable, sum, min, max", function()
    local a = memobj.array("i64", {5, -3, 10, 0})
    assert.same({-3, 10}, a:totable(2, 3))
    assert.same({}, a:totable(3, 2))
    assert.equal(12, a:sum())
    assert.equal(math.type(12), math.type(a:sum()))
    assert.equal(-3, a:min())
    assert.equal(10, a:max())
    local e = memobj.array("f64", 0)
    assert.equal(0, e:sum())
    assert.is_nil(e:min())
    local w = memobj.array("i64", {math.maxinteger, 1})
    assert.equal(math.mininteger, w:sum())  -- wraps as Lua integers do
    local u = memobj.array("u64", {-1, 1})
    assert.equal(-1, u:max())  -- unsigned order: 2^64-1 is the largest
    assert.equal(1, u:min())
    local n = memobj.array("f32", {1, 0 / 0, 3})
    assert.is_true(n:max() ~= n:max())
    local f = memobj.array("f32", {0.5, 0.25})
    assert.equal(0.75, f:sum())
  end)

  it("sort ascending, unsigned order, NaN last, any byte order", function()
    local a = memobj.array("i16be", {3, -1, 2})
    a:sort()
    assert.same({-1, 2, 3}, a:totable())
    local u = memobj.array("u32", {4000000000, 1})
    u:sort()
    assert.same({1, 4000000000}, u:totable())
    local f = memobj.array("f64", {2, 0 / 0, -1})
    f:sort()
    assert.equal(-1, f[1])
    assert.equal(2, f[2])
    assert.is_true(f[3] ~= f[3])
    assert.has_error(function() memobj.array("u8", "ba"):sort() end)
  end)

  it("find with init, negative init and values the type cannot hold", function()
    local a = memobj.array("i8", {1, 2, 3, 2})
    assert.equal(2, a:find(2))
    assert.equal(4, a:find(2, 3))
    assert.equal(4, a:find(2, -1))
    assert.is_nil(a:find(2, 5))
    assert.equal(1, a:find(1, -100))
    assert.is_nil(a:find(1000))
    assert.is_nil(a:find(1.5))
    assert.equal(3, a:find(3.0))
    local f = memobj.array("f64", {0.5, 1})
    assert.equal(2, f:find(1))
  end)

  it("slice and cast are views with clamped ranges", function()
    local a = memobj.array("u8", {1, 2, 3, 4, 5, 6, 7, 8})
    local s = a:slice(3, -3)
    assert.same({3, 4, 5, 6}, s:totable())
    s[1] = 30
    assert.equal(30, a[3])
    assert.equal(0, #a:slice(5, 2))
    assert.equal(8, #a:slice(-100))
    local c = a:cast("u32")
    assert.equal(2, #c)
    assert.equal(string.unpack("=I4", string.char(1, 2, 30, 4)), c[1])
    assert.equal(1, #a:slice(1, 4):cast("i32"))
    assert.error_matches(function() a:slice(1, 5):cast("i32") end,
                         "cast: 5 bytes is not a multiple of the item size 4")
  end)
end)

-- assert.equal treats nil as a missing argument
local function agree(x, y, msg)
  assert.is_true(x == y, (msg or "") .. ": " .. tostring(x) .. " ~= " .. tostring(y))
end

-- string.sub's rules for i..j over n items
local function clamp(i, j, n)
  local s = i > 0 and i or (i == 0 or i < -n) and 1 or n + i + 1
  local e = j > n and n or j >= 0 and j or j < -n and 0 or n + j + 1
  return s, e
end

describe("typed arrays against a table model (randomized)", function()
  it("agree over thousands of random operations", function()
    local seed = 12345
    math.randomseed(seed)
    for round = 1, 20 do
      local n = math.random(0, 40)
      local a = memobj.array("i32", n)
      local t = {}
      for i = 1, n do t[i] = 0 end
      for _ = 1, 300 do
        local op = math.random(1, 7)
        local i, j = math.random(-n - 2, n + 2), math.random(-n - 2, n + 2)
        if op == 1 then
          local v = math.random(-1000, 1000)
          local ok = pcall(function() a[i] = v end)
          assert.equal(i >= 1 and i <= n, ok)
          if ok then t[i] = v end
        elseif op == 2 then
          agree(t[i], a[i], "a[" .. i .. "]")
        elseif op == 3 then
          local v = math.random(-5, 5)
          a:fill(v, i, j)
          local s, e = clamp(i, j, n)
          for k = s, e do t[k] = v end
        elseif op == 4 then
          assert.same({table.unpack(t, clamp(i, j, n))}, a:totable(i, j))
        elseif op == 5 then
          local sum, mn, mx = 0, nil, nil
          for k = 1, n do
            sum = sum + t[k]
            mn = (mn == nil or t[k] < mn) and t[k] or mn
            mx = (mx == nil or t[k] > mx) and t[k] or mx
          end
          agree(sum, a:sum(), "sum")
          agree(mn, a:min(), "min")
          agree(mx, a:max(), "max")
        elseif op == 6 then
          local v = math.random(-5, 5)
          local found
          for k = 1, n do if t[k] == v then found = k break end end
          agree(found, a:find(v), "find")
        else
          a:sort()
          table.sort(t)
        end
      end
      assert.same(t, a:totable(), "round " .. round)
    end
  end)
end)

describe("a:find on float arrays", function()
  -- found by tests/fuzz/arrays.lua (seed 5002): the needle was rounded to
  -- the element type first, so find answered where `==` says no
  it("finds only what == finds, with no rounding of the needle", function()
    local a = memobj.array("f32", {2^63, 0.1, 1, 1e39})
    assert.is_nil(a:find(math.maxinteger))   -- 2^63 - 1 is not 2^63
    assert.equal(1, a:find(2^63))
    assert.is_false(a[2] == 0.1)
    assert.is_nil(a:find(0.1))                -- no float32 is 0.1
    assert.equal(3, a:find(1))
    assert.is_nil(a:find(1e39))               -- stored as inf
    assert.equal(4, a:find(math.huge))
    local d = memobj.array("f64", {2^63, 0.1})
    assert.is_nil(d:find(math.maxinteger))
    assert.equal(2, d:find(0.1))
  end)

  -- issue 20: it blamed "argument #1 to 'memobj.heap'", called 2^60
  -- negative, and a failed allocation said "memobj: heap: heap: ..."
  it("a count too big for memory blames the count, in the array's name", function()
    local ok, err = pcall(memobj.array, "f64", 1 << 60)
    assert.is_false(ok)
    assert.matches("bad argument #2 to '[%w.]*array' %(too many elements%)", err)
    ok, err = pcall(memobj.array, "u8", 1 << 62)
    assert.is_false(ok)
    assert.matches("^memobj: not enough memory for 4611686018427387904 bytes: ", err)
    assert.not_matches("heap", err)
    ok, err = pcall(memobj.records, {{"a", "f64"}}, 1 << 60)
    assert.is_false(ok)
    assert.matches("too many records", err)
  end)
end)

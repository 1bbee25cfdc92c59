-- Strided typed arrays: a:slice(i, j, step), a.stride, and every method
-- on them, checked against the same work on a plain Lua table.
local memobj = require("memobj")

local function iota(t, n)
  local a = memobj.array(t, n)
  for i = 1, n do a[i] = i end
  return a
end

describe("strided views", function()
  it("take every step-th element, with the stride in bytes", function()
    local a = iota("i32", 10)
    local s = a:slice(2, 9, 3)
    assert.same({2, 5, 8}, s:totable())
    assert.equal(12, s.stride)
    assert.equal(4, a.stride)
    assert.equal(3, #s)
    assert.equal(4, s.offset)          -- the lowest byte spanned
    assert.equal(7 * 4, s.length)      -- from element 2 to the end of 8
    s[2] = 50
    assert.equal(50, a[5])
    assert.is_nil(s[0])
    assert.is_nil(s[4])
    assert.has_error(function() s[4] = 1 end)
    assert.equal(2, s:get(1))
    s:set(3, 80)
    assert.equal(80, a[8])
  end)

  it("walk backwards with a negative step", function()
    local a = iota("f64", 6)
    local r = a:slice(#a, 1, -1)
    assert.same({6, 5, 4, 3, 2, 1}, r:totable())
    assert.equal(-8, r.stride)
    assert.equal(0, r.offset)
    assert.equal(48, r.length)
    assert.same({6, 4, 2}, a:slice(-1, 1, -2):totable())
    assert.same({5, 3}, a:slice(5, 2, -2):totable())
    assert.same({6, 5}, a:slice(100, 5, -1):totable())  -- i clamps to #a
    assert.same({2, 1}, a:slice(2, -100, -1):totable()) -- j clamps to 1
    assert.equal(0, #a:slice(2, 3, -1))
    assert.equal(0, #a:slice(-100, 1, -1))
    assert.same({6, 5, 4, 3, 2, 1}, a:slice(-1, nil, -1):totable())
  end)

  it("clamp like string.sub with positive steps and big steps", function()
    local a = iota("u8", 10)
    assert.same({1, 4, 7, 10}, a:slice(1, -1, 3):totable())
    assert.same({9}, a:slice(-2, 100, 5):totable())
    assert.same({1}, a:slice(1, 10, math.maxinteger):totable())
    assert.same({10}, a:slice(10, 1, math.mininteger):totable())
    assert.equal(0, #a:slice(5, 4, 2))
  end)

  it("refuse step 0 and extra arguments", function()
    local a = iota("u8", 4)
    assert.error_matches(function() a:slice(1, 4, 0) end, "step is zero")
    assert.error_matches(function() a:slice(1, 4, 1, 1) end, "no value expected")
  end)

  it("make views of views, strided and reversed", function()
    local a = iota("i16", 20)
    local s = a:slice(1, -1, 2)          -- 1 3 5 ... 19
    local r = s:slice(-1, 1, -3)         -- 19 13 7 1
    assert.same({19, 13, 7, 1}, r:totable())
    assert.equal(-12, r.stride)
    local rr = r:slice(2, 3)             -- 13 7
    assert.same({13, 7}, rr:totable())
    rr[2] = -7
    assert.equal(-7, a[7])
    -- one element is contiguous again
    local one = s:slice(4, 4)
    assert.equal(2, one.stride)
    assert.same({-7}, {one:cast("i16")[1]})
  end)

  it("run every bulk method like a table model", function()
    local a = iota("i32", 12)
    local s = a:slice(11, 1, -2)        -- 11 9 7 5 3 1
    assert.same({11, 9, 7, 5, 3, 1}, {s:unpack()})
    assert.same({9, 7}, {s:unpack(2, 3)})
    local seen = {}
    for i, v in pairs(s) do seen[i] = v end
    assert.same({11, 9, 7, 5, 3, 1}, seen)
    assert.equal(3, s:find(7))
    assert.is_nil(s:find(7, 4))
    assert.equal(36, s:sum())
    assert.equal(21, s:sum(2, 4))
    assert.equal(1, s:min())
    assert.equal(11, s:max())
    assert.same({5, 9}, {s:minmax(2, 4)})
    assert.equal(6, s:mean())
    s:sort()
    assert.same({11, 2, 9, 4, 7, 6, 5, 8, 3, 10, 1, 12}, a:totable())
    s:sort(1, 3)
    assert.same({1, 3, 5, 7, 9, 11}, s:totable())
    s:fill(0, 2, 3)
    assert.same({0, 0}, {a[9], a[7]})
    s:copy({100, 200}, 5)
    assert.same({200, 100}, {a[1], a[3]})
    -- copy from a strided array into a contiguous one, other type
    local f = memobj.array("f64", 6)
    f:copy(s)
    assert.same(s:totable(), f:totable())
    -- copy between overlapping strided views of the same memory
    local b = iota("u8", 8)
    b:slice(1, -1, 2):copy(b:slice(-1, 1, -2))
    assert.same({8, 2, 6, 4, 4, 6, 2, 8}, b:totable())
    assert.same({2, 4, 6, 8}, b:slice(2, -1, 2):totable())
  end)

  it("take part in the kernels", function()
    local a = iota("f64", 10)
    local s = a:slice(1, -1, 2)          -- 1 3 5 7 9
    local r = a:slice(-1, 1, -2)         -- 10 8 6 4 2
    assert.equal(1 * 10 + 3 * 8 + 5 * 6 + 7 * 4 + 9 * 2, s:dot(r))
    assert.equal(s, s:add(1))            -- 2 4 6 8 10
    assert.same({2, 2, 4, 4, 6, 6, 8, 8, 10, 10}, a:totable())
    s:mul(r)
    assert.same({20, 32, 36, 20}, {a[1], a[3], a[5], a[9]})
    r:sub(s)
    assert.same({10 - 20, 8 - 32}, {a[10], a[8]})
  end)

  it("refuse cast, bytes and byte-range uses", function()
    local a = iota("u8", 8)
    local s = a:slice(1, -1, 2)
    assert.error_matches(function() s:cast("u16") end, "not a contiguous")
    assert.error_matches(function() s:bytes() end, "not a contiguous")
    assert.error_matches(function() memobj.bytes(s) end, "not a contiguous")
    assert.error_matches(function() memobj.array("u8", s) end, "not a contiguous")
    local rev = a:slice(-1, 1, -1)
    assert.error_matches(function() rev:cast("u8") end, "not a contiguous")
  end)

  it("do atomics on aligned elements", function()
    local a = memobj.array("i64", 8)
    local s = a:slice(2, -1, 3)          -- elements 2, 5, 8
    assert.equal(0, s:atomic_add(2, 5))
    assert.equal(5, a[5])
    assert.equal(5, s:atomic_cas(2, 5, 7))
    assert.equal(7, s:atomic_load(2))
    local m = memobj.heap(64)
    local odd = m:array("i32", 1, 15):slice(1, -1, 2)
    assert.error_matches(function() odd:atomic_load(2) end, "not aligned")
  end)

  it("lock the bytes they span, and read-only stays read-only", function()
    local m = memobj.heap(64)
    local s = m:array("u8"):slice(-1, 1, -4)
    assert.equal(3, s.offset)
    assert.equal(61, s.length)
    assert.has_error(function() m:close() end)
    local ro = m:array("u8", 0, 64, "r"):slice(1, -1, 2)
    assert.is_true(ro.readonly)
    assert.has_error(function() ro[1] = 1 end)
    assert.has_error(function() ro:fill(1) end)
    assert.has_error(function() ro:add(1) end)
  end)

  it("work over a byte-swapped type", function()
    local a = memobj.array("i32be", {5, -3, 9, 1, 7, 2})
    local s = a:slice(1, -1, 2)
    assert.same({5, 9, 7}, s:totable())
    assert.equal(21, s:sum())
    assert.same({5, 9}, {s:minmax()})
    s:add(1)
    assert.same({6, -3, 10, 1, 8, 2}, a:totable())
    s:sort()
    assert.same({6, 8, 10}, s:totable())
  end)
end)

describe("chunks", function()
  it("walks zero-copy views with the index of their first element", function()
    local a = iota("i32", 10)
    local got = {}
    for first, v in a:chunks(4) do
      got[#got + 1] = {first, v:totable()}
      v[1] = -first
    end
    assert.same({{1, {1, 2, 3, 4}}, {5, {5, 6, 7, 8}}, {9, {9, 10}}}, got)
    assert.same({-1, -5, -9}, {a[1], a[5], a[9]})
  end)

  it("keeps strides and handles the edges", function()
    local a = iota("f32", 7)
    local firsts = {}
    for first, v in a:slice(-1, 1, -1):chunks(3) do
      firsts[#firsts + 1] = first .. ":" .. table.concat(v:totable(), ",")
    end
    assert.same({"1:7.0,6.0,5.0", "4:4.0,3.0,2.0", "7:1.0"}, firsts)
    for _ in memobj.array("u8", 0):chunks(5) do error("no chunk expected") end
    local n = 0
    for _, v in a:chunks(math.maxinteger) do n = n + #v end
    assert.equal(7, n)
    assert.error_matches(function() a:chunks(0) end, "at least 1")
    assert.error_matches(function() a:chunks(1, 2) end, "no value expected")
  end)
end)

describe("strided arrays through the C API", function()
  local cmodule = assert(package.loadlib(
    (os.getenv("MEMOBJ_BUILD") or "build") .. "/cmodule.so", "luaopen_cmodule"))()

  it("give item 0, the stride and the count (MEMOBJ_STRIDED)", function()
    local a = iota("f64", 10)
    local s = a:slice(2, -1, 3)          -- 2 5 8
    assert.same({3, 24}, {select(3, cmodule.describe(s))})
    assert.equal(15, cmodule.sum(s))
    local r = a:slice(-1, 1, -4)         -- 10 6 2
    assert.same({3, -32}, {select(3, cmodule.describe(r))})
    assert.equal(18, cmodule.sum(r))
    assert.equal(55, cmodule.sum(a:slice(-1, 1, -1)))
  end)

  it("are refused to a module that did not ask for strides", function()
    local s = iota("u8", 10):slice(1, -1, 2)
    assert.error_matches(function() cmodule.checksum(s) end, "not contiguous")
  end)
end)

-- The value codec (issue 21 part 1, doc/values.md): memobj.encode and
-- memobj.decode, b:encode and b:decode. Round trips of every type and
-- edge value, random nested tables against a deep compare, every error
-- message, and hostile input (truncations, huge counts, deep nesting).
local memobj = require("memobj")

local function err(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(e)
end

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function unhex(h)
  return (h:gsub("%s", ""):gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

local function fbits(x) return string.pack("<d", x) end
local function float(bits) return (string.unpack("<d", string.pack("<I8", bits))) end

-- Deep equality: same types, integer/float subtype, float bits, typed
-- arrays by type and elements, and for tables the same keys and values
-- (a key that is a table or an array matches an unused equal key of the
-- other with an equal value: equal keys may hold different values).
local same
local function findpair(t, k, v, used)
  if type(k) ~= "table" and type(k) ~= "userdata" then
    local v2 = rawget(t, k)
    return v2 ~= nil and same(v, v2)
  end
  for k2, v2 in pairs(t) do
    if not used[k2] and type(k2) == type(k) and same(k, k2) and same(v, v2) then
      used[k2] = true
      return true
    end
  end
  return false
end
function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then return false end
    if math.type(a) == "float" then return fbits(a) == fbits(b) end
    return a == b
  end
  if type(a) == "userdata" and not rawequal(a, b) then
    if a.type ~= b.type or #a ~= #b then return false end
    for i = 1, #a do
      if not same(a[i], b[i]) then return false end
    end
    return true
  end
  if type(a) ~= "table" then return a == b end
  local n, used = 0, {}
  for k, v in pairs(a) do
    if not findpair(b, k, v, used) then return false end
    n = n + 1
  end
  for _ in pairs(b) do n = n - 1 end
  return n == 0
end

local function roundtrip(v)
  local s = memobj.encode(v)
  local d, n = memobj.decode(s)
  assert.equal(#s + 1, n)
  return d, s
end

describe("memobj.encode/decode round trips", function()
  it("nil and booleans", function()
    assert.is_nil((roundtrip(nil)))
    assert.is_true((roundtrip(true)))
    assert.is_false((roundtrip(false)))
  end)

  it("integers: all 64 bits, every size boundary", function()
    local edges = {0, 1, 127, 128, 255, 256, -1, -32, -33, -128, -129, 32767,
      32768, -32768, -32769, 65535, 65536, 2147483647, 2147483648,
      -2147483648, -2147483649, 1 << 40, -(1 << 40), math.maxinteger,
      math.mininteger, math.maxinteger - 1, math.mininteger + 1}
    for _, i in ipairs(edges) do
      local d = roundtrip(i)
      assert.equal("integer", math.type(d))
      assert.equal(i, d)
    end
    for _ = 1, 2000 do
      local i = math.random(math.mininteger, math.maxinteger) >> math.random(0, 63)
      if math.random(2) == 1 then i = -i end
      assert.equal(i, (roundtrip(i)))
    end
  end)

  it("floats keep their exact bits: -0.0, infinities, NaN payloads, subnormals", function()
    local values = {0.0, -0.0, 1.0, -1.0, 0.1, 1/3, 1e308, -1e308, 5e-324,
      2.2250738585072014e-308, math.huge, -math.huge, math.pi, 2^53, 2^63,
      float(0x7ff8000000000000), float(0xfff8000000000000),
      float(0x7ff0000000000001), float(0x7ff4000000000abc),
      float(0xfff7ffffffffffff)}
    for _, x in ipairs(values) do
      local d = roundtrip(x)
      assert.equal("float", math.type(d))
      assert.equal(hex(fbits(x)), hex(fbits(d)))
    end
  end)

  it("a float with an integer value stays a float", function()
    assert.equal("float", math.type((roundtrip(3.0))))
    assert.equal("integer", math.type((roundtrip(3))))
  end)

  it("strings of any bytes and lengths", function()
    local all = {}
    for c = 0, 255 do all[#all + 1] = string.char(c) end
    all = table.concat(all)
    for _, s in ipairs{"", "a", string.rep("x", 31), string.rep("y", 32),
                       string.rep("z", 127), string.rep("w", 128), "\0\0\0",
                       all, all:rep(300), string.rep("long", 300000)} do
      assert.equal(s, (roundtrip(s)))
    end
  end)

  it("tables: lists, maps, mixed, holes, nested, any key type", function()
    local k1, k2 = {}, {1, 2}
    local cases = {
      {}, {1, 2, 3}, {a = 1, b = "x"}, {1, 2, x = 3, [10] = 4},
      {1, nil, 3}, {[0] = "zero", [-1] = "neg", [1 << 40] = "big"},
      {[1.5] = "f", [-0.5] = "g", [true] = 1, [false] = 0, ["1"] = "str"},
      {{{{{"deep"}}}}}, {list = {1, 2, 3}, map = {x = {y = {z = true}}}},
      {[math.maxinteger] = 1, [math.mininteger] = 2},
      {[math.huge] = "inf", [-math.huge] = "-inf"},
    }
    local t16, m16 = {}, {}
    for i = 1, 16 do t16[i] = i; m16["k" .. i] = i end
    cases[#cases + 1] = t16
    cases[#cases + 1] = m16
    local big = {}
    for i = 1, 3000 do big[i] = i * 1.5; big["s" .. i] = {i} end
    cases[#cases + 1] = big
    for _, t in ipairs(cases) do
      assert.is_true(same(t, (roundtrip(t))))
    end
    -- tables as keys come back as new tables with the same content
    local d = roundtrip({[k1] = "empty", [k2] = "pair"})
    local n = 0
    for k, v in pairs(d) do
      n = n + 1
      if v == "empty" then assert.is_true(same(k, k1)) else assert.is_true(same(k, k2)) end
    end
    assert.equal(2, n)
  end)

  it("float keys with an integer value become integer keys (as in Lua)", function()
    local t = {}
    rawset(t, 2^53, "x")
    local d = roundtrip(t)
    assert.equal("x", d[2^53])
    assert.equal("x", d[1 << 53])
  end)

  it("a table shared twice (not a cycle) is encoded twice", function()
    local shared = {1, 2}
    local d = roundtrip({shared, shared, {a = shared}})
    assert.is_true(same(d[1], shared) and same(d[2], shared) and same(d[3].a, shared))
    assert.is_false(rawequal(d[1], d[2]))
  end)

  it("metatables are not encoded", function()
    local t = setmetatable({x = 1}, {__index = function() return "meta" end})
    local d = roundtrip(t)
    assert.is_nil(getmetatable(d))
    assert.is_nil(d.y)
    -- and __pairs / __index are not used to read the table
    local p = setmetatable({a = 1}, {__pairs = function() error("used") end,
                                     __index = function() error("used") end})
    assert.equal(1, roundtrip(p).a)
  end)

  it("nesting of exactly 200 tables encodes and decodes", function()
    local t = {}
    local cur = t
    for _ = 2, 200 do cur[1] = {}; cur = cur[1] end
    local d = roundtrip(t)
    for _ = 2, 200 do d = d[1] end
    assert.equal("table", type(d))
    assert.is_nil(d[1])
  end)

  it("random nested tables against a deep compare", function()
    local seed = os.time()
    math.randomseed(seed)
    -- a budget of values per case: without it the expected size grows
    -- as 6^depth and one case can take minutes (under valgrind, hours)
    local budget
    local function rvalue(depth)
      budget = budget - 1
      local r = math.random(10)
      if r == 1 then return math.random(-300, 300)
      elseif r == 2 then return math.random(math.mininteger, math.maxinteger)
      elseif r == 3 then return (math.random() - 0.5) * 10 ^ math.random(-300, 300)
      elseif r == 4 then return math.random(2) == 1
      elseif r == 5 then
        local n = math.random(0, 40)
        local c = {}
        for i = 1, n do c[i] = string.char(math.random(0, 255)) end
        return table.concat(c)
      elseif r <= 8 and depth < 6 and budget > 0 then
        local t = {}
        for i = 1, math.random(0, 20) do t[i] = rvalue(depth + 1) end
        for _ = 1, math.random(0, 20) do
          local k = rvalue(6)
          if k == k then t[k] = rvalue(depth + 1) end
        end
        return t
      else return ("s"):rep(math.random(0, 100)) end
    end
    for i = 1, 300 do
      budget = 600
      local v = rvalue(0)
      local ok = same(v, (roundtrip(v)))
      assert.is_true(ok, "seed " .. seed .. " case " .. i)
    end
  end)
end)

describe("memory in values", function()
  it("byte views and memory objects encode as strings of their bytes", function()
    local m = memobj.heap(10)
    local b = m:bytes()
    b:put(1, "0123456789")
    assert.equal("0123456789", (roundtrip(m)))
    assert.equal("2345", (roundtrip(b:sub(3, 6))))
    assert.equal("23", (roundtrip(m:bytes(2, 2))))
    assert.equal("abc", (roundtrip(memobj.bytes("abc"))))
    assert.equal("", (roundtrip(memobj.heap(0))))
    local d = roundtrip({view = b, [b:sub(1, 2)] = "key"})
    assert.equal("0123456789", d.view)
    assert.equal("key", d["01"])
  end)

  it("typed arrays of every type and byte order come back as new heap arrays", function()
    local LITTLE = string.pack("=i2", 1) == string.pack("<i2", 1)
    for _, base in ipairs{"int8", "uint8", "int16", "uint16", "int32", "uint32",
                          "int64", "uint64", "float32", "float64"} do
      for _, order in ipairs{"", "le", "be"} do
        local a = memobj.array(base .. order, {1, 2, 3, 100, 0})
        a[5] = base:find("float") and -0.5 or (base:find("u") and 7 or -7)
        local d, s = roundtrip(a)
        assert.equal(a.type, d.type)
        assert.equal(#a, #d)
        for i = 1, #a do assert.equal(a[i], d[i]) end
        assert.equal("heap", d.memory.kind)
        assert.is_false(rawequal(a.memory, d.memory))
        -- the bytes travel as they are, in the order the type byte names
        local suffix = a.type:sub(-2)  -- 1-byte types have no byte order
        local flag = (suffix == "be" or (suffix ~= "le" and not LITTLE)) and 0x10 or 0
        assert.equal(flag, s:byte(3) & 0x10)
        d[1] = 9
        assert.equal(1, a[1])  -- a copy
      end
    end
  end)

  it("bool arrays keep their type; one-byte types carry no byte order", function()
    local d, s = roundtrip(memobj.array("bool", {true, false, true}))
    assert.equal("bool", d.type)
    assert.same({true, false, true}, {d[1], d[2], d[3]})
    assert.equal("01ca0a03010001", hex(s))
    assert.equal("01ca0001ff", hex(memobj.encode(memobj.array("int8be", {-1}))))
  end)

  it("strided and reversed arrays encode their elements", function()
    local a = memobj.array("int32", {1, 2, 3, 4, 5, 6, 7})
    local d = roundtrip(a:slice(1, 7, 2))
    assert.same({1, 3, 5, 7}, d:totable())
    d = roundtrip(a:slice(7, 1, -3))
    assert.same({7, 4, 1}, d:totable())
    assert.equal(1, d.stride // d.itemsize)
    d = roundtrip(memobj.array("float64", 0))
    assert.equal(0, #d)
  end)

  it("records fields (strided arrays over records) encode too", function()
    local r = memobj.records({{"x", "int16"}, {"y", "float64"}}, memobj.heap(48))
    r[1] = {x = 5, y = 1.5}
    r[3] = {x = -2, y = 2.5}
    local d = roundtrip(r:field("x"))
    assert.same({5, 0, -2}, d:totable())
    assert.equal("int16", d.type)
  end)
end)

describe("encode refuses, naming why, and writes nothing", function()
  it("cycles, directly, deeply and through keys", function()
    local t = {}
    t.self = t
    assert.matches("memobj: encode: cycle", err(memobj.encode, t))
    local a = {b = {c = {}}}
    a.b.c.d = a
    assert.matches("memobj: encode: cycle", err(memobj.encode, a))
    local k = {}
    k[k] = 1
    assert.matches("memobj: encode: cycle", err(memobj.encode, k))
  end)

  it("nesting deeper than 200", function()
    local t = {}
    local cur = t
    for _ = 2, 201 do cur[1] = {}; cur = cur[1] end
    assert.matches("memobj: encode: nesting deeper than 200", err(memobj.encode, t))
  end)

  it("functions, coroutines and other userdata", function()
    assert.matches("memobj: encode: cannot encode a function", err(memobj.encode, print))
    assert.matches("memobj: encode: cannot encode a function", err(memobj.encode, {f = function() end}))
    assert.matches("memobj: encode: cannot encode a coroutine",
                   err(memobj.encode, coroutine.create(print)))
    assert.matches("memobj: encode: cannot encode a userdata", err(memobj.encode, io.stdout))
    local m = memobj.heap(16)
    assert.matches("memobj: encode: cannot encode this kind of view", err(memobj.encode, m:file()))
    assert.matches("memobj: encode: cannot encode this kind of view",
                   err(memobj.encode, memobj.records({{"x", "int32"}}, m)))
  end)

  it("released views and closed memory", function()
    local m = memobj.heap(8)
    local b = m:bytes()
    local a = m:array("u8")
    b:release()
    a:release()
    assert.matches("memobj: encode: view is released", err(memobj.encode, b))
    assert.matches("memobj: encode: view is released", err(memobj.encode, {a}))
    b:release()
    a:release()
    m:close()
    assert.matches("memobj: encode: memory object is closed", err(memobj.encode, m))
  end)

  it("b:encode leaves the view untouched on any refusal", function()
    local b = memobj.heap(64):bytes()
    b:fill(0xAA)
    local before = tostring(b)
    local t = {1, 2, 3}
    t[4] = t
    assert.matches("cycle", err(b.encode, b, t))
    assert.matches("cannot encode a function", err(b.encode, b, {1, 2, print}))
    assert.equal(before, tostring(b))
  end)

  it("arguments: a value is required, extra arguments raise", function()
    assert.matches("bad argument #1 to '[%w.]*encode' %(value expected", err(memobj.encode))
    assert.matches("bad argument #2 to '[%w.]*encode'", err(memobj.encode, 1, 2))
    assert.matches("bad argument #3 to '[%w.]*decode'", err(memobj.decode, "\1\0", 1, 2))
    assert.matches("bad argument #1 to '[%w.]*decode' %(string, byte view or memory object expected",
                   err(memobj.decode, 12))
    assert.matches("bad argument #1 to '[%w.]*decode'", err(memobj.decode, memobj.array("u8", 2)))
    local b = memobj.heap(8):bytes()
    assert.matches("bad argument", err(b.encode, b))
    assert.matches("bad argument #4", err(b.encode, b, 1, 1, 1))
    assert.matches("bad argument #3", err(b.decode, b, 1, 1))
  end)
end)

describe("b:encode and b:decode", function()
  it("write at an index and return the next one; decode reads back", function()
    local m = memobj.heap(100)
    local b = m:bytes()
    local v1, v2 = {x = 1, y = {2, 3}}, "second"
    local n1 = b:encode(v1)
    local n2 = b:encode(v2, n1)
    assert.equal(#memobj.encode(v1) + 1, n1)
    assert.equal(n1 + #memobj.encode(v2), n2)
    local d1, i = b:decode()
    assert.is_true(same(v1, d1))
    assert.equal(n1, i)
    local d2, j = b:decode(i)
    assert.equal(v2, d2)
    assert.equal(n2, j)
    -- memobj.decode reads views and memory objects at an index too
    assert.equal(v2, (memobj.decode(m, n1)))
    assert.equal(v2, (memobj.decode(b, n1)))
    assert.equal(v2, (memobj.decode(b:sub(n1))))
    -- negative indices count from the end
    local tail = b:encode(7, -2)
    assert.equal(101, tail)
    assert.equal(7, (b:decode(-2)))
    assert.equal(7, (memobj.decode(memobj.encode(7), -2)))
  end)

  it("no space: nil, 'no space', the bytes needed; nothing written", function()
    local b = memobj.heap(8):bytes()
    b:fill(0x55)
    local r, msg, need = b:encode(string.rep("x", 20))
    assert.is_nil(r)
    assert.equal("no space", msg)
    assert.equal(#memobj.encode(string.rep("x", 20)), need)
    assert.equal(string.rep("\x55", 8), tostring(b))
    r, msg, need = b:encode(12345, 6)
    assert.is_nil(r)
    assert.equal(4, need)
    assert.equal(9, b:encode(12345, 5))
    assert.equal(9, b:encode(nil, 7))
    assert.equal(string.rep("\x55", 4), tostring(b:sub(1, 4)))
  end)

  it("refuses read-only views and indices outside 1..#b+1", function()
    local ro = memobj.bytes("abcdefgh")
    assert.matches("read%-only", err(ro.encode, ro, 1))
    local b = memobj.heap(8):bytes()
    assert.matches("index 10 out of range", err(b.encode, b, 1, 10))
    assert.matches("index 0 out of range", err(b.encode, b, 1, 0))
    assert.matches("initial position out of string", err(b.decode, b, 10))
    assert.matches("initial position out of string", err(memobj.decode, "\1\0", 4))
  end)

  it("the write is logged: a rolled-back transaction restores the bytes", function()
    local m = memobj.heap(32)
    local b = m:bytes()
    b:fill(1)
    local ok = pcall(m.transaction, m, function()
      b:encode({"inside", 1, 2, 3})
      assert.equal("inside", b:decode()[1])
      error("abort")
    end)
    assert.is_false(ok)
    assert.equal(string.rep("\1", 32), tostring(b))
    m:transaction(function() b:encode("kept") end)
    assert.equal("kept", (b:decode()))
  end)

  it("decoding from a view pins its memory against a finalizer closing it", function()
    local m = memobj.heap(4096)
    local b = m:bytes()
    local t = {}
    for i = 1, 200 do t[i] = {name = "n" .. i, i} end
    b:encode(t)
    local closed = 0
    for _ = 1, 50 do
      setmetatable({}, {__gc = function()
        if pcall(m.close, m) then closed = closed + 1 end
      end})
    end
    local d = memobj.decode(m)
    assert.equal("n200", d[200].name)
    assert.equal(0, closed)
  end)
end)

describe("decode errors", function()
  local function derr(s, ...)
    return err(memobj.decode, s, ...)
  end

  it("say what is wrong and at which byte", function()
    assert.equal("memobj: decode: unexpected end of input at byte 1", derr(""))
    assert.equal("memobj: decode: unknown format version 2 at byte 1", derr("\2\0"))
    assert.equal("memobj: decode: unexpected end of input at byte 2", derr("\1"))
    assert.equal("memobj: decode: unknown tag 0xcd at byte 2", derr("\1\xcd"))
    assert.equal("memobj: decode: unknown tag 0xdf at byte 2", derr("\1\xdf"))
    assert.equal("memobj: decode: malformed length at byte 3",
                 derr("\1\xc8" .. ("\x80"):rep(9) .. "\x02"))
    assert.equal("memobj: decode: length 5 exceeds the input at byte 2", derr("\1\x85ab"))
    assert.equal("memobj: decode: length 1099511627776 exceeds the input at byte 2",
                 derr("\1\xc8\x80\x80\x80\x80\x80\x20"))
    assert.equal("memobj: decode: count 1099511627776 exceeds the input at byte 2",
                 derr("\1\xc9\x80\x80\x80\x80\x80\x20\x00"))
    assert.equal("memobj: decode: count 5 exceeds the input at byte 2",
                 derr("\1\xb5\1\2\3\4"))
    assert.equal("memobj: decode: table key is nil at byte 3", derr("\1\xb1\xc0\x01"))
    assert.equal("memobj: decode: table key is NaN at byte 3",
                 derr("\1\xb1\xc7" .. string.pack("<d", 0/0) .. "\x01"))
    assert.equal("memobj: decode: unknown array type 0x0b at byte 3", derr("\1\xca\x0b\x00"))
    assert.equal("memobj: decode: unknown array type 0x10 at byte 3", derr("\1\xca\x10\x00"))
    assert.equal("memobj: decode: unknown array type 0x1a at byte 3", derr("\1\xca\x1a\x00"))
    assert.equal("memobj: decode: unknown array type 0x20 at byte 3", derr("\1\xca\x20\x00"))
    assert.equal("memobj: decode: array length 3 exceeds the input at byte 2",
                 derr("\1\xca\x04\x03" .. ("\0"):rep(11)))
    assert.equal("memobj: decode: unexpected end of input at byte 4", derr("\1\xc5\1"))
    assert.equal("memobj: decode: unknown string reference 0 at byte 2", derr("\1\xcc\0"))
    assert.equal("memobj: decode: unknown string reference 1 at byte 7",
                 derr("\1\xa2\xcb\2ab\xcc\1"))
    assert.equal("memobj: decode: length 3 exceeds the input at byte 2", derr("\1\xcb\3ab"))
    assert.equal("memobj: decode: nesting deeper than 200 at byte 202",
                 derr("\1" .. ("\xa1"):rep(300)))
  end)

  it("count positions from where the user's source starts", function()
    local b = memobj.heap(16):bytes()
    b:put(5, "\1\xcd")
    assert.equal("memobj: decode: unknown tag 0xcd at byte 6", err(b.decode, b, 5))
    assert.equal("memobj: decode: unknown tag 0xcd at byte 6", err(memobj.decode, b, 5))
    assert.equal("memobj: decode: unknown tag 0xcd at byte 2", err(b:sub(5).decode, b:sub(5)))
    assert.equal("memobj: decode: unknown tag 0xcd at byte 4",
                 err(memobj.decode, "xx\1\xcd", 3))
  end)

  it("every truncation of valid encodings raises a decode error", function()
    local values = {
      {1, 2, 3, x = {y = "z", [1.5] = true}, s = ("q"):rep(40)},
      memobj.array("float32", {1, 2, 3}), math.mininteger, -1234.5, "hello",
      {[{1}] = {2}, list = {{}, {}, {{}}}}, 300, 70000,
    }
    for _, v in ipairs(values) do
      local s = memobj.encode(v)
      for cut = 0, #s - 1 do
        local e = err(memobj.decode, s:sub(1, cut))
        assert.matches("^memobj: decode: .* at byte %d+$", e)
      end
    end
  end)

  it("a claimed count of 2^40 entries allocates nothing", function()
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    for _, s in ipairs{"\1\xc9\x80\x80\x80\x80\x80\x20\x00" .. ("\0"):rep(1000),
                       "\1\xc9\x00\x80\x80\x80\x80\x80\x20" .. ("\0"):rep(1000),
                       "\1\xca\x09\x80\x80\x80\x80\x80\x20" .. ("\0"):rep(1000),
                       "\1\xc8\x80\x80\x80\x80\x80\x20" .. ("\0"):rep(1000)} do
      assert.matches("exceeds the input", err(memobj.decode, s))
    end
    assert.is_true(collectgarbage("count") - before < 64)
    collectgarbage("restart")
  end)

  it("deep nesting of 10^6 in the input stops at the depth limit", function()
    for _, open in ipairs{"\xa1", "\xb1\x00", "\xc9\x01\x00"} do
      local s = "\1" .. open:rep(1000000)
      assert.matches("nesting deeper than 200", err(memobj.decode, s))
    end
    -- keys nest too
    assert.matches("nesting deeper than 200",
                   err(memobj.decode, "\1" .. ("\xb1"):rep(1000000)))
  end)

  it("random bytes decode or raise a decode error, nothing else", function()
    local seed = os.time()
    math.randomseed(seed)
    local tags = {"\xa3", "\xb2", "\xc9\x02\x01", "\xca\x03\x02", "\xc8\x05", "\x83",
                  "\xcb\x02", "\xcc\x00", "\xcc\x01"}
    for i = 1, 3000 do
      local parts = {"\1"}
      for _ = 1, math.random(0, 30) do
        if math.random(3) == 1 then parts[#parts + 1] = tags[math.random(#tags)]
        else parts[#parts + 1] = string.char(math.random(0, 255)) end
      end
      local s = table.concat(parts)
      local ok, e = pcall(memobj.decode, s)
      if not ok then
        assert.matches("^memobj: decode: .* at byte %d+$", tostring(e),
                       nil, "seed " .. seed .. " case " .. i)
      else
        local again = memobj.encode(e)  -- what decodes encodes again
        assert.is_true(same(e, (memobj.decode(again))))
      end
    end
  end)

  it("repeated short strings are remembered, keys and values alike", function()
    local t = {}
    for i = 1, 500 do t[i] = {name = "same", ["key" .. i % 7] = ("v"):rep(i % 50)} end
    local s = memobj.encode(t)
    assert.is_true(same(t, (memobj.decode(s))))
    assert.truthy(s:find("\xcc", 1, true))
    -- long strings are written whole each time
    local long = ("L"):rep(41)
    assert.equal(2 * (41 + 2) + 2, #memobj.encode({long, long}))
    -- more distinct strings than the encoder remembers still round-trip
    local many = {}
    for i = 1, 3000 do many[i] = {"s" .. i, "s" .. i, "s" .. (i // 2)} end
    assert.is_true(same(many, (memobj.decode(memobj.encode(many)))))
  end)

  it("references beyond the decoder's stack slots (256) decode from its table", function()
    -- 300 definitions, then a reference to each, last first: references
    -- 0..255 live in stack slots, 256..299 in the table above them
    local parts, want = {}, {}
    for i = 0, 299 do
      local s = ("d%03d"):format(i)
      parts[#parts + 1] = "\xcb\4" .. s
      want[#want + 1] = s
    end
    for i = 299, 0, -1 do
      parts[#parts + 1] = "\xcc" .. (i < 128 and string.char(i)
                                     or string.char(0x80 | (i & 0x7f), i >> 7))
      want[#want + 1] = ("d%03d"):format(i)
    end
    local src = "\1\xc9\xd8\4\0" .. table.concat(parts)  -- 600 array values
    local t, n = memobj.decode(src)
    assert.equal(#src + 1, n)
    assert.same(want, t)
    assert.equal("memobj: decode: unknown string reference 300 at byte " .. #src + 1,
                 err(memobj.decode, src:gsub("^\1\xc9\xd8\4", "\1\xc9\xd9\4") .. "\xcc\xac\2"))
    -- the fewest slots: a 2-byte input reserves one
    local tiny = memobj.decode("\1\xa2\xcb\0\xcc\0")
    assert.same({"", ""}, tiny)
  end)

  it("keys decode through references; a key's tag alone says nil or NaN", function()
    local t = memobj.decode("\1\xb2\xcb\1k\1\xcc\0\2")  -- {k = 1} then k = 2 again
    assert.same({k = 2}, t)
    assert.same({[1.5] = true, [-0.5] = false},
                memobj.decode(memobj.encode({[1.5] = true, [-0.5] = false})))
    assert.equal("memobj: decode: table key is NaN at byte 5",
                 err(memobj.decode, "\1\xb2\1\1\xc7" .. string.pack("<d", -(0/0)) .. "\2"))
  end)

  it("the encoder's string cache: many distinct strings, each met many times", function()
    -- more distinct short strings than the cache has slots, each met 4
    -- times in shuffled order: every one comes back, and strings met
    -- often in a big value are written as references
    local words, t = {}, {}
    for i = 1, 1000 do words[i] = "w" .. i * 7919 end
    for r = 1, 4 do
      for i = 1, 1000 do t[#t + 1] = words[(i * 389 + r * 17) % 1000 + 1] end
    end
    local s = memobj.encode(t)
    assert.same(t, (memobj.decode(s)))
    local rec = {}
    for i = 1, 1000 do rec[i] = {alpha = i, bravo = -i, charlie = "x" .. i} end
    s = memobj.encode(rec)
    assert.is_true(same(rec, (memobj.decode(s))))
    -- keys written whole once or twice, then as 2-byte references: at
    -- most 1 + 3 * 2 + 3 + 3 + 6 bytes a record (written whole each
    -- time, the keys alone would take 20)
    assert.is_true(#s < 1000 * 19 + 100, #s)
  end)

  it("nesting across the stack steps (16 levels each) in keys and values", function()
    local function nest(n, leaf)
      local v = leaf
      -- odd levels nest through a key, even ones through a value
      for i = 1, n do v = (i % 2 == 0) and {v, i} or {[v] = i} end
      return v
    end
    for _, n in ipairs({15, 16, 17, 33, 100, 199}) do
      local v = nest(n, "leaf")
      assert.is_true(same(v, (memobj.decode(memobj.encode(v)))), n)
    end
  end)

  it("trailing bytes are left for the next decode", function()
    local s = memobj.encode(1) .. memobj.encode("two") .. memobj.encode({3})
    local a, i = memobj.decode(s)
    local b, j = memobj.decode(s, i)
    local c, k = memobj.decode(s, j)
    assert.equal(1, a)
    assert.equal("two", b)
    assert.equal(3, c[1])
    assert.equal(#s + 1, k)
  end)
end)

describe("decoding from pages lost under it", function()
  -- valgrind turns the SIGBUS of a truncated mapping into a fatal SIGSEGV
  local inproc = it
  if (os.getenv("LUA_WRAPPER") or ""):match("valgrind") then
    inproc = function(name) pending(name .. " (not under valgrind)") end
  end
  local PAGE = 4096

  inproc("raises, also when a finalizer's own access took the fault", function()
    local p = os.tmpname()
    local pause = collectgarbage("setpause", 0)  -- back to its old value after
    collectgarbage("setpause", pause)
    finally(function()  -- busted keeps one finally per test
      collectgarbage("setpause", pause)
      os.remove(p)
    end)
    local f = assert(io.open(p, "wb"))
    f:write(("\0"):rep(64 * PAGE))
    f:close()
    local m = assert(memobj.map(p, {mode = "rw"}))
    local b, a = m:bytes(), m:array("u8")
    -- one string across the cut: the decoder's last read of lost pages
    -- is the copy into it, and the allocation after runs finalizers
    assert(b:encode(("x"):rep(60 * PAGE)))
    assert(os.execute(("truncate -s %d '%s'"):format(PAGE, p)))
    -- the lost pages read as zeros: never a value with them
    for _, dec in ipairs({function() return b:decode() end,
                          function() return memobj.decode(b) end,
                          function() return memobj.decode(m) end}) do
      local ok, e = pcall(dec)
      assert.is_false(ok)
      assert.matches("pages lost by a truncated file", e)
    end
    -- finalizers run by the decoding's allocations touch the lost pages
    -- themselves: their access raises inside them and takes this
    -- thread's pending fault; the decode must raise all the same (20
    -- tries: without the check after decoding, some return the zeros)
    local took = 0
    collectgarbage("setpause", 0)  -- a collection always under way
    for _ = 1, 20 do
      for _ = 1, 2000 do
        setmetatable({}, {__gc = function()
          local ok, e = pcall(function() return a[3 * PAGE] end)
          if not ok and e:find("lost", 1, true) then took = took + 1 end
        end})
      end
      local ok, e = pcall(memobj.decode, b)
      assert.is_false(ok)
      assert.matches("pages lost by a truncated file", e)
    end
    assert.is_true(took > 0, "no finalizer ran during a decode")
    b:release()
    a:release()
    m:close()
  end)
end)

describe("the format is stable (doc/values.md)", function()
  it("encodes the documented examples byte for byte", function()
    local cases = {
      {nil, "01 c0"}, {false, "01 c1"}, {true, "01 c2"}, {0, "01 00"},
      {127, "01 7f"}, {-1, "01 ff"}, {-32, "01 e0"}, {-33, "01 c3 df"},
      {300, "01 c4 2c 01"}, {70000, "01 c5 70 11 01 00"},
      {1 << 40, "01 c6 00 00 00 00 00 01 00 00"},
      {1.5, "01 c7 00 00 00 00 00 00 f8 3f"},
      {-0.0, "01 c7 00 00 00 00 00 00 00 80"},
      {"hi", "01 82 68 69"},
      {("a"):rep(32), "01 c8 20" .. (" 61"):rep(32)},
      {{}, "01 a0"}, {{10, 20}, "01 a2 0a 14"}, {{x = 1}, "01 b1 81 78 01"},
      {{7, k = true}, "01 c9 01 01 07 81 6b c2"},
      {memobj.array("int16le", {1, -1}), "01 ca 02 02 01 00 ff ff"},
      {memobj.array("uint16be", {1}), "01 ca 13 01 00 01"},
      {{"ab", "ab", "ab", "ab"}, "01 a4 82 61 62 cb 02 61 62 cc 00 cc 00"},
      {{"a", "a", "a"}, "01 a3 81 61 81 61 81 61"},
    }
    for _, c in ipairs(cases) do
      local s = memobj.encode(c[1])
      assert.equal(c[2]:gsub(" ", ""), hex(s))
      assert.is_true(same(c[1], (memobj.decode(unhex(c[2])))) or
                     type(c[1]) == "userdata")
    end
  end)
end)

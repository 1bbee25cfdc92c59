-- Byte string views: construction, the string-like interface (Lua's
-- string library is the oracle for positions and unpack), writes, and the
-- locking protocol.
local memobj = require("memobj")

local function heapview(s, mode)
  local m = memobj.heap(#s)
  m:bytes():put(1, s)
  return m:bytes(nil, nil, mode), m
end

local function outcome(ok, ...)
  local parts = {ok and "ok" or "err"}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if not ok then v = tostring(v):gsub("^.-bad argument #%d+ to '[^']*' %((.*)%)$", "%1") end
    parts[#parts + 1] = type(v) .. ":" .. (type(v) == "string" and ("%q"):format(v) or tostring(v))
  end
  return table.concat(parts, " ")
end

local ALPHABET = {"a", "\0", "\255", "z", " ", "\n", "\128", "7"}
local function randstring(rnd, maxlen)
  local t = {}
  for i = 1, rnd(0, maxlen) do t[i] = ALPHABET[rnd(1, #ALPHABET)] end
  return table.concat(t)
end

local function randpos(rnd, len)
  local k = rnd(1, 10)
  if k == 1 then return math.mininteger end
  if k == 2 then return math.maxinteger end
  if k == 3 then return 0 end
  return rnd(-len - 3, len + 3)
end

describe("byte views: construction and fields", function()
  it("views memory objects, views and Lua strings", function()
    local m = memobj.heap(10)
    local b = m:bytes()
    assert.equal(10, #b)
    assert.equal(10, b:len())
    assert.equal(0, b.offset)
    assert.equal(10, b.length)
    assert.is_false(b.readonly)
    assert.is_false(b.released)
    assert.equal(m, b.memory)
    local c = m:bytes(2, 5)
    assert.equal(2, c.offset)
    assert.equal(5, #c)
    local d = memobj.bytes(c, 1, 3, "r")
    assert.equal(3, d.offset)  -- counts from the start of the memory object
    assert.equal(3, #d)
    assert.is_true(d.readonly)
    local s = memobj.bytes("hello")
    assert.equal("string", s.memory.kind)
    assert.is_true(s.readonly)
    assert.equal("hello", tostring(s))
    assert.equal("ell", tostring(memobj.bytes("hello", 1, 3)))
    assert.equal(0, #memobj.bytes(""))
    assert.equal(0, #memobj.heap(0):bytes())
  end)

  it("checks offsets, lengths and modes", function()
    local m = memobj.heap(4)
    assert.has_error(function() m:bytes(5) end)
    assert.has_error(function() m:bytes(2, 3) end)
    assert.has_error(function() m:bytes(-1) end)
    assert.has_error(function() m:bytes(0, 4, "x") end)
    assert.has_error(function() memobj.bytes("abc", 0, 3, "rw") end)
    assert.has_error(function() memobj.bytes({}) end)
    assert.equal(0, #m:bytes(4))
    local ro = m:bytes(0, 4, "r")
    assert.has_error(function() memobj.bytes(ro, 0, 4, "rw") end)
  end)

  it("locks its memory until released, closed or collected", function()
    local m = memobj.heap(8)
    local b = m:bytes()
    assert.equal(1, m.locks)
    assert.has_error(function() m:close() end)
    assert.has_error(function() m:resize(16) end)
    local sub = b:sub(2, 3)
    assert.equal(2, m.locks)
    sub:release()
    b:release()
    assert.equal(0, m.locks)
    assert.is_true(b.released)
    assert.has_error(function() return b[1] end, "memobj: view is released")
    assert.has_error(function() return #b end, "memobj: view is released")
    assert.has_error(function() b:find("a") end, "memobj: view is released")
    assert.has_error(function() b[1] = 1 end, "memobj: view is released")
    b:release()  -- idempotent
    do
      local _ <close> = m:bytes()
      assert.equal(1, m.locks)
    end
    assert.equal(0, m.locks)
    assert.is_true(m:close())
  end)
end)

describe("byte views: reading like a Lua string", function()
  it("b[i] gives the byte or nil, never raises out of range", function()
    local b = heapview("A\0\255")
    assert.equal(65, b[1])
    assert.equal(0, b[2])
    assert.equal(255, b[3])
    assert.is_nil(b[0])
    assert.is_nil(b[4])
    assert.is_nil(b[-1])
    assert.is_nil(b[1.5])
    assert.is_nil(b[math.mininteger])
    assert.is_nil(b.nosuchfield)
    local n = 0
    for i, v in ipairs(b) do n = n + 1; assert.equal(b:byte(i), v) end
    assert.equal(3, n)
  end)

  it("sub, byte and string agree with the string library", function()
    math.randomseed(42)
    local rnd = math.random
    for _ = 1, 3000 do
      local s = randstring(rnd, 12)
      local b = rnd(1, 2) == 1 and heapview(s) or memobj.bytes(s)
      local i, j = randpos(rnd, #s), randpos(rnd, #s)
      local ctx = ("%q %s %s"):format(s, i, j)
      assert.equal(s:sub(i, j), tostring(b:sub(i, j)), ctx)
      assert.equal(s:sub(i), tostring(b:sub(i)), ctx)
      assert.equal(s:sub(i, j), b:string(i, j), ctx)
      assert.equal(outcome(pcall(string.byte, s, i, j)), outcome(pcall(b.byte, b, i, j)), ctx)
      assert.equal(outcome(pcall(string.byte, s, i)), outcome(pcall(b.byte, b, i)), ctx)
      local v = b:sub(i, j)
      assert.is_true(v.offset >= b.offset and v.offset + #v <= b.offset + #b, ctx)
    end
    assert.same({104}, {memobj.bytes("hi"):byte()})
    assert.equal("hi", memobj.bytes("hi"):string())
  end)

  it("a sub view is a view of the same memory, not a copy", function()
    local b, m = heapview("abcdef")
    local s = b:sub(2, 4)
    assert.equal(1, s.offset)
    assert.equal(m, s.memory)
    b[3] = string.byte("X")
    assert.equal("bXd", tostring(s))
  end)

  it("unpack agrees with string.unpack", function()
    math.randomseed(5)
    local rnd = math.random
    local formats = {"<i4", ">I2", "b", "B", "z", "s1", "!4 i3 i8", "c3", "<d", "f",
                     "j", "<i2 x >i2", "Xi4 i4", "!8 b Xd d", "i16", "<I3 z B", "s2"}
    for _ = 1, 3000 do
      local s = randstring(rnd, 30)
      local b = rnd(1, 2) == 1 and heapview(s) or memobj.bytes(s)
      local fmt = formats[rnd(1, #formats)]
      local pos = rnd(1, 5) == 1 and nil or randpos(rnd, #s)
      local want = outcome(pcall(string.unpack, fmt, s, pos))
      local got = outcome(pcall(b.unpack, b, fmt, pos))
      local ok = want:match("^ok")
      assert.equal(ok, got:match("^ok"), ("%q %q %s: %s / %s"):format(s, fmt, pos, want, got))
      if ok then assert.equal(want, got) end
    end
  end)

  it("unpack reads long variable-size items without copying the view", function()
    local long = ("x"):rep(5000)
    local s = ("ab"):rep(300) .. string.pack("s4", long) .. long .. "\0tail"
    local b = heapview(s)
    assert.same({string.unpack("s4", s, 601)}, {b:unpack("s4", 601)})
    assert.same({string.unpack("z", s, 601 + 4 + 5000)}, {b:unpack("z", 601 + 4 + 5000)})
    assert.same({string.unpack("!8 b d", s, 3)}, {b:unpack("!8 b d", 3)})
    assert.has_error(function() b:unpack("i4", #s + 2) end)
  end)

  it("copies only for tostring, string, rep, upper, lower, reverse and ..", function()
    local b = heapview("Hello\0World\255")
    local s = "Hello\0World\255"
    assert.equal(s:upper(), b:upper())
    assert.equal(s:lower(), b:lower())
    assert.equal(s:reverse(), b:reverse())
    assert.equal(s:rep(3, "--"), b:rep(3, "--"))
    assert.equal(s:rep(2), b:rep(2))
    assert.equal("", b:rep(0))
    assert.equal("", b:rep(-1, "x"))
    assert.equal(s .. s, b:rep(2, memobj.bytes("")))
    assert.has_error(function() b:rep(math.maxinteger) end, "resulting string too large")
    assert.equal("x" .. s, "x" .. b)
    assert.equal(s .. "1", b .. 1)
    assert.equal(s .. "2.5", b .. 2.5)
    assert.equal(s .. s, b .. b)
    assert.equal("<" .. s .. ">", "<" .. b .. ">")
    assert.has_error(function() return b .. {} end)
    assert.has_error(function() return true .. b end)
  end)

  it("compares like strings: equals, <, <=, == between views", function()
    local a, b = memobj.bytes("abc"), heapview("abd")
    assert.is_true(a:equals("abc"))
    assert.is_true(a:equals((heapview("abc"))))
    assert.is_false(a:equals("abcd"))
    assert.is_false(a:equals(nil))
    assert.is_false(a:equals(123))
    assert.is_true(a < b)
    assert.is_true(a <= b)
    assert.is_false(b < a)
    assert.is_true(a < "abd")
    assert.is_true("ab" < a)
    assert.is_true(a <= "abc")
    assert.is_false(a < "abc")
    assert.is_true(memobj.bytes("a\0b") < "a\0c")
    assert.is_true(memobj.bytes("\255") > "\127")
    assert.is_true(a == memobj.bytes("abc"))
    assert.is_false(a == b)
    assert.is_false(a == "abc")  -- no __eq across types in Lua 5.4
    assert.has_error(function() return a < 1 end)
    math.randomseed(3)
    for _ = 1, 500 do
      local s1, s2 = randstring(math.random, 4), randstring(math.random, 4)
      local v1, v2 = heapview(s1), memobj.bytes(s2)
      assert.equal(s1 < s2, v1 < v2)
      assert.equal(s1 <= s2, v1 <= s2)
      assert.equal(s1 == s2, v1:equals(v2))
    end
  end)
end)

describe("byte views: writing in place", function()
  it("b[i] = byte, put, fill, pack", function()
    local b = heapview(("."):rep(12))
    b[1] = 72
    b[12] = 255
    assert.equal("H..........\255", tostring(b))
    assert.equal(7, b:put(2, "ello "))
    assert.equal(13, b:put(-6, (heapview("World!"))))
    assert.equal("Hello World!", tostring(b))
    b:fill(0x2a, 7, 11)
    assert.equal("Hello *****!", tostring(b))
    b:fill(0x2d, -1)
    assert.equal("Hello *****-", tostring(b))
    assert.equal(b, b:fill(0x41, 100))  -- empty range: nothing written
    assert.equal(9, b:pack(1, "<i4 >i4", 0x01020304, 0x05060708))
    assert.equal("\4\3\2\1\5\6\7\8", b:string(1, 8))
    assert.same({0x01020304, 0x05060708, 9}, {b:unpack("<i4 >i4")})
    b:put(5, b:sub(1, 4))  -- overlapping source: copied as if through a buffer
    assert.equal("\4\3\2\1\4\3\2\1", b:string(1, 8))
    b:fill(0)
    assert.equal(("\0"):rep(12), tostring(b))
  end)

  it("writes through a sub view land in the memory", function()
    local b, m = heapview("0123456789")
    local s = b:sub(4, 6)
    s:put(1, "abc")
    assert.equal("012abc6789", tostring(m:bytes()))
    assert.has_error(function() s:put(2, "abc") end)
    assert.equal("012abc6789", tostring(m:bytes()))
  end)

  it("raises on read-only views and memory, writing nothing", function()
    local s = memobj.bytes("abc")
    assert.has_error(function() s[1] = 65 end, "memobj: view is read-only")
    assert.has_error(function() s:put(1, "x") end, "memobj: view is read-only")
    assert.has_error(function() s:fill(0) end, "memobj: view is read-only")
    assert.has_error(function() s:pack(1, "b", 1) end, "memobj: view is read-only")
    assert.equal("abc", tostring(s))
    local b, m = heapview("xyz", "r")
    assert.has_error(function() b[2] = 0 end, "memobj: view is read-only")
    assert.has_error(function() b:put(1, "a") end)
    assert.equal("xyz", tostring(m:bytes()))
    local w = m:bytes()
    w:release()
    b:release()
    m:protect("r")
    local r = m:bytes()
    assert.has_error(function() r[1] = 0 end, "memobj: view is read-only")
    assert.is_true(r.readonly)
    assert.equal("xyz", tostring(r))
  end)

  it("raises on writes out of range or of bad values, writing nothing", function()
    local b = heapview("abcd")
    assert.has_error(function() b[0] = 1 end)
    assert.has_error(function() b[5] = 1 end)
    assert.has_error(function() b[-1] = 1 end)
    assert.has_error(function() b[1.5] = 1 end)
    assert.has_error(function() b[1] = 256 end)
    assert.has_error(function() b[1] = -1 end)
    assert.has_error(function() b[1] = "x" end)
    assert.has_error(function() b.foo = 1 end)
    assert.has_error(function() b:put(3, "xyz") end)
    assert.has_error(function() b:put(6, "") end)
    assert.has_error(function() b:put(0, "x") end)
    assert.has_error(function() b:put(-5, "x") end)
    assert.has_error(function() b:put(1, {}) end)
    assert.has_error(function() b:pack(1, "i8", 1) end)
    assert.has_error(function() b:pack(1, "i4", 1.5) end)
    assert.has_error(function() b:pack(1, "i1", 1000) end)
    assert.has_error(function() b:fill(256) end)
    assert.equal("abcd", tostring(b))
    assert.equal(5, b:put(5, ""))  -- empty write at the end is fine
    assert.equal(5, b:pack(1, "i4", 0))
  end)
end)

describe("byte views: big buffers", function()
  it("greps a 4 MB buffer with find and gmatch without copying it", function()
    local n = 4 * 1024 * 1024
    local m = memobj.heap(n)
    local b = m:bytes()
    b:fill(string.byte("x"))
    for i = 1, n, 4096 do b[i] = 10 end
    b:put(n - 10, "needle")
    assert.same({n - 10, n - 5}, {b:find("needle", 1, true)})
    assert.same({n - 10, n - 5}, {b:find("needle")})
    assert.same({n - 10, n - 5}, {b:find("ne+dle")})
    local count = 0
    for _ in b:gmatch("[^\n]*") do count = count + 1 end
    assert.equal(n // 4096 + 1, count)
  end)
end)

describe("byte views: unpack on a big view", function()
  it("raises a bad format at once, with string.unpack's message", function()
    local b = memobj.heap(1024 * 1024):bytes()
    local ok1, e1 = pcall(string.unpack, "y", "")
    local ok2, e2 = pcall(b.unpack, b, "y")
    assert.is_false(ok1)
    assert.is_false(ok2)
    assert.equal(e1, e2)
    assert.same({0, 0, 9}, {b:unpack("<i4 i4")})
    assert.same({"", 2}, {b:unpack("z")})
  end)
end)

describe("byte views of typed arrays", function()
  it("a:bytes() sees the array's bytes in place", function()
    local a = memobj.array("u16le", {0x4241, 0x4443})
    local b = a:bytes()
    assert.equal("ABCD", tostring(b))
    b[1] = string.byte("Z")
    assert.equal(0x425a, a[1])
    assert.equal("CD", tostring(memobj.bytes(a, 2)))
    assert.equal(a.memory, b.memory)
  end)
end)

describe("byte views of a truncated mapped file", function()
  local procs = require("mo_procs")
  local PAGE = 4096
  local inproc = procs.sigbus_ok() and it or function(name) pending(name) end

  inproc("raise from every access that touches lost pages", function()
    local ops = {
      function(b) return b[3 * PAGE] end,
      function(b) b[3 * PAGE] = 1 end,
      function(b) return b:byte(-1) end,
      function(b) return b:find("\2", 1, true) end,
      function(b) return b:find("needle") end,
      function(b) return b:find("[^\1]") end,
      function(b) for _ in b:gmatch("\1+") do end end,
      function(b) return b:gsub("x", "y") end,
      function(b) return tostring(b) end,
      function(b) return b:string(PAGE + 1, PAGE + 10) end,
      function(b) return b:upper() end,
      function(b) return b:equals(("\1"):rep(8 * PAGE)) end,
      function(b) return b:sub(-10) < "z" end,
      function(b) return b:unpack("i4", 5 * PAGE) end,
      function(b) b:fill(7, PAGE + 1) end,
      function(b) b:put(-4, "abcd") end,
      function(b) b:pack(6 * PAGE, "i4", 1) end,
    }
    for i, op in ipairs(ops) do
      assert(procs.lost_pages(string.rep("\1", 8 * PAGE), PAGE, function(m)
        local b = m:bytes()
        local ok, msg = pcall(op, b)
        assert.is_false(ok, "operation " .. i)
        assert.matches("truncated file", msg, 1, false, "operation " .. i)
        assert.equal(1, b[PAGE])  -- the part still in the file reads fine
        b:release()
      end))
    end
  end)
end)

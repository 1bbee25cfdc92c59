-- fileview_spec.lua: file views against real io files as the oracle.
local memobj = require("memobj")

local unpack = table.unpack

-- A heap memory object holding exactly the bytes s.
local function heapof(s)
  local m = memobj.heap(#s)
  local w = m:file("r+")
  assert(w:write(s))
  w:close()
  return m
end

-- All bytes of m as a string.
local function bytes(m)
  local r = m:file("r")
  local s = r:read("a")
  r:close()
  return s
end

-- A real file holding s, opened with mode; removed by the caller's cleanup.
local tmpnames = {}
local function realfile(s, mode)
  local path = os.tmpname()
  tmpnames[#tmpnames + 1] = path
  local w = assert(io.open(path, "wb"))
  w:write(s)
  w:close()
  return assert(io.open(path, mode)), path
end

local function cleanup()
  for _, p in ipairs(tmpnames) do os.remove(p) end
  tmpnames = {}
end

-- Results of a call, with the handle itself replaced by "SELF".
local function results(h, ok, ...)
  local t = {n = select("#", ...) + 1, ok, ...}
  for i = 1, t.n do if t[i] == h then t[i] = "SELF" end end
  return t
end

local function call(h, method, ...)
  return results(h, pcall(h[method], h, ...))
end

-- io's formatting of a number written by f:write
local function fmtnum(x)
  return math.type(x) == "integer" and string.format("%d", x)
    or string.format("%.14g", x)
end

---------------------------------------------------------------------------
describe("file view, differential against io files", function()
  after_each(cleanup)

  local alphabet = "0123456789  \n\n\t.-+eExXpPabcf;"

  local function randtext(n)
    local t = {}
    while #t < n do
      if math.random(40) == 1 then  -- a numeral near the 200-char limit
        t[#t + 1] = string.rep("1", math.random(195, 205))
      else
        local k = math.random(#alphabet)
        t[#t + 1] = alphabet:sub(k, k)
      end
    end
    return table.concat(t):sub(1, n)
  end

  local function randfmt(cap)
    local r = math.random(9)
    if r == 1 then return "n" elseif r == 2 then return "l"
    elseif r == 3 then return "L" elseif r == 4 then return "a"
    elseif r == 5 then return "*l" elseif r == 6 then return 0
    elseif r == 7 then return math.random(1, 3)
    else return math.random(0, cap + 3) end
  end

  local function randwrite(cap)
    local r = math.random(6)
    if r == 1 then return math.random(-1000, 100000) end
    if r == 2 then return (math.random() - 0.5) * 10 ^ math.random(-5, 20) end
    if r == 3 then return "" end
    return randtext(math.random(0, math.max(1, cap // 3)))
  end

  -- One random session: the same operations on a real file (mode `mode`)
  -- and on a file view over a heap of capacity `cap`.
  local function session(seed, mode, cap)
    math.randomseed(seed)
    local init = randtext(cap)
    local junk = randtext(cap)
    local real
    if mode:sub(1, 1) == "w" then
      real = realfile("", mode)
    else
      real = realfile(init, mode)
    end
    local m = heapof(mode:sub(1, 1) == "w" and junk or init)
    local f = m:file(mode)
    local writable = mode ~= "r"
    local append = mode:sub(1, 1) == "a"
    for step = 1, 60 do
      local where = ("seed %d mode %s cap %d step %d"):format(seed, mode, cap, step)
      real:seek("cur")  -- stdio needs a seek between reads and writes
      local op = math.random(10)
      if op <= 4 then
        local fmts = {}
        for i = 1, math.random(0, 3) do fmts[i] = randfmt(cap) end
        assert.same(call(real, "read", unpack(fmts)), call(f, "read", unpack(fmts)), where)
      elseif op <= 7 then
        local args = {}
        for i = 1, math.random(1, 3) do args[i] = randwrite(cap) end
        -- which prefix of the arguments fits in the memory?
        local p0 = f:seek("cur")
        local at = append and f:seek("end") or p0
        f:seek("set", p0)
        local fits = #args
        if writable then
          for i, a in ipairs(args) do
            local len = type(a) == "number" and #fmtnum(a) or #a
            if len > 0 and at + len > cap then fits = i - 1 break end
            if len > 0 then at = at + len end
          end
        end
        local got = call(f, "write", unpack(args))
        local want = call(real, "write", unpack(args, 1, fits))
        if fits < #args then
          want = {true, nil, "no space left in memory object", 28, n = 4}
        end
        assert.same(want, got, where)
      elseif op <= 9 then
        local whence = ({"set", "cur", "end"})[math.random(3)]
        local off = math.random(-cap - 3, cap + 3)
        local p0 = f:seek("cur")
        local base = whence == "set" and 0 or whence == "cur" and p0 or f:seek("end")
        f:seek("set", p0)
        local got = call(f, "seek", whence, off)
        if base + off > cap then
          assert.same({true, nil, "Invalid argument", 22, n = 4}, got, where)
        else
          assert.same(call(real, "seek", whence, off), got, where)
        end
      else
        local fmts = {}
        for i = 1, math.random(0, 2) do fmts[i] = randfmt(cap) end
        local ri, fi = real:lines(unpack(fmts)), f:lines(unpack(fmts))
        for _ = 1, math.random(1, 3) do
          real:seek("cur")
          assert.same(results(nil, pcall(ri)), results(nil, pcall(fi)), where)
        end
      end
    end
    -- same logical size, same bytes; memory past the data is untouched
    local size = real:seek("end")
    assert.equal(size, f:seek("end"))
    assert.is_true(f:close())
    assert.is_true(real:close())
    local r = assert(io.open(tmpnames[#tmpnames], "rb"))
    local content = r:read("a")
    r:close()
    local mem = bytes(m)
    assert.equal(cap, #mem)
    assert.equal(content, mem:sub(1, size))
    if mode:sub(1, 1) == "w" then assert.equal(junk:sub(size + 1), mem:sub(size + 1)) end
    assert.equal(0, m.locks)
  end

  for _, mode in ipairs({"r", "r+", "w", "w+", "a", "a+"}) do
    it("random reads, writes, seeks and lines in mode " .. mode, function()
      for seed = 1, 25 do
        local caps = {0, 1, 9, 64, 300}
        session(seed * 7 + #mode, mode, caps[seed % #caps + 1])
      end
    end)
  end

  it("against io.tmpfile in w+ over a larger buffer", function()
    for seed = 100, 110 do
      math.randomseed(seed)
      local real = io.tmpfile()
      local m = memobj.heap(4096)
      local f = m:file("w+")
      for step = 1, 200 do
        real:seek("cur")
        local r = math.random(3)
        if r == 1 then
          local s = randtext(math.random(0, 40))
          assert.same(call(real, "write", s, 7, 1.5), call(f, "write", s, 7, 1.5))
        elseif r == 2 then
          local off = math.random(-10, 10)
          assert.same(call(real, "seek", "cur", off), call(f, "seek", "cur", off), step)
        else
          local fmt = randfmt(40)
          assert.same(call(real, "read", fmt, "l"), call(f, "read", fmt, "l"), step)
        end
      end
      local n = real:seek("end")
      real:seek("set")
      assert.equal(n, f:seek("end"))
      f:seek("set")
      assert.equal(real:read("a"), f:read("a"))
      real:close()
      f:close()
    end
  end)
end)

---------------------------------------------------------------------------
describe("file view read formats", function()
  after_each(cleanup)

  -- read the formats from s through io and through a file view; also the
  -- rest, to compare how much each consumed
  local function both(s, ...)
    local real = realfile(s, "rb")
    local f = memobj.file(s)
    local want, got = call(real, "read", ...), call(f, "read", ...)
    want.rest, got.rest = real:read("a"), f:read("a")
    real:close()
    f:close()
    return want, got
  end

  local numerals = {
    "0x1F", "0X1p4", "0x.8p1", "0x", "0xg", "  -3.5e+2x", ".5", "5.", "-.e",
    "1e", "1e+", "1e+x", "1E5", "- 1", "+1", "1..2", "inf", "nan", "",
    "   ", " \n\t 12 ", "00012", "0.0.0", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "1.5e400", "0x7fffffffffffffffff",
    "12abc", "1e5.5", "0x1P-2", "0xep1", ".", "-", "0x1.8", "3 4",
    string.rep("1", 200), string.rep("1", 201), string.rep("1", 199) .. " 2",
    "0x" .. string.rep("f", 198), "-" .. string.rep("9", 199), string.rep(" ", 300) .. "7",
  }
  for _, s in ipairs(numerals) do
    it(("'n' on %q matches io"):format(#s > 30 and s:sub(1, 20) .. "..." or s), function()
      local want, got = both(s, "n", "n")
      assert.same(want, got)
    end)
  end

  it("'n' gives integers and floats as io does", function()
    local f = memobj.file("42 42.0 0x10 1e2")
    local a, b, c, d = f:read("n", "n", "n", "n")
    assert.equal("integer", math.type(a))
    assert.equal("float", math.type(b))
    assert.equal(16, c)
    assert.equal("float", math.type(d))
  end)

  it("'n' at the 200-character limit consumes 200 characters and fails", function()
    local s = string.rep("1", 250)
    local f = memobj.file(s)
    assert.is_nil(f:read("n"))
    assert.equal(200, f:seek())
    assert.equal(string.rep("1", 50), f:read("a"))
  end)

  local lines = {"", "a", "a\n", "a\n\nb", "a\r\nb\r\n", "\n", "\n\n", "abc\ndef"}
  for _, s in ipairs(lines) do
    for _, fmt in ipairs({"l", "L", "*l", "*L"}) do
      it(("%q on %q matches io"):format(fmt, s), function()
        local want, got = both(s, fmt, fmt, fmt)
        assert.same(want, got)
      end)
    end
  end

  it("'l' is the default and the line iterator's format", function()
    local want, got = both("x\ny\n")
    assert.same(want, got)
    local t = {}
    for l in memobj.file("x\n\ny"):lines() do t[#t + 1] = l end
    assert.same({"x", "", "y"}, t)
  end)

  it("'a' returns the rest, then an empty string, never nil", function()
    local f = memobj.file("abc")
    assert.equal("abc", f:read("a"))
    assert.equal("", f:read("a"))
    assert.equal("", f:read("*a"))
    local want, got = both("", "a", "a", "l")
    assert.same(want, got)
  end)

  it("counts: 0 tests for end of file, short counts return what is left", function()
    for _, s in ipairs({"", "a", "abcdef"}) do
      for _, n in ipairs({0, 1, 2, 5, 6, 100}) do
        local want, got = both(s, n, 0, n, 0)
        assert.same(want, got)
      end
    end
  end)

  it("a negative count is a huge count: the rest", function()
    local f = memobj.file("abc")
    assert.equal("abc", f:read(-1))
    assert.is_nil(f:read(-1))
  end)

  it("several formats per call stop at the first failure", function()
    local want, got = both("1 2 x 3\nrest", "n", "n", "n", "l")
    assert.same(want, got)
    assert.same({true, 1, 2, nil, n = 4, rest = "x 3\nrest"}, got)
    want, got = both("12\nab\n", "n", "l", "L", 1, "a")
    assert.same(want, got)
  end)

  it("reads past a seek beyond the data see end of file", function()
    local m = heapof("abcdef")
    local f = m:file("w+")
    assert.equal(3, f:seek("set", 3))
    assert.same({nil}, {f:read("l")})
    assert.same({""}, {f:read("a")})
    assert.is_nil(f:read(0))
    assert.is_nil(f:read("n"))
  end)

  it("lines with formats, as io's", function()
    local real = realfile("1 2\n3 4\n5", "rb")
    local f = memobj.file("1 2\n3 4\n5")
    local a, b = {}, {}
    for x, y in real:lines("n", "n") do a[#a + 1] = {x, y} end
    for x, y in f:lines("n", "n") do b[#b + 1] = {x, y} end
    assert.same(a, b)
    assert.same({{1, 2}, {3, 4}, {5}}, b)
    real:close()
  end)
end)

---------------------------------------------------------------------------
describe("file view writes", function()
  after_each(cleanup)

  it("formats numbers as io does", function()
    local values = {0, -1, 7, math.maxinteger, math.mininteger, 0.1, -0.0, 1 / 3,
                    1e100, 2 ^ 63, 1e-310, 1 / 0, -1 / 0, 123456789012345.0}
    local real = io.tmpfile()
    local m = memobj.heap(1000)
    local f = m:file("w+")
    for _, v in ipairs(values) do
      assert.equal(f, f:write(v, " "))
      real:write(v, " ")
    end
    real:seek("set")
    f:seek("set")
    assert.equal(real:read("a"), f:read("a"))
    real:close()
  end)

  it("copies memory objects and views raw", function()
    local src = heapof("\0\1\2xyz")
    local m = memobj.heap(20)
    local f = m:file("w+")
    local v = src:file("r")
    assert.equal(f, f:write(src, "|", v, "|", memobj.file("str")))
    f:seek("set")
    assert.equal("\0\1\2xyz|\0\1\2xyz|str", f:read("a"))
    v:close()
    assert.has_error(function() f:write(v) end, "memobj: view is released")
  end)

  it("copies within the same memory (overlapping)", function()
    local m = heapof("abcdefgh")
    local f = m:file("r+")
    local g = m:file("r")
    f:seek("set", 2)
    assert.same({nil, "no space left in memory object", 28}, {f:write(g)})
    f:seek("set", 0)
    assert.equal(f, f:write(g))
    assert.equal("abcdefgh", bytes(m))
  end)

  it("copies a source lying in the gap before zero-filling the gap", function()
    local m = heapof("abcdefgh")
    local f = m:file("w")
    f:seek("set", 4)
    local src = memobj.file(m, "r")
    assert.same({nil, "no space left in memory object", 28}, {f:write(src)})
    local g = memobj.heap(16)
    local h = g:file("r+")
    h:write("0123456789")
    h:close()
    local w = g:file("w")
    local part = g:array("u8", 2, 4)  -- bytes "2345", inside the gap
    w:seek("set", 8)
    assert.equal(w, w:write(part))
    assert.equal("\0\0\0\0\0\0\0\0" .. "2345", bytes(g):sub(1, 12))
    assert.equal(12, w:seek("end"))
  end)

  it("a write that does not fit writes nothing of that argument", function()
    local m = heapof("..........")
    local f = m:file("r+")
    local r = {f:write("abc", "defgh", "ijk", "z")}
    assert.same({nil, "no space left in memory object", 28}, r)
    assert.equal("abcdefgh..", bytes(m))
    assert.equal(8, f:seek())
    assert.equal(10, m.size)
    assert.equal(f, f:write("12"))
    assert.same({nil, "no space left in memory object", 28}, {f:write("x")})
    assert.same({nil, "no space left in memory object", 28}, {f:write(1)})
    assert.equal(f, f:write(""))
    assert.equal("abcdefgh12", bytes(m))
  end)

  it("a write that raises on an argument writes nothing", function()
    local m = heapof("......")
    local f = m:file("r+")
    assert.has_error(function() f:write("abc", 1, {}) end,
      "bad argument #3 to 'write' (string expected, got table)")
    local v = m:file("r")
    v:close()
    assert.has_error(function() f:write("abc", v) end, "memobj: view is released")
    assert.equal(0, f:seek())
    assert.equal("......", bytes(m))
  end)

  it("mode w starts empty and zero-fills gaps, as a file with holes", function()
    local m = heapof("XXXXXXXX")
    local f = m:file("w+")
    assert.equal(0, f:seek("end"))
    assert.equal("", f:read("a"))
    f:seek("set", 3)
    f:write("ab")
    assert.equal(5, f:seek("end"))
    assert.equal("\0\0\0abXXX", bytes(m))
    f:seek("set", 7)
    f:write("")  -- writing nothing fills nothing, as fwrite
    assert.equal(5, f:seek("end"))
  end)

  it("mode a writes at the end whatever the position; full memory has no space", function()
    local m = heapof("abc")
    local f = m:file("a+")
    assert.equal(0, f:seek())
    assert.equal("abc", f:read("a"))
    f:seek("set", 0)
    assert.same({nil, "no space left in memory object", 28}, {f:write("x")})
    local g = m:file("a")
    assert.equal(3, g:seek())
  end)

  it("copies typed arrays raw and opens over an array's range", function()
    local m = memobj.heap(8)
    local f = m:file("w+")
    assert.equal(f, f:write(memobj.array("u8", {65, 66, 67}), memobj.array("u16le", {0x4544})))
    f:seek("set")
    assert.equal("ABCDE", f:read("a"))
    local a = m:array("u8", 2, 3)
    local g = memobj.file(a, "r+")
    assert.equal(2, g.offset)
    assert.equal(3, g.length)
    assert.equal("CDE", g:read("a"))
    g:seek("set")
    assert.equal(g, g:write("xyz"))
    assert.same({nil, "no space left in memory object", 28}, {g:write("!")})
    assert.same({nil, "Invalid argument", 22}, {g:seek("set", 4)})
    f:seek("set")
    assert.equal("ABxyz", f:read("a"))
    assert.equal(122, a[3])
    assert.has_error(function() memobj.file(m:array("u8", 0, 2, "r"), "w") end,
      "bad argument #2 to 'file' (memory is read-only)")
  end)

  it("a file view over a view of a file view covers the same bytes", function()
    local m = heapof("hello")
    local f = m:file("r+")
    local g = memobj.file(f, "r+")
    assert.equal(g, g:write("J"))
    assert.equal("Jello", f:read("a"))
    assert.equal(0, g.offset)
    assert.equal(5, g.length)
  end)
end)

---------------------------------------------------------------------------
describe("file view seek, flush, setvbuf, close", function()
  it("seeks anywhere in 0..capacity, fails beyond as lseek", function()
    local m = memobj.heap(10)
    local f = m:file("w+")
    assert.equal(0, f:seek())
    assert.equal(10, f:seek("set", 10))
    assert.equal(10, f:seek("cur"))
    assert.same({nil, "Invalid argument", 22}, {f:seek("set", 11)})
    assert.same({nil, "Invalid argument", 22}, {f:seek("set", -1)})
    assert.same({nil, "Invalid argument", 22}, {f:seek("cur", math.maxinteger)})
    assert.same({nil, "Invalid argument", 22}, {f:seek("cur", math.mininteger)})
    assert.equal(10, f:seek())  -- a failed seek does not move
    assert.equal(0, f:seek("end"))
    assert.equal(4, f:seek("end", 4))
    assert.equal(2, f:seek("cur", -2))
    assert.has_error(function() f:seek("foo") end,
      "bad argument #1 to 'seek' (invalid option 'foo')")
    assert.has_error(function() f:seek("set", 1.5) end,
      "bad argument #2 to 'seek' (number has no integer representation)")
  end)

  it("flush syncs and returns true; setvbuf is accepted", function()
    local f = memobj.heap(4):file("w")
    assert.is_true(f:flush())
    assert.is_true(memobj.file("abc"):flush())
    assert.is_true(f:setvbuf("no"))
    assert.is_true(f:setvbuf("full", 1024))
    assert.is_true(f:setvbuf("line"))
    assert.has_error(function() f:setvbuf("x") end,
      "bad argument #1 to 'setvbuf' (invalid option 'x')")
  end)

  it("close releases the lock; every later use raises io's message", function()
    local m = memobj.heap(4)
    local f = m:file("r+")
    assert.equal(1, m.locks)
    assert.has_error(function() m:close() end)
    assert.is_true(f:close())
    assert.equal(0, m.locks)
    assert.is_true(f.released)
    for _, method in ipairs({"read", "write", "seek", "lines", "flush", "setvbuf", "close"}) do
      assert.has_error(function() f[method](f, "no") end, "attempt to use a closed file")
    end
    f:release()  -- release stays idempotent
    assert.equal("memobj.file (closed)", tostring(f))
    assert.is_true(m:close())
  end)

  it("a line iterator of a closed file raises as io's", function()
    local f = memobj.file("a\nb\n")
    local it = f:lines()
    assert.equal("a", it())
    f:close()
    assert.has_error(it, "file is already closed")
  end)

  it("<close> and the garbage collector release the lock", function()
    local m = memobj.heap(8)
    do
      local f <close> = m:file("w")
      f:write("x")
      assert.equal(1, m.locks)
    end
    assert.equal(0, m.locks)
    m:file("r")
    collectgarbage()
    collectgarbage()
    assert.equal(0, m.locks)
  end)

  it("tostring, fields", function()
    local m = memobj.heap(8)
    local f = m:file()
    assert.matches("^memobj%.file %(0x%x+%)$", tostring(f))
    assert.equal(m, f.memory)
    assert.equal(0, f.offset)
    assert.equal(8, f.length)
    assert.is_true(f.readonly)
    assert.is_false(f.released)
    assert.is_false(m:file("w").readonly)
    assert.is_nil(f.nosuchfield)
  end)
end)

---------------------------------------------------------------------------
describe("file view errors", function()
  after_each(cleanup)

  it("reading a write-only view and writing a read-only one fail as io", function()
    local real = realfile("", "w")
    local f = memobj.heap(4):file("w")
    for _, fmt in ipairs({"l", "n", "a", 0, 3}) do
      assert.same(call(real, "read", fmt), call(f, "read", fmt))
      assert.same({true, nil, "Bad file descriptor", 9, n = 4}, call(f, "read", fmt))
    end
    assert.same(call(real, "read"), call(f, "read"))
    assert.has_error(function() f:lines()() end, "Bad file descriptor")
    real:close()
    local r = memobj.heap(4):file("r")
    assert.same({nil, "Bad file descriptor", 9}, {r:write("x")})
    assert.same({nil, "Bad file descriptor", 9}, {r:write(1, 2)})
    assert.same({nil, "Bad file descriptor", 9}, {memobj.heap(4):file("a"):read()})
  end)

  it("bad formats and arguments raise as io", function()
    local f = memobj.file("abc")
    assert.has_error(function() f:read("x") end, "bad argument #1 to 'read' (invalid format)")
    assert.has_error(function() f:read("l", "q") end, "bad argument #2 to 'read' (invalid format)")
    assert.has_error(function() f:read({}) end,
      "bad argument #1 to 'read' (string expected, got table)")
    assert.has_error(function() f:read(1.5) end,
      "bad argument #1 to 'read' (number has no integer representation)")
    local w = memobj.heap(4):file("w")
    assert.has_error(function() w:write({}) end,
      "bad argument #1 to 'write' (string expected, got table)")
    assert.has_error(function() w:write("a", true) end,
      "bad argument #2 to 'write' (string expected, got boolean)")
    local many = {}
    for i = 1, 251 do many[i] = "l" end
    assert.has_error(function() f:lines(unpack(many)) end)
    assert.is_function(f:lines(unpack(many, 1, 250)))
    assert.has_error(function() f.read(io.stdout) end)
    assert.has_error(function() f.read({}) end)
  end)

  it("opening: modes as io.open, write modes refused on read-only memory", function()
    local m = memobj.heap(4)
    for _, md in ipairs({"r", "r+", "w", "w+", "a", "a+", "rb", "r+b", "wbb"}) do
      assert.is_userdata(m:file(md))
    end
    for _, md in ipairs({"", "rw", "x", "+", "r+a", "b"}) do
      assert.has_error(function() m:file(md) end, "bad argument #1 to 'file' (invalid mode)")
    end
    for _, md in ipairs({"r+", "w", "a", "a+", "w+"}) do
      assert.has_error(function() memobj.file("abc", md) end,
        "bad argument #2 to 'file' (memory is read-only)")
      assert.has_error(function() memobj.file(m:file("r"), md) end,
        "bad argument #2 to 'file' (memory is read-only)")
    end
    assert.has_error(function() memobj.file(42) end)
    collectgarbage()
    collectgarbage()
    m:close()
    assert.has_error(function() m:file() end, "memobj: memory object is closed")
  end)

  it("a Lua string is read through without a copy", function()
    local s = "line one\nline two\n"
    local f = memobj.file(s)
    assert.equal("string", f.memory.kind)
    assert.same({"line one", "line two"}, {f:read("l", "l")})
  end)
end)

---------------------------------------------------------------------------
describe("examples/parse_records.lua", function()
  it("parses a heap buffer as it parses a real file", function()
    local lua = os.getenv("LUA") or "lua5.4"
    local p = assert(io.popen(lua .. " examples/parse_records.lua 2>&1"))
    local out = p:read("a")
    local ok = p:close()
    assert.is_true(ok, out)
    assert.matches("same as io.open", out, 1, true)
    assert.matches("total 33.95", out, 1, true)
    assert.matches("matrix 1 16 2.5 -4 1000.0 6", out, 1, true)
  end)
end)

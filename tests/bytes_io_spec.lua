-- b:readfrom and b:writeto over real files, pipes, io.popen handles,
-- raw descriptors (pipe(2) through memobj.ffi) and LuaSocket over
-- loopback. The stdio buffer of a Lua file handle is honoured: nothing
-- already buffered is skipped or reordered.
local memobj = require("memobj")
local ffi = require("memobj.ffi")
local socket = require("socket")
local build = os.getenv("MEMOBJ_BUILD") or "build"
local oshook = assert(package.loadlib(build .. "/test/oshook.so", "luaopen_oshook"))()

local libc = assert(ffi.load())
local pipe2 = libc:func("pipe2", "int", {"wbuffer", "int"}, {errno = true})
local cclose = libc:func("close", "int", {"int"})
local O_NONBLOCK = 2048  -- Linux (x86, arm)

local tmp
local function readfile(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
local function writefile(p, s)
  local f = assert(io.open(p, "wb"))
  f:write(s)
  f:close()
end

-- a pipe: read end, write end (raw descriptors)
local fds = {}
local function pipe(flags)
  local a = memobj.array("i32", 2)
  assert(pipe2(a, flags or 0) == 0)
  fds[#fds + 1], fds[#fds + 2] = a[1], a[2]
  return a[1], a[2]
end

before_each(function() tmp = os.tmpname() end)
after_each(function()
  oshook.reset()
  for _, fd in ipairs(fds) do cclose(fd) end
  fds = {}
  os.remove(tmp)
  collectgarbage()
end)

local DATA = {}
for k = 1, 20000 do DATA[k] = string.char(k % 251) end
DATA = table.concat(DATA)  -- 20000 bytes, more than a stdio buffer

describe("readfrom", function()
  it("reads a file after what f:read buffered, then f:read goes on", function()
    writefile(tmp, DATA)
    local f = assert(io.open(tmp, "rb"))
    assert.equal(DATA:sub(1, 5), f:read(5))  -- stdio now holds 4091 more
    local b = memobj.bytes(memobj.heap(10000))
    assert.equal(10000, b:readfrom(f))
    assert.is_true(b:equals(DATA:sub(6, 10005)))
    assert.equal(10005, f:seek("cur"))      -- the position stdio reports
    assert.equal(DATA:sub(10006, 10010), f:read(5))
    assert.equal(3000, b:readfrom(f, 1001, 4000))
    assert.is_true(b:sub(1001, 4000):equals(DATA:sub(10011, 13010)))
    assert.is_true(b:sub(1, 1000):equals(DATA:sub(6, 1005)))  -- untouched
    assert.equal(20000 - 13010, b:readfrom(f))
    assert.equal(0, b:readfrom(f))           -- end of file
    assert.is_nil(f:read(1))
    f:close()
    assert.error_matches(function() b:readfrom(f) end, "attempt to use a closed file")
  end)

  it("a pipe from io.popen: the buffered part first, then what has come", function()
    local p = assert(io.popen("printf 'abcdef'; sleep 0.3; printf 'ghi'", "r"))
    assert.equal("a", p:read(1))
    local b = memobj.bytes(memobj.heap(100))
    local got = {}
    local n = b:readfrom(p)
    while n > 0 do
      got[#got + 1] = b:string(1, n)
      n = b:readfrom(p)
    end
    assert.equal("bcdefghi", table.concat(got))
    assert.is_true(#got >= 2)  -- no wait for a full view: "bcdef" came first
    p:close()
  end)

  it("a raw descriptor, a non-blocking one (EAGAIN) and EINTR", function()
    local r, w = pipe(O_NONBLOCK)
    local b = memobj.bytes(memobj.heap(64))
    local n, msg, err = b:readfrom(r)
    assert.is_nil(n)
    assert.equal(11, err)  -- EAGAIN
    assert.matches("readfrom: Resource temporarily unavailable", msg, 1, true)
    assert.equal(5, memobj.bytes("hello"):writeto(w))
    oshook.fail("read", "EINTR")               -- retried
    assert.equal(5, b:readfrom(r, 3))
    assert.equal("hello", b:string(3, 7))
    assert.equal(2, oshook.calls("read"))
  end)

  it("refuses read-only views, bad sources and extra arguments", function()
    local ro = memobj.bytes("abc")
    assert.error_matches(function() ro:readfrom(0) end, "read%-only")
    local b = memobj.bytes(memobj.heap(4))
    assert.error_matches(function() b:readfrom() end, "bad argument #1 to 'readfrom'")
    assert.error_matches(function() b:readfrom("x") end, "file, file descriptor or object with getfd")
    assert.error_matches(function() b:readfrom({}) end, "file, file descriptor or object with getfd")
    assert.error_matches(function() b:readfrom(-1) end, "non%-negative integer")
    assert.error_matches(function() b:readfrom(0, 1, 2, 3) end, "no value expected")
    assert.equal(0, b:readfrom(0, 3, 2))  -- an empty range reads nothing
    local n, _, err = b:readfrom(987654)
    assert.is_nil(n)
    assert.equal(9, err)  -- EBADF
  end)

  it("goes through the write guard: a transaction rolls the read back", function()
    local r, w = pipe()
    local m = memobj.heap(8)
    local b = m:bytes()
    b:fill(0x2e)
    memobj.bytes("12345678"):writeto(w)
    assert.has_error(function()
      m:transaction(function()
        assert.equal(8, b:readfrom(r))
        assert.equal("12345678", b:string())
        error("undo")
      end)
    end)
    assert.equal("........", b:string())
  end)
end)

describe("writeto", function()
  it("flushes what f:write buffered first; f:write and f:seek go on after", function()
    local f = assert(io.open(tmp, "wb"))
    f:write("head:")
    local b = memobj.bytes(DATA)
    assert.equal(#DATA, b:writeto(f))
    assert.equal(5 + #DATA, f:seek("cur"))
    f:write(":tail")
    assert.equal(3, b:writeto(f, -3))
    f:close()
    assert.equal("head:" .. DATA .. ":tail" .. DATA:sub(-3), readfile(tmp))
  end)

  it("into io.popen pipes, and short writes and EINTR are retried", function()
    local p = assert(io.popen("cat > " .. tmp, "w"))
    p:write("<")
    local b = memobj.bytes(DATA)
    local calls = oshook.calls("write")
    oshook.short("write")
    assert.equal(#DATA, b:writeto(p))          -- half, then the rest
    assert.equal(calls + 2, oshook.calls("write"))
    oshook.fail("write", "EINTR")
    assert.equal(#DATA, b:writeto(p))          -- EINTR, then all
    assert.equal(calls + 4, oshook.calls("write"))
    p:write(">")
    p:close()
    assert.equal("<" .. DATA .. DATA .. ">", readfile(tmp))
  end)

  it("EAGAIN gives nil, message, errno and the count written", function()
    local r, w = pipe(O_NONBLOCK)
    local big = memobj.bytes(memobj.heap(1 << 20))
    local n, msg, err, done = big:writeto(w)
    assert.is_nil(n)
    assert.equal(11, err)
    assert.matches("writeto:", msg, 1, true)
    assert.is_true(done > 0 and done < (1 << 20))
    local sink = memobj.bytes(memobj.heap(1 << 20))
    local total = 0
    repeat
      local k = sink:readfrom(r, total + 1)
      total = total + (k or 0)
    until not k or k == 0
    assert.equal(done, total)
  end)
end)

describe("LuaSocket over loopback", function()
  it("writeto and readfrom move 4 MB both ways, no string made", function()
    local server = assert(socket.bind("127.0.0.1", 0))
    local _, port = server:getsockname()
    local c = assert(socket.connect("127.0.0.1", port))
    local s = assert(server:accept())
    local size = 4 << 20
    local src = memobj.heap(size)
    local a = src:array("u32")
    for k = 1, #a, 997 do a[k] = k end
    local dst = memobj.bytes(memobj.heap(size))
    -- writer and reader take turns in chunks (one thread): 256 KB each
    local sent, got = 0, 0
    local sb = src:bytes()
    while got < size do
      if sent < size then
        local n = sb:writeto(c, sent + 1, math.min(sent + (256 << 10), size))
        sent = sent + n
      end
      local n = dst:readfrom(s, got + 1)
      assert.is_true(n > 0)
      got = got + n
    end
    assert.is_true(dst:equals(sb))
    -- a socket that holds received bytes of its own is refused
    assert.equal(4, memobj.bytes("x\nyz"):writeto(c))
    assert.equal("x", s:receive("*l"))
    assert.error_matches(function() dst:readfrom(s) end, "dirty")
    assert.equal("yz", s:receive(2))
    c:close()
    assert.equal(0, dst:readfrom(s))  -- the peer closed
    s:close()
    server:close()
    assert.error_matches(function() dst:readfrom(s) end, "getfd")
  end)
end)

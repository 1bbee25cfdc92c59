-- memobj.memfd: anonymous memory with a file descriptor, shared with real
-- lua5.4 child processes through m.path, sealed against size changes by
-- default.
local memobj = require("memobj")
local procs = require("mo_procs")
local build = os.getenv("MEMOBJ_BUILD") or "build"
local oshook = assert(package.loadlib(build .. "/test/oshook.so", "luaopen_oshook"))()

local function readlink(p)
  local h = assert(io.popen("readlink " .. p))
  local s = h:read("l")
  h:close()
  return s
end

describe("memobj.memfd", function()
  after_each(function() oshook.reset() end)

  it("makes zeroed, writable memory with an fd and a /proc path", function()
    local m = assert(memobj.memfd(5000))
    assert.equal("memfd", m.kind)
    assert.equal("volatile", m.persistence)
    assert.equal(5000, m.size)
    assert.equal("rw", m.permission)
    assert.is_true(m.sealed)
    assert.is_true(math.type(m.fd) == "integer" and m.fd >= 0)
    assert.matches("^/proc/%d+/fd/" .. m.fd .. "$", m.path)
    local a = m:array("u8")
    assert.equal(0, a[1] + a[5000])
    a[5000] = 255
    assert.equal(255, a[5000])
    a:release()
    m:close()
  end)

  it("names the file as the name option says", function()
    local m = assert(memobj.memfd(10, {name = "mo-test-name"}))
    assert.matches("memfd:mo%-test%-name", readlink(m.path))
    m:close()
  end)

  it("closing it closes the descriptor: the path is gone", function()
    local m = assert(memobj.memfd(10))
    local p = m.path
    assert.is_truthy(io.open(p, "rb")):close()
    m:close()
    assert.is_nil(io.open(p, "rb"))
  end)

  it("sealed (the default): resize raises and nothing changes", function()
    local m = assert(memobj.memfd(100))
    m:bytes():fill(120)
    local ok, e = pcall(m.resize, m, 50)
    assert.is_false(ok)
    assert.matches("resize: Operation not permitted", e)
    assert.has_error(function() m:resize(200) end)
    assert.equal(100, m.size)
    assert.equal(("x"):rep(100), m:bytes():string())
    m:close()
  end)

  it("seal = false resizes, keeping the bytes; max keeps the address", function()
    local m = assert(memobj.memfd(10, {seal = false, max = 1 << 20}))
    assert.is_false(m.sealed)
    local p = m.pointer
    m:bytes():put(1, ("ab"):rep(5))
    m:resize(100000)
    assert.equal(100000, m.size)
    assert.equal(p, m.pointer)
    assert.equal("ababababab", m:bytes(0, 10):string())
    assert.equal(0, m:array("u8")[100000])
    m:resize(4)
    assert.equal("abab", m:bytes():string())
    m:close()
  end)

  it("refuses bad options", function()
    assert.has_error(function() memobj.memfd(-1) end)
    assert.has_error(function() memobj.memfd(10, "x") end)
    assert.has_error(function() memobj.memfd(10, {name = 5}) end)
    assert.has_error(function() memobj.memfd(10, {name = ("n"):rep(250)}) end)
    assert.has_error(function() memobj.memfd(10, {name = "a\0b"}) end)
    assert.has_error(function() memobj.memfd(10, {max = 100}) end)  -- sealed
    assert.has_error(function() memobj.memfd(10, {seal = false, max = 5}) end)
  end)

  it("returns nil, message, errno when the OS refuses", function()
    oshook.fail("memfd_create", "EMFILE")
    local m, msg, err = memobj.memfd(10)
    assert.is_nil(m)
    assert.matches("memfd", msg)
    assert.equal(24, err)
    -- sealing fails: the descriptor made before is closed again
    oshook.fail("fcntl", "EPERM")
    oshook.calls("close")
    m, msg, err = memobj.memfd(10)
    assert.is_nil(m)
    assert.equal(1, err)
    assert.equal(1, oshook.calls("close"))
    -- EINTR from ftruncate is retried inside the OS layer
    oshook.fail("ftruncate", "EINTR")
    m = assert(memobj.memfd(10))
    assert.equal(2, oshook.calls("ftruncate"))
    m:close()
  end)

  it("is counted in stats()", function()
    local s0 = memobj.stats().memfd
    local m = assert(memobj.memfd(3000))
    local s1 = memobj.stats().memfd
    assert.equal(s0.count + 1, s1.count)
    assert.equal(s0.bytes + 3000, s1.bytes)
    m:close()
    assert.equal(s0.count, memobj.stats().memfd.count)
  end)

  it("is shared with another process through m.path", function()
    local m = assert(memobj.memfd(4096, {name = "mo-test-share"}))
    m:bytes():put(1, "hello")
    local out, ok = procs.run([[
      local m = assert(memobj.map(arg[1], {mode = "rw"}))
      io.write(m:bytes(0, 5):string(), " ", m.size, "\n")
      m:bytes():put(101, "child!")
      -- the seal: the child cannot shrink the file under the parent
      local ok, e = pcall(m.resize, m, 0)
      io.write(tostring(ok), " ", e, "\n")
    ]], {m.path})
    assert.is_true(ok, out)
    assert.matches("hello 4096", out)
    assert.matches("false [^\n]*Operation not permitted", out)
    assert.equal("child!", m:bytes(100, 6):string())
    assert.equal(4096, m.size)
    assert.equal(0, m:array("u8")[4096])  -- still mapped, no SIGBUS
    m:close()
  end)

  it("unsealed, a child may truncate it: the parent gets an error, not SIGBUS", function()
    local m = assert(memobj.memfd(8192, {seal = false}))
    local out, ok = procs.run([[
      local m = assert(memobj.map(arg[1], {mode = "rw"}))
      m:resize(0)
      io.write("truncated\n")
    ]], {m.path})
    assert.is_true(ok, out)
    assert.matches("truncated", out)
    local a = m:array("u8")
    assert.has_error(function() return a[8000] end)
    a:release()
    m:close()
  end)

  it("works with transactions", function()
    local m = assert(memobj.memfd(64))
    local a = m:array("i32")
    m:begin()
    a[1] = 42
    m:abort()
    assert.equal(0, a[1])
    m:transaction(function() a[2] = 7 end)
    assert.equal(7, a[2])
    a:release()
    m:close()
  end)
end)

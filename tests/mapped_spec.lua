-- mapped_spec.lua: memobj.map over real files: modes, offsets, empty
-- files, create, resize (with and without views, with max), private
-- copy-on-write, sync/advise/protect, OS failures.
local memobj = require("memobj")
local P = require("mo_procs")

local PAGE = 4096

local function pattern(n)
  local t = {}
  for i = 0, n - 1 do t[#t + 1] = string.char(i % 251) end
  return table.concat(t)
end

-- bytes of a memory object as a Lua string, through a u8 array
local function content(m, off, n)
  local a = m:array("u8", off or 0, n)
  local t = a:totable()
  a:release()
  local s = {}
  for i = 1, #t, 4096 do
    s[#s + 1] = string.char(table.unpack(t, i, math.min(i + 4095, #t)))
  end
  return table.concat(s)
end

describe("memobj.map", function()
  local files = {}
  local function tmp(c)
    local p = P.tmpfile(c)
    files[#files + 1] = p
    return p
  end
  after_each(function()
    collectgarbage()
    for _, p in ipairs(files) do os.remove(p) end
    files = {}
  end)

  describe("opening", function()
    it("maps a file read-only by default, with its fields", function()
      local data = pattern(3 * PAGE + 17)
      local p = tmp(data)
      local m = assert(memobj.map(p))
      assert.equal("mapped", m.kind)
      assert.equal("file", m.persistence)
      assert.equal(p, m.path)
      assert.equal("r", m.permission)
      assert.equal(#data, m.size)
      assert.equal(#data, #m)
      assert.is_true(m.pointer > 0)
      assert.equal(data, content(m))
      assert.matches("memobj.mapped: %d+ bytes, r", tostring(m))
      m:close()
      assert.is_true(m.closed)
    end)

    it("refuses writes through a read-only map", function()
      local p = tmp(pattern(100))
      local m = assert(memobj.map(p))
      local a = m:array("u8")
      assert.error_matches(function() a[1] = 5 end, "read%-only")
      assert.error_matches(function() m:array("u8", 0, nil, "rw") end,
                           "memory is read%-only")
      assert.error_matches(function() m:resize(10) end, "resize")
      assert.equal(100, P.filesize(p))
    end)

    it("rw writes reach the file", function()
      local p = tmp(pattern(2 * PAGE))
      local m = assert(memobj.map(p, {mode = "rw"}))
      assert.equal("rw", m.permission)
      local a = m:array("u8")
      a[1] = 200
      a[2 * PAGE] = 201
      assert.is_true(m:sync())
      local s = P.readfile(p)
      assert.equal(200, s:byte(1))
      assert.equal(201, s:byte(2 * PAGE))
      assert.equal(pattern(2 * PAGE):sub(2, -2), s:sub(2, -2))
    end)

    it("private is copy-on-write and never touches the file", function()
      local data = pattern(2 * PAGE + 5)
      local p = tmp(data)
      local m = assert(memobj.map(p, {mode = "private"}))
      assert.equal("rw", m.permission)
      local a = m:array("u8")
      a:fill(7)
      assert.equal(7 * #data, a:sum())
      assert.is_true(m:sync())
      a:release()
      m:resize(5 * PAGE)  -- beyond the end of the file: zeros
      local b = m:array("u8")
      assert.equal(7, b[#data])
      assert.equal(0, b[#data + 1])
      assert.equal(0, b[5 * PAGE])
      b[5 * PAGE] = 9
      b:release()
      m:resize(10)
      assert.equal(data, P.readfile(p))
      local m2 = assert(memobj.map(p))
      assert.equal(data, content(m2))
    end)

    it("a private map grown past its reservation keeps its changes", function()
      local data = pattern(PAGE)
      local p = tmp(data)
      local m = assert(memobj.map(p, {mode = "private", size = 10}))
      local a = m:array("u8")
      a[1] = 99
      a:release()
      m:resize(PAGE)        -- shows the rest of the file
      assert.equal(string.char(99) .. data:sub(2), content(m))
      m:resize(64 * PAGE)   -- moves: changes and file bytes come along
      assert.equal(string.char(99) .. data:sub(2), content(m, 0, PAGE))
      assert.equal(string.rep("\0", 63 * PAGE), content(m, PAGE))
      assert.equal(data, P.readfile(p))
    end)

    it("rejects unknown modes and create without rw", function()
      local p = tmp("abc")
      assert.error_matches(function() memobj.map(p, {mode = "w"}) end,
                           "unknown mode 'w'")
      assert.error_matches(function() memobj.map(p, {create = 10}) end,
                           "create needs mode 'rw'")
      assert.error_matches(function() memobj.map(p, {offset = -1}) end,
                           "non%-negative")
      assert.error_matches(function() memobj.map(p, 5) end, "table expected")
    end)

    it("returns nil, message, errno for OS failures", function()
      local m, msg, err = memobj.map("/nonexistent/dir/file")
      assert.is_nil(m)
      assert.equal("/nonexistent/dir/file: No such file or directory", msg)
      assert.equal(2, err)
      m, msg, err = memobj.map("/tmp", {mode = "rw"})
      assert.is_nil(m)
      assert.equal("/tmp: Is a directory", msg)
      assert.equal(21, err)  -- EISDIR
      m, msg, err = memobj.map("/tmp")
      assert.is_nil(m)
      assert.is_number(err)
    end)
  end)

  describe("offsets and sizes", function()
    it("maps from an unaligned offset", function()
      local data = pattern(3 * PAGE)
      local p = tmp(data)
      for _, off in ipairs({1, 7, PAGE - 1, PAGE, PAGE + 3, 2 * PAGE + 100}) do
        local m = assert(memobj.map(p, {offset = off}))
        assert.equal(#data - off, m.size)
        assert.equal(data:sub(off + 1), content(m))
        local m2 = assert(memobj.map(p, {offset = off, size = 50}))
        assert.equal(data:sub(off + 1, off + 50), content(m2))
      end
    end)

    it("an offset at the end gives an empty object", function()
      local p = tmp(pattern(PAGE + 1))
      local m = assert(memobj.map(p, {offset = PAGE + 1}))
      assert.equal(0, m.size)
      assert.equal(0, #m:array("f64"))
    end)

    it("an offset or a range beyond the end fails with EINVAL", function()
      local p = tmp(pattern(100))
      local m, msg, err = memobj.map(p, {offset = 101})
      assert.is_nil(m)
      assert.matches("offset beyond the end of the file", msg)
      assert.equal(22, err)
      m, msg, err = memobj.map(p, {offset = 50, size = 51})
      assert.is_nil(m)
      assert.matches("range beyond the end of the file", msg)
      assert.equal(22, err)
      assert.equal(100, P.filesize(p))
    end)

    it("an empty file gives a zero-length object", function()
      local p = tmp("")
      for _, mode in ipairs({"r", "rw", "private"}) do
        local m = assert(memobj.map(p, {mode = mode}))
        assert.equal(0, m.size)
        local a = m:array("f64")
        assert.equal(0, #a)
        assert.equal(0, a:sum())
        assert.is_nil(a[1])
        a:release()
        m:close()
      end
    end)
  end)

  describe("create", function()
    it("creates a missing file with the given length", function()
      local p = os.tmpname()
      os.remove(p)
      files[#files + 1] = p
      local m = assert(memobj.map(p, {mode = "rw", create = 10000}))
      assert.equal(10000, m.size)
      assert.equal(10000, P.filesize(p))
      assert.equal(string.rep("\0", 10000), content(m))
    end)

    it("extends a shorter file and never shrinks a longer one", function()
      local p = tmp("hello")
      local m = assert(memobj.map(p, {mode = "rw", create = 64}))
      assert.equal(64, m.size)
      assert.equal("hello" .. string.rep("\0", 59), P.readfile(p))
      m:close()
      m = assert(memobj.map(p, {mode = "rw", create = 8}))
      assert.equal(64, m.size)
      assert.equal(64, P.filesize(p))
    end)
  end)

  describe("resize", function()
    it("rw resize sets the file length to offset + n", function()
      local data = pattern(2 * PAGE)
      local p = tmp(data)
      local m = assert(memobj.map(p, {mode = "rw", offset = 100, size = 200}))
      m:resize(3 * PAGE)
      assert.equal(3 * PAGE, m.size)
      assert.equal(100 + 3 * PAGE, P.filesize(p))
      assert.equal(data:sub(101), content(m, 0, 2 * PAGE - 100))
      local tail = m:array("u8", 2 * PAGE - 100)
      assert.equal(0, tail:sum())
      tail:release()
      m:resize(10)
      assert.equal(110, P.filesize(p))
      assert.equal(data:sub(1, 110), P.readfile(p))
      m:resize(0)
      assert.equal(0, m.size)
      assert.equal(100, P.filesize(p))
      m:resize(5)
      assert.equal(string.rep("\0", 5), content(m))
    end)

    it("is refused while views are attached, leaving everything as it was", function()
      local data = pattern(PAGE)
      local p = tmp(data)
      local m = assert(memobj.map(p, {mode = "rw"}))
      local a = m:array("u8", 0, 10)
      local ok, msg = pcall(m.resize, m, 2 * PAGE)
      assert.is_false(ok)
      assert.matches("resize: refused", msg)
      assert.matches("array view", msg)
      assert.matches("mapped_spec.lua:%d+", msg)
      assert.equal(PAGE, m.size)
      assert.equal(PAGE, P.filesize(p))
      assert.equal(data, P.readfile(p))
      a:release()
      m:resize(2 * PAGE)
      assert.equal(2 * PAGE, P.filesize(p))
    end)

    it("with max grows in place while views are attached", function()
      local p = tmp(pattern(100))
      local m = assert(memobj.map(p, {mode = "rw", max = 1 << 24}))
      assert.equal(1 << 24, m.max)
      local ptr = m.pointer
      local a = m:array("u8", 0, 100)
      m:resize(1 << 20)
      assert.equal(ptr, m.pointer)
      assert.equal(1 << 20, P.filesize(p))
      local b = m:array("u8")
      b[1 << 20] = 77
      assert.equal(pattern(100):byte(100), a[100])
      m:resize(1 << 24)
      assert.equal(ptr, m.pointer)
      assert.equal(77, b[1 << 20])
      assert.error_matches(function() m:resize((1 << 24) + 1) end,
                           "exceeds the reserved max")
      assert.error_matches(function() m:resize(50) end, "refused")
      b:release()
      m:resize(100)
      assert.equal(100, P.filesize(p))
      assert.equal(pattern(100):byte(7), a[7])
    end)

    it("a resize the OS refuses changes nothing", function()
      local data = pattern(3 * PAGE)
      local p = tmp(data)
      local m = assert(memobj.map(p, {mode = "rw", offset = 10}))
      local ptr = m.pointer
      -- 64 TiB: beyond ext4's largest file (or beyond the address space)
      local ok, msg, err = m:resize(1 << 46)  -- the system fails: io's shape
      assert.is_nil(ok)
      assert.matches("^resize: ", msg)
      assert.is_number(err)
      assert.equal(3 * PAGE - 10, m.size)
      assert.equal(ptr, m.pointer)
      assert.equal(data, P.readfile(p))
      assert.equal(data:sub(11), content(m))
      -- the same, growing in place under a view (32 TiB reserved)
      local r = memobj.map(p, {mode = "rw", max = 1 << 45})
      if r then  -- the reservation itself may be refused: nothing to test
        local v = r:array("u8")
        ptr = r.pointer
        ok, msg = r:resize(1 << 45)
        assert.is_nil(ok)
        assert.matches("^resize: ", msg)
        assert.equal(ptr, r.pointer)
        assert.equal(3 * PAGE, r.size)
        assert.equal(data:byte(-1), v[3 * PAGE])
        assert.equal(data, P.readfile(p))
        v:release()
      end
    end)

    it("refuses max smaller than the size", function()
      local p = tmp(pattern(100))
      assert.error_matches(function() memobj.map(p, {max = 10}) end,
                           "max is smaller than size")
    end)
  end)

  describe("sync, advise, protect", function()
    it("sync takes any byte range", function()
      local p = tmp(pattern(3 * PAGE))
      local m = assert(memobj.map(p, {mode = "rw", offset = 5}))
      assert.is_true(m:sync())
      assert.is_true(m:sync(1, 10))
      assert.is_true(m:sync(PAGE - 3, PAGE + 7))
      assert.is_true(m:sync(m.size, 0))
      assert.error_matches(function() m:sync(m.size + 1) end, "beyond the end")
    end)

    it("advise accepts every hint and keeps the data", function()
      local data = pattern(4 * PAGE)
      local p = tmp(data)
      for _, mode in ipairs({"r", "rw", "private"}) do
        local m = assert(memobj.map(p, {mode = mode}))
        for _, h in ipairs({"normal", "sequential", "random", "willneed",
                            "dontneed"}) do
          assert.is_true(m:advise(h))
        end
        assert.equal(data, content(m))
      end
      assert.error_matches(function() memobj.map(p):advise("soon") end,
                           "invalid option")
    end)

    it("protect makes the memory read-only and back", function()
      local p = tmp(pattern(PAGE))
      local m = assert(memobj.map(p, {mode = "rw"}))
      m:protect("r")
      assert.equal("r", m.permission)
      local a = m:array("u8")
      assert.error_matches(function() a[1] = 1 end, "read%-only")
      a:release()
      m:protect("rw")
      m:array("u8")[1] = 1
      assert.equal(1, P.readfile(p):byte(1))
      local w = m:array("u8")
      assert.error_matches(function() m:protect("r") end, "refused")
      w:release()
      -- a file opened read-only cannot become writable
      local r = assert(memobj.map(p))
      assert.error_matches(function() r:protect("rw") end, "protect")
      assert.equal("r", r.permission)
    end)
  end)

  it("typed arrays compute over a mapped float64 file", function()
    local p = tmp()
    local n = 100000
    local m = assert(memobj.map(p, {mode = "rw", create = n * 8}))
    local a = m:array("f64")
    for i = 1, n do a[i] = i end
    a:release()
    m:close()
    local r = assert(memobj.map(p)):array("f64")
    assert.equal(n * (n + 1) / 2, r:sum())
    assert.equal(n, r:max())
  end)
end)

-- Issue 15.5: a fifo blocked memobj.map forever, and /dev/zero, /dev/null
-- and /proc files mapped as 0-byte objects.
describe("memobj.map of special files", function()
  it("fails at once on a fifo (it does not wait for a writer)", function()
    local fifo = os.tmpname()
    os.remove(fifo)
    assert(os.execute("mkfifo " .. fifo))
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
      local memobj = require("memobj")
      for _, mode in ipairs({"r", "rw", "private"}) do
        print(memobj.map(..., {mode = mode}))
      end
    ]])
    f:close()
    -- a child under `timeout`: the old open blocked forever
    local h = assert(io.popen(("timeout 10 %s %s %s 2>&1; echo status $?")
                              :format(P.lua, script, fifo)))
    local out = h:read("a")
    h:close()
    os.remove(script)
    os.remove(fifo)
    assert.matches("status 0", out)
    local n = 0
    for line in out:gmatch("nil\t[^\n]*") do
      n = n + 1
      assert.equal("nil\t" .. fifo .. ": is a fifo, not a regular file\t19", line)
    end
    assert.equal(3, n)
  end)

  it("refuses devices without a size, /proc files and directories", function()
    local cases = {
      {"/dev/zero", "a device maps only with an explicit size", 19},
      {"/dev/null", "a device maps only with an explicit size", 19},
      {"/proc/self/maps", "this file cannot be mapped", 19},
      {"/proc/self/mem", "this file cannot be mapped", 19},
      {"/tmp", "is a directory, not a regular file", 21},
    }
    for _, c in ipairs(cases) do
      local m, msg, err = memobj.map(c[1])
      assert.is_nil(m, c[1])
      assert.equal(c[1] .. ": " .. c[2], msg)
      assert.equal(c[3], err)
    end
    local m, msg = memobj.map("/dev/zero", {size = 10, mode = "rw", create = 10})
    assert.is_nil(m)
    assert.matches("create needs a regular file", msg)
  end)

  it("maps a device given an explicit size; it cannot be resized", function()
    local m = assert(memobj.map("/dev/zero", {size = 2 * PAGE, mode = "rw"}))
    assert.equal(2 * PAGE, m.size)
    local a = m:array("u8")
    assert.equal(0, a:sum())
    a[PAGE + 1] = 5
    assert.equal(5, a:sum())
    a:release()
    assert.error_matches(function() m:resize(PAGE) end, "resize: Operation not supported")
    m:close()
    -- /dev/null has no pages to map: the OS says so
    local n, msg, err = memobj.map("/dev/null", {size = PAGE})
    assert.is_nil(n)
    assert.equal("/dev/null: No such device", msg)
    assert.equal(19, err)
  end)

  it("still maps an empty regular file", function()
    local p = P.tmpfile("")
    local m = assert(memobj.map(p, {mode = "rw"}))
    assert.equal(0, m.size)
    m:resize(10)
    m:bytes():put(1, "0123456789")
    m:close()
    assert.equal("0123456789", P.readfile(p))
    os.remove(p)
  end)
end)

-- Failures of the OS, injected through the OS layer's table (tests/c/oshook.c).
describe("memobj.map when the OS fails", function()
  local oshook = assert(package.loadlib((os.getenv("MEMOBJ_BUILD") or "build") ..
                                        "/test/oshook.so", "luaopen_oshook"))()
  after_each(function() oshook.reset() end)

  it("returns nil, message, errno and closes the file", function()
    local p = P.tmpfile(pattern(PAGE))
    oshook.calls("close")
    oshook.fail("mmap", "ENOMEM")
    local m, msg, err = memobj.map(p)
    assert.is_nil(m)
    assert.equal(p .. ": Cannot allocate memory", msg)
    assert.equal(12, err)
    assert.equal(1, oshook.calls("close"))
    os.remove(p)
  end)

  it("a failing file length refuses a resize and changes nothing", function()
    local p = P.tmpfile(pattern(PAGE))
    local m = assert(memobj.map(p, {mode = "rw"}))
    oshook.fail("ftruncate", "ENOSPC")
    assert.same({nil, "resize: No space left on device", 28}, {m:resize(4 * PAGE)})
    assert.equal(PAGE, m.size)
    assert.equal(PAGE, P.filesize(p))
    assert.equal(pattern(PAGE), content(m))
    m:close()
    os.remove(p)
  end)
end)

-- Found by the finalizer-chaos fuzzer: a private map made read-only and
-- then grown (the mapping moves) wrote its copy into read-only pages.
describe("a read-only private map", function()
  it("grows by moving, keeps its bytes and stays read-only", function()
    local p = P.tmpfile("hello")
    local m = assert(memobj.map(p, {mode = "private"}))
    m:bytes():put(1, "J")
    m:protect("r")
    m:resize(5 * PAGE)
    assert.equal(5 * PAGE, m.size)
    assert.equal("r", m.permission)
    assert.equal("Jello", m:bytes():string(1, 5))
    assert.equal(0, m:array("u8", 5, 100):sum())
    collectgarbage()
    assert.error_matches(function() m:bytes()[1] = 65 end, "read%-only")
    collectgarbage()
    m:protect("rw")
    m:bytes()[1] = 65
    assert.equal("Aello", m:bytes():string(1, 5))
    m:close()
    assert.equal("hello", P.readfile(p))
    os.remove(p)
  end)
end)

-- The OS layer (runtime/core/os.h): every memory system call goes through a
-- table that a test replaces entry by entry (tests/oshook), so failures
-- of the OS are injected without test code in memobj itself.
local memobj = require("memobj")
local build = os.getenv("MEMOBJ_BUILD") or "build"
local oshook = assert(package.loadlib(build .. "/test/oshook.so", "luaopen_oshook"))()

local ENOMEM = 12

describe("OS layer", function()
  after_each(function() oshook.reset() end)

  it("lists every entry of the table", function()
    local names = {}
    for _, n in ipairs(oshook.names()) do names[n] = true end
    for _, n in ipairs({"mmap", "munmap", "mremap", "mprotect", "madvise", "msync",
                        "open", "close", "fstat", "ftruncate", "fallocate", "fdatasync",
                        "fsync", "pwrite", "pread", "write", "rename", "link", "unlink",
                        "shm_open", "shm_unlink", "memfd_create", "fcntl"}) do
      assert.is_true(names[n], n)
    end
  end)

  it("refuses an entry it does not have", function()
    assert.has_error(function() oshook.fail("nosuchcall", "EIO") end)
  end)

  it("a failing mmap makes heap{max} return nil, message, errno", function()
    oshook.fail("mmap", "ENOMEM")
    local m, msg, err = memobj.heap(100, {max = 1 << 20})
    assert.is_nil(m)
    assert.equal(ENOMEM, err)
    assert.matches("heap", msg)
    assert.equal(1, oshook.calls("mmap"))
    -- the next call is the OS again
    m = assert(memobj.heap(100, {max = 1 << 20}))
    assert.equal(100, m.size)
    m:close()
  end)

  it("a failing mprotect refuses a resize and changes nothing", function()
    local m = assert(memobj.heap(10, {max = 1 << 20}))
    local a = m:array("u8")
    a[1] = 7
    a:release()
    oshook.fail("mprotect", "ENOSPC")
    assert.same({nil, "resize: No space left on device", 28}, {m:resize(300000)})
    assert.equal(10, m.size)
    assert.equal(7, m:array("u8")[1])
    m:resize(300000)  -- the OS again
    assert.equal(300000, m.size)
    m:close()
  end)

  it("one madvise policy: dontneed on anonymous memory is not passed on", function()
    local m = assert(memobj.heap(8192, {max = 1 << 20}))
    oshook.calls("madvise")  -- installs the counting wrapper
    m:advise("dontneed")
    assert.equal(0, oshook.calls("madvise"))
    m:advise("willneed")
    assert.equal(1, oshook.calls("madvise"))
    m:close()
  end)

  it("close unmaps the reservation through the table", function()
    local m = assert(memobj.heap(1, {max = 1 << 16}))
    oshook.calls("munmap")
    m:close()
    assert.equal(1, oshook.calls("munmap"))
  end)
end)

-- The OS layer (runtime/core/os.h): every memory system call goes through a
-- table that a test replaces entry by entry (tests/c/oshook.c), so failures
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
    for _, n in ipairs({"mmap", "munmap", "mprotect", "madvise", "msync",
                        "open", "close", "fstat", "ftruncate", "fallocate", "fdatasync",
                        "fsync", "pwrite", "pread", "write", "rename", "link", "unlink",
                        "shm_open", "shm_unlink", "memfd_create", "fcntl", "stat",
                        "lstat", "fchmod", "flock", "fadvise", "readlink", "getpid",
                        "fstatvfs", "linkat"}) do
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

  it("a heap buffer of 4 MiB or more asks for huge pages, through the table", function()
    oshook.calls("madvise")
    local small = assert(memobj.heap(1 << 20))
    assert.equal(0, oshook.calls("madvise"))
    local big = assert(memobj.heap(8 << 20, {zero = false}))
    assert.equal(1, oshook.calls("madvise"))
    -- a refused hint changes nothing
    oshook.fail("madvise", "EINVAL")
    local big2 = assert(memobj.heap(8 << 20))
    local v = big2:array("u8")
    assert.equal(0, v:max())
    v:release()
    small:close()
    big:close()
    big2:close()
  end)

  it("close unmaps the reservation through the table", function()
    local m = assert(memobj.heap(1, {max = 1 << 16}))
    oshook.calls("munmap")
    m:close()
    assert.equal(1, oshook.calls("munmap"))
  end)

  -- issue 20: misuse and OS failure told apart by intent, not by the
  -- errno value (EACCES, EPERM and EROFS from the OS used to raise)
  describe("an errno from the OS is an OS failure, whatever its value", function()
    local path
    before_each(function()
      path = os.tmpname()
      local f = assert(io.open(path, "wb")); f:write(("x"):rep(4096)); f:close()
    end)
    after_each(function() oshook.reset(); os.remove(path) end)

    it("a genuine EACCES on open returns nil, message, errno", function()
      oshook.fail("open", "EACCES")
      local m, msg, err = memobj.map(path)
      assert.is_nil(m)
      assert.equal(13, err)
      assert.matches("Permission denied", msg)
    end)

    it("EACCES, EPERM from ftruncate on resize return nil, message, errno", function()
      local m = assert(memobj.map(path, {mode = "rw"}))
      for _, e in ipairs({{"EACCES", 13}, {"EPERM", 1}}) do
        oshook.fail("ftruncate", e[1])
        local r, msg, err = m:resize(8192)
        assert.is_nil(r, e[1])
        assert.equal(e[2], err)
        assert.matches("^resize: ", msg)
        oshook.reset()
      end
      assert.equal(4096, m.size)
      m:close()
    end)

    it("what the object cannot do still raises (refused by its kind)", function()
      local m = assert(memobj.map(path))            -- "r"
      assert.has_error(function() m:resize(10) end, "memobj: resize: Permission denied")
      assert.has_error(function() m:protect("rw") end, "memobj: protect: Permission denied")
      m:close()
      assert.has_error(function() memobj.string("abc"):protect("rw") end,
        "memobj: protect: Permission denied")
      if memobj.memfd then
        assert.has_error(function() memobj.memfd(16):resize(32) end,
          "memobj: resize: Operation not permitted")
      end
    end)
  end)
end)

-- Issue 20 item 4: the pool and .npy reach the OS only through the table,
-- and one temporary-file routine (mo_os_newfile) writes files whole.
describe("files written whole (mo_os_newfile)", function()
  local dir
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
  end)
  after_each(function()
    oshook.reset()
    os.execute("rm -rf " .. dir)
  end)
  local function ls()
    local p = io.popen("ls -A " .. dir)
    local s = p:read("a")
    p:close()
    return s
  end
  local function readfile(p)
    local f = assert(io.open(p, "rb"))
    local s = f:read("a")
    f:close()
    return s
  end

  it("npy.save: a failure at any step leaves the old file and no temporary", function()
    local path = dir .. "/a.npy"
    assert.is_true(memobj.npy.save(path, memobj.array("u8", {1, 2, 3})))
    local old = readfile(path)
    local a = memobj.array("u8", {4, 5})
    for _, step in ipairs({{"lstat", "EIO"}, {"stat", "EACCES"}, {"open", "ENOSPC"},
                           {"fchmod", "EPERM"}, {"write", "ENOSPC"}, {"close", "EIO"},
                           {"rename", "EIO"}}) do
      oshook.fail(step[1], step[2])
      local ok, msg, errno = memobj.npy.save(path, a)
      oshook.reset()
      assert.is_nil(ok, step[1])
      assert.is_string(msg)
      assert.is_number(errno)
      assert.equal(old, readfile(path), step[1])
      assert.equal("a.npy\n", ls(), step[1])
    end
    -- a temporary name that is taken is skipped (O_EXCL, then another)
    oshook.fail("open", 17)  -- EEXIST
    assert.is_true(memobj.npy.save(path, a))
    assert.equal(2, oshook.calls("open"))
    oshook.reset()
    oshook.fail("readlink", "EIO")
    assert(os.execute(("ln -s a.npy %s/l.npy"):format(dir)))
    assert.is_nil(memobj.npy.save(dir .. "/l.npy", a))
  end)

  it("pools: creation and the version-1 upgrade go through the table", function()
    local path = dir .. "/p"
    for _, name in ipairs({"open", "flock", "fstat", "stat", "fchmod", "rename",
                           "link", "fsync", "fdatasync", "getpid"}) do
      oshook.calls(name)
    end
    local m = assert(memobj.persistent(path, 4096))
    m:close()
    assert.is_true(oshook.calls("link") >= 1)      -- made under a temporary name
    assert.is_true(oshook.calls("flock") >= 1)
    assert.is_true(oshook.calls("fsync") >= 1)     -- the directory
    assert.is_true(oshook.calls("getpid") >= 1)    -- the owner, for fork
    -- a failing step of creation: nil, message, errno, nothing left
    for _, step in ipairs({{"link", "EIO"}, {"fallocate", "EIO"}, {"fdatasync", "EIO"},
                           {"ftruncate", "EIO"}}) do
      os.remove(path)
      oshook.fail(step[1], step[2])
      local m2, msg, errno = memobj.persistent(path, 4096)
      oshook.reset()
      assert.is_nil(m2, step[1])
      assert.matches("Input/output error", msg)
      assert.equal(5, errno)
      assert.equal("", ls(), step[1])
    end
    -- the upgrade: a failure before the rename leaves the version-1 pool
    local v1 = readfile("tests/fixtures/pool-v1-clean.pool")
    for _, step in ipairs({{"fsync", "EIO"}, {"rename", "EIO"}, {"flock", "EIO", 2}}) do
      local f = assert(io.open(path, "wb"))
      f:write(v1)
      f:close()
      oshook.fail(step[1], step[2], step[3])
      local m2 = memobj.persistent(path)
      oshook.reset()
      assert.is_nil(m2, step[1])
      assert.equal(v1, readfile(path), step[1])
      assert.equal("p\n", ls(), step[1])
    end
    m = assert(memobj.persistent(path))
    assert.equal(1000, m:array("int64")[1])
    m:close()
  end)
end)

-- The error convention of doc/manual.md, checked across kinds and views:
-- misuse raises; a failure of the system or of a file's contents returns
-- nil, message, errno as io does (always three values); the `mode` option
-- has one parser and one message.
local memobj = require("memobj")
local P = require("mo_procs")
local build = os.getenv("MEMOBJ_BUILD") or "build"
local oshook = assert(package.loadlib(build .. "/test/oshook.so", "luaopen_oshook"))()

local EIO, ENOMEM, EINVAL, ENOSPC = 5, 12, 22, 28

local function pack(...) return {n = select("#", ...), ...} end

describe("the error convention", function()
  local newname, cleanup = P.shm_tracker()
  after_each(function()
    oshook.reset()
    cleanup()
  end)

  it("resize, protect and advise return nil, message, errno when the system fails", function()
    local m = assert(memobj.heap(10, {max = 1 << 20}))
    oshook.fail("mprotect", "ENOSPC")
    assert.same(pack(nil, "resize: No space left on device", ENOSPC), pack(m:resize(300000)))
    assert.equal(10, m.size)
    m:close()

    local p = P.tmpfile(("x"):rep(8192))
    local f = assert(memobj.map(p, {mode = "rw"}))
    oshook.fail("mprotect", "ENOMEM")
    assert.same(pack(nil, "protect: Cannot allocate memory", ENOMEM), pack(f:protect("r")))
    assert.equal("rw", f.permission)
    assert.equal(f, f:protect("r"))  -- the system again
    assert.equal("r", f.permission)
    assert.equal(f, f:protect("rw"))
    oshook.fail("madvise", "EIO")
    assert.same(pack(nil, "advise: Input/output error", EIO), pack(f:advise("willneed")))
    assert.is_true(f:advise("willneed"))
    oshook.fail("msync", "EIO")
    assert.same(pack(nil, "sync: Input/output error", EIO), pack(f:sync()))
    f:close()
    os.remove(p)
  end)

  it("what an object cannot do at all is misuse, and raises", function()
    local p = P.tmpfile("abc")
    local r = assert(memobj.map(p))
    assert.error_matches(function() r:resize(10) end, "^memobj: resize: Permission denied")
    assert.error_matches(function() memobj.string("abc"):resize(1) end,
      "memobj: resize: string memory has a fixed size")
    assert.error_matches(function() r:protect("bogus") end, "bad argument #1 to 'protect'")
    r:close()
    os.remove(p)
  end)

  it("file views give errno for every failure, ENOSPC included", function()
    local m = memobj.heap(4)
    local w = m:file("w")
    assert.same(pack(nil, "no space left in memory object", ENOSPC), pack(w:write("12345")))
    local r = m:file("r")
    assert.same(pack(nil, "Bad file descriptor", 9), pack(r:write("1")))
  end)

  it("a pool file that is damaged gives nil, message, EINVAL", function()
    local p = P.tmpfile(("not a pool"):rep(1000))
    local got = pack(memobj.persistent(p))
    assert.equal(3, got.n)
    assert.is_nil(got[1])
    assert.matches("^" .. p:gsub("%p", "%%%0") .. ": ", got[2])
    assert.equal(EINVAL, got[3])
    os.remove(p)
  end)

  it("a .npy file memobj does not read gives nil, message, EINVAL", function()
    local p = P.tmpfile("\x93NUMPY\x09\x00garbage")
    local got = pack(memobj.npy.open(p))
    assert.equal(3, got.n)
    assert.is_nil(got[1])
    assert.equal(EINVAL, got[3])
    os.remove(p)
  end)

  it("attaching shared memory larger than max gives nil, message, EINVAL", function()
    local name = newname("max")
    local m = assert(memobj.shared(name, 8192))
    assert.same(pack(nil, name .. ": max is smaller than the size", EINVAL),
      pack(memobj.shared(name, nil, {max = 4096})))
    -- creating with such a max is misuse: the caller gave both numbers
    assert.error_matches(function() memobj.shared(newname("max2"), 8192, {max = 10}) end,
      "max is smaller than size")
    m:close()
  end)

  it("shared memory: a name that is not a regular file, or fstat failing, returns errno", function()
    local name = newname("dir")
    assert(os.execute("mkfifo /dev/shm" .. name))
    assert.same(pack(nil, name .. ": No such device", 19), pack(memobj.shared(name)))
    assert(os.remove("/dev/shm" .. name))
    local other = newname("fstat")
    local m = assert(memobj.shared(other, 64))
    oshook.fail("fstat", "EIO")
    assert.same(pack(nil, other .. ": Input/output error", EIO), pack(memobj.shared(other)))
    m:close()
    -- misuse: only shared memory has a name to unlink
    assert.error_matches(function() memobj.heap(1):unlink() end,
      "memobj: unlink: heap memory has no name to unlink")
  end)

  it("persistent: a bad durability option is misuse and raises", function()
    local p = os.tmpname()
    os.remove(p)
    assert.error_matches(function() memobj.persistent(p, 4096, {durability = "later"}) end,
      [[bad argument #3 to '.-' %(durability must be "sync" or "process"%)]])
    assert.is_nil(io.open(p))  -- nothing was created
  end)

  it("parses the mode option once: one message for every constructor", function()
    local p = P.tmpfile("abc")
    local cases = {
      {function() return memobj.map(p, {mode = "w"}) end, "map", 2, [["r", "rw" or "private"]]},
      {function() return memobj.shared(newname("m"), 10, {mode = "w"}) end, "shared", 3,
        [["r" or "rw"]]},
      {function() return memobj.foreign(0, 0, {mode = "w"}) end, "foreign", 3, [["r" or "rw"]]},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(c[1])
      assert.is_false(ok)
      err = err:gsub("^[^:]*:%d+: ", "")
      assert.equal(("bad argument #%d to '%s' (unknown mode 'w' (expected %s))"):format(
        c[3], c[2], c[4]), err)
    end
    local ok, err = pcall(memobj.map, p, {mode = 1})
    assert.is_false(ok)
    assert.matches("unknown mode 'number'", err)
    os.remove(p)
  end)
end)

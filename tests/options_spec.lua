-- options_spec.lua: an options table is honoured or refused, never
-- ignored: a misspelt key raises and names itself, and so does an
-- options argument that is not a table.
local memobj = require("memobj")
local procs = require("mo_procs")

local function refuses(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok)
  assert.matches(pattern, tostring(err))
end

describe("options", function()
  local path
  before_each(function()
    path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(("x"):rep(100))
    f:close()
  end)
  after_each(function() os.remove(path) end)

  it("memobj.heap refuses an unknown option and a non-table", function()
    refuses("unknown option 'aling'", memobj.heap, 16, {aling = 64})
    refuses("table expected", memobj.heap, 16, 64)
    assert.equal(0, memobj.heap(16, {align = 64, zero = true, max = 32}).pointer % 64)
  end)

  it("memobj.map refuses a misspelt create and leaves the file alone", function()
    refuses("bad argument #2 to '[%w.]*map' %(unknown option 'creat'%)",
            memobj.map, path, {mode = "rw", creat = 4096})
    assert.equal(100, procs.filesize(path))
  end)

  it("memobj.shared, memfd, persistent and foreign refuse unknown options", function()
    refuses("unknown option 'exclusiv'", memobj.shared, procs.shmname("opt"), 64,
            {exclusiv = false})
    refuses("unknown option 'sealed'", memobj.memfd, 64, {sealed = false})
    refuses("unknown option 'durable'", memobj.persistent, path .. ".pool", 4096,
            {durable = "sync"})
    assert.is_nil(io.open(path .. ".pool"))
    refuses("unknown option 'mod'", memobj.foreign, 0, 0, {mod = "r"})
  end)

  it("a non-string key is refused too", function()
    refuses("unknown option 'number'", memobj.heap, 16, {true})
  end)

  it("memobj.ffi refuses unknown options of load and func", function()
    local ffi = require("memobj.ffi")
    refuses("unknown option 'globl'", ffi.load, nil, {globl = true})
    local libc = assert(ffi.load())
    refuses("unknown option 'erno'", libc.func, libc, "abs", "int", {"int"},
            {erno = true})
  end)

  -- issue 20: {seal = "no"} read as true under Lua's truthiness
  it("a boolean option is a boolean, or a clear argument error", function()
    refuses("bad argument #2 to '[%w.]*heap' %(option 'zero' must be a boolean, not string%)",
            memobj.heap, 16, {zero = "no"})
    refuses("option 'zero' must be a boolean, not number", memobj.heap, 16, {zero = 0})
    if memobj.memfd then
      refuses("option 'seal' must be a boolean, not string", memobj.memfd, 16, {seal = "no"})
    end
    assert.equal(16, memobj.heap(16, {zero = false}).size)
    local ffi = require("memobj.ffi")
    refuses("option 'lazy' must be a boolean", ffi.load, nil, {lazy = 1})
  end)
end)

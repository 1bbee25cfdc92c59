-- Transactions on heap memory: rollback of every byte any view changed,
-- nesting, begin/commit/abort, views made inside, refusals inside.
local memobj = require("memobj")

-- A snapshot of all bytes of m, to compare before and after.
local function snapshot(m)
  local a = m:array("uint8")
  local t = a:totable()
  a:release()
  return table.concat(t, ",")
end

local function filled(n)
  local m = memobj.heap(n)
  local a = m:array("uint8")
  for i = 1, #a do a[i] = (i * 7) % 256 end
  a:release()
  return m
end

describe("transaction on heap memory", function()
  it("commits on a normal return and returns fn's results", function()
    local m = memobj.heap(64)
    local a = m:array("int32")
    local x, y = m:transaction(function(p, q)
      a[1] = p
      a[2] = q
      return p + q, "done"
    end, 3, 4)
    assert.are.equal(7, x)
    assert.are.equal("done", y)
    assert.are.equal(3, a[1])
    assert.are.equal(4, a[2])
    assert.are.equal(0, m:txdepth())
  end)

  it("rolls back every byte on error and re-raises the same value", function()
    local m = filled(5000)
    local before = snapshot(m)
    local a64 = m:array("int64")
    local f32 = m:array("float32", 4)
    local err = {}
    local ok, e = pcall(m.transaction, m, function()
      a64[1] = -1
      a64[#a64] = 123456789
      f32:fill(1.5, 100, 200)
      a64:sort()
      f32:set(7, 2.25)
      error(err)
    end)
    assert.is_false(ok)
    assert.are.equal(err, e)  -- the very same error object
    assert.are.equal(before, snapshot(m))
  end)

  it("rolls back writes through views created inside", function()
    local m = filled(300)
    local before = snapshot(m)
    assert.has_error(function()
      m:transaction(function()
        local v = m:array("uint16", 10, 20)
        v:fill(0xffff)
        local s = v:slice(3, 5)
        s[1] = 1
        local c = v:cast("uint8")
        c[40] = 9
        error("boom")
      end)
    end, nil)
    assert.are.equal(before, snapshot(m))
  end)

  it("rolls back a copy from a table and from another array", function()
    local m = filled(256)
    local before = snapshot(m)
    local a = m:array("uint8")
    local src = memobj.array("uint8", {1, 2, 3, 4, 5})
    local ok = pcall(m.transaction, m, function()
      a:copy({9, 9, 9}, 10)
      a:copy(src, 200)
      error("x")
    end)
    assert.is_false(ok)
    assert.are.equal(before, snapshot(m))
  end)

  it("rolls back the last bytes of a size that is not a chunk multiple",
    function()
      local m = filled(131)
      local before = snapshot(m)
      local a = m:array("uint8")
      local ok = pcall(m.transaction, m, function()
        a[131] = 0
        a[129] = 0
        a[1] = 0
        error("x")
      end)
      assert.is_false(ok)
      assert.are.equal(before, snapshot(m))
    end)

  it("restores the first value when a place is written many times",
    function()
      local m = memobj.heap(80)
      local a = m:array("int64")
      a[3] = 42
      local ok = pcall(m.transaction, m, function()
        for i = 1, 1000 do a[3] = i end
        error("x")
      end)
      assert.is_false(ok)
      assert.are.equal(42, a[3])
    end)

  it("matches a table model over random transactions", function()
    local n = 200
    local m = memobj.heap(n * 4)
    local a = m:array("int32")
    local model = {}
    for i = 1, n do model[i] = 0 end
    math.randomseed(7)
    for round = 1, 300 do
      local work = {}
      for k = 1, math.random(1, 20) do
        work[k] = {math.random(1, n), math.random(-1000, 1000)}
      end
      local fail = math.random() < 0.5
      pcall(m.transaction, m, function()
        for _, w in ipairs(work) do a[w[1]] = w[2] end
        if fail then error("abort round " .. round) end
      end)
      if not fail then
        for _, w in ipairs(work) do model[w[1]] = w[2] end
      end
      for i = 1, n do assert.are.equal(model[i], a[i]) end
    end
  end)

  it("ignores writes made before the transaction", function()
    local m = memobj.heap(16)
    local a = m:array("uint8")
    a[1] = 5
    m:begin()
    a[1] = 6
    m:abort()
    assert.are.equal(5, a[1])
    a[1] = 7  -- no transaction: plain write
    assert.are.equal(7, a[1])
  end)
end)

describe("nesting", function()
  it("flattens: an inner commit is undone by an outer error", function()
    local m = memobj.heap(32)
    local a = m:array("uint8")
    local ok = pcall(m.transaction, m, function()
      m:transaction(function() a[1] = 1 end)
      assert.are.equal(1, m:txdepth())
      a[2] = 2
      error("outer")
    end)
    assert.is_false(ok)
    assert.are.equal(0, a[1])
    assert.are.equal(0, a[2])
  end)

  it("an inner error rolls everything back and dooms the outer level",
    function()
      local m = memobj.heap(32)
      local a = m:array("uint8")
      local ok, e = pcall(m.transaction, m, function()
        a[1] = 1
        local iok = pcall(m.transaction, m, function()
          a[2] = 2
          error("inner")
        end)
        assert.is_false(iok)
        assert.are.equal(0, a[1])  -- already rolled back
        assert.has_error(function() a[3] = 3 end)
        return "outer returns normally"
      end)
      assert.is_false(ok)
      assert.matches("aborted", e)
      assert.are.equal(0, a[1])
      assert.are.equal(0, a[2])
      assert.are.equal(0, a[3])
      assert.are.equal(0, m:txdepth())
    end)

  it("begin/commit/abort nest and count", function()
    local m = memobj.heap(8)
    local a = m:array("uint8")
    m:begin()
    m:begin()
    assert.are.equal(2, m:txdepth())
    a[1] = 9
    m:commit()
    assert.are.equal(1, m:txdepth())
    a[2] = 8
    m:abort()
    assert.are.equal(0, m:txdepth())
    assert.are.equal(0, a[1])
    assert.are.equal(0, a[2])
  end)

  it("checks that fn is callable, and accepts a callable table", function()
    local m = memobj.heap(8)
    assert.has_error(function() m:transaction(42) end,
      "bad argument #1 to 'transaction' (function expected, got number)")
    assert.are.equal(0, m:txdepth())
    local callable = setmetatable({}, {__call = function(_, x) return x end})
    assert.are.equal(5, m:transaction(callable, 5))
  end)

  it("commit and abort without begin raise", function()
    local m = memobj.heap(8)
    assert.has_error(function() m:commit() end,
      "memobj: commit: no transaction is open")
    assert.has_error(function() m:abort() end,
      "memobj: abort: no transaction is open")
  end)

  it("raises when fn ends its own transaction", function()
    local m = memobj.heap(8)
    local ok, e = pcall(m.transaction, m, function() m:commit() end)
    assert.is_false(ok)
    assert.matches("ended the transaction itself", e)
    assert.are.equal(0, m:txdepth())
  end)

  it("keeps transactions of different objects apart", function()
    local m1, m2 = memobj.heap(8), memobj.heap(8)
    local a1, a2 = m1:array("uint8"), m2:array("uint8")
    m2:transaction(function()
      a2[1] = 2
      pcall(m1.transaction, m1, function()
        a1[1] = 1
        error("only m1")
      end)
    end)
    assert.are.equal(0, a1[1])
    assert.are.equal(2, a2[1])
  end)
end)

describe("refusals inside a transaction", function()
  it("refuses resize and close, and allows them after", function()
    local m = memobj.heap(64)
    m:begin()
    assert.has_error(function() m:resize(128) end,
      "memobj: resize: refused inside a transaction")
    assert.has_error(function() m:close() end,
      "memobj: close: refused inside a transaction")
    assert.are.equal(64, m.size)
    m:commit()
    m:resize(128)
    assert.are.equal(128, m.size)
    m:close()
    assert.is_true(m.closed)
  end)

  it("refuses to begin on read-only memory", function()
    local m = memobj.string("abc")
    assert.has_error(function() m:begin() end,
      "memobj: begin: memory is read-only")
  end)

  it("a failed write inside changes nothing and the rollback still works",
    function()
      local m = memobj.heap(16)
      local a = m:array("int8")
      a[1] = 1
      local ok = pcall(m.transaction, m, function()
        a[1] = 2
        a[2] = 1000  -- out of range for int8: raises before writing
      end)
      assert.is_false(ok)
      assert.are.equal(1, a[1])
      assert.are.equal(0, a[2])
    end)

  it("frees an open transaction when the memory is collected", function()
    do
      local m = memobj.heap(1024)
      m:begin()
      m:array("uint8")[1] = 1
    end
    collectgarbage()
    collectgarbage()
    assert.is_true(true)  -- no crash, no leak under ASan (make check)
  end)
end)

describe("every view kind and memory kind takes part", function()
  local cmodule = assert(package.loadlib(
    (os.getenv("MEMOBJ_BUILD") or "build") .. "/cmodule.so",
    "luaopen_cmodule"))()

  local function writes_everywhere(m)
    local b = m:bytes()
    b[1] = 0xff
    b:put(10, "hello")
    b:fill(0x41, 100, 163)
    b:pack(200, "<i8d", -5, 2.5)
    local f = m:file("r+")
    f:seek("set", 300)
    f:write("written through a file view", 42)
    f:close()
    local a = m:array("uint32", 400)
    a:fill(7)
    local h = cmodule.hold(m:bytes(1000, 24), true)
    h:fill(9)  -- C code: memobj_tx_add then plain stores
    h:release()
  end

  it("rolls back byte, file, array views and C writers on heap memory",
    function()
      local m = filled(2048)
      local before = snapshot(m)
      local ok = pcall(m.transaction, m, function()
        writes_everywhere(m)
        error("x")
      end)
      assert.is_false(ok)
      assert.are.equal(before, snapshot(m))
      -- and the same writes commit
      m:transaction(writes_everywhere, m)
      assert.are.equal(0xff, m:bytes()[1])
      assert.are.equal(9, m:bytes()[1001])
    end)

  it("rolls back on mapped memory, also in the file", function()
    local path = os.tmpname()
    local m = assert(memobj.map(path, {mode = "rw", create = 2048}))
    m:transaction(function() m:array("uint8"):fill(3) end)
    local before = snapshot(m)
    local ok = pcall(m.transaction, m, function()
      writes_everywhere(m)
      error("x")
    end)
    assert.is_false(ok)
    assert.are.equal(before, snapshot(m))
    collectgarbage()
    m:close()
    local fh = assert(io.open(path, "rb"))
    assert.are.equal(string.rep("\3", 2048), fh:read("a"))
    fh:close()
    os.remove(path)
  end)

  it("a C writer outside a transaction on persistent memory raises",
    function()
      local path = os.tmpname()
      os.remove(path)
      local m = assert(memobj.persistent(path, 64))
      local h = cmodule.hold(m, true)
      assert.has_error(function() h:fill(1) end,
        "memobj: persistent memory can only change inside a transaction")
      assert.are.equal(0, m:bytes()[1])
      m:transaction(function() h:fill(1) end)
      assert.are.equal(1, m:bytes()[64])
      h:release()
      collectgarbage()
      m:close()
      os.remove(path)
    end)
end)

describe("memobj.ffi wbuffer arguments", function()
  local ffi = require("memobj.ffi")
  local libc = assert(ffi.load("libc.so.6"))
  local memset = libc:func("memset", "pointer", {"wbuffer", "int", "size_t"})

  it("are logged inside a transaction and rolled back", function()
    local m = filled(256)
    local before = snapshot(m)
    local ok = pcall(m.transaction, m, function()
      memset(m:bytes(10, 100), 0x33, 100)
      error("x")
    end)
    assert.is_false(ok)
    assert.are.equal(before, snapshot(m))
  end)

  it("raise outside a transaction on persistent memory", function()
    local path = os.tmpname()
    os.remove(path)
    local m = assert(memobj.persistent(path, 64))
    assert.has_error(function() memset(m, 1, 64) end,
      "memobj: persistent memory can only change inside a transaction")
    m:transaction(function() memset(m, 1, 64) end)
    assert.are.equal(64, m:array("uint8"):sum())
    collectgarbage()
    m:close()
    os.remove(path)
  end)
end)

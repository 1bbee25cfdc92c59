-- The typed C API (memobj.h version 2) seen from examples/cmodule, a module
-- built separately: element formats, item counts and strides, the
-- runtime-owned lock behind a buffer's handle.
local memobj = require("memobj")
local cmodule = assert(package.loadlib(
  (os.getenv("MEMOBJ_BUILD") or "build") .. "/cmodule.so", "luaopen_cmodule"))()

local little = string.pack("=i2", 1) == string.pack("<i2", 1)
local native, foreign = little and "<" or ">", little and ">" or "<"

describe("the C API buffer", function()
  it("describes bytes as format B, one byte per item", function()
    local m = memobj.heap(10)
    assert.same({"B", 1, 10, 1}, {cmodule.describe(m)})
    assert.same({"B", 1, 3, 1}, {cmodule.describe("abc")})
    assert.same({"B", 1, 4, 1}, {cmodule.describe(m:bytes(3, 4))})
    assert.same({"B", 1, 10, 1}, {cmodule.describe(m:file("r"))})
  end)

  it("describes each element type of a typed array", function()
    local m = memobj.heap(64)
    local expect = {
      i8 = "b", u8 = "B", i16 = native .. "h", u16 = native .. "H",
      i32 = native .. "i", u32 = native .. "I", i64 = native .. "q",
      u64 = native .. "Q", f32 = native .. "f", f64 = native .. "d",
      i32be = (little and ">" or "<") .. "i",
      f64le = (little and "<" or ">") .. "d",
      int16be = (little and ">" or "<") .. "h",
    }
    for t, fmt in pairs(expect) do
      local a = m:array(t)
      local size = ({b = 1, B = 1, h = 2, H = 2, i = 4, I = 4, q = 8, Q = 8, f = 4,
        d = 8})[fmt:sub(-1)]
      assert.same({fmt, size, 64 // size, size}, {cmodule.describe(a)}, t)
      a:release()
    end
    assert.is_not.equal(native, foreign)
  end)

  it("takes a view's description from the view itself, out of the debug library's reach", function()
    local m = memobj.heap(64)
    local a, b = m:array("f64"), m:bytes()
    local amt, bmt = debug.getmetatable(a), debug.getmetatable(b)
    for k, v in pairs(amt) do  -- whatever an array's metatable holds
      if type(v) == "userdata" then bmt[k] = v end
    end
    bmt.__memobj_buffer = amt.__memobj_buffer
    assert.same({"B", 1, 64, 1}, {cmodule.describe(b)})
    assert.same({native .. "d", 8, 8, 8}, {cmodule.describe(a)})
    bmt.__memobj_buffer = nil
  end)

  it("lets C sum a typed array of any type from the format alone", function()
    local m = memobj.heap(800)
    local f = m:array("f64")
    local want = 0
    for i = 1, #f do f[i] = i * 0.25 - 7; want = want + f[i] end
    assert.equal(want, cmodule.sum(f))
    assert.equal(want - f[1] - f[100], cmodule.sum(f:slice(2, 99)))

    local b = m:array("i32be")
    for i = 1, #b do b[i] = (i % 2 == 0) and -i or i * 1000 end
    local s = 0
    for i = 1, #b do s = s + b[i] end
    assert.equal(s, cmodule.sum(b))
    -- the same bytes read with the wrong byte order give another sum
    assert.is_not.equal(s, cmodule.sum(m:array("i32")))

    local u = memobj.heap(6):array("u16")
    u:copy({1, 65535, 2})
    assert.equal(65538, cmodule.sum(u))
    assert.equal(("xyz"):byte(1) + ("xyz"):byte(2) + ("xyz"):byte(3), cmodule.sum("xyz"))
  end)

  it("describes a strided view and lets C walk it by its stride", function()
    local a = memobj.heap(80):array("f64")
    for i = 1, #a do a[i] = i end
    local odd = a:slice(1, 10, 2)          -- 1, 3, 5, 7, 9
    assert.same({native .. "d", 8, 5, 16}, {cmodule.describe(odd)})
    assert.equal(25, cmodule.sum(odd))
    local back = a:slice(10, 1, -3)        -- 10, 7, 4, 1
    assert.same({native .. "d", 8, 4, -24}, {cmodule.describe(back)})
    assert.equal(22, cmodule.sum(back))
    -- a module that did not ask with MEMOBJ_STRIDED never sees one
    local ok, err = pcall(cmodule.checksum, odd)
    assert.is_false(ok)
    assert.matches("memobj: cmodule%.checksum: the view's items are not contiguous", err)
  end)

  it("holds a lock the runtime owns, released by the module", function()
    local m = memobj.heap(16)
    local h = cmodule.hold(m)
    collectgarbage()
    assert.equal(1, m.locks)
    local ok, err = pcall(m.close, m)
    assert.is_false(ok)
    assert.matches("cmodule%.hold %(bytes 0%.%.16%) created at .-capi_spec%.lua:%d+", err)
    h:release()
    h:release()  -- twice is harmless
    assert.equal(0, m.locks)
    assert.is_true(m:close())
  end)

  it("a buffer taken for reading cannot be written through", function()
    local m = memobj.heap(4)
    local h = cmodule.hold(m)
    local ok, err = pcall(h.fill, h, 1)
    assert.is_false(ok)
    assert.matches("not a writable held buffer", err)
    h:release()
    assert.same({0, 0, 0, 0}, m:array("u8"):totable())
  end)

  it("refuses values that hold no bytes, and closed or released ones", function()
    assert.has_error(function() cmodule.sum(42) end)
    local m = memobj.heap(4)
    local a = m:array("u8")
    a:release()
    assert.has_error(function() cmodule.sum(a) end, "memobj: view is released")
    m:close()
    assert.has_error(function() cmodule.sum(m) end, "memobj: memory object is closed")
  end)
end)

describe("a memory kind of a C module (examples/cmodule's cblock)", function()
  it("makes memory objects that every view works on", function()
    local m = cmodule.block(64)
    assert.equal("cblock", m.kind)
    assert.equal(64, m.size)
    assert.equal("volatile", m.persistence)
    assert.equal(64, m:cblock_size())
    local a = m:array("int32")
    a[16] = 7
    assert.equal(7, m:bytes():unpack("<i4", 61))
    assert.truthy(memobj.stats().cblock)
    assert.equal(1, memobj.stats().cblock.count)
    -- the protocol holds: close is refused while a view is attached
    local ok, err = pcall(m.close, m)
    assert.is_false(ok)
    assert.matches("locked", err)
    assert.has_error(function() m:resize(128) end)
    a:release()
    local closes = cmodule.released()
    assert.is_true(m:close())
    assert.is_true(m:close())     -- idempotent: released once
    assert.equal(closes + 1, (cmodule.released()))
    assert.has_error(function() m:cblock_size() end, "memobj: memory object is closed")
  end)

  it("tells release whether close or the collector freed it", function()
    local _, collected = cmodule.released()
    do local _ = cmodule.block(8) end
    collectgarbage()
    collectgarbage()
    assert.equal(collected + 1, select(2, cmodule.released()))
  end)

  it("checks the kind in its methods, and a name is one kind's", function()
    assert.has_error(function() memobj.heap(4):cblock_size() end)
    local ok, err = pcall(memobj.heap(4).cblock_size, memobj.heap(4))
    assert.is_false(ok)
    assert.matches("cblock memory expected", err)
    assert.has_error(function() cmodule.newkind("heap") end, "memobj: newkind: kind 'heap' exists")
    assert.equal("heap", memobj.heap(4).kind)
  end)
end)

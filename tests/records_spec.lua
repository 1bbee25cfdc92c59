-- Records views: layouts (string.pack with "!" alignment is the oracle
-- for C layouts), whole-record and per-field access, bytes fields,
-- checking before writing, locks, transactions, the C API and formats.
local memobj = require("memobj")

local NATIVE = string.pack("=i2", 1) == string.pack("<i2", 1) and "<" or ">"
local FOREIGN = NATIVE == "<" and "be" or "le"

-- element type -> string.pack format, size
local TYPES = {
  {"int8", "i1"}, {"uint8", "I1"}, {"int16", "i2"}, {"uint16", "I2"},
  {"int32", "i4"}, {"uint32", "I4"}, {"int64", "i8"}, {"uint64", "J"},
  {"float32", "f"}, {"float64", "d"},
}

local function bytes_of(v) return memobj.bytes(v):string() end

-- The string.pack format of a layout without explicit offsets: "!8" plus
-- the fields, then "X" + the widest type to pad the end (C layout), or
-- "<" and the fields (packed). Returns the format and each field's
-- offset, computed with string.packsize on the prefixes.
local function pack_format(fields, packed)
  local fmt, offsets, widest = packed and "=!1" or "=!8", {}, nil
  for k, f in ipairs(fields) do
    local item = f.bytes and ("c" .. f.bytes) or f.fmt
    offsets[k] = string.packsize(fmt .. (packed and "" or ("X" .. (f.bytes and "i1" or f.fmt))))
    fmt = fmt .. item
    if not f.bytes and (not widest or string.packsize(f.fmt) > string.packsize(widest)) then
      widest = f.fmt
    end
  end
  if not packed and widest then fmt = fmt .. "X" .. widest end
  return fmt, offsets
end

describe("records layouts", function()
  it("places fields as C does, and pads the record to its widest field", function()
    local r = memobj.records({{"a", "u8"}, {"x", "f64"}, {"b", "i16"}, {"c", "u8"}}, 1)
    assert.equal(24, r.size)
    local l = r.layout
    assert.same({0, 8, 16, 18}, {l[1].offset, l[2].offset, l[3].offset, l[4].offset})
    assert.equal("c", l.align)
    assert.equal(24, l.size)
    assert.same({"a", "x", "b", "c"}, r.fields)
  end)

  it("agrees with string.pack alignment on random layouts, C and packed", function()
    math.randomseed(13)
    for _ = 1, 300 do
      local fields, layout = {}, {}
      for k = 1, math.random(1, 8) do
        local f
        if math.random(6) == 1 then
          f = {bytes = math.random(1, 9)}
          layout[k] = {"f" .. k, "bytes", f.bytes}
        else
          local t = TYPES[math.random(#TYPES)]
          f = {fmt = t[2]}
          layout[k] = {"f" .. k, t[1]}
        end
        fields[k] = f
      end
      local packed = math.random(2) == 1
      layout.align = packed and "packed" or nil
      local fmt, offsets = pack_format(fields, packed)
      local r = memobj.records(layout, 2)
      assert.equal(string.packsize(fmt), r.size, fmt)
      for k = 1, #fields do assert.equal(offsets[k], r.layout[k].offset, fmt) end
      -- values written through the view read back with string.unpack
      local rec, vals = {}, {}
      for k, f in ipairs(fields) do
        local v
        if f.bytes then v = ("x"):rep(math.random(0, f.bytes))
        elseif f.fmt == "f" or f.fmt == "d" then v = math.random(-1000, 1000) / 4
        else v = math.random(0, 100) end
        rec["f" .. k] = v
        vals[k] = f.bytes and (v .. ("\0"):rep(f.bytes - #v)) or v
      end
      r[2] = rec
      local got = {string.unpack(fmt, bytes_of(r), r.size + 1)}
      for k = 1, #fields do assert.equal(vals[k], got[k], fmt) end
      assert.same(rec, (function()
        local t = r[2]
        for k, f in ipairs(fields) do
          if f.bytes then t["f" .. k] = t["f" .. k]:gsub("%z+$", "") end
        end
        return t
      end)())
    end
  end)

  it("packed layouts have no padding", function()
    local r = memobj.records({{"a", "u8"}, {"x", "f64"}, {"b", "i16"}, align = "packed"}, 1)
    assert.equal(11, r.size)
    assert.equal("packed", r.layout.align)
    assert.equal(1, r.layout[2].offset)
  end)

  it("takes explicit offsets and a fixed size", function()
    local r = memobj.records({{"x", "u32", offset = 8}, {"y", "u16"}, {"z", "u8", offset = 0},
                              size = 32}, 2)
    assert.equal(32, r.size)
    assert.same({8, 12, 0}, {r.layout[1].offset, r.layout[2].offset, r.layout[3].offset})
    r[2] = {x = 0x01020304, y = 5, z = 6}
    local b = bytes_of(r)
    assert.equal(64, #b)
    assert.equal(0x01020304, string.unpack("=I4", b, 32 + 9))
    assert.equal(5, string.unpack("=I2", b, 32 + 13))
    assert.equal(6, b:byte(33))
  end)

  it("a layout table of a view makes the same layout again", function()
    local r = memobj.records({{"a", "u8"}, {"s", "bytes", 3}, {"x", "f32be"}, align = "packed"}, 1)
    local again = memobj.records(r.layout, 1)
    assert.equal(r.size, again.size)
    assert.same(r.layout, again.layout)
    assert.equal("float32" .. FOREIGN, r.layout[3][2])
    assert.same({"s", "bytes", 3, offset = 1}, r.layout[2])
  end)

  it("refuses bad layouts with the argerror form", function()
    local function err(layout)
      local ok, e = pcall(memobj.records, layout, 1)
      assert.is_false(ok)
      return (tostring(e):gsub("^bad argument #1 to '[^']*' %((.*)%)$", "%1"))
    end
    assert.equal("field 1: unknown element type 'flaot64'", err({{"x", "flaot64"}}))
    assert.equal("layout has no fields", err({}))
    assert.equal("field 1: name is empty", err({{"", "u8"}}))
    assert.equal("field 1: name must be a string", err({{1, "u8"}}))
    assert.equal("field 1: type must be a string", err({{"x"}}))
    assert.equal("field 2: table expected, got string", err({{"x", "u8"}, "y"}))
    assert.equal("field 1: a bytes field needs a size of at least 1", err({{"x", "bytes"}}))
    assert.equal("field 1: a bytes field needs a size of at least 1", err({{"x", "bytes", 0}}))
    assert.equal("field 1: unknown key 'ofset'", err({{"x", "u8", ofset = 1}}))
    assert.equal("field 1: unknown key '3'", err({{"x", "u8", 4}}):gsub("of type number", "'3'"))
    assert.equal("field 2: duplicate name 'x'", err({{"x", "u8"}, {"x", "u16"}}))
    assert.equal("field 1: offset must be a non-negative integer", err({{"x", "u8", offset = -1}}))
    assert.equal("field 1: offset must be a non-negative integer", err({{"x", "u8", offset = 1.5}}))
    assert.equal("fields 'x' and 'y' overlap", err({{"x", "u32"}, {"y", "u8", offset = 3}}))
    assert.equal("layout: unknown key 'algn'", err({{"x", "u8"}, algn = "c"}))
    assert.equal('layout: align must be "c" or "packed"', err({{"x", "u8"}, align = "C"}))
    assert.equal("layout: size must be a positive integer", err({{"x", "u8"}, size = 0}))
    assert.equal("layout size 4 is smaller than its fields (8 bytes)", err({{"x", "u64"}, size = 4}))
    assert.has_error(function() memobj.records("x", 1) end)
  end)
end)

describe("records views", function()
  local layout = {{"x", "float64"}, {"n", "int32"}, {"tag", "bytes", 5}}

  it("r[i] is a new table, nil outside 1..#r", function()
    local r = memobj.records(layout, 3)
    assert.equal(3, #r)
    assert.equal(24, r.size)
    r[2] = {x = 1.5, n = -7, tag = "ab"}
    local t = r[2]
    assert.same({x = 1.5, n = -7, tag = "ab\0\0\0"}, t)
    t.x = 99
    assert.equal(1.5, r[2].x)
    assert.is_nil(r[0])
    assert.is_nil(r[4])
    assert.is_nil(r[-1])
    assert.is_nil(r[1.5])
    local n = 0
    for i, rec in ipairs(r) do n = i; assert.equal("table", type(rec)) end
    assert.equal(3, n)
    n = 0
    for i, rec in pairs(r) do n = n + 1; assert.equal(i == 2 and -7 or 0, rec.n) end
    assert.equal(3, n)
  end)

  it("r[i] = t writes the named fields and keeps the others", function()
    local r = memobj.records(layout, 2)
    r[1] = {x = 2, n = 3, tag = "hello"}
    r[1] = {n = 4}
    assert.same({x = 2.0, n = 4, tag = "hello"}, r[1])
    r[1] = {}
    assert.same({x = 2.0, n = 4, tag = "hello"}, r[1])
  end)

  it("r[i] = t checks every field before writing any", function()
    local r = memobj.records(layout, 2)
    r[1] = {x = 1, n = 1, tag = "a"}
    local before = bytes_of(r)
    local cases = {
      {{x = 5, n = 2^40}, "memobj: field 'n': integer overflow"},
      {{x = 5, n = 1.5}, "memobj: field 'n': number has no integer representation"},
      {{x = 5, n = "abc"}, "memobj: field 'n': number expected, got string"},
      {{x = "abc", n = 3}, "memobj: field 'x': number expected, got string"},
      {{x = 5, tag = "toolong"}, "memobj: field 'tag': string of 7 bytes does not fit in 5"},
      {{x = 5, tag = 12}, "memobj: field 'tag': string expected, got number"},
      {{x = 5, zz = 1}, "memobj: records: unknown field 'zz'"},
      {{x = 5, [1] = 2}, "memobj: records: field names are strings, got number"},
    }
    for _, c in ipairs(cases) do
      local ok, e = pcall(function() r[1] = c[1] end)
      assert.is_false(ok)
      assert.matches(c[2], e, 1, true)
      assert.equal(before, bytes_of(r))
    end
    assert.has_error(function() r[1] = 5 end, "memobj: records: a record is a table, got number")
    assert.has_error(function() r[3] = {} end, "memobj: index 3 out of range (1..2)")
    assert.has_error(function() r[0] = {} end, "memobj: index 0 out of range (1..2)")
    assert.has_error(function() r.x = {} end, "memobj: records index must be an integer")
    assert.equal(before, bytes_of(r))
  end)

  it("integer fields follow the typed array rules", function()
    for _, t in ipairs(TYPES) do
      local r = memobj.records({{"v", t[1]}}, 1)
      local a = memobj.array(t[1], 1)
      for _, v in ipairs({0, 1, -1, 127, 128, 255, 256, 65535, 65536, 2^31, -2^31 - 1,
                          2^32, 1.5, 2^63, math.maxinteger, math.mininteger, 0.1, 1e300}) do
        local ok1, e1 = pcall(function() a[1] = v end)
        local ok2, e2 = pcall(function() r[1] = {v = v} end)
        assert.equal(ok1, ok2, t[1] .. " " .. v)
        if ok1 then
          assert.equal(a[1], r[1].v)
          assert.equal(math.type(a[1]), math.type(r[1].v))
        else
          assert.equal(e1:match("%(([^)]*)%)$"), e2:match(": ([^:]*)$"), t[1] .. " " .. v)
        end
      end
    end
  end)

  it("get and set one field", function()
    local r = memobj.records(layout, 2)
    r:set(2, "n", 42)
    r:set(2, "tag", "xyz")
    r:set(2, "x", 0.25)
    assert.equal(42, r:get(2, "n"))
    assert.equal("xyz\0\0", r:get(2, "tag"))
    assert.equal(0.25, r:get(2, "x"))
    assert.is_nil(r:get(3, "n"))
    assert.is_nil(r:get(0, "n"))
    assert.equal(0, select("#", r:get(3, "n")))
    assert.has_error(function() r:get(1, "nope") end, "bad argument #2 to 'get' (unknown field 'nope')")
    assert.has_error(function() r:set(1, "nope", 1) end, "bad argument #2 to 'set' (unknown field 'nope')")
    assert.has_error(function() r:set(3, "n", 1) end, "memobj: index 3 out of range (1..2)")
    assert.has_error(function() r:set(1, "n", 2^31) end, "bad argument #3 to 'set' (integer overflow)")
    assert.has_error(function() r:set(1, "tag", "123456") end,
      "bad argument #3 to 'set' (string of 6 bytes does not fit in 5)")
    assert.has_error(function() r:set(1, "n") end)
    r:set(2, "tag", "")
    assert.equal(("\0"):rep(5), r:get(2, "tag"))
  end)

  it("bytes fields longer than the copy buffer, and big records", function()
    local r = memobj.records({{"a", "bytes", 1000}, {"b", "u8"}}, 2)
    local s = ("q"):rep(999)
    r[2] = {a = s, b = 7}
    assert.equal(s .. "\0", r[2].a)
    assert.equal(s .. "\0", r:get(2, "a"))
    assert.equal(7, r[2].b)
    assert.equal(1001, r.size)
  end)

  it("byte-swapped fields store the other byte order", function()
    local r = memobj.records({{"a", "int32" .. FOREIGN}, {"b", "float64" .. FOREIGN}}, 1)
    r[1] = {a = -2, b = 1.5}
    local o = NATIVE == "<" and ">" or "<"
    assert.equal(string.pack(o .. "i4 xxxx d", -2, 1.5), bytes_of(r))
    assert.same({a = -2, b = 1.5}, r[1])
  end)

  it("views any memory, view or string, at an offset, with a count", function()
    local m = memobj.heap(100)
    local r = m:records({{"a", "i16"}, {"b", "u8"}}, 10)
    assert.equal(22, #r)
    assert.equal(10, r.offset)
    assert.equal(88, r.length)
    assert.equal(m, r.memory)
    assert.equal(3, #m:records({{"a", "i16"}}, 0, 3))
    assert.has_error(function() m:records({{"a", "i16"}}, 101) end)
    assert.has_error(function() m:records({{"a", "i16"}}, 0, 51) end)
    -- a view of a view adds its offset
    local b = m:bytes(4)
    local r2 = memobj.records({{"v", "u16"}}, b, 2, 3)
    assert.equal(6, r2.offset)
    r2[1] = {v = 0x0102}
    assert.equal(0x0102, string.unpack("=I2", m:bytes():string(), 7))
    -- a Lua string: read-only, whole records only
    local s = memobj.records({{"v", "i16"}}, string.pack("=i2i2", 5, -6))
    assert.same({v = -6}, s[2])
    assert.is_true(s.readonly)
    assert.has_error(function() s[1] = {v = 1} end, "memobj: view is read-only")
    assert.has_error(function() memobj.records({{"v", "i16"}}, "abc") end,
      "memobj: records: 3 bytes are not a whole number of 2-byte records")
    assert.has_error(function() memobj.records({{"v", "i16"}}, 3, 1) end)
    local ro = m:records({{"a", "u8"}}, 0, 4, "r")
    assert.is_true(ro.readonly)
    assert.has_error(function() ro:set(1, "a", 1) end, "memobj: view is read-only")
  end)

  it("memobj.records(layout, {...}) copies records in", function()
    local r = memobj.records(layout, {{x = 1}, {n = 2, tag = "t"}, {}})
    assert.equal(3, #r)
    assert.same({x = 0.0, n = 2, tag = "t\0\0\0\0"}, r[2])
    assert.has_error(function() memobj.records(layout, {{x = 1}, 5}) end,
      "memobj: records: item 2 of the table is number, not a table")
    assert.has_error(function() memobj.records(layout, {{n = 0.5}}) end,
      "memobj: field 'n': number has no integer representation")
    assert.equal(0, #memobj.records(layout, 0))
  end)

  it("slice views records i..j", function()
    local r = memobj.records({{"v", "i32"}}, {{v = 1}, {v = 2}, {v = 3}, {v = 4}})
    local s = r:slice(2, 3)
    assert.equal(2, #s)
    assert.equal(2, s[1].v)
    s[2] = {v = 30}
    assert.equal(30, r[3].v)
    assert.equal(1, #r:slice(-1))
    assert.equal(0, #r:slice(3, 2))
  end)

  it("fields, size, format and tostring", function()
    local r = memobj.records({{"x", "f64"}, {"y", "i32"}, {"s", "bytes", 5}, {"b", "u8"}}, 2)
    local lt = NATIVE
    assert.equal("T{" .. lt .. "d:x:" .. lt .. "i:y:5s:s:B:b:6x}", r.format)
    local p = memobj.records({{"a", "u8", offset = 3}, {"z", "u16be", offset = 0}, size = 6}, 1)
    assert.equal("T{>H:z:1xB:a:2x}", p.format)
    assert.matches("memobj.records%(2 records of 24 bytes, 4 fields%)", tostring(r))
    assert.is_nil(r.nope)
  end)

  it("release makes every use raise", function()
    local r = memobj.records(layout, 2)
    r:release()
    r:release()
    assert.is_true(r.released)
    assert.has_error(function() return r[1] end, "memobj: view is released")
    assert.has_error(function() return #r end, "memobj: view is released")
    assert.has_error(function() r[1] = {} end, "memobj: view is released")
    assert.has_error(function() r:get(1, "x") end, "memobj: view is released")
    assert.has_error(function() return r.size end, "memobj: view is released")
    assert.has_error(function() return r.fields end, "memobj: view is released")
    assert.is_nil(r.sub)  -- a key that no view has is nil, released or not
    assert.equal("memobj.records(released)", tostring(r))
  end)
end)

describe("r:field(name)", function()
  local layout = {{"x", "float64"}, {"n", "int32"}, {"s", "bytes", 3}}

  it("is a strided typed array over every record that writes through", function()
    local r = memobj.records(layout, {{x = 1, n = 10}, {x = 2, n = 20}, {x = 3, n = 30}})
    local n = r:field("n")
    assert.equal("int32", n.type)
    assert.equal(3, #n)
    assert.equal(r.size, n.stride)
    assert.same({10, 20, 30}, n:totable())
    assert.equal(60, n:sum())
    n[2] = 99
    assert.equal(99, r[2].n)
    n:fill(7)
    assert.same({{7, 1.0}, {7, 2.0}, {7, 3.0}},
      {{r[1].n, r[1].x}, {r[2].n, r[2].x}, {r[3].n, r[3].x}})
    local x = r:field("x")
    assert.same({1.0, 2.0, 3.0}, x:totable())
    x:mul(2)
    assert.same({2.0, 4.0, 6.0}, {r:get(1, "x"), r:get(2, "x"), r:get(3, "x")})
    assert.same({7, 7, 7}, n:totable())
    assert.same({30, 20}, memobj.records(layout, {{n = 10}, {n = 20}, {n = 30}}):slice(2):field("n"):slice(2, 1, -1):totable())
  end)

  it("of one record, no record, read-only records; and refusals", function()
    local one = memobj.records(layout, 1):field("n")
    assert.equal(1, #one)
    assert.equal(0, #memobj.records(layout, 0):field("x"))
    local ro = memobj.records({{"v", "u8"}, {"w", "u8"}}, "abcdef"):field("w")
    assert.is_true(ro.readonly)
    assert.same({98, 100, 102}, ro:totable())
    local r = memobj.records(layout, 2)
    assert.has_error(function() r:field("s") end,
      "bad argument #1 to 'field' (a bytes field has no typed array)")
    assert.has_error(function() r:field("nope") end,
      "bad argument #1 to 'field' (unknown field 'nope')")
    assert.has_error(function() r:field("n", 1) end)
    assert.has_error(function() r:get(1, "n", 1) end)
    assert.has_error(function() r:set(1, "n", 1, 1) end)
    assert.has_error(function() r:slice(1, 2, 3) end)
    assert.has_error(function() memobj.records(layout, 2, 1) end)
    assert.has_error(function() memobj.heap(8):records(layout, 0, 0, "r", 1) end)
  end)

  it("locks the memory as long as it lives", function()
    local m = memobj.heap(48)
    local r = m:records(layout)
    local n = r:field("n")
    r:release()
    assert.equal(1, m.locks)
    assert.has_error(function() m:close() end)
    n[1] = 5
    n:release()
    m:close()
  end)
end)

describe("records views and the locking protocol", function()
  it("lock their memory against close and resize", function()
    local m = memobj.heap(64)
    local r = m:records({{"a", "u32"}})
    assert.equal(1, m.locks)
    local ok, e = pcall(m.close, m)
    assert.is_false(ok)
    assert.matches("records view", e)
    assert.has_error(function() m:resize(8) end)
    r:release()
    assert.equal(0, m.locks)
    m:resize(8)
    m:close()
  end)

  it("a read-only records view blocks no protect('r')", function()
    local m = memobj.heap(16)
    local r = m:records({{"a", "u32"}}, 0, nil, "r")
    m:protect("r")
    assert.equal(0, r[1].a)
    m:protect("rw")
    local w = m:records({{"a", "u32"}})
    assert.has_error(function() m:protect("r") end)
    w:release()
    r:release()
  end)

  it("take part in transactions", function()
    local m = memobj.heap(64)
    local r = m:records({{"x", "f64"}, {"s", "bytes", 4}})
    r[1] = {x = 1, s = "a"}
    local ok = pcall(m.transaction, m, function()
      r[1] = {x = 2, s = "bbbb"}
      r:set(2, "x", 5)
      r:field("x")[3] = 7
      error("stop")
    end)
    assert.is_false(ok)
    assert.same({x = 1.0, s = "a\0\0\0"}, r[1])
    assert.equal(0, r[2].x)
    assert.equal(0, r[3].x)
    m:transaction(function() r[2] = {x = 3} end)
    assert.equal(3, r[2].x)
  end)

  it("on persistent memory: changes only inside transactions, durable after", function()
    local path = os.tmpname()
    os.remove(path)  -- a new pool
    local layout = {{"id", "u32"}, {"s", "bytes", 4}}
    local m = assert(memobj.persistent(path, 4096, {durability = "process"}))
    local r = m:records(layout, 0, 10)
    assert.has_error(function() r[1] = {id = 5} end,
      "memobj: persistent memory can only change inside a transaction")
    assert.has_error(function() r:set(1, "s", "x") end)
    assert.same({id = 0, s = "\0\0\0\0"}, r[1])
    m:transaction(function()
      r[1] = {id = 5, s = "ab"}
      r:set(2, "id", 6)
    end)
    r:release()
    m:close()
    m = assert(memobj.persistent(path))
    r = m:records(layout, 0, 10)
    assert.same({id = 5, s = "ab\0\0"}, r[1])
    assert.equal(6, r[2].id)
    r:release()
    m:close()
    os.remove(path)
  end)

  it("are buffers for C modules (memobj.h)", function()
    local cmodule = assert(package.loadlib(
      (os.getenv("MEMOBJ_BUILD") or "build") .. "/cmodule.so", "luaopen_cmodule"))()
    local r = memobj.records({{"a", "u8"}, {"b", "u8"}}, {{a = 1, b = 2}, {a = 3, b = 4}})
    assert.equal(10, cmodule.checksum(r))
    assert.same({"T{B:a:B:b:}", 2, 2, 2}, {cmodule.describe(r)})
    local big = memobj.records({{"x", "f64"}, {"n", "u16be"}}, {{x = 1.5, n = 1}, {x = 2, n = 2}, {x = 4, n = 3}})
    assert.same({big.format, 16, 3, 16}, {cmodule.describe(big)})
    assert.equal((NATIVE == "<" and "T{<d:x:>H:n:6x}" or "T{>d:x:>H:n:6x}"), big.format)
    assert.equal(7.5, cmodule.sum(big:field("x")))
    assert.equal(6, cmodule.sum(big:field("n")))
    local m = r.memory
    local h = cmodule.hold(r)
    r:release()
    assert.has_error(function() m:close() end)
    h:release()
    m:close()
  end)

  it("views of records views see the same bytes", function()
    local r = memobj.records({{"a", "u16"}}, {{a = 0x4142}, {a = 0x4344}})
    assert.equal(string.pack("=I2I2", 0x4142, 0x4344), memobj.bytes(r):string())
    local a = memobj.array("u16", r)
    assert.equal(0x4344, a[2])
    local r2 = memobj.records({{"lo", "u8"}, {"hi", "u8"}}, r)
    assert.equal(2, #r2)
    assert.same({lo = 0x44, hi = 0x43}, NATIVE == "<" and r2[2] or {lo = 0x44, hi = 0x43})
  end)
end)

describe("records views under finalizers", function()
  it("r[i] copies the record before it allocates", function()
    local m = memobj.heap(4096)
    local r = m:records({{"s", "bytes", 300}, {"v", "u32"}})
    r:set(1, "v", 9)
    -- finalizers that release the view and close the memory while r[i]
    -- and r:get allocate: the call copies first, then raises or finishes
    for _ = 1, 50 do
      setmetatable({}, {__gc = function() end})
    end
    local t = r[1]
    assert.equal(9, t.v)
    assert.equal(300, #r:get(1, "s"))
    setmetatable({}, {__gc = function() r:release(); m:close() end})
    collectgarbage("generational", 1, 100)  -- a collection at nearly every allocation
    for _ = 1, 200 do
      local ok, e = pcall(function() return r[1], r:get(1, "s") end)
      if not ok then assert.matches("view is released", e) end
      if r.released then break end
      collectgarbage("step")
    end
    collectgarbage("incremental")
    collectgarbage()
    assert.is_true(m.closed)
  end)
end)

describe("records over a truncated mapped file", function()
  local procs = require("mo_procs")
  local PAGE = 4096
  local inproc = procs.sigbus_ok() and it or function(name) pending(name) end

  inproc("raise for lost pages instead of building values of them", function()
    local layout = {{"id", "i32"}, {"name", "bytes", 300}}
    local calls = {
      function(r) return r[#r] end,
      function(r) return r:get(#r, "name") end,
      function(r) return r:get(#r, "id") end,
    }
    for i, call in ipairs(calls) do
      assert(procs.lost_pages(string.rep("\1", 8 * PAGE), PAGE, function(m)
        local r = m:records(layout, 0, 8 * PAGE // 304)
        local ok, msg = pcall(call, r)
        assert.is_false(ok, "call " .. i)
        assert.matches("truncated file", msg, 1, false, "call " .. i)
        assert.equal(0x01010101, r[1].id)  -- the part still in the file reads
        r:release()
      end))
    end
  end)
end)

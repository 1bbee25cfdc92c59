-- numpy's type spellings, the bool element type and numeric strings,
-- checked against numpy itself (Debian's python3-numpy): files numpy
-- writes with each spelling open as the type the spelling names, and
-- what memobj writes loads in numpy with the dtype the spelling means.
local memobj = require("memobj")

local LITTLE = string.pack("=i2", 1) == string.pack("<i2", 1)
local NATIVE = LITTLE and "le" or "be"

local numpy_py = require("numpy_py")

local dir
local function path(name) return dir .. "/" .. name end

-- Run a Python script (numpy as np, DIR the test directory); its output.
local function python(code) return numpy_py.run(dir, code) end

before_each(function()
  dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. dir))
end)

after_each(function()
  collectgarbage()
  os.execute("rm -rf " .. dir)
end)

-- spelling -> memobj's canonical name
local SPELLINGS = {
  i1 = "int8", i2 = "int16", i4 = "int32", u1 = "uint8", u2 = "uint16",
  u4 = "uint32", f4 = "float32", f8 = "float64",
  ["<i8"] = "int64" .. (LITTLE and "" or "le"), [">i8"] = "int64" .. (LITTLE and "be" or ""),
  ["=i8"] = "int64", ["=u8"] = "uint64", ["<u8"] = "uint64" .. (LITTLE and "" or "le"),
  ["<i4"] = "int32" .. (LITTLE and "" or "le"), [">f8"] = "float64" .. (LITTLE and "be" or ""),
  [">u2"] = "uint16" .. (LITTLE and "be" or ""), ["|i1"] = "int8", ["|u1"] = "uint8",
  ["<i1"] = "int8", ["=f4"] = "float32",
  bool = "bool", b1 = "bool", ["?"] = "bool", ["|b1"] = "bool", ["|?"] = "bool",
}

describe("numpy's spellings", function()
  it("name the types numpy gives them; bare i8/u8 stay int8/uint8", function()
    for s, want in pairs(SPELLINGS) do
      local a = memobj.array(s, 2)
      assert.equal(want, a.type, s)
      assert.equal(want == "bool" and 1 or tonumber(s:match("%d")), a.itemsize, s)
    end
    assert.equal("int8", memobj.array("i8", 1).type)
    assert.equal("uint8", memobj.array("u8", 1).type)
    assert.equal("int64" .. (LITTLE and "" or NATIVE), memobj.array("<i8", 1).type:gsub("le$", ""))
  end)

  it("refuses what numpy refuses or memobj cannot hold", function()
    for _, s in ipairs({"|i4", "|f8", "f2", "c8", "i3", "<", "b2", "??", "<i16", "i4le", "U1", ""}) do
      local ok, e = pcall(memobj.array, s, 1)
      assert.is_false(ok, s)
      assert.matches("unknown element type", e, 1, true)
    end
  end)

  it("are taken by m:array, cast, records fields and npy.save alike", function()
    local m = memobj.heap(16)
    assert.equal("int32", m:array("i4").type)
    assert.equal(4, #m:array("<i4"))
    assert.equal("uint16" .. (LITTLE and "be" or ""), m:array(">u2"):cast("u4"):cast(">u2").type)
    local r = memobj.records({{"a", "<i8"}, {"b", "f4"}, {"c", "?"}}, 1)
    assert.equal(16, r.size)
    r[1] = {a = -5, b = 1.5, c = true}
    assert.same({a = -5, b = 1.5, c = true}, r[1])
  end)

  it("every spelling opens from numpy and saves back to numpy's dtype", function()
    local names = {}
    for s in pairs(SPELLINGS) do names[#names + 1] = s end
    table.sort(names)
    -- numpy writes [0, 1, 2] (bool: [F, T, T]) with np.dtype(spelling)
    python("for k, s in enumerate(" .. "['" .. table.concat(names, "','") .. "']" .. [[):
    np.save(os.path.join(DIR, 'n%d.npy' % k), np.array([0, 1, 2]).astype(np.dtype(s)))
]])
    for k, s in ipairs(names) do
      local a = assert(memobj.npy.open(path(("n%d.npy"):format(k - 1))))
      assert.equal(memobj.array(s, 1).type, a.type, s)
      if SPELLINGS[s] == "bool" then assert.same({false, true, true}, a:totable())
      else assert.equal(3, a:sum()) end
      a:release()
      -- and memobj's own array of that spelling, saved, is numpy's dtype
      local b = memobj.array(s, 3)
      if SPELLINGS[s] == "bool" then b:copy({true, false, true}) else b:copy({7, 8, 9}) end
      assert.is_true(memobj.npy.save(path(("m%d.npy"):format(k - 1)), b))
    end
    local out = python("for k, s in enumerate(" .. "['" .. table.concat(names, "','") .. "']" .. [[):
    a = np.load(os.path.join(DIR, 'm%d.npy' % k))
    assert a.dtype == np.dtype(s), (s, a.dtype)
    want = [True, False, True] if a.dtype == bool else [7, 8, 9]
    assert a.tolist() == want, (s, a.tolist())
print('ok')
]])
    assert.equal("ok\n", out)
  end)
end)

describe("bool arrays", function()
  it("read true/false, store booleans only, any nonzero byte is true", function()
    local a = memobj.array("bool", {true, false, true})
    assert.same({true, false, true}, a:totable())
    assert.same({true, false, true}, {a:unpack()})
    a[2] = true
    a:set(1, false)
    assert.same({false, true, true}, a:totable())
    for _, v in ipairs({1, 0, "true", "1", {}}) do
      assert.error_matches(function() a[1] = v end, "boolean expected, got " .. type(v), 1, true)
      assert.error_matches(function() a:set(1, v) end, "boolean expected", 1, true)
      assert.error_matches(function() a:fill(v) end, "boolean expected", 1, true)
      assert.error_matches(function() memobj.array("bool", {v}) end, "boolean expected", 1, true)
      assert.error_matches(function() a:copy({v}) end, "boolean expected", 1, true)
    end
    assert.same({false, true, true}, a:totable())  -- refused stores wrote nothing
    assert.error_matches(function() a:copy(memobj.array("u8", {1, 0, 1})) end,
                         "a bool array stores booleans only")
    -- bytes other than 0 and 1 (written through a u8 view) read as true
    local u = a:bytes()
    u[1], u[2], u[3] = 0, 2, 255
    assert.same({false, true, true}, a:totable())
    assert.equal(2, a:sum())
    -- bool into numbers: 0 and 1
    local i = memobj.array("i32", 3)
    i:copy(a)
    assert.same({0, 1, 1}, i:totable())
    local f = memobj.array("f64", 3)
    f:copy(a)
    assert.same({0.0, 1.0, 1.0}, f:totable())
  end)

  it("kernels answer as numpy does, or refuse", function()
    local vals = {}
    for k = 1, 1000 do vals[k] = (k * 7919) % 3 == 0 end
    local a = memobj.array("bool", vals)
    local s = a:slice(1, -1, 3)
    assert.is_true(memobj.npy.save(path("b.npy"), a))
    local out = python([[
a = np.load(os.path.join(DIR, 'b.npy'))
s = a[::3]
def b(x): return 'true' if x else 'false'
print(int(a.sum()), b(a.min()), b(a.max()), repr(float(a.mean())), int(s.sum()), b(s.min()), int(np.dot(a.astype(np.int64), np.arange(1000))))
]])
    local want = {}
    for w in out:gmatch("%S+") do want[#want + 1] = w end
    assert.equal(tonumber(want[1]), a:sum())
    assert.equal(want[2], tostring(a:min()))
    assert.equal(want[3], tostring(a:max()))
    local lo, hi = a:minmax()
    assert.same({want[2], want[3]}, {tostring(lo), tostring(hi)})
    assert.equal(tonumber(want[4]), a:mean())
    assert.equal(tonumber(want[5]), s:sum())
    assert.equal(want[6], tostring(s:min()))
    local idx = memobj.array("i64", 1000)
    for k = 1, 1000 do idx[k] = k - 1 end
    assert.equal(tonumber(want[7]), a:dot(idx))
    assert.equal(tonumber(want[7]), idx:dot(a))
    assert.error_matches(function() a:dot(a) end, "both arrays are bool")
    for _, op in ipairs({"add", "sub", "mul", "div"}) do
      assert.error_matches(function() a[op](a, 1) end, "bool arrays take no arithmetic")
    end
    -- an integer array takes a bool array as operand (numpy: True is 1)
    idx:add(a)
    for k = 1, 1000 do assert.equal(k - 1 + (vals[k] and 1 or 0), idx[k]) end
    local first
    for k = 1, 1000 do if vals[k] then first = k break end end
    assert.equal(first, a:find(true))
    assert.is_nil((a:find(1)))  -- as Lua's ==: true is not 1
    local c = memobj.array("bool", {true, false, true, false})
    c:sort()
    assert.same({false, false, true, true}, c:totable())
  end)

  it(".npy bool files both ways, and bool fields of records", function()
    python([[
np.save(os.path.join(DIR, 'b.npy'), np.array([True, False, True]))
np.save(os.path.join(DIR, 'r.npy'), np.array([(1, True), (2, False)], dtype=[('x', '<i4'), ('ok', '?')]))
np.save(os.path.join(DIR, 'raw.npy'), np.frombuffer(bytes([0, 2, 255, 1]), dtype=np.bool_))
]])
    local a, shape = assert(memobj.npy.open(path("b.npy")))
    assert.equal("bool", a.type)
    assert.same({3}, shape)
    assert.same({true, false, true}, a:totable())
    a:release()
    local raw = assert(memobj.npy.open(path("raw.npy")))
    assert.same({false, true, true, true}, raw:totable())
    raw:release()
    local r = assert(memobj.npy.open(path("r.npy"), "rw"))
    assert.same({x = 1, ok = true}, r[1])
    assert.same({x = 2, ok = false}, r[2])
    r[2] = {ok = true}
    r:release()
    local rec = memobj.records({{"n", "u2"}, {"flag", "bool"}}, 2)
    rec[1] = {n = 3, flag = true}
    assert.is_true(memobj.npy.save(path("mine.npy"), rec))
    assert.equal("True True bool [3, 0] [True, False]\n", python([[
r = np.load(os.path.join(DIR, 'r.npy'))
m = np.load(os.path.join(DIR, 'mine.npy'))
print(bool(r['ok'][1]), bool(r['ok'][0]), m.dtype['flag'], m['n'].tolist(), m['flag'].tolist())
]]))
  end)
end)

describe("numeric strings are stored wherever numbers are", function()
  it("as string.pack takes them, in every constructor and method alike", function()
    local f = memobj.array("f64", {"1.5", "0x10", 3, " 2e1 "})
    assert.same({1.5, 16.0, 3.0, 20.0}, f:totable())
    f[1] = "2.5"
    f:set(2, "-0x2")
    assert.same({2.5, -2.0}, {f[1], f[2]})
    f:fill("4", 3)
    assert.equal(4.0, f[4])
    f:copy({"1", "2"})
    assert.same({1.0, 2.0, 4.0, 4.0}, f:totable())
    f:add("1"):mul("0x2"):sub("1.5"):div("2")
    assert.same({1.25, 2.25, 4.25, 4.25}, f:totable())
    local i = memobj.array("i32", {"7", "0x10", "-3"})
    assert.same({7, 16, -3}, i:totable())
    i[1] = "8"
    i:add("2")
    assert.same({10, 18, -1}, i:totable())
    -- the same refusals as string.pack
    for _, bad in ipairs({"1.5", "abc", "1e100"}) do
      local ok1 = pcall(string.pack, "i4", bad)
      local ok2 = pcall(function() i[1] = bad end)
      local ok3 = pcall(memobj.array, "i32", {bad})
      local ok4 = pcall(i.copy, i, {bad})
      local ok5 = pcall(i.fill, i, bad)
      local ok6 = pcall(i.set, i, 1, bad)
      assert.same({ok1, ok1, ok1, ok1, ok1}, {ok2, ok3, ok4, ok5, ok6}, bad)
    end
    assert.same({10, 18, -1}, i:totable())
    assert.error_matches(function() i:add("1.5") end, "takes only integers")
    local r = memobj.records({{"x", "i16"}, {"y", "f32"}}, 1)
    r[1] = {x = "12", y = "0.5"}
    r:set(1, "x", "0x7f")
    assert.same({x = 127, y = 0.5}, r[1])
    local s = memobj.array("u32", 1)
    s:atomic_store(1, "5")
    assert.equal(6, s:atomic_add(1, "1") + 1)
  end)
end)

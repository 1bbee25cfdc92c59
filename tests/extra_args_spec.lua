-- No function ignores an argument it was given (issue 16.3): each call
-- below is valid without its last argument, and raises "no value
-- expected" with it. (Metamethods that Lua calls with extra operands,
-- such as __len and __close, and release are not covered.)
local memobj = require("memobj")

local X = "extra"

local function raises(what, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, what .. " accepted an extra argument")
  assert.matches("no value expected", err, 1, true, what)
end

describe("extra arguments raise", function()
  it("on typed arrays", function()
    local function a() return memobj.array("i32", {4, 3, 2, 1}) end
    local calls = {
      get = {1}, set = {1, 5}, unpack = {1, 2}, slice = {1, 2, 1}, cast = {"u8"},
      chunks = {2}, fill = {0, 1, 2}, copy = {{1}, 1}, totable = {1, 2}, sort = {1, 2},
      find = {1, 1}, sum = {1, 2}, min = {1, 2}, max = {1, 2}, minmax = {1, 2},
      mean = {1, 2}, add = {1}, sub = {1}, mul = {1}, atomic_load = {1},
      atomic_store = {1, 1}, atomic_add = {1, 1}, atomic_cas = {1, 1, 2},
      wait = {1, 9, 0}, notify = {1, 1}, bytes = {0, 4, "rw"},
    }
    for name, args in pairs(calls) do
      local x = a()
      local ok, err = pcall(x[name], x, table.unpack(args))
      assert.is_true(ok, name .. ": " .. tostring(err))
      args[#args + 1] = X
      raises("a:" .. name, function() return x[name](x, table.unpack(args)) end)
    end
    local f = memobj.array("f64", 2)
    raises("a:div", function() return f:div(2, X) end)
    raises("a:dot", function() return f:dot(f, X) end)
    raises("memobj.array(t, n)", function() return memobj.array("i8", 3, X) end)
    raises("memobj.array(t, src, mode)", function() return memobj.array("i8", "abc", "r", X) end)
    raises("m:array", function() return memobj.heap(8):array("i8", 0, 8, "rw", X) end)
  end)

  it("on byte views", function()
    local calls = {byte = {1, 2}, sub = {1, 2}, string = {1, 2}, find = {"a", 1, true},
      match = {"a", 1}, gmatch = {"a", 1}, unpack = {"b", 1}, rep = {2, ","},
      upper = {}, lower = {}, reverse = {}, equals = {"abc"}, put = {1, "a"},
      fill = {65, 1, 2}}
    for name, args in pairs(calls) do
      local b = memobj.heap(3):bytes()
      assert.is_true(pcall(b[name], b, table.unpack(args)), name)
      args[#args + 1] = X
      raises("b:" .. name, function() return b[name](b, table.unpack(args)) end)
    end
    local v = memobj.heap(8):bytes()
    assert.equal(3, v:encode(1, 1))
    assert.equal(1, (v:decode(1)))
    raises("b:encode", function() return v:encode(1, 1, X) end)
    raises("b:decode", function() return v:decode(1, X) end)
    raises("memobj.encode", function() return memobj.encode(1, X) end)
    raises("memobj.decode", function() return memobj.decode("\1\0", 1, X) end)
    raises("memobj.bytes", function() return memobj.bytes("abc", 0, 3, "r", X) end)
    raises("m:bytes", function() return memobj.heap(3):bytes(0, 3, "rw", X) end)
  end)

  it("on memory objects", function()
    local m = memobj.heap(8)
    raises("m:resize", function() return m:resize(8, X) end)
    raises("m:sync", function() return m:sync(0, 8, X) end)
    raises("m:protect", function() return m:protect("rw", X) end)
    raises("m:advise", function() return m:advise("normal", X) end)
    raises("m:file", function() return m:file("r", X) end)
  end)
end)

-- No function ignores an argument it was given (issue 16.3): one argument
-- beyond those a function takes raises "no value expected". The declared
-- methods and functions (runtime/core/method.h) are iterated from their
-- descriptors. (Metamethods that Lua calls with extra operands, such as
-- __len and __close, and release are not covered.)
local memobj = require("memobj")

local X = "extra"

local function raises(what, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, what .. " accepted an extra argument")
  assert.matches("no value expected", err, 1, true, what)
end

-- The declared methods (runtime/method.h), as the trampoline sees them.
local declared = debug.getregistry()["memobj.methods"]()

-- A fresh view of each declared kind (writable, 4 items or bytes).
local samples = {
  array = function() return memobj.array("i32", {4, 3, 2, 1}) end,
  bytes = function() return memobj.heap(4):bytes() end,
  records = function() return memobj.records({{"x", "i32"}}, 4) end,
  file = function() return memobj.heap(4):file("r+") end,
  queue = function() return memobj.queue(1024) end,
  dict = function() return memobj.dict(1024) end,
}

-- The methods table behind a view's __index (mo_view_newmeta).
local function methods_of(x)
  local _, t = debug.getupvalue(debug.getmetatable(x).__index, 1)
  return t
end

-- Where the declared functions without a view self live.
local homes = {
  memobj = function() return memobj end,
  npy = function() return memobj.npy end,
  memory = function() return memobj.heap(8) end,   -- its methods
}

describe("declared methods", function()
  it("cover every method of every view kind", function()
    local kinds = 0
    for kind, list in pairs(declared) do
      if list[1].view then
        kinds = kinds + 1
        local make = assert(samples[kind], "no sample view of kind " .. kind)
        local names = {release = true}  -- release is the view base's own
        for _, d in ipairs(list) do names[d.name] = true end
        for name in pairs(methods_of(make())) do
          assert.is_true(names[name], kind .. ":" .. name .. " is not declared")
        end
      end
    end
    assert.equal(6, kinds)  -- array, bytes, records, file, queue, dict
  end)

  it("refuse an argument beyond the declared ones, before anything else", function()
    local n = 0
    for kind, list in pairs(declared) do
      for _, d in ipairs(list) do
        if d.nargs >= 0 then
          local args = {}
          if d.view then            -- self, then nargs arguments
            local x = samples[kind]()
            args[1], args[d.nargs + 2] = x, X
            n = n + 1
            raises(kind .. ":" .. d.name, function()
              return x[d.name](table.unpack(args, 1, d.nargs + 2))
            end)
          elseif homes[kind] then   -- nargs arguments in all
            local fn = homes[kind]()[d.name]
            args[d.nargs + 1] = X
            n = n + 1
            raises(kind .. "." .. d.name, function()
              return fn(table.unpack(args, 1, d.nargs + 1))
            end)
          else
            assert.is_true(kind:match(" meta$") ~= nil, "no home for kind " .. kind)
          end
        end
      end
    end
    assert.is_true(n >= 60, n .. " declared functions checked")
  end)

  it("that write refuse a read-only view whatever the arguments", function()
    local m = memobj.heap(16)
    local readonly = {array = m:array("i32", 0, 4, "r"), bytes = m:bytes(0, 4, "r"),
      records = m:records({{"x", "i32"}}, 0, 4, "r")}
    for kind, list in pairs(declared) do
      for _, d in ipairs(list) do
        local ro = readonly[kind]
        if d.writes and ro then
          local ok, err = pcall(ro[d.name], ro)
          assert.is_false(ok, kind .. ":" .. d.name)
          assert.matches("read-only", err, 1, true, kind .. ":" .. d.name)
        end
      end
    end
  end)
end)

-- (every declared method and function is checked above from its
-- descriptor; these are the limits that depend on the arguments' values,
-- and memory objects' own methods)
describe("extra arguments raise", function()
  it("after a count or a table", function()
    raises("memobj.array(t, n)", function() return memobj.array("i8", 3, X) end)
    raises("memobj.array(t, {})", function() return memobj.array("i8", {1}, X) end)
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

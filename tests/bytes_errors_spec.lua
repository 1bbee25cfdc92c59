-- Issue 16 items 5 and 7: b:rep has string.rep's limit, and errors name
-- what the user called, with the caller's position.
local memobj = require("memobj")

local function err(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok)
  return e
end

describe("b:rep", function()
  it("refuses results over Lua's string limit before allocating", function()
    local b = memobj.bytes(memobj.heap(8))
    local before = collectgarbage("count")
    assert.matches("resulting string too large", err(b.rep, b, 1 << 28))
    assert.matches("resulting string too large", err(b.rep, b, 1 << 62))
    assert.matches("resulting string too large", err(b.rep, b, 1 << 27, "abcdefghijklmnop"))
    assert.is_true(collectgarbage("count") < before + 1024)  -- nothing built
  end)

  it("agrees with string.rep on where the limit is", function()
    local s = "12345678"
    local b = memobj.bytes(s)
    -- (only cases string.rep refuses, or small ones: a success just under
    -- the limit would build 2 GiB)
    for _, case in ipairs{{1 << 28, nil}, {1 << 28, ""}, {1 << 27, "12345678"},
                          {(1 << 27) + 1, "1234567"}, {1 << 40, "x"},
                          {0, "x"}, {-5, "x"}, {3, "ab"}, {1, nil}} do
      local n, sep = case[1], case[2]
      local sok, sres = pcall(string.rep, s, n, sep)
      local bok, bres = pcall(b.rep, b, n, sep)
      assert.equal(sok, bok)
      if sok then assert.equal(sres, bres)
      else assert.equal(sres:gsub("^.-:%d+: ", ""), bres:gsub("^.-:%d+: ", "")) end
    end
  end)
end)

describe("error messages name the method", function()
  local b = memobj.bytes(memobj.heap(8))

  it("b:unpack: 'unpack' and the caller's position, never 'string.unpack'", function()
    local e = err(function() return b:unpack("i16") end)
    assert.matches("^.-bytes_errors_spec%.lua:%d+: ", e)
    assert.matches("'unpack'", e)
    assert.matches("data string too short", e)
    assert.is_nil(e:find("string.unpack", 1, true))
    e = err(function() return b:unpack("q") end)
    assert.matches("^.-bytes_errors_spec%.lua:%d+: invalid format option 'q'$", e)
    e = err(function() return b:unpack("i4", 20) end)
    assert.matches("^.-bytes_errors_spec%.lua:%d+: bad argument #2 to 'unpack'", e)
    -- a longer view: the error of a window that fits is the same
    local big = memobj.bytes(memobj.heap(5000))
    e = err(function() return big:unpack("c4999c2") end)
    assert.matches("^.-bytes_errors_spec%.lua:%d+: calling 'unpack' on bad self " ..
                   "%(data string too short%)$", e)
  end)

  it("b:pack: 'pack', our argument numbers, the caller's position", function()
    local e = err(function() return b:pack(1, "i4", "x") end)
    assert.matches("^.-bytes_errors_spec%.lua:%d+: bad argument #3 to 'pack' " ..
                   "%(number expected, got string%)$", e)
    e = err(function() return b:pack(1, "i4i2", 1, 1 << 20) end)
    assert.matches("^.-bytes_errors_spec%.lua:%d+: bad argument #4 to 'pack' " ..
                   "%(integer overflow%)$", e)
    e = err(function() return b:pack(1, "y") end)
    assert.matches("^.-bytes_errors_spec%.lua:%d+: invalid format option 'y'$", e)
    assert.is_nil(e:find("string.pack", 1, true))
  end)

  it("a[i] = v names the element, not 'newindex'", function()
    local a = memobj.array("int32", 4)
    local e = err(function() a[1] = 1.5 end)
    assert.matches("memobj: int32 array element 1: cannot store 1.5 " ..
                   "%(number has no integer representation%)", e)
    e = err(function() a[2] = "x" end)
    assert.matches("int32 array element 2: cannot store a string value %(number expected, got string%)", e)
    e = err(function() memobj.array("uint8", 2)[1] = 256 end)
    assert.matches("uint8 array element 1: cannot store 256", e)
    assert.is_nil(e:find("newindex", 1, true))
    a[3] = "7"  -- a numeric string converts, as before
    assert.equal(7, a[3])
  end)
end)

-- issue 20: an absent argument is "no value", as Lua's string library says,
-- also for a method whose arguments the trampoline pads for its pin (gsub)
describe("absent arguments", function()
  it("b:gsub(p) says 'got no value' as s:gsub(p) does", function()
    local b = memobj.bytes("abc")
    local function msg(f) local ok, e = pcall(f); assert.is_false(ok); return e end
    local want = msg(function() return ("abc"):gsub("a") end)
    local got = msg(function() return b:gsub("a") end)
    assert.matches("got no value", want, 1, true)
    assert.equal((want:gsub("^.-:%d+: ", "")), (got:gsub("^.-:%d+: ", "")))
    -- nil given is "got nil", as Lua says
    want = msg(function() return ("abc"):gsub("a", nil) end)
    got = msg(function() return b:gsub("a", nil) end)
    assert.equal((want:gsub("^.-:%d+: ", "")), (got:gsub("^.-:%d+: ", "")))
  end)
end)

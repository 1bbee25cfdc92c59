-- sigbus_spec.lua: a mapped file truncated under us turns into a Lua
-- error from the access that touched the lost pages; the process lives.
local memobj = require("memobj")
local P = require("mo_procs")

local PAGE = 4096

-- valgrind turns the SIGBUS of a truncated mapping into a fatal SIGSEGV
-- of its own; in-process truncation tests run only outside it (the child
-- process test below still runs: children are not traced)
local inproc = it
if (os.getenv("LUA_WRAPPER") or ""):match("valgrind") then
  inproc = function(name) pending(name .. " (not under valgrind)") end
end

local function truncate(p, n)
  -- a real truncation, by another process
  assert(os.execute(string.format("truncate -s %d '%s'", n, p)))
end

describe("a truncated mapped file", function()
  local p
  before_each(function() p = P.tmpfile(string.rep("\1", 8 * PAGE)) end)
  after_each(function()
    collectgarbage()
    os.remove(p)
  end)

  inproc("raises on element access and the process keeps working", function()
    local m = assert(memobj.map(p))
    local a = m:array("u8")
    assert.equal(1, a[1])
    assert.equal(1, a[8 * PAGE])
    truncate(p, PAGE)
    assert.equal(1, a[PAGE])  -- still in the file
    local ok, msg = pcall(function() return a[PAGE + 1] end)
    assert.is_false(ok)
    assert.matches("memobj: access to pages lost by a truncated file", msg)
    ok, msg = pcall(function() a[3 * PAGE] = 5 end)
    assert.is_false(ok)  -- a read-only view raises before touching
    assert.matches("read%-only", msg)
    -- later work is unaffected
    local h = memobj.array("f64", {1, 2, 3})
    assert.equal(6, h:sum())
    a:release()
    m:close()
  end)

  inproc("raises from bulk operations, writes and slices", function()
    local ops = {
      function(m) return m:array("u8"):sum() end,
      function(m) m:array("u32")[2 * PAGE // 4 + 1] = 7 end,
      function(m) m:array("u32"):fill(3, PAGE // 4 + 1) end,
      function(m) return m:array("i16"):totable(1, 8) end,
      function(m) return m:array("u8"):slice(-10):max() end,
      function(m) return m:array("f64", PAGE):unpack(1, 4) end,
      function(m) return m:array("i32"):atomic_add(PAGE, 1) end,
    }
    for i, op in ipairs(ops) do
      local f = assert(io.open(p, "wb"))
      f:write(string.rep("\1", 8 * PAGE))
      f:close()
      local m = assert(memobj.map(p, {mode = "rw"}))
      truncate(p, 0)
      local ok, msg = pcall(op, m)
      assert.is_false(ok, "operation " .. i)
      assert.matches("truncated file", msg)
      collectgarbage()
      m:close()
    end
  end)

  it("raises in a child process, which then exits normally", function()
    local child = P.spawn([[
      local path = ...
      local m = assert(memobj.map(path))
      local a = m:array("f64")
      print("mapped", a:sum())
      io.stdout:flush()
      -- wait until the parent's truncation has completed (the new length
      -- shows before the kernel has unmapped the pages: wait for a flag)
      repeat
        local f = io.open(path .. ".done", "rb")
        if f then f:close() end
      until f
      local ok, msg = pcall(function() return a[#a] end)
      print("access", ok, msg)
      print("alive", memobj.array("i32", {4, 5}):sum())
      os.exit(0)
    ]], {p})
    assert.matches("^mapped", child.line())
    truncate(p, 0)
    assert(io.open(p .. ".done", "wb")):close()
    local out, ok = child.wait()
    os.remove(p .. ".done")
    assert.is_true(ok)
    assert.matches("access\tfalse\t.*access to pages lost by a truncated file",
                   out)
    assert.matches("alive\t9", out)
  end)

  it("does not hide other faults", function()
    -- a SIGBUS outside our mappings still kills: raise one in a child
    local out, ok, _, code = P.run([[
      local p = ...
      local m = assert(memobj.map(p))
      os.execute("kill -BUS " .. io.open("/proc/self/stat"):read("l"):match("^%d+"))
      print("survived")
    ]], {p})
    assert.is_falsy(ok)
    -- death by SIGBUS (135 from the shell), or the report of a handler
    -- installed before ours (AddressSanitizer's under `make check`)
    assert.is_true(code ~= 0)
    assert.is_nil(out:match("survived"))
  end)
end)

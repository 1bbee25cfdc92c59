-- m:export() / memobj.import(token) between Lua states in threads of one
-- process, with luv's new_thread (Debian lua-luv): every thread is its
-- own Lua state running in parallel with this one.
-- luacheck: no redefined (thread functions run in their own state: they load memobj again)
local memobj = require("memobj")
local uv = require("luv")
local CPATH = package.cpath

-- Run fn(token, ...) in a new thread with memobj loaded; returns the
-- thread (join it). fn is dumped, so it sees no upvalues.
local function thread(fn, ...)
  return uv.new_thread(function(body, cpath, ...)
    package.cpath = cpath
    return load(body)(...)
  end, string.dump(fn), CPATH, ...)
end

after_each(function() collectgarbage() collectgarbage() end)

describe("export and import", function()
  it("shares heap bytes: atomics from two threads add up exactly", function()
    local m = memobj.heap(64)
    local a = m:array("i64")
    local tok = m:export()
    assert.matches("^memobj:%d+:%d+$", tok)
    assert.equal(tok, m:export())  -- the same record each time
    local t = thread(function(tok2)
      local memobj = require("memobj")
      local m2 = assert(memobj.import(tok2))
      local a2 = m2:array("i64")
      for _ = 1, 200000 do a2:atomic_add(1, 1) end
      a2:atomic_store(2, m2.size)
    end, tok)
    for _ = 1, 200000 do a:atomic_add(1, 1) end
    t:join()
    assert.equal(400000, a:atomic_load(1))
    assert.equal(64, a[2])
  end)

  it("wait and notify between threads", function()
    local m = memobj.heap(16)
    local a = m:array("i32")
    local t = thread(function(tok)
      local memobj = require("memobj")
      local b = assert(memobj.import(tok)):array("i32")
      while b:atomic_load(1) == 0 do b:wait(1, 0, 1) end  -- the go signal
      b:atomic_store(2, b:atomic_load(1) * 10)
      b:notify(2)
    end, m:export())
    a:atomic_store(1, 7)
    a:notify(1)
    while a:atomic_load(2) == 0 do a:wait(2, 0, 1) end
    t:join()
    assert.equal(70, a[2])
  end)

  it("locks hold across states: a view in one blocks close in the other", function()
    local ctl = memobj.heap(16)
    local c = ctl:array("i32")
    local m = memobj.heap(4096)
    local t = thread(function(ctok, tok)
      local memobj = require("memobj")
      local cc = assert(memobj.import(ctok)):array("i32")
      local m2 = assert(memobj.import(tok))
      local v = m2:bytes(0, 10)      -- a view held in this state
      cc:atomic_store(1, 1)
      cc:notify(1)
      while cc:atomic_load(2) == 0 do cc:wait(2, 0, 1) end
      v:release()
      cc:atomic_store(3, 1)
      cc:notify(3)
    end, ctl:export(), m:export())
    while c:atomic_load(1) == 0 do c:wait(1, 0, 1) end
    assert.equal(1, m.locks)
    assert.error_matches(function() m:close() end,
                         "close: refused, heap memory is locked by 1 view in other Lua states")
    assert.error_matches(function() m:resize(10) end, "exported to other Lua states")
    assert.error_matches(function() m:protect("r") end, "exported to other Lua states")
    c:atomic_store(2, 1)
    c:notify(2)
    while c:atomic_load(3) == 0 do c:wait(3, 0, 1) end
    t:join()
    assert.equal(0, m.locks)
    assert.is_true(m:close())
  end)

  it("frees the bytes when the last state lets go, whichever it is", function()
    local ctl = memobj.heap(16)
    local c = ctl:array("i32")
    local m = memobj.heap(1 << 20)
    m:bytes():fill(0x5a)
    local tok = m:export()
    local t = thread(function(ctok, tok2)
      local memobj = require("memobj")
      local cc = assert(memobj.import(ctok)):array("i32")
      local m2 = assert(memobj.import(tok2))
      cc:atomic_store(1, 1)
      cc:notify(1)
      while cc:atomic_load(2) == 0 do cc:wait(2, 0, 1) end
      -- the exporter closed its object: these bytes are still ours
      local b = m2:bytes()
      local ok = b[1] == 0x5a and b[#b] == 0x5a and b:find("[^Z]") == nil
      cc:atomic_store(3, ok and 1 or 2)
      b:release()
      m2:close()
    end, ctl:export(), tok)
    while c:atomic_load(1) == 0 do c:wait(1, 0, 1) end
    assert.is_true(m:close())               -- this state lets go first
    assert.truthy(memobj.import(tok))       -- the other state still holds it
    collectgarbage()
    c:atomic_store(2, 1)
    c:notify(2)
    t:join()
    assert.equal(1, c[3])
    collectgarbage()
    local none, msg = memobj.import(tok)    -- every state let go
    assert.is_nil(none)
    assert.equal("memobj: import: the memory of this token is gone (every "
                 .. "state let go of it)", msg)
  end)

  it("refuses transactions on memory held by two states, and imports into one", function()
    local m = memobj.heap(64)
    local tok = m:export()
    m:begin()                                -- held by one state: fine
    local none, msg = memobj.import(tok)
    assert.is_nil(none)
    assert.matches("a transaction is open", msg)
    m:commit()
    local other = assert(memobj.import(tok))   -- a second object (same rule)
    assert.error_matches(function() m:begin() end, "held by other Lua states")
    assert.error_matches(function() m:transaction(function() end) end,
                         "held by other Lua states")
    other:close()
    m:transaction(function() m:bytes():fill(1) end)
    assert.equal(1, m:bytes()[64])
  end)

  it("shared, memfd, mapped and foreign memory; other kinds refused", function()
    local name = "/memobj-export-" .. os.time() .. "-" .. math.random(1e9)
    local sh = assert(memobj.shared(name, 4096))
    sh:unlink()
    local mf = assert(memobj.memfd(4096))
    local path = os.tmpname()
    local f = io.open(path, "wb"); f:write(("x"):rep(4096)); f:close()
    local mp = assert(memobj.map(path, {mode = "rw"}))
    os.remove(path)
    local base = memobj.heap(32)
    local fo = memobj.foreign(base.pointer, 32, {mode = "rw"})
    for _, m in ipairs({sh, mf, mp, fo}) do
      local t = thread(function(tok)
        local memobj = require("memobj")
        local m2 = assert(memobj.import(tok))
        local b = m2:bytes()
        b[1] = 65 + #m2.kind
        return m2.kind, m2.size, m2.name or m2.path or ""
      end, m:export())
      t:join()
      assert.equal(65 + #m.kind, m:bytes()[1], m.kind)
      local imp = assert(memobj.import(m:export()))
      assert.equal(m.kind, imp.kind)
      assert.equal(m.size, imp.size)
      assert.equal(m.name, imp.name)
      assert.equal(m.path, imp.path)
      imp:close()
    end
    assert.equal(mf.fd, assert(memobj.import(mf:export())).fd)
    assert.error_matches(function() memobj.string("abc"):export() end,
                         "export: string memory cannot be shared")
    local libc = require("memobj.ffi").load()
    local cmalloc = libc:func("malloc", "pointer", {"size_t"})
    local cfree = libc:func("free", "void", {"pointer"})
    local freed = memobj.foreign(cmalloc(32), 32, {free = cfree})
    assert.error_matches(function() freed:export() end, "free function")
    freed:close()
    memobj.debug(true)
    local dbg = memobj.heap(16)
    memobj.debug(false)
    assert.error_matches(function() dbg:export() end, "memobj.debug")
    dbg:close()
    for _, m in ipairs({sh, mf, mp, fo}) do m:close() end
  end)

  it("bad and foreign tokens", function()
    assert.error_matches(function() memobj.import("nope") end, "not a token")
    assert.error_matches(function() memobj.import() end, "string expected")
    local none, msg = memobj.import("memobj:1:1")
    assert.is_nil(none)
    assert.matches("another process", msg)
    local m = memobj.heap(8)
    local tok = m:export()
    assert.error_matches(function() memobj.import(tok, 1) end, "no value expected")
    m:close()
    assert.is_nil((memobj.import(tok)))
    assert.error_matches(function() m:export() end, "closed")
  end)

  it("survives imports racing with the last release (8 threads)", function()
    for _ = 1, 5 do
      local m = memobj.heap(4096)
      local tok = m:export()
      local ts = {}
      for k = 1, 8 do
        ts[k] = thread(function(tok2)
          local memobj = require("memobj")
          local n = 0
          for _ = 1, 2000 do
            local m2 = memobj.import(tok2)
            if not m2 then break end  -- gone: stays gone
            local b = m2:bytes(0, 8)
            b[1] = 1
            b:release()
            -- close is refused while another thread's view is attached;
            -- dropping the object lets go as well (at the next collection)
            if not pcall(m2.close, m2) then m2 = nil end
            n = n + 1
          end
          for _ = 1, 10 do assert(memobj.import(tok2) == nil or true) end
          return n
        end, tok)
      end
      if not pcall(m.close, m) then m = nil end  -- while they import and release
      collectgarbage()
      for k = 1, 8 do ts[k]:join() end
      collectgarbage()
      assert.is_nil((memobj.import(tok)))
    end
  end)
end)

describe("structures between threads", function()
  -- A queue and a dictionary in exported heap memory, used by this state
  -- and a thread at once: every value arrives once, and incr adds up.
  it("a queue carries values and a dict counts exactly between two states", function()
    local m = memobj.heap(1 << 16)
    local tok = m:export()
    local t = thread(function(tok2)
      local memobj = require("memobj")
      local m2 = assert(memobj.import(tok2))
      local q = assert(m2:queue(0, 1 << 15))
      local d = assert(m2:dict(1 << 15, 1 << 15))
      for i = 1, 5000 do
        assert(q:put({i = i, s = "v" .. i}, 10))
        d:incr("n", 1, 0)
      end
      return true
    end, tok)
    local q = assert(m:queue(0, 1 << 15))
    local d = assert(m:dict(1 << 15, 1 << 15))
    local sum, got = 0, 0
    for i = 1, 5000 do
      d:incr("n", 1, 0)
      local v = assert(q:get(10))
      assert.equal("v" .. v.i, v.s)
      sum = sum + v.i
      got = got + 1
      if i % 1000 == 0 then collectgarbage("step") end
    end
    t:join()
    assert.equal(5000, got)
    assert.equal(5000 * 5001 // 2, sum)
    assert.equal(10000, d:get("n"))
    assert.is_nil(q:pop())
  end)
end)

describe("stats across threads", function()
  -- Every state counts into the same process-wide stats: two threads that
  -- make and close heap objects at once lose no update (a lost one left
  -- bytes off and peak below bytes: runtime_spec's peak check failed in
  -- full runs after the thread specs).
  it("keeps heap bytes exact while two threads make and close objects", function()
    local before = memobj.stats().heap.bytes
    local function churn(n)
      local memobj = require("memobj")
      for i = 1, n do memobj.heap(64 + i % 512):close() end
      return true
    end
    local t1, t2 = thread(churn, 200000), thread(churn, 200000)
    churn(1000)
    t1:join()
    t2:join()
    local s = memobj.stats().heap
    assert.equal(before, s.bytes)
    assert.is_true(s.peak >= s.bytes)
  end)
end)

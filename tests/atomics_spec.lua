-- atomics_spec.lua: atomic_load/store/add/cas and wait/notify on typed
-- arrays, within one process and across real processes over shared
-- memory.
local memobj = require("memobj")
local P = require("mo_procs")

local native_be = string.pack("=i4", 1) == string.pack(">i4", 1)
local swapped32 = native_be and "int32le" or "int32be"

describe("atomics", function()
  local newname, cleanup = P.shm_tracker()
  after_each(cleanup)

  it("load, store, add and cas return old values, per type", function()
    local a = memobj.array("i32", 2)
    assert.equal(0, a:atomic_add(1, 5))
    assert.equal(5, a:atomic_add(1, -7))
    assert.equal(-2, a:atomic_load(1))
    assert.equal(-2, a:atomic_cas(1, -2, 100))   -- succeeds
    assert.equal(100, a:atomic_cas(1, -2, 200))  -- fails: returns current
    assert.equal(100, a[1])
    a:atomic_store(2, 0x7fffffff)
    assert.equal(0x7fffffff, a:atomic_add(2, 1))
    assert.equal(-0x80000000, a[2])             -- wraps
    assert.error_matches(function() a:atomic_store(1, 1 << 31) end, "overflow")

    local u = memobj.array("u32", 1)
    assert.equal(0, u:atomic_add(1, -1))
    assert.equal(0xffffffff, u:atomic_load(1))

    local l = memobj.array("i64", 1)
    l:atomic_store(1, math.maxinteger)
    assert.equal(math.maxinteger, l:atomic_add(1, 1))
    assert.equal(math.mininteger, l:atomic_load(1))
    local q = memobj.array("u64", 1)
    q:atomic_store(1, -1)
    assert.equal(-1, q:atomic_cas(1, -1, 5))
    assert.equal(5, q[1])
  end)

  it("refuses wrong types, unaligned elements, bad indices and read-only views", function()
    for _, t in ipairs({"float64", "float32", "int16", "uint8", swapped32}) do
      assert.error_matches(function() memobj.array(t, 4):atomic_add(1, 1) end,
                           "needs a native%-order 32%- or 64%-bit integer array, not " .. t)
    end
    local h = memobj.heap(64)
    assert.error_matches(function() h:array("i32", 2, 15):atomic_load(1) end,
                         "element 1 is not aligned to 4 bytes")
    assert.error_matches(function() h:array("i64", 4, 7):wait(1, 0, 0) end,
                         "not aligned to 8 bytes")
    local a = h:array("i64")
    assert.error_matches(function() a:atomic_add(9, 1) end, "out of range")
    assert.error_matches(function() a:atomic_load(0) end, "out of range")
    local r = h:array("i32", 0, 4, "r")
    assert.equal(0, r:atomic_load(1))
    assert.error_matches(function() r:atomic_store(1, 1) end, "read%-only")
    assert.error_matches(function() r:atomic_add(1, 1) end, "read%-only")
    assert.error_matches(function() r:atomic_cas(1, 0, 1) end, "read%-only")
  end)

  it("wait returns not-equal and timed-out; notify counts waiters", function()
    local a = memobj.array("i32", 1)
    assert.equal("not-equal", a:wait(1, 1, 1))
    local t0 = os.clock()
    local w0 = os.time()
    assert.equal("timed-out", a:wait(1, 0, 0.05))
    assert.is_true(os.time() - w0 <= 2)
    assert.equal(0, a:notify(1))
    assert.equal(0, a:notify(1, 1))
    local l = memobj.array("i64", 1)
    l:atomic_store(1, 1 << 40)
    assert.equal("not-equal", l:wait(1, 0, 1))       -- low halves equal
    assert.equal("timed-out", l:wait(1, 1 << 40, 0.01))
    assert.error_matches(function() a:wait(1, 0, -1) end, "timeout")
    assert.is_true(os.clock() - t0 < 1)
  end)

  it("a waiter in another process is woken by notify", function()
    local name = newname("wake")
    local m = assert(memobj.shared(name, 64))
    local a = m:array("i32")
    local child = P.spawn([[
      local name = ...
      local a = assert(memobj.shared(name)):array("i32")
      a:atomic_store(2, 1)          -- ready
      a:notify(2)
      local r = a:wait(1, 0, 20)
      print("woke", r, a:atomic_load(1))
    ]], {name})
    while a:atomic_load(2) == 0 do a:wait(2, 0, 0.1) end
    -- give the child time to fall asleep (if it has not, it sees 42 and
    -- reports not-equal: both are correct answers)
    a:wait(3, 0, 0.2)
    a:atomic_store(1, 42)
    local woken = 0
    for _ = 1, 10 do woken = woken + a:notify(1) end
    local out, ok = child.wait()
    assert.is_true(ok, out)
    local r = out:match("woke\t(%S+)\t42")
    -- "ok" when notify woke it; "not-equal" if the store came first
    assert.is_truthy(r == "ok" or r == "not-equal", out)
  end)

  it("4 processes x 100,000 atomic_add give an exact total", function()
    local name = newname("count")
    local m = assert(memobj.shared(name, 16))
    local c = m:array("i64")
    local kids = {}
    for k = 1, 4 do
      kids[k] = P.spawn([[
        local name = ...
        local c = assert(memobj.shared(name)):array("i64")
        c:atomic_add(2, 1)           -- started
        while c:atomic_load(2) < 4 do end
        for _ = 1, 100000 do c:atomic_add(1, 1) end
        print("done")
      ]], {name})
    end
    for k = 1, 4 do
      local out, ok = kids[k].wait()
      assert.is_true(ok, out)
      assert.equal("done\n", out)
    end
    assert.equal(400000, c:atomic_load(1))
    c:release()
    m:unlink()
  end)

  it("a ring buffer with wait/notify delivers every message once, in order", function()
    local name = newname("ring")
    local N, SLOTS = 20000, 64
    -- header: i32 [1] = head (produced), [2] = tail (consumed); then slots
    local m = assert(memobj.shared(name, 64 + SLOTS * 8))
    local prod = P.spawn([[
      local name, N, SLOTS = ...
      N, SLOTS = tonumber(N), tonumber(SLOTS)
      local m = assert(memobj.shared(name))
      local h, d = m:array("i32", 0, 2), m:array("i64", 64, SLOTS)
      for k = 1, N do
        local head = h:atomic_load(1)
        while true do
          local tail = h:atomic_load(2)
          if head - tail < SLOTS then break end
          h:wait(2, tail, 5)
        end
        d[head % SLOTS + 1] = k * 7 + 1
        h:atomic_store(1, head + 1)
        h:notify(1)
      end
      print("sent", N)
    ]], {name, N, SLOTS})
    local h, d = m:array("i32", 0, 2), m:array("i64", 64, SLOTS)
    local got, bad = 0, nil
    for k = 1, N do
      local tail = h:atomic_load(2)
      while true do
        local head = h:atomic_load(1)
        if head ~= tail then break end
        h:wait(1, head, 5)
      end
      local v = d[tail % SLOTS + 1]
      if v ~= k * 7 + 1 and not bad then bad = {k, v} end
      got = got + 1
      h:atomic_store(2, tail + 1)
      h:notify(2)
    end
    local out, ok = prod.wait()
    assert.is_true(ok, out)
    assert.equal("sent\t" .. N .. "\n", out)
    assert.is_nil(bad)
    assert.equal(N, got)
    assert.equal(N, h:atomic_load(1))
    assert.equal(N, h:atomic_load(2))
    h:release()
    d:release()
    m:unlink()
  end)

  it("works on a mapped file shared by two processes", function()
    local p = P.tmpfile()
    local m = assert(memobj.map(p, {mode = "rw", create = 8}))
    local c = m:array("i32")
    local out, ok = P.run([[
      local c = assert(memobj.map((...), {mode = "rw"})):array("i32")
      for _ = 1, 1000 do c:atomic_add(2, 3) end
    ]], {p})
    assert.is_true(ok, out)
    assert.equal(3000, c:atomic_load(2))
    c:release()
    m:close()
    os.remove(p)
  end)
end)

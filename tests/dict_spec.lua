-- Dictionaries (m:dict, memobj.dict): get/set/add/incr/delete, keys as
-- Lua tables treat them, full without damage, pairs under concurrent
-- writers, real child processes on shared memory, memfd and a pool,
-- transactions, foreign content, damaged bytes.
local memobj = require("memobj")
local procs = require("mo_procs")

local newname, cleanup = procs.shm_tracker()

describe("memobj.dict", function()
  after_each(cleanup)

  it("stores and reads values under every kind of key", function()
    local d = memobj.dict(1 << 14)
    assert.equal(0, #d)
    d.name = "memobj"
    d[1] = "one"
    d[2.0] = "two"        -- an integral float is that integer
    d[2.5] = "two and a half"
    d[true] = false
    d[false] = 0
    d[""] = "empty key"
    d["\0x"] = "nul"
    assert.equal("memobj", d.name)
    assert.equal("one", d[1])
    assert.equal("one", d[1.0])
    assert.equal("two", d[2])
    assert.equal("two and a half", d:get(2.5))
    assert.is_false(d[true])
    assert.equal(0, d[false])
    assert.equal("empty key", d[""])
    assert.equal("nul", d["\0x"])
    assert.is_nil(d.absent)
    assert.is_nil(d["\0"])
    assert.equal(8, #d)
    assert.equal(math.maxinteger, (function() d.big = math.maxinteger; return d.big end)())
    assert.equal(math.type(d.big), "integer")
    d.f = 1.0
    assert.equal(math.type(d.f), "float")
    assert.has_error(function() d[{}] = 1 end)
    assert.has_error(function() d[0 / 0] = 1 end)
    assert.has_error(function() return d:get(print) end)
  end)

  it("overwrites, deletes and adds", function()
    local d = memobj.dict(1 << 14)
    assert.is_true(d:set("k", "v1"))
    assert.is_true(d:set("k", ("long"):rep(100)))
    assert.equal(("long"):rep(100), d.k)
    assert.equal(1, #d)
    assert.is_false(d:add("k", "other"))
    assert.is_true(d:add("j", "new"))
    assert.is_true(d:delete("k"))
    assert.is_false(d:delete("k"))
    assert.is_nil(d.k)
    d.j = nil
    assert.equal(0, #d)
    assert.equal(0, d.used)
    assert.is_true(d:set("x", 1))
    assert.is_true(d:set("x", nil))
    assert.is_nil(d.x)
    assert.has_error(function() d:add("x", nil) end)
    assert.has_error(function() d:set("x", 1, 2) end)
  end)

  it("increments atomically, with init for absent keys", function()
    local d = memobj.dict(1 << 14)
    local v, msg = d:incr("n", 1)
    assert.is_nil(v)
    assert.equal("not found", msg)
    assert.equal(11, d:incr("n", 1, 10))
    assert.equal(16, d:incr("n", 5))
    assert.equal(math.type(d.n), "integer")
    assert.equal(16.5, d:incr("n", 0.5))
    assert.equal(2.5, d:incr("f", 0.5, 2))
    d.s = "text"
    v, msg = d:incr("s", 1)
    assert.is_nil(v)
    assert.equal("not a number", msg)
    assert.equal(math.mininteger, d:incr("w", 1, math.maxinteger))  -- wraps as Lua
    -- a long key puts the number across two blocks
    local long = ("k"):rep(39)
    d[long] = 0
    for _ = 1, 100 do d:incr(long, 3) end
    assert.equal(300, d[long])
  end)

  it("is full without damage and reuses deleted space", function()
    local d = memobj.dict(8192)
    local n = 0
    while d:set("key" .. n, ("v"):rep(n % 150)) do n = n + 1 end
    assert.is_true(n > 10)
    local count, used = #d, d.used
    local ok, err = d:set("another", ("x"):rep(100))
    assert.is_nil(ok)
    assert.equal("full", err)
    assert.error_matches(function() d.another = ("x"):rep(100) end, "memobj: dict: full")
    assert.is_nil(d.another)
    assert.equal(count, #d)
    assert.equal(used, d.used)
    -- a replacement that does not fit leaves the old value
    assert.is_nil((d:set("key1", ("y"):rep(4000))))
    assert.equal(("v"):rep(1), d.key1)
    for i = 0, n - 1 do assert.equal(("v"):rep(i % 150), d["key" .. i]) end
    for i = 0, n - 1, 2 do d["key" .. i] = nil end
    for i = 0, n - 1, 2 do assert.is_true(d:set("key" .. i, ("v"):rep(i % 150))) end
    for round = 1, 20 do
      for i = 0, n - 1 do d["key" .. i] = nil end
      assert.equal(0, #d)
      assert.equal(0, d.used)
      local m = 0
      while d:set("r" .. round .. "_" .. m, m) do m = m + 1 end
      assert.is_true(m >= n)
      for i = 0, m - 1 do d["r" .. round .. "_" .. i] = nil end
    end
  end)

  it("visits every key once with pairs and lists keys", function()
    local d = memobj.dict(1 << 16)
    for i = 1, 300 do d["k" .. i] = i end
    local seen, n = {}, 0
    for k, v in pairs(d) do
      assert.is_nil(seen[k])
      seen[k] = true
      assert.equal("k" .. v, k)
      n = n + 1
    end
    assert.equal(300, n)
    local keys = d:keys()
    assert.equal(300, #keys)
    assert.equal(10, #d:keys(10))
    assert.equal(0, #d:keys(0))
    -- changing the dictionary during the loop: keys present throughout
    -- are still visited exactly once
    seen, n = {}, 0
    local i = 0
    for k in pairs(d) do
      i = i + 1
      d["new" .. i] = i
      if i % 2 == 0 then d["new" .. (i - 1)] = nil end
      if type(k) == "string" and k:match("^k") then
        assert.is_nil(seen[k])
        seen[k] = true
        n = n + 1
      end
    end
    assert.equal(300, n)
  end)

  it("gives nil, message, 22 for memory that holds something else", function()
    local h = memobj.heap(4096)
    h:bytes():put(3000, "?")
    local d, msg, code = h:dict()
    assert.is_nil(d)
    assert.matches("something else", msg)
    assert.equal(22, code)
    local q = memobj.heap(4096)
    assert(q:queue())
    d, msg, code = q:dict()
    assert.is_nil(d)
    assert.equal(22, code)
    -- a state word that says "being formatted by process 1" (which
    -- lives): refused after a while, never waited on forever
    local f = memobj.heap(4096)
    f:array("u32")[4] = 0x80000001
    d, msg, code = f:dict()
    assert.is_nil(d)
    assert.matches("formatted by another process", msg)
    assert.equal(22, code)
  end)

  it("rolls back with a transaction", function()
    local h = memobj.heap(1 << 14)
    local d = h:dict()
    d.a = 1
    local ok = pcall(h.transaction, h, function()
      d.a = 2
      d.b = "x"
      d:incr("a", 5)
      error("no")
    end)
    assert.is_false(ok)
    assert.equal(1, d.a)
    assert.is_nil(d.b)
    assert.equal(1, #d)
    h:transaction(function() d.c = 3 end)
    assert.equal(3, d.c)
  end)

  it("is durable on a persistent pool, each call its own transaction", function()
    local p = os.tmpname()
    os.remove(p)
    local m = assert(memobj.persistent(p, 1 << 16))
    local d = m:dict()
    d.count = 0
    for _ = 1, 10 do d:incr("count", 1) end
    d:release()
    m:close()
    local out, ok = procs.run([[
      local m = assert(memobj.persistent(arg[1]))
      local d = m:dict()
      assert(d:incr("count", 1) == 11)
      d.child = "yes"
      os.exit(9, false)
    ]], {p})
    assert.is_falsy(ok, out)
    m = assert(memobj.persistent(p))
    assert.is_true(m:verify())
    d = m:dict()
    assert.equal(11, d.count)
    assert.equal("yes", d.child)
    d:release()
    m:close()
    os.remove(p)
  end)

  local function counters(attach_code, src)
    local NPROC, N = 4, 2000
    local kids = {}
    for i = 1, NPROC do
      kids[i] = procs.spawn(attach_code .. [[
        local me = arg[2]
        for i = 1, tonumber(arg[3]) do
          d:incr("total", 1, 0)
          d:incr(me, 2, 0)
          d["last" .. me] = i
          if i % 10 == 0 then d["tmp" .. me] = nil else d["tmp" .. me] = ("t"):rep(i % 90) end
        end
        print("ok")
      ]], {src, "p" .. i, N})
    end
    for _, k in ipairs(kids) do
      local out, ok = k.wait()
      assert.is_true(ok, out)
    end
  end

  it("counts exactly with several processes (shared memory)", function()
    local name = newname("d")
    local m = assert(memobj.shared(name, 1 << 16))
    local d = m:dict()
    counters([[
      local m = assert(memobj.shared(arg[1]))
      local d = assert(m:dict())
    ]], name)
    assert.equal(8000, d.total)
    for i = 1, 4 do
      assert.equal(4000, d["p" .. i])
      assert.equal(2000, d["last" .. "p" .. i])
    end
  end)

  it("counts exactly with several processes (memfd)", function()
    local m = assert(memobj.memfd(1 << 16))
    local d = m:dict()
    counters([[
      local m = assert(memobj.map(arg[1], {mode = "rw"}))
      local d = assert(m:dict())
    ]], m.path)
    assert.equal(8000, d.total)
  end)

  it("never crashes on damaged bytes under an attached dictionary", function()
    math.randomseed(22)
    for round = 1, 300 do
      local h = memobj.heap(4096)
      local d = h:dict()
      for i = 1, 10 do d["k" .. i] = ("v"):rep(i * 7) end
      local a = h:array("u8")
      for _ = 1, 1 + round % 8 do
        local i = math.random(1, 4096)
        if i < 65 or i > 128 then a[i] = math.random(0, 255) end
      end
      pcall(function() d.k3 = "new" end)
      pcall(function() return d.k5, d:incr("k9", 1), #d end)
      pcall(function() for _ in pairs(d) do end end)
      pcall(d.keys, d)
      pcall(d.delete, d, "k2")
      pcall(function() d.x = ("x"):rep(300) end)
      a:release()
    end
  end)
  local inproc = procs.sigbus_ok() and it or function(name) pending(name) end

  inproc("raises on pages lost by a truncated file, and stays usable", function()
    local PAGE = 4096
    assert(procs.lost_pages(("\0"):rep(16 * PAGE), PAGE, function(_, d)
      for i, op in ipairs({
        function() return d:get("big") end,
        function() return d.big end,
        function() return d:set("big", 1) end,
        function() d.big = nil end,
        function() return d:incr("n", 1, 0) end,  -- new blocks
        function() for _ in pairs(d) do end end,
      }) do
        local ok, err = pcall(op)
        assert.is_false(ok, "operation " .. i)
        assert.matches("truncated file", err, 1, false, "operation " .. i)
      end
      -- no call that touched lost pages happened; the keys are readable
      assert.equal(1, #d)
      assert.same({"big"}, d:keys())
      d:release()
    end, function(m)
      local d = assert(m:dict())
      d.big = ("v"):rep(20000)  -- blocks past the first pages
      return d
    end))
  end)
end)

-- Queues (m:queue, memobj.queue): FIFO order, all-or-none pushes,
-- waiting get/put, real child processes on shared memory, memfd and a
-- persistent pool, transactions, foreign content, damaged bytes.
local memobj = require("memobj")
local procs = require("mo_procs")

local newname, cleanup = procs.shm_tracker()

describe("memobj.queue", function()
  after_each(cleanup)

  it("keeps values in order and returns nil when empty", function()
    local q = memobj.queue(4096)
    assert.equal(0, #q)
    assert.equal(4096 - 512, q.capacity)
    assert.equal(0, q.used)
    assert.is_true(q:push("a", 1, 2.5, true, false, -0.0, math.huge,
                          math.mininteger, ""))
    assert.equal(9, #q)
    assert.is_true(q.used > 9 * 5)
    local t = {q:pop(100)}
    assert.same({"a", 1, 2.5, true, false, -0.0, math.huge, math.mininteger, ""}, t)
    assert.equal(math.type(t[2]), "integer")
    assert.equal(1 / t[6], -math.huge)
    assert.is_nil(q:pop())
    assert.equal(0, q.used)
    assert.equal(0, select("#", q:pop(0)))
  end)

  it("pushes all values or none", function()
    local q = memobj.queue(512 + 64)
    assert.is_true(q:push(("x"):rep(20)))
    assert.is_false(q:push(("y"):rep(20), ("z"):rep(20)))  -- 2 x 25 > 39 free
    assert.equal(1, #q)
    assert.equal(("x"):rep(20), q:pop())
    assert.is_true(q:push(("y"):rep(20), ("z"):rep(9)))
    assert.same({("y"):rep(20), ("z"):rep(9)}, {q:pop(5)})
  end)

  it("wraps around the end of the ring many times", function()
    local q = memobj.queue(512 + 200)
    local want = 0
    for i = 1, 5000 do
      local s = ("%d:"):format(i) .. ("w"):rep(i % 37)
      assert.is_true(q:push(s))
      if i % 3 == 0 then
        local a, b = q:pop(2)
        want = want + 1
        assert.matches("^%d+:", a)
        if b then want = want + 1 end
      end
      while #q > 2 do q:pop() end
    end
    assert.is_true(want > 0)
  end)

  it("refuses nil and raises for what it cannot store", function()
    local q = memobj.queue(4096)
    assert.has_error(function() q:push(1, nil, 2) end)
    assert.equal(0, #q)
    assert.has_error(function() q:push(print) end)
    assert.equal(0, #q)
    assert.has_error(function() q:pop(-1) end)
    assert.has_error(function() q:pop(1, 2) end)
    assert.has_error(function() q:get(-1) end)
    assert.has_error(function() q:put(1, 0, 5) end)
    assert.has_error(function() q:put(("x"):rep(5000)) end)  -- can never fit
    assert.has_error(function() memobj.queue(100) end)
    assert.has_error(function() memobj.string(("\0"):rep(4096)):queue() end)
  end)

  it("times out get and put", function()
    local q = memobj.queue(512 + 64)
    local v, msg = q:get(0)
    assert.is_nil(v)
    assert.equal("timeout", msg)
    local t0 = os.clock()
    v, msg = q:get(0.05)
    assert.equal("timeout", msg)
    assert.is_true(q:put(("a"):rep(50)))
    v, msg = q:put(("b"):rep(50), 0.02)
    assert.is_nil(v)
    assert.equal("timeout", msg)
    assert.equal(("a"):rep(50), q:get())
    assert.is_true(os.clock() - t0 < 5)
  end)

  it("gives nil, message, 22 for memory that holds something else", function()
    local h = memobj.heap(4096)
    h:bytes():put(100, "x")
    local q, msg, code = h:queue()
    assert.is_nil(q)
    assert.matches("something else", msg)
    assert.equal(22, code)
    local d = memobj.heap(4096)
    assert(d:dict())
    q, msg, code = d:queue()
    assert.is_nil(q)
    assert.equal(22, code)
    local h2 = memobj.heap(8192)
    assert(h2:queue(0, 4096))
    q, msg, code = h2:queue()  -- another length
    assert.is_nil(q)
    assert.matches("4096 bytes", msg)
    assert.equal(22, code)
  end)

  it("attaches over any part of a memory object and sees the same queue", function()
    local h = memobj.heap(16384)
    local a = assert(h:queue(4096, 8192))
    local b = assert(h:queue(4096, 8192))
    assert.equal(4096, a.offset)
    assert.equal(8192, a.length)
    a:push("shared")
    assert.equal(1, #b)
    assert.equal("shared", b:pop())
    assert.has_error(function() h:queue(4097, 4096) end)  -- not aligned
    a:release()
    assert.has_error(function() a:push(1) end)
    assert.is_true(a.released)
  end)

  it("rolls back with a transaction and commits with it", function()
    local h = memobj.heap(4096)
    local q = h:queue()
    q:push("before")
    local ok = pcall(h.transaction, h, function()
      q:push("inside")
      assert.equal("before", q:pop())
      error("no")
    end)
    assert.is_false(ok)
    assert.equal(1, #q)
    assert.equal("before", q:pop())
    h:transaction(function() q:push("kept", 2) end)
    assert.same({"kept", 2}, {q:pop(2)})
  end)

  it("is durable on a persistent pool, each call its own transaction", function()
    local p = os.tmpname()
    os.remove(p)
    local m = assert(memobj.persistent(p, 1 << 16))
    local q = m:queue()
    assert.is_true(q:push("one", 2))
    assert.equal("one", q:pop())
    m:begin()
    q:push("not committed")
    m:abort()
    q:release()
    m:close()
    -- a child adds one and is killed right after
    local out, ok = procs.run([[
      local m = assert(memobj.persistent(arg[1]))
      local q = m:queue()
      assert(q:push("from child"))
      os.exit(9, false)  -- no close, no checkpoint: the log must have it
    ]], {p})
    assert.is_falsy(ok, out)
    m = assert(memobj.persistent(p))
    q = m:queue()
    assert.same({2, "from child"}, {q:pop(5)})
    q:release()
    m:close()
    os.remove(p)
  end)

  local function producers_consumers(make_src, attach_code)
    local NP, NC, N = 3, 2, 3000
    local q = make_src()
    local kids = {}
    for p = 1, NP do
      kids[#kids + 1] = procs.spawn(attach_code .. [[
        local pid, n = tonumber(arg[2]), tonumber(arg[3])
        local i = 1
        while i <= n do
          local k = math.min(n - i + 1, 1 + i % 7)
          local batch = {}
          for j = 0, k - 1 do batch[#batch + 1] = pid * 1000000 + i + j end
          if q:push(table.unpack(batch)) then i = i + k end
        end
        for j = 1, 2 do q:put(-1) end  -- one end marker per consumer share
        print("done")
      ]], {q.name, p, N})
    end
    for _ = 1, NC do
      kids[#kids + 1] = procs.spawn(attach_code .. [[
        local ends, seen = 0, {}
        while ends < 3 do
          local v = q:get(20)
          assert(v, "consumer starved")
          if v == -1 then ends = ends + 1 else seen[#seen + 1] = v end
        end
        print(table.concat(seen, " "))
      ]], {q.name})
    end
    local got, count = {}, 0
    for i, k in ipairs(kids) do
      local out, ok = k.wait()
      assert.is_true(ok, out)
      if i > NP then
        local last = {}
        for v in out:gmatch("%d+") do
          v = tonumber(v)
          assert.is_nil(got[v], "popped twice: " .. v)
          got[v] = true
          count = count + 1
          local p = v // 1000000
          assert.is_true((last[p] or 0) < v, "out of order for a producer")
          last[p] = v
        end
      end
    end
    assert.equal(NP * N, count)
    for p = 1, NP do
      for i = 1, N do assert.is_true(got[p * 1000000 + i]) end
    end
  end

  it("carries values between many producers and consumers (shared memory)", function()
    local name = newname("q")
    local m = assert(memobj.shared(name, 1 << 14))
    producers_consumers(function()
      local q = m:queue()
      return {name = name, q = q}
    end, [[
      local m = assert(memobj.shared(arg[1]))
      local q = assert(m:queue())
    ]])
  end)

  it("carries values between processes over memfd", function()
    local m = assert(memobj.memfd(1 << 14))
    local q = m:queue()
    producers_consumers(function() return {name = m.path, q = q} end, [[
      local m = assert(memobj.map(arg[1], {mode = "rw"}))
      local q = assert(m:queue())
    ]])
  end)

  it("formats once when processes attach zeroed memory at once", function()
    local name = newname("qf")
    local m = assert(memobj.shared(name, 1 << 14))
    local kids = {}
    for i = 1, 4 do
      kids[i] = procs.spawn([[
        local m = assert(memobj.shared(arg[1]))
        local q = assert(m:queue())
        for j = 1, 50 do assert(q:put(j)) end
        print("ok")
      ]], {name})
    end
    for _, k in ipairs(kids) do
      local out, ok = k.wait()
      assert.is_true(ok, out)
    end
    local q = m:queue()
    assert.equal(200, #q)
  end)

  it("wakes a waiting get in another process, and a signal ends a wait", function()
    local name = newname("qw")
    local m = assert(memobj.shared(name, 1 << 14))
    local q = m:queue()
    local k = procs.spawn([[
      local m = assert(memobj.shared(arg[1]))
      local q = m:queue()
      print(q:get(30))
    ]], {name})
    os.execute("sleep 0.2")
    q:push("wake")
    local out, ok = k.wait()
    assert.is_true(ok, out)
    assert.equal("wake\n", out)
    -- SIGINT while blocked in get: the child stops with an error
    k = procs.spawn([[
      local m = assert(memobj.shared(arg[1]))
      local q = m:queue()
      local f = io.open("/proc/self/stat"); local pid = f:read("n"); f:close()
      io.stdout:write(pid, "\n"); io.stdout:flush()
      q:get()
      print("not reached")
    ]], {name})
    local pid = k.line()
    os.execute("sleep 0.3; kill -INT " .. pid)
    out, ok = k.wait()
    assert.is_falsy(ok)
    assert.matches("interrupted", out)
    assert.is_true(q:push("still usable"))
    assert.equal("still usable", q:pop())
  end)

  it("survives a process killed while pushing and popping large values", function()
    local name = newname("qk")
    local m = assert(memobj.shared(name, 1 << 22))
    local q = m:queue()
    for round = 1, 10 do
      local k = procs.spawn([[
        local m = assert(memobj.shared(arg[1]))
        local q = m:queue()
        local big = ("b"):rep(300000)
        local f = io.open("/proc/self/stat"); local pid = f:read("n"); f:close()
        io.stdout:write(pid, "\n"); io.stdout:flush()
        while true do q:push(big, big); q:pop(2) end
      ]], {name})
      local pid = assert(tonumber(k.line()))
      os.execute("sleep 0." .. (round % 3 + 1) .. "; kill -KILL " .. pid)
      k.wait()
      -- whatever the instant, the queue is whole: only whole pairs
      local n = #q
      assert.is_true(n % 2 == 0 and n <= 2 * 6)
      local vals = {q:pop(n)}
      for _, v in ipairs(vals) do assert.equal(300000, #v) end
      assert.equal(0, q.used)
    end
  end)

  it("never crashes on damaged bytes under an attached queue", function()
    math.randomseed(21)
    for round = 1, 300 do
      local h = memobj.heap(2048)
      local q = h:queue()
      q:push("abc", 123, ("x"):rep(200))
      local a = h:array("u8")
      for _ = 1, 1 + round % 8 do
        local i = math.random(1, 2048)
        if i < 65 or i > 128 then  -- the lock bytes have their own check
          a[i] = math.random(0, 255)
        end
      end
      pcall(q.push, q, "more")
      pcall(q.pop, q, 10)
      pcall(function() return #q, q.used end)
      a:release()
    end
  end)
  local inproc = procs.sigbus_ok() and it or function(name) pending(name) end

  inproc("raises on pages lost by a truncated file, and stays usable", function()
    local PAGE = 4096
    assert(procs.lost_pages(("\0"):rep(8 * PAGE), PAGE, function(_, q)
      -- each call raises the fault (never a value built from zeros), and
      -- leaves the lock free: the next call raises the same, not "called
      -- again while this thread is inside a call"
      for i, op in ipairs({
        function() return q:pop() end,
        function() return q:get(0) end,
        function() return q:push(("y"):rep(5000)) end,
        function() return q:put(("y"):rep(5000), 0) end,
        function() return q:pop(5) end,
      }) do
        local ok, err = pcall(op)
        assert.is_false(ok, "operation " .. i)
        assert.matches("truncated file", err, 1, false, "operation " .. i)
      end
      assert.equal(1, #q)  -- no call that touched lost pages happened
      q:release()
    end, function(m)
      local q = assert(m:queue())
      assert.is_true(q:push(("x"):rep(5000)))  -- past the first page
      return q
    end))
  end)
  it("pops values larger than the C stack's scratch, again and again", function()
    local q = memobj.queue(1 << 20)
    for round = 1, 20 do
      local vals = {}
      for i = 1, 1 + round % 5 do vals[i] = ("%d:%d"):format(round, i):rep(3000 + round) end
      assert.is_true(q:push(table.unpack(vals)))
      assert.same(vals, {q:pop(#vals)})
    end
    -- finalizers that pop from another queue while a large pop makes its
    -- values: each pop gets its own values
    local q2 = memobj.queue(1 << 20)
    local big2 = ("z"):rep(40000)
    local seen = 0
    for _ = 1, 200 do q2:push(big2) end
    for _ = 1, 30 do
      for _ = 1, 20 do
        setmetatable({}, {__gc = function()
          local v = q2:pop()
          if v then assert(v == big2); seen = seen + 1 end
        end})
      end
      local vals = {}
      for i = 1, 8 do vals[i] = tostring(i):rep(30000) end
      assert.is_true(q:push(table.unpack(vals)))
      assert.same(vals, {q:pop(8)})
    end
    collectgarbage()
    assert.is_true(seen > 0)
  end)

  it("keeps its large-pop scratch where Lua code cannot swap in an object", function()
    local q = memobj.queue(1 << 20)
    local reg = debug.getregistry()
    local big = ("b"):rep(50000)
    assert.is_true(q:push(big, big))
    assert.same({big, big}, {q:pop(2)})
    local swapped = 0
    local m = memobj.heap(64)
    m:bytes():fill(7)
    for k, v in pairs(reg) do
      if type(k) == "userdata" and type(v) == "userdata" and
         debug.getmetatable(v) == nil then  -- plain bytes: the scratch
        reg[k] = m  -- a memory object where the scratch was
        swapped = swapped + 1
      end
    end
    assert.is_true(swapped >= 1)
    assert.is_true(q:push(big, big))
    assert.same({big, big}, {q:pop(2)})
    assert.equal(64, m.size)
    assert.equal(7 * 64, m:array("u8"):sum())  -- untouched
  end)
  it("refuses a tail that cuts a record's length (damaged bytes)", function()
    local h = memobj.heap(4096)
    local q = h:queue()
    assert.is_true(q:push("ab", "xyz"))  -- records of 7 and 8 bytes
    local w = h:array("u64")           -- state: head, tail, count at 448
    local b = h:bytes()
    assert.equal(0, w[57])
    assert.equal(15, w[58])
    w[58] = 10                         -- the tail 3 bytes into the second
    b:put(512 + 7 + 1, "\255\255\255\127")  -- whose length reads 2^31 - 1
    local ok, err = pcall(q.pop, q, 2)
    assert.is_false(ok)
    assert.matches("damaged", err)
    assert.equal(2, #q)                -- nothing was removed
  end)
end)

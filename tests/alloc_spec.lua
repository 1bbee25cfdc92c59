-- The Lua state's own memory: set_allocator(spec, "lua") and the arena,
-- GC pacing by memory held outside the Lua heap, memobj.objects() and the
-- native bytes of trace snapshots. Switching happens in child lua5.4
-- processes, so this state keeps the allocator the suite runs with.
local memobj = require("memobj")
local procs = require("mo_procs")

local BUILD = os.getenv("MEMOBJ_BUILD") or "build"
local MIMALLOC = [[{library = "libmimalloc.so.2", malloc = "mi_malloc",
  free = "mi_free", realloc = "mi_realloc", owns = "mi_is_in_heap_region"}]]

local function here() return debug.getinfo(2, "l").currentline end

-- Run code in a child; it must print "ok" last and exit 0.
local function child_ok(code, args)
  local out, ok = procs.run(code, args)
  assert(ok and out:match("ok\n$"), out)
  return out
end

describe("set_allocator(spec, 'lua')", function()
  it("switches the running state and returns the previous spec", function()
    child_ok([[
      assert(memobj.set_allocator("arena", "lua") == nil)
      local t = {}
      for i = 1, 1000 do t[i] = {i} end
      assert(memobj.set_allocator("arena", "lua") == "arena")
      assert(memobj.set_allocator("default", "lua") == "arena")
      assert(memobj.set_allocator(nil, "lua") == nil)
      for i = 1, 1000 do assert(t[i][1] == i) end
      print("ok")
    ]])
  end)

  it("refuses specs it cannot use for the state", function()
    assert.error_matches(function()
      memobj.set_allocator({malloc = "malloc", free = "free"}, "lua")
    end, "field 'owns' is required for the Lua state's allocator")
    assert.error_matches(function() memobj.set_allocator("arena", "stack") end,
      "bad argument #2 to 'set_allocator' %(invalid option 'stack'%)")
    assert.error_matches(function() memobj.set_allocator(7, "lua") end,
      "bad argument #1 to 'set_allocator'")
  end)

  -- Blocks made by each allocator are resized and freed by it while the
  -- current one changes under a workload that keeps some of everything
  -- alive; the state then closes through the chain (the script ends).
  local function switching(specs)
    return child_ok(([[
      local specs = %s
      local keep, n = {}, 0
      for round = 1, 60 do
        assert(memobj.set_allocator(specs[round %% #specs + 1], "lua") ~= false)
        for i = 1, 2000 do
          n = n + 1
          keep[n %% 5000 + 1] = {n, ("s%%d"):format(n) .. string.rep("x", n %% 600)}
        end
        local big = {}
        for i = 1, 3000 do big[i] = i end  -- large blocks, realloc'd
        keep[round] = big
      end
      for k, v in pairs(keep) do
        if #v == 2 then
          assert(v[2] == ("s%%d"):format(v[1]) .. string.rep("x", v[1] %% 600))
        else
          assert(#v == 3000 and v[3000] == 3000)
        end
      end
      print("ok")
    ]]):format(specs))
  end

  it("keeps every block with its allocator while switching under load", function()
    switching([[{"arena", "default", "arena", "default", "default"}]])
  end)

  it("takes a library allocator that can tell its blocks", function()
    local out = procs.run(([[
      local ok, err = pcall(memobj.set_allocator, %s, "lua")
      print(ok and "accepted" or err)
    ]]):format(MIMALLOC))
    if out:match("accepted") then
      switching(([[{"arena", %s, "default"}]]):format(MIMALLOC))
      child_ok(([[
        local mi = %s
        assert(memobj.set_allocator(mi, "lua") == nil)
        assert(memobj.set_allocator("arena", "lua").owns == "mi_is_in_heap_region")
        print("ok")
      ]]):format(MIMALLOC))
    else
      -- under valgrind, mimalloc's region test says no to its own blocks:
      -- the spec is refused when tried, never used half-working
      assert.matches("mi_is_in_heap_region does not own what mi_malloc returned", out)
    end
  end)

  it("is closed with the state in threads, each state on its own arena", function()
    assert.is_true(os.execute(BUILD .. "/arena_threads " .. BUILD .. " 2 >/dev/null"))
  end)
end)

describe("the arena allocator", function()
  it("agrees with libc on random malloc, realloc and free", function()
    for _, seed in ipairs{1, 2} do
      local p = assert(io.popen(("%s/arena_diff %d 200000 2>&1"):format(BUILD, seed)))
      local out = p:read("a")
      assert(p:close(), out)
      assert.matches("seed " .. seed, out)
    end
  end)

  it("lets ASan and valgrind see a use after free inside an arena", function()
    -- ASan's runtime in the environment (make check) would load twice
    local env = "env -u LD_PRELOAD -u ASAN_OPTIONS "
    local p = assert(io.popen(env .. BUILD .. "/arena_uaf_asan 2>&1"))
    local out = p:read("a")
    assert.is_nil(p:close())
    assert.matches("AddressSanitizer: use%-after%-poison", out)
    assert.not_matches("not caught", out)
    if os.execute("command -v valgrind >/dev/null") then
      p = assert(io.popen(env .. "valgrind -q --error-exitcode=9 " .. BUILD ..
                          "/arena_uaf 2>&1"))
      out = p:read("a")
      assert.is_nil(p:close())
      assert.matches("Invalid write of size 1", out)
    end
  end)

  it("serves heap objects with set_allocator('arena')", function()
    local prev = memobj.set_allocator("arena")
    local ok, err = pcall(function()
      local m = memobj.heap(100)
      local big = memobj.heap(100000)
      local al = memobj.stats().heap.allocators
      assert.is_true(al.arena.current)
      assert.equal(2, al.arena.count)
      assert.equal(0, m.pointer % 16)
      m:array("u8"):fill(5)
      m:resize(300)
      assert.equal(5, m:array("u8")[100])
      m:close()
      big:close()
      assert.equal("arena", memobj.set_allocator(prev))
    end)
    memobj.set_allocator(prev)
    assert(ok, err)
  end)

  it("gets guard bytes with memobj.debug(true)", function()
    local prev = memobj.set_allocator("arena")
    local was = memobj.debug(true)
    local ok, err = pcall(function()
      local m = memobj.heap(48, {zero = false})
      assert.equal(0xCD, m:array("u8")[48])
      local f = memobj.foreign(m.pointer, 49)  -- one byte too many
      f:array("u8")[49] = 0
      f:close()
      local fine, report = memobj.check()
      assert.is_false(fine)
      assert.matches("heap block 0x%x+ of 48 bytes created at .*alloc_spec.lua:%d+: "
                     .. "0 bytes before the start and 1 byte after the end", report)
      m:array("u8")  -- keep m alive up to here
      assert.error_matches(function() m:close() end, "memobj: debug: heap block")
    end)
    memobj.debug(was)
    memobj.set_allocator(prev)
    assert(ok, err)
  end)
end)

describe("the Lua state's blocks on the arena with memobj.debug(true)", function()
  it("are guarded, checked by memobj.check and freed when intact", function()
    local out = child_ok([[
      assert(memobj.set_allocator("arena", "lua") == nil)
      assert(memobj.stats().lua.allocator == "arena")
      memobj.debug(true)
      local s = ("x"):rep(40) .. "y"  -- a Lua string made with guards
      local ok, n = memobj.check()
      assert(ok and n > 0, "Lua blocks are checked")
      -- write one byte past the end of the string's block (its text and
      -- the terminating zero end the block)
      local m = memobj.string(s)
      local f = memobj.foreign(m.pointer + #s + 1, 1)
      f:array("u8")[1] = 7
      f:close()
      local fine, report, list = memobj.check()
      assert(not fine)
      print(report)
      assert(list[1].kind == "Lua" and list[1].after == 1 and list[1].before == 0)
      memobj.debug(false)
      for i = 1, 10000 do local _ = {i} end  -- debug blocks made before are freed fine
      collectgarbage()
      print("ok")
    ]])
    assert.matches("Lua block 0x%x+ of %d+ bytes created at a Lua allocation: 0 bytes "
                   .. "before the start and 1 byte after the end overwritten", out)
  end)
end)

describe("GC pacing", function()
  -- 40 objects filled (zeroed on creation) and dropped without close:
  -- the peak RSS in units of one object. Without pacing it reached 19.
  local function peak_objects(make)
    local out = child_ok(([[
      local SIZE = 48 << 20
      for i = 1, 40 do
        local m = %s
        m:array("u8")[SIZE] = i
      end
      local hwm
      for l in io.lines("/proc/self/status") do
        hwm = hwm or l:match("^VmHWM:%%s*(%%d+)")
      end
      print(("%%.2f"):format(tonumber(hwm) * 1024 / SIZE))
      print("ok")
    ]]):format(make))
    return tonumber(out:match("([%d.]+)\n"))
  end

  -- ASan keeps freed memory in quarantine: peak RSS says nothing there
  local asan = (os.getenv("LD_PRELOAD") or ""):find("asan")

  it("keeps a loop of dropped heap objects to a few at a time", function()
    if asan then return pending("peak RSS is not measurable under ASan") end
    local ratio = peak_objects("memobj.heap(SIZE)")
    assert.is_true(ratio <= 3, "peak RSS of " .. ratio .. " objects")
  end)

  it("counts growth by resize too", function()
    if asan then return pending("peak RSS is not measurable under ASan") end
    local ratio = peak_objects("memobj.heap(16):resize(SIZE)")
    assert.is_true(ratio <= 3, "peak RSS of " .. ratio .. " objects")
  end)
end)

describe("memobj.objects", function()
  it("lists live objects with kind, size, creation line and locks", function()
    local line = here() + 1
    local a, b = memobj.heap(1234), memobj.string("hello")
    local v = a:array("u8")
    local c = memobj.heap(77)
    c:close()
    local found = {}
    for _, o in ipairs(memobj.objects()) do
      if o.line == line and o.source:match("alloc_spec.lua$") then
        found[o.kind] = o
      end
      assert.is_false(o.size == 77 and o.kind == "heap" and o.line == line + 2)
    end
    assert.same({kind = "heap", size = 1234, source = found.heap.source,
                 line = line, locks = 1}, found.heap)
    assert.equal(5, found.string.size)
    assert.equal(0, found.string.locks)
    v:release()
    assert.equal(5, #b)
  end)

  it("forgets collected objects and names the Lua line for C-made ones", function()
    local line = here() + 1
    local arr = memobj.array("f64", 10)
    local function count()
      local n = 0
      for _, o in ipairs(memobj.objects()) do
        n = n + ((o.line == line and o.source:match("alloc_spec.lua$")) and 1 or 0)
      end
      return n
    end
    assert.equal(1, count())
    arr = nil
    collectgarbage()
    collectgarbage()
    assert.equal(0, count())
    assert.is_nil(arr)
  end)
  -- issue 20: a leak made through a helper names its caller
  it("records a caller chain with {frames = n}", function()
    local inner = here() + 1
    local function helper(n) return memobj.heap(n) end
    local function find(size)
      for _, o in ipairs(memobj.objects()) do
        if o.kind == "heap" and o.size == size then return o end
      end
    end
    assert.is_nil(find(4321) and find(4321).callers)
    memobj.objects({frames = 3})
    local outer = here() + 1
    local m = helper(4321)
    local chained = find(4321)
    memobj.objects({frames = 1})
    local m2 = helper(4322)
    assert.equal(inner, chained.line)
    assert.matches("alloc_spec.lua$", chained.callers[1].source)
    assert.equal(outer, chained.callers[1].line)
    assert.is_true(#chained.callers <= 2)
    assert.is_nil(find(4322).callers)        -- back to the line alone
    assert.equal(inner, find(4322).line)
    assert.has_error(function() memobj.objects({frames = 0}) end)
    assert.has_error(function() memobj.objects({frames = 17}) end)
    assert.has_error(function() memobj.objects({frame = 2}) end)
    m:close()
    m2:close()
  end)
end)

describe("native bytes in trace snapshots", function()
  after_each(function() memobj.trace.stop() end)

  it("ranks a line leaking heap objects above one leaking tables", function()
    memobj.trace.start()
    collectgarbage()
    local before = memobj.trace.snapshot()
    local heaps, tabs = {}, {}
    local hline = here() + 2
    for i = 1, 16 do
      heaps[i] = memobj.heap(1 << 20)
      for j = 1, 200 do tabs[#tabs + 1] = {i, j} end
    end
    collectgarbage()
    local after = memobj.trace.snapshot()
    assert.is_true(after.native >= 16 << 20)
    local d = after:compare(before)
    assert.equal(hline, d[1].line)
    assert.equal(16 << 20, d[1].native_diff)
    assert.equal(16 << 20, d[1].native)
    assert.equal(hline + 1, d[2].line)
    assert.is_true(d[2].bytes_diff > 100000)
    assert.equal(0, d[2].native_diff)
    -- the snapshot itself ranks by Lua and native bytes together
    assert.equal(hline, after[1].line)
    heaps = nil
    collectgarbage()
    local gone = memobj.trace.snapshot():compare(after)
    assert.equal(hline, gone[1].line)
    assert.equal(-(16 << 20), gone[1].native_diff)
    assert.equal(3200, #tabs)
  end)

  it("gives native bytes entries of their own with several frames", function()
    memobj.trace.start(2)
    local line = here() + 1
    local m = memobj.heap(3 << 20)
    local s = memobj.trace.snapshot()
    local e = s[1]
    assert.equal(line, e.line)
    assert.equal(3 << 20, e.native)
    assert.same({e.source .. ":" .. line}, e.traceback)
    m:close()
  end)
end)

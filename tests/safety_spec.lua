-- Memory safety under finalizers and transactions (issue 15): a finalizer
-- that runs inside a memobj call (any allocation can run one) must not be
-- able to close, shrink, protect or begin a transaction on memory the call
-- is using. The rule: a running call pins the memory it reads or writes.
-- Run under `make check` these specs are the ASan regression tests.
local memobj = require("memobj")
local procs = require("mo_procs")

-- Run call(try) until a finalizer that an allocation inside a C function
-- it calls runs has done action() once (call itself must not allocate).
-- Returns action's pcall results, then call's.
local function during(action, call, setup)
  local fired, inside, aok, aerr = false, false, nil, nil
  collectgarbage("generational", 1, 100)  -- a young collection very often
  for try = 1, 100000 do
    if setup then setup() end
    setmetatable({}, {__gc = function()
      if inside and not fired and debug.getinfo(2, "S").what == "C" then
        fired = true
        aok, aerr = pcall(action)
      end
    end})
    inside = true
    local ok, r1 = pcall(call, try)
    inside = false  -- (nothing allocates between the call and here)
    if fired then
      collectgarbage("incremental")
      return aok, aerr, ok, r1
    end
  end
  collectgarbage("incremental")
  error("the finalizer never ran inside the call")
end

local PINNED = "memory is in use by a running call"

describe("pins: a finalizer inside a call", function()
  after_each(function() collectgarbage("incremental") end)

  it("cannot leave a view larger than its memory (constructor)", function()
    local m
    -- m is made once: a new 1 MiB object in every try would pace the
    -- collector (GC pacing) so that its step always falls in the setup
    local aok, _, ok, v = during(function() m:resize(16) end,
      function() return m:bytes(0, 1 << 20) end,
      function() if not m then m = memobj.heap(1 << 20) end end)
    -- either the resize came first (the view is refused) or the view did
    if ok then
      assert.is_true(v.offset + v.length <= m.size)
      assert.is_false(aok)
    else
      assert.is_true(aok)
      assert.equal(16, m.size)
    end
  end)

  it("cannot make a writable view of memory protected in between", function()
    local m
    local aok, _, ok, v = during(function() m:protect("r") end,
      function() return m:array("u8") end,
      function() m = memobj.heap(4096) end)
    if ok then
      if aok then assert.is_true(v.readonly or m.permission == "r") end
      v:release()
    end
    m:protect("rw")
    m:close()
  end)

  -- A finalizer releases the views and closes the memory mid-call: a pinned
  -- call (gsub) refuses the close; any other call notices the released view
  -- at its next read, or had finished reading. Never freed bytes (ASan).
  local function closing(name, make, call, expect)
    it(name, function()
      local m, views
      local aok, aerr, ok, r1 = during(function()
        views[1]:release()
        if type(views[2]) == "userdata" then views[2]:release() end
        return m:close()
      end, function(try) return call(try, views[1], views[2]) end,
      function()
        if m then
          views[1]:release()
          if type(views[2]) == "userdata" then views[2]:release() end
          m:close()
        end
        m = memobj.heap(1024)
        local w = m:bytes()
        -- a pinned call (gsub): the memory's pin exists now, so taking it
        -- allocates nothing (find no longer pins since pins are only where
        -- Lua code runs mid-call)
        w:gsub("", "")
        w:release()
        views = {make(m)}
      end)
      if aok then  -- closed: the call fails cleanly, or had finished reading
        if ok then
          if expect then assert.same(expect, r1) end
        else
          -- (the close can also land while the call takes its pin: the
          -- pin then refuses the closed memory)
          assert.is_truthy(r1:match("view is released") or
                           r1:match("memory object is closed") or
                           r1:match("attempt to use a closed file"), r1)
        end
      else         -- closed while pinned: refused, and Lua's answer
        assert.matches("memobj: close: " .. PINNED, aerr)
        if ok then
          if expect then assert.same(expect, r1) end
        else
          assert.is_truthy(r1:match("view is released") or
                           r1:match("attempt to use a closed file"), r1)
        end
      end
      views[1]:release()
      if type(views[2]) == "userdata" then views[2]:release() end
      assert.is_true(m:close())
    end)
  end

  local function text(m)
    local b = m:bytes()
    b:put(1, ("hello world "):rep(80):sub(1, 1024))
    return b
  end
  -- (each call makes a new string: an interned one allocates nothing)
  closing("b:put", text, function(try, b) return b:put(1, 1e6 + try) end, 10)
  closing("b:pack", text, function(try, b) return b:pack(1, "i4s1", try, "abc") end, 9)
  closing("b:unpack('c600')", text, function(_, b) return b:unpack("c600") end,
          (("hello world "):rep(80)):sub(1, 600))
  closing("b:rep(n, sep)", text, function(_, b) return #b:rep(3, 42) end, 3 * 1024 + 4)
  local long = "(world hello world hello world hello world hello)"
  closing("b:find", text, function(_, b) return b:find(long, 100) end, 103)
  closing("b:match", text, function(_, b)
    return #b:match("(hello world hello world hello world hello)(.)(.)")
  end, 41)
  -- the first capture is long (not interned: it allocates), the second is
  -- read after that allocation
  local words8 = "(%a+ %a+ %a+ %a+ %a+ %a+ %a+ %a+)( %a+)"
  local function sumlen(it)
    local n = 0
    for w, x in it do n = n + #w + #x end
    return n
  end
  closing("the gmatch iterator", function(m)
    local b = text(m)
    return b, b:gmatch(words8)
  end, function(_, _, it) return sumlen(it) end,
  sumlen((("hello world "):rep(80)):sub(1, 1024):gmatch(words8)))
  closing("b:gsub with captures", text, function(_, b)
    return #b:gsub("(%a)(%a)", "%2%1")
  end, 1024)
  closing("b:upper", text, function(_, b) return #b:upper() end, 1024)
  closing("b .. string", text, function(_, b) return #(b .. 1.5) end, 1027)
  closing("f:read('l', 'l', ...)", function(m)
    local b = m:bytes()
    b:put(1, (("x"):rep(49) .. "\n"):rep(20))
    return b, m:file("r")
  end, function(_, _, f)
    local a, b, c = f:read("l", "l", "L")
    return #a + #b + #c
  end, 49 + 49 + 50)
  closing("a:copy(other type)", function(m)
    return m:array("u8", 0, 512), m:array("i16", 512, 256)
  end, function(_, a, c) return a:copy(c) end)
  closing("a:totable()", function(m) return m:array("i32") end,
          function(_, a) return #a:totable() end, 256)
end)

describe("pins: close, resize, protect and transactions refuse a running call", function()
  it("inside a gsub replacement function, with the message", function()
    local m = memobj.heap(8)
    local b = m:bytes()
    b:put(1, "abcdefgh")
    for _, op in ipairs{
      {"close", function() return m:close() end},
      {"resize", function() return m:resize(4) end},
      {"protect", function() return m:protect("r") end},
      {"begin", function() return m:begin() end},
      {"transaction", function() return m:transaction(function() end) end},
    } do
      local err
      local out = b:gsub("c", function()
        local ok
        ok, err = pcall(op[2])
        assert.is_false(ok)
        return "C"
      end)
      assert.equal("abCdefgh", out)
      assert.equal("memobj: " .. op[1] .. ": " .. PINNED, err:match("memobj: .*"))
    end
    m:begin()
    b:gsub("c", function()
      assert.matches(PINNED, select(2, pcall(m.commit, m)))
      assert.matches(PINNED, select(2, pcall(m.abort, m)))
    end)
    m:abort()
    b:release()
    assert.is_true(m:close())
  end)

  it("ends the pin when the call raises, and when a coroutine dies", function()
    local m = memobj.heap(8)
    local b = m:bytes()
    assert.is_false(pcall(b.gsub, b, "", function() error("boom") end))
    assert.is_false(pcall(b.unpack, b, "i16"))
    local co = coroutine.create(function() b:gsub("", function() error("x") end) end)
    assert.is_false(coroutine.resume(co))
    co = nil
    collectgarbage()
    collectgarbage()
    b:release()
    m:resize(4)
    assert.is_true(m:close())
  end)

  it("a released view keeps no memory alive past its lock (setuservalue)", function()
    local m = memobj.heap(64)
    local b = m:bytes()
    b[1] = 7
    debug.setuservalue(b, nil, 1)
    m = nil
    for _ = 1, 3 do collectgarbage() end
    assert.equal(7, b[1])  -- the memory is still there (ASan: no use after free)
    assert.is_nil(b:find("x"))
    assert.has_error(function() b:gsub("x", "y") end,  -- (gsub pins the memory)
                     "memobj: the view's memory reference was replaced")
    b:release()
    for _ = 1, 3 do collectgarbage() end
  end)
end)

describe("transactions after a collection", function()
  it("resize refuses a transaction a finalizer began in its collection", function()
    local m = memobj.heap(100)
    local function garbage_view() m:bytes() end
    garbage_view()  -- resize collects it before it refuses
    setmetatable({}, {__gc = function() m:begin(); local b = m:bytes(); b[1] = 5; b:release() end})
    local ok, err = pcall(m.resize, m, 100000)
    assert.is_false(ok)
    assert.matches("memobj: resize: refused inside a transaction", err)
    assert.equal(100, m.size)
    m:abort()
    m:close()
  end)

  it("close and protect refuse it too", function()
    for _, op in ipairs{{"close"}, {"protect", "r"}} do
      local m = memobj.heap(100)
      local function garbage_view() m:bytes() end
      garbage_view()
      setmetatable({}, {__gc = function() m:begin() end})
      local ok, err = pcall(m[op[1]], m, op[2])
      assert.is_false(ok)
      assert.matches("memobj: " .. op[1] .. ": refused inside a transaction", err)
      m:abort()
      assert.equal("rw", m.permission)
      m:close()
    end
  end)

  it("protect('r') is refused while a transaction is open", function()
    local m = memobj.heap(4096)
    m:begin()
    m:bytes()[1] = 1
    local ok, err = pcall(m.protect, m, "r")
    assert.is_false(ok)
    assert.matches("memobj: protect: refused inside a transaction", err)
    m:abort()
    m:protect("r")
    m:protect("rw")
    m:close()
  end)

  it("a pool never makes an aborted byte durable through resize", function()
    local dir = os.tmpname()
    os.remove(dir)
    local path = dir .. ".pool"
    local m = memobj.persistent(path, 100)
    m:transaction(function() m:bytes()[1] = 11 end)
    local function garbage_view() m:bytes() end
    garbage_view()
    setmetatable({}, {__gc = function() m:begin(); local b = m:bytes(); b[1] = 99; b:release() end})
    local ok = pcall(m.resize, m, 200)
    assert.is_false(ok)
    if m:txdepth() > 0 then m:abort() end
    m:close()
    m = memobj.persistent(path, 100)
    assert.equal(11, m:bytes()[1])
    m:close()
    os.remove(path)
    for _, suffix in ipairs{".log", "-log", ".wal"} do os.remove(path .. suffix) end
    assert.is_nil(procs and nil)
  end)
end)

-- Identity (issue 20): a userdata is memobj's object because of its
-- metatable, never because of bytes inside it, and nothing the debug
-- library does to an object (getlocal, setuservalue, setmetatable,
-- calling __gc or __close directly) crashes the process.
describe("identity: the debug library cannot forge or break objects", function()
  -- The bytes of a memory object header (runtime/core/object.h) over
  -- `target`'s first `size` bytes: tag, writable, closed, guarded, stat,
  -- then ptr and size.
  local function fake_header(target, size)
    return string.pack("<I4BBBBI8I8", 0x4d454d4f, 1, 0, 0, 0, target.pointer, size)
  end

  it("a scratch copy whose bytes read like a memory object is not one", function()
    local target = memobj.heap(16)
    target:bytes():fill(0x53)
    local r = memobj.records({{"raw", "bytes", 300}}, 1)
    local hdr = fake_header(target, 16)
    r[1] = {raw = hdr .. string.rep("\0", 300 - #hdr)}
    local probe = memobj.bytes("SSSS")
    local tried, forged = 0, 0
    collectgarbage("generational", 1, 100)
    for _ = 1, 100000 do
      setmetatable({}, {__gc = function()
        -- level 2: the C function whose allocation ran this finalizer
        if debug.getinfo(2, "S").what ~= "C" then return end
        for i = 1, 40 do
          local name, v = debug.getlocal(2, i)
          if name == nil then break end
          if type(v) == "userdata" and debug.getmetatable(v) == nil then
            tried = tried + 1
            if pcall(probe.find, probe, v, 1, true) then forged = forged + 1 end
          end
        end
      end})
      local _ = r[1]  -- copies the record into scratch space, then allocates
      if tried >= 20 then break end
    end
    collectgarbage("incremental")
    assert.is_true(tried > 0, "no scratch space was seen")
    assert.equal(0, forged)
  end)

  it("a metatable moved onto another object does not make it that object", function()
    local m = memobj.heap(64)
    local a = memobj.array("u8", 64)
    local b = m:bytes()
    local mem_mt = debug.getmetatable(m)
    debug.setmetatable(a, mem_mt)           -- an array that says "memory"
    assert.has_error(function() return a:resize(10) end)
    assert.has_error(function() return memobj.bytes(a) end)
    debug.setmetatable(b, debug.getmetatable(memobj.array("f64", 1)))
    assert.has_error(function() return b[1] end)
    assert.has_error(function() return b:sum() end)
    debug.setmetatable(a, debug.getmetatable(memobj.array("u8", 1)))
    assert.equal(0, a[1])
  end)

  it("a method checks its self whatever metatable it was found through", function()
    local a = memobj.array("f64", {1, 2, 3, 4})
    local s = a:slice(1, 4, 2)               -- strided: the other metatable
    assert.equal(4, a.sum(s))                -- contiguous method, strided self
    assert.equal(10, s.sum(a))
    local b = memobj.bytes("abcd")
    assert.has_error(function() return a.sum(b) end)
    assert.has_error(function() return b.find(a, "x") end)
    -- the array metatable on a smaller userdata: its size refuses it
    debug.setmetatable(b, debug.getmetatable(a))
    assert.has_error(function() return b:get(1) end)
    assert.equal(1, b.get(a, 1))             -- the method itself is intact
  end)

  it("the state's own userdata: finalizers called early or on others, entries replaced", function()
    memobj.debug(true)
    memobj.trace.start()
    memobj.trace.stop()
    local m = memobj.heap(8)  -- objects are recorded in the state's record
    local reg = debug.getregistry()
    local found = 0
    for k, v in pairs(reg) do
      local mt = type(v) == "userdata" and debug.getmetatable(v)
      if type(k) == "userdata" and type(mt) == "table" and rawget(mt, "__gc") then
        local gc = rawget(mt, "__gc")
        found = found + 1
        gc(io.stdout)          -- another userdata: refused quietly
        gc(memobj.heap(64))
        reg[k] = io.stdout     -- the entry replaced: a new one is made
        local m2 = memobj.heap(8)
        m2:close()
        reg[k] = v
        gc(v)                  -- early: idempotent, later use stays safe
        gc(v)
      end
    end
    assert.is_true(found >= 2, found .. " state userdata found")
    local m3 = memobj.heap(16)
    m3:bytes():fill(1)
    m3:close()
    m:close()
    memobj.debug(false)
    assert.is_table(memobj.objects())
  end)

  it("a pin's __close or __gc called by Lua code drops nothing of a running call", function()
    -- the views are released inside their own calls, so only the pins
    -- stand between m:close() and the bytes those calls still read
    local m = memobj.heap(4096)
    local b = m:bytes()
    b:fill(("x"):byte())
    local pins, closed, inner = {}, nil, nil
    local function collect(level)
      local up = debug.getuservalue(m, 2)      -- the cached pin, if any
      if up then pins[#pins + 1] = up end
      for i = 1, 50 do                         -- the call's own slots
        local name, v = debug.getlocal(level + 1, i)
        if name == nil then break end
        if type(v) == "userdata" and debug.getmetatable(v) and
            debug.getmetatable(v).__metatable == "memobj.pin" then
          pins[#pins + 1] = v
        end
      end
      assert.is_true(#pins > 0, "no pin found")
    end
    local function attack()
      local mt = debug.getmetatable(pins[1])
      for _, pin in ipairs(pins) do
        mt.__close(pin)
        pcall(mt.__close, pin)
        mt.__gc(pin)
        coroutine.wrap(function() mt.__close(pin); mt.__gc(pin) end)()
      end
      return (pcall(m.close, m))
    end
    local ok, err = pcall(b.gsub, b, "x", function()
      if closed == nil then
        collect(2)
        b:release()
        closed = attack()
        -- a nested pinned call on the same memory, attacked the same way
        local b3 = m:bytes(0, 3)
        inner = {pcall(b3.gsub, b3, "x", function()
          collect(2)
          b3:release()
          return attack() and "!" or "z"
        end)}
      end
      return "y"
    end)
    assert.is_false(closed)
    assert.is_false(inner[1])
    assert.matches("released", inner[2])
    assert.is_false(ok)
    assert.matches("released", err)
    assert.is_false(m.closed)
    m:close()  -- after the calls: no longer pinned
    assert.is_true(m.closed)
  end)

  it("registry entries replaced by Lua code raise, never crash", function()
    local reg = debug.getregistry()
    local keys = {}
    for k, v in pairs(reg) do
      if type(k) == "userdata" and (type(v) == "table" or type(v) == "function") then
        keys[#keys + 1] = k
      end
    end
    assert.is_true(#keys >= 10, #keys .. " entries")
    local battery = {
      function() return memobj.heap(16):bytes():find("x") end,
      function() return memobj.array("f64", {1, 2}):sum() end,
      function() return memobj.records({{"x", "i32"}}, 2)[1] end,
      function() return memobj.heap(8):bytes():gsub("\0", function() return "a" end) end,
      function() return memobj.eval("a + 1", {a = memobj.array("f64", 4)}) end,
      function() return memobj.heap(8):file("r"):read("a") end,
      function() return memobj.heap(8):bytes():unpack("i4") end,
      function() return memobj.decode(memobj.encode({1, "x"})) end,
    }
    for _, k in ipairs(keys) do
      local saved = reg[k]
      reg[k] = 42
      for _, fn in ipairs(battery) do pcall(fn) end
      reg[k] = saved
    end
    for _, fn in ipairs(battery) do assert(pcall(fn)) end
  end)

  it("a replaced user value never reaches the OS or the core", function()
    local name = "/memobj_id_" .. tostring(os.time()) .. "_" .. math.random(1e9)
    local m = assert(memobj.shared(name, 4096))
    debug.setuservalue(m, {}, 1)
    assert.has_error(function() m:unlink() end, "memobj: unlink: the object's name was replaced")
    debug.setuservalue(m, name, 1)
    assert.is_true(m:unlink())
    local v = memobj.heap(32):bytes()
    debug.setuservalue(v, memobj.heap(32), 1)
    assert.has_error(function() return v.memory end,
      "memobj: the view's memory reference was replaced")
    assert.has_error(function() return memobj.bytes(v) end)
    assert.is_nil(v:find("x"))  -- the view's own lock keeps its bytes
    m:close()
  end)

  it("replaced iterator upvalues raise (debug.setupvalue)", function()
    local b = memobj.bytes("a b c")
    local it = b:gmatch("%a")
    assert.equal("a", it())
    debug.setupvalue(it, 2, memobj.heap(4096))
    assert.has_error(it, "memobj: gmatch: the iterator's state was replaced")
    local it2 = b:gmatch("%a")
    debug.setupvalue(it2, 1, memobj.array("u8", 8))
    assert.has_error(it2, "memobj: gmatch: the iterator's state was replaced")
  end)

  it("calling __gc or __close directly on every object and view kind", function()
    local name = "/memobj_id2_" .. tostring(os.time()) .. "_" .. math.random(1e9)
    local path = os.tmpname()
    local f = assert(io.open(path, "wb")); f:write(string.rep("x", 4096)); f:close()
    local objects = {
      memobj.heap(64), memobj.string("abc"), assert(memobj.shared(name, 4096)),
      assert(memobj.map(path)),
    }
    if memobj.memfd then objects[#objects + 1] = assert(memobj.memfd(64)) end
    local m = memobj.heap(64)
    local views = {m:bytes(), m:array("u16"), m:array("u8", 0, 32):slice(1, 32, 2), m:file(),
      memobj.records({{"a", "u8"}}, 4)}
    for _, o in ipairs(objects) do
      local mt = debug.getmetatable(o)
      for _, k in ipairs({"__gc", "__close", "__len", "__tostring", "__index"}) do
        if mt[k] then
          pcall(mt[k], o)
          pcall(mt[k], o, "size")
          pcall(mt[k], {}, 1)
          pcall(mt[k], io.stdout, 1)
          pcall(mt[k], m:bytes(), 1)
        end
      end
    end
    for _, v in ipairs(views) do
      local mt = debug.getmetatable(v)
      for _, k in ipairs({"__gc", "__close", "__len", "__tostring", "__index", "__newindex"}) do
        if mt[k] then
          pcall(mt[k], v)
          pcall(mt[k], v, 1, 1)
          pcall(mt[k], m, 1, 1)
          pcall(mt[k], io.stdout, 1, 1)
          pcall(mt[k], {}, 1, 1)
        end
      end
      assert.is_true(v.released)
    end
    -- the memory whose views were released directly closes and frees
    assert.is_true(m:close())
    for _, o in ipairs(objects) do pcall(o.close, o) end
    assert.is_true(assert(memobj.shared(name, 4096, {exclusive = false})):unlink())
    os.remove(path)
    collectgarbage()
    collectgarbage()
  end)

  it("npy.open survives its box's __gc called from a finalizer", function()
    local npy = require("memobj").npy
    local path = os.tmpname()
    local a = memobj.array("f64", 8)
    for i = 1, 8 do a[i] = i end
    assert(npy.save(path, a))
    local calls = 0
    collectgarbage("generational", 1, 100)
    for _ = 1, 50000 do
      setmetatable({}, {__gc = function()
        if debug.getinfo(2, "S").what ~= "C" then return end
        for i = 1, 40 do
          local name, v = debug.getlocal(2, i)
          if name == nil then break end
          local mt = type(v) == "userdata" and debug.getmetatable(v)
          -- the parser's box: a __gc and no other metamethod
          if mt and mt.__gc and not mt.__index and not mt.__close then
            calls = calls + 1
            pcall(mt.__gc, v)
          end
        end
      end})
      local v = assert(npy.open(path))
      assert.equal(8, v[8])
      v:release()
      if calls >= 5 then break end
    end
    collectgarbage("incremental")
    os.remove(path)
    assert.is_true(calls > 0, "the box was never reached")
  end)
end)

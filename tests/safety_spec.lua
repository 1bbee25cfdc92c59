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
          assert.is_truthy(r1:match("view is released") or
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

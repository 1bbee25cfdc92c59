-- chaos.lua: the finalizer-chaos fuzzer (issue 15). A generational
-- collector with a tiny step runs finalizers inside nearly every memobj
-- call, and those finalizers (and gsub replacement functions) close,
-- resize, protect, release, begin, commit and abort the memory objects
-- and views the fuzzer knows, while it calls every method of every view
-- and kind. Invariants, checked after every step:
--   - no sanitizer report (run it with build/asan: see `make fuzz`);
--   - every live view fits in its open memory;
--   - no aborted byte is ever durable: a persistent pool at depth 0 holds
--     exactly its last committed bytes, also after close and reopen;
--   - no error names the wrong object: "view is released" and "memory
--     object is closed" only for objects that are, and "in use by a
--     running call" only while a call is running.
-- usage: lua5.4 tests/fuzz/chaos.lua [seed] [steps]
local memobj = require("memobj")

local seed = tonumber(arg[1]) or os.time()
local steps = tonumber(arg[2]) or 2000
math.randomseed(seed)

local step_no = 0
local last_method  -- named in failures
local function fail(msg)
  io.stderr:write(("chaos: seed %d, step %d: %s (last other method: %s)\n"):format(seed, step_no, msg, tostring(last_method)))
  os.exit(1)
end

local function pick(t) return t[math.random(#t)] end

local base = os.tmpname()
local files = {base}

local mems = {}    -- {m =, pool = path or nil, snap = committed bytes}
local views = {}   -- views and file views
local stats = {calls = 0, errors = 0, pinned = 0, chaos = 0, reopened = 0, aborts = 0}
local running = 0  -- memobj calls of ours now running (main or finalizer)
local quiet = false  -- the invariant checks run without chaos

-- ---- Helpers that never raise ----

local function released(v)
  local ok, r = pcall(function() return v.released end)
  return ok and r
end

local function closed(m)
  local ok, c = pcall(function() return m.closed end)
  return ok and c
end

-- The bytes of m as the model compares them. A queue or dictionary at
-- offset 0 keeps its lock and futex words in bytes 64..191, which are
-- never logged (doc/structures.md: a lock is not data, and a reopened
-- pool resets it): they are left out.
local function content(m)
  local was = quiet
  quiet = true
  local b = memobj.bytes(m)
  local s = b:string()
  b:release()
  quiet = was
  local magic = s:sub(1, 8)
  if magic == "moQUEUE\0" or magic == "moDICT\0\0" then
    s = s:sub(1, 64) .. ("\0"):rep(math.max(0, math.min(#s, 192) - 64)) .. s:sub(193)
  end
  return s
end

local function entry_of(m)
  for _, e in ipairs(mems) do if rawequal(e.m, m) then return e end end
end

-- ---- Calls, with the error-naming invariant ----

local PINNED = "in use by a running call"

-- Views passed as arguments in this step (they may be the released ones).
local touched = {}
local function aview(default)
  if #views == 0 then return default end
  local v = pick(views)
  touched[#touched + 1] = v
  return v
end

-- Call fn(...) protected as a memobj call; `objs` are the objects the
-- call names (for the wrong-object check).
local function call(objs, fn, ...)
  local outer = running
  running = running + 1
  local r = table.pack(pcall(fn, ...))
  running = running - 1
  stats.calls = stats.calls + 1
  if not r[1] then
    local e = tostring(r[2])
    stats.errors = stats.errors + 1
    if e:find(PINNED, 1, true) then stats.pinned = stats.pinned + 1 end
    if e:find(PINNED, 1, true) and outer == 0 then
      fail("'" .. e .. "' with no call running (a pin leaked)")
    end
    if e:find("memobj: view is released", 1, true) then
      local any = false
      for _, o in ipairs(objs) do if released(o) then any = true end end
      for _, o in ipairs(touched) do if released(o) then any = true end end
      if not any then fail("'" .. e .. "' but no view of the call is released") end
    end
    if e:find("memobj: memory object is closed", 1, true) then
      local any = false
      local all = {table.unpack(objs)}
      for _, o in ipairs(touched) do all[#all + 1] = o end
      for _, o in ipairs(all) do
        if closed(o) or released(o) then any = true end
        local ok, m = pcall(function() return o.memory end)
        if ok and m and closed(m) then any = true end
      end
      if not any then fail("'" .. e .. "' but no memory of the call is closed") end
    end
  end
  return table.unpack(r, 1, r.n)
end

-- ---- Transactions with the durability model ----

-- These run right after the call they follow, in the same Lua function,
-- and go quiet before anything allocates: otherwise a finalizer could
-- begin or close between the commit and its snapshot.
local function after_commit(m)
  local was = quiet
  quiet = true
  local e = entry_of(m)
  if e and e.pool and not closed(m) and m:txdepth() == 0 then e.snap = content(m) end
  quiet = was
end

local function after_abort(m)
  local was = quiet
  quiet = true
  local e = entry_of(m)
  if e and e.pool and not closed(m) and m:txdepth() == 0 then
    local now = content(m)
    if now ~= e.snap then fail("an aborted transaction left bytes in " .. e.pool) end
    stats.aborts = stats.aborts + 1
  end
  quiet = was
end

local TRACE = os.getenv("CHAOS_TRACE")
local function trace(op, m, ...)
  if TRACE and entry_of(m) and entry_of(m).pool then
    local ok, d = pcall(m.txdepth, m)
    io.stderr:write(("step %d %s %s depth %s size %s %s\n"):format(step_no, op,
      entry_of(m).pool:match("%.(%d+)%.pool"), tostring(ok and d), tostring(m.size), table.concat({...}, " ")))
  end
end

local function do_commit(m)
  local ok, e = call({m}, function() m:commit(); after_commit(m) end)
  trace("commit", m, tostring(ok), tostring(e))
end

local function do_abort(m)
  local ok, e = call({m}, function() m:abort(); after_abort(m) end)
  trace("abort", m, tostring(ok), tostring(e))
end

local function do_resize(m, n)
  local e = entry_of(m)
  local ok, err = call({m}, function()
    local res = m:resize(n)
    quiet = true
    if res and e and e.pool then  -- res nil: the system failed (doc/manual.md)
      local s = e.snap
      e.snap = #s >= n and s:sub(1, n) or s .. ("\0"):rep(n - #s)
    end
    quiet = false
  end)
  trace("resize", m, n, tostring(ok), tostring(err))
end

local function random_size() return pick({0, 1, 7, 64, 100, 1000, 4096, 5000}) end

-- ---- Chaos: what finalizers and callbacks do ----

local function write_somewhere(m)
  local b = memobj.bytes(m)
  if #b > 0 then b[math.random(#b)] = math.random(0, 255) end
  b:release()
end

-- At depth 0 a pool holds exactly its durable bytes (writes outside a
-- transaction are refused; a queue's or dictionary's call outside one is
-- its own durable transaction), so a begin from depth 0 is where the
-- model's snapshot is taken afresh.
local function do_begin(m)
  after_commit(m)  -- the snapshot at depth 0, quietly
  return m:begin()
end

local function chaos()
  if quiet or #mems == 0 then return end
  stats.chaos = stats.chaos + 1
  local r = math.random(10)
  local e = pick(mems)
  local m = e.m
  if r == 1 then call({m}, m.close, m)
  elseif r == 2 then do_resize(m, random_size())
  elseif r == 3 then call({m}, m.protect, m, pick({"r", "rw", "rw"}))
  elseif r == 4 and #views > 0 then
    local v = pick(views)
    call({v}, v.release, v)
  elseif r == 5 then trace("begin", m, tostring(call({m}, do_begin, m)))
  elseif r == 6 then do_commit(m)
  elseif r == 7 then do_abort(m)
  elseif r == 8 then call({m}, write_somewhere, m)
  elseif r == 9 then collectgarbage("step", 0)
  else
    call({m}, function() m:transaction(write_somewhere, m); after_commit(m) end)
  end
end

local function plant_finalizers()
  for _ = 1, math.random(0, 3) do
    setmetatable({}, {__gc = function() chaos() end})
  end
end

-- ---- Objects ----

local TYPES = {"u8", "i16", "u16be", "i32", "f32", "f64", "i64le", "u64"}
local serial = 0

local function new_memory()
  local r = math.random(7)
  local ok, m, pool
  serial = serial + 1
  if r == 1 then ok, m = pcall(memobj.heap, random_size())
  elseif r == 2 then ok, m = pcall(memobj.heap, random_size(), {max = 1 << 16})
  elseif r == 3 then
    ok, m = pcall(memobj.array, pick(TYPES), math.random(0, 300))
    if ok then m = m.memory end
  elseif r == 4 then
    local path = ("%s.%d.map"):format(base, serial)
    local f = assert(io.open(path, "wb"))
    f:write(("chaos map\n"):rep(math.random(0, 300)))
    f:close()
    files[#files + 1] = path
    ok, m = pcall(memobj.map, path, {mode = pick({"rw", "private", "r"})})
  elseif r == 5 then
    local name = ("/memobj-chaos-%d-%d-%d"):format(seed, serial, math.random(1 << 30))
    ok, m = pcall(memobj.shared, name, random_size() + 1)
    if ok and m then m:unlink() end
  else
    pool = ("%s.%d.pool"):format(base, serial)
    files[#files + 1] = pool
    for _, sfx in ipairs({".log", "-log", ".wal"}) do files[#files + 1] = pool .. sfx end
    ok, m = pcall(memobj.persistent, pool, random_size() + 8, {durability = "process"})
  end
  if ok and m then
    local e = {m = m, pool = pool}
    if pool then e.snap = content(m) end
    mems[#mems + 1] = e
  end
end

local LAYOUTS = {
  {{"a", "u8"}, {"x", "f64"}, {"s", "bytes", 5}},
  {{"v", "i32be"}, {"w", "u16"}, align = "packed"},
  {{"s", "bytes", 300}, {"n", "i16", offset = 300}},  -- bigger than r[i]'s stack copy
}

-- Queue and dictionary calls on a pool outside a transaction are each a
-- durable transaction of their own: the model's snapshot follows them.
local function resnap(x)
  local was = quiet
  quiet = true
  local ok, m = pcall(function() return x.memory end)
  if ok then after_commit(m) end
  quiet = was
end

local function new_view()
  if #mems == 0 then return end
  local m = pick(mems).m
  local r = math.random(11)
  local src = math.random(3) == 1 and aview(m) or m
  local ok, v
  if r <= 3 then ok, v = call({src}, memobj.bytes, src, math.random(0, 8) == 0 and 3 or nil)
  elseif r <= 5 then ok, v = call({src}, memobj.array, pick(TYPES), src)
  elseif r == 6 then ok, v = call({m}, m.file, m, pick({"r", "r+", "w+", "a+"}))
  elseif r == 9 then ok, v = call({m}, m.records, m, pick(LAYOUTS), math.random(0, 8))
  elseif r == 10 then ok, v = call({m}, m.queue, m)   -- nil, why on other bytes
    if ok and v then resnap(v) end
  elseif r == 11 then ok, v = call({m}, m.dict, m)
    if ok and v then resnap(v) end
  elseif r == 7 and #views > 0 then
    local w = aview()
    ok, v = call({w}, function()
      if w.sub then return w:sub(math.random(-5, 5), math.random(-5, 50)) end
      if w.slice then return w:slice(math.random(1, 3), math.random(1, 20)) end
      return w:read(3)
    end)
  else ok, v = call({m}, m.bytes, m, math.random(0, 3))
  end
  if ok and type(v) == "userdata" then views[#views + 1] = v end
end

-- ---- Random arguments ----

local PATTERNS = {"%a+", "(%a)(%a)", "(h)(.-)(o)", "[^\n]*", "%d+", "(%w+) (%w+)",
  "x*", "", ".", "(.)%1", "%f[%w]%w+", "^(chaos)", "(()a)"}

local function rint() return pick({-3, -1, 0, 1, 2, 3, 5, 10, 64, 100, 1000}) end

local function repl()
  local r = math.random(4)
  if r == 1 then return "<%1>" end
  if r == 2 then return {chaos = "CHAOS", h = false} end
  if r == 3 then return function(a) chaos(); return a and a:upper() end end
  return function() plant_finalizers(); collectgarbage("step", 0) end
end

-- a value for the codec, queues and dictionaries, sometimes refused
local function value()
  return pick({1, -2.5, "chaos", ("x"):rep(300), true, {1, 2, {k = "v"}},
               {n = math.random(100)}, aview("v"), function() end, 0 / 0})
end

local BYTES = {
  function(b) return b:byte(rint(), rint()) end,
  function(b) return b:sub(rint(), rint()) end,
  function(b) return b:string(rint(), rint()) end,
  function(b) return b:find(pick(PATTERNS), rint(), math.random(2) == 1) end,
  function(b) return b:match(pick(PATTERNS), rint()) end,
  function(b)
    local n = 0
    for _ in b:gmatch(pick(PATTERNS)) do
      n = n + 1
      if n > 50 then break end
    end
  end,
  function(b) return b:gsub(pick(PATTERNS), repl(), math.random(0, 20)) end,
  function(b) return b:rep(math.random(0, 4), pick({nil, ",", 12, b, aview("v")})) end,
  function(b) return b:upper(), b:lower(), b:reverse() end,
  function(b) return b:equals(pick({"", "chaos", b, aview("v")})), b == b, b < "m" end,
  function(b) return b:put(rint(), pick({"xy", 42, 1.5, b, aview("v")})) end,
  function(b) return b:fill(math.random(0, 255), rint(), rint()) end,
  function(b) return b:pack(rint(), "i4s1", math.random(1000), "chaos") end,
  function(b) return b:unpack(pick({"c600", "i4", "s1", "z", "c2c2c2", "d"}), rint()) end,
  function(b) return b:encode(value(), pick({nil, 1, 2, rint()})) end,
  function(b) return b:decode(pick({nil, 1, rint()})) end,
  function(b) return memobj.decode(b), memobj.encode(b) end,
  function(b) return #b, tostring(b), b .. "x", 1 .. b end,
  function(b) return b[rint()] end,
  function(b) b[math.random(1, 8)] = math.random(0, 255) end,
}

local QUEUES = {
  function(q) return q:push(value(), value(), value()) end,
  function(q) return q:pop(math.random(0, 5)) end,
  function(q) return q:put(value(), 0) end,
  function(q) return q:get(0) end,
  function(q) return #q, q.used, q.capacity, tostring(q) end,
}

local DICTS = {
  function(d) return d:set(pick({"a", "b", 1, 2.5}), value()) end,
  function(d) return d:get(pick({"a", "b", 1, 2.5, "none"})) end,
  function(d) return d:add(pick({"a", "c"}), value()) end,
  function(d) return d:incr(pick({"n", "a"}), math.random(-3, 3), pick({nil, 0, 1.5})) end,
  function(d) return d:delete(pick({"a", "b", "n"})) end,
  function(d) for _ in d:pairs() do end end,
  function(d) return d:keys(), #d end,
}

local ARRAYS = {
  function(a) return memobj.eval(pick({"a * 2 + 1", "sum(a)", "a > 1", "sin(a) + a"}),
                                 {a = a}, pick({nil, a, aview()})) end,
  function(a) return memobj.expr("x - y", {threads = 2})({x = a, y = aview(a)}) end,
  function(a) return a:get(rint()) end,
  function(a) return a:set(math.random(1, 4), math.random(-100, 100)) end,
  function(a) return a:unpack(rint(), rint()) end,
  function(a) return a:fill(math.random(0, 9), rint(), rint()) end,
  function(a) return a:copy(aview({1, 2, 3}), rint()) end,
  function(a) return a:copy({1, 2.5, 3}, rint()) end,
  function(a) return a:slice(rint(), rint()) end,
  function(a) return #a:totable(rint(), rint()) end,
  function(a) return a:sum(), a:min(), a:max() end,
  function(a) return a:sort() end,
  function(a) return a:find(math.random(0, 3)) end,
  function(a) return a:cast(pick(TYPES)) end,
  function(a) return a:bytes() end,
  function(a) for _ in pairs(a) do end end,
  function(a) return a[rint()], #a, tostring(a) end,
  function(a) a[math.random(1, 4)] = math.random(0, 100) end,
}

-- a record table for r's layout, sometimes with a value or name that is refused
local function record_for(r)
  local t = {}
  for _, f in ipairs(r.layout) do
    t[f[1]] = f[2] == "bytes" and ("chaos"):sub(1, math.random(0, 5)) or math.random(-100, 100)
  end
  if math.random(6) == 1 then t[pick(r.fields)] = pick({"x", 1.5, 1 << 40, {}}) end
  if math.random(8) == 1 then t.nosuchfield = 1 end
  return t
end

local RECORDS = {
  function(r) return r[rint()] end,
  function(r) r[math.random(1, 3)] = record_for(r) end,
  function(r) return r:get(rint(), pick(r.fields)) end,
  function(r) return r:set(math.random(1, 3), pick(r.fields), pick({7, "ab", 2.5, 1 << 40})) end,
  function(r)
    local ok, a = pcall(r.field, r, pick(r.fields))
    if ok then views[#views + 1] = a end
  end,
  function(r) return r:slice(rint(), rint()) end,
  function(r) for _ in pairs(r) do end end,
  function(r) return #r, tostring(r), r.layout, r.format, r.size end,
}

local FILES = {
  function(f) return f:read(pick({"l", "L", "n", "a", 5, 0}), pick({"l", "L", 3, "n"})) end,
  function(f) return f:read("l", "l", "l", "L") end,
  function(f) return f:write("chaos\n", 42, 1.5, aview("x")) end,
  function(f) return f:seek(pick({"set", "cur", "end"}), rint()) end,
  function(f)
    local n = 0
    for _ in f:lines("L") do
      n = n + 1
      if n > 20 then break end
    end
  end,
  function(f) return f:flush(), f:setvbuf("full") end,
  function(f) return f:close() end,
}

local MEMORY = {
  function(m) return m:sync() end,
  function(m) return m:advise(pick({"normal", "willneed", "dontneed"})) end,
  function(m) return m:txdepth(), m.size, tostring(m), #m end,
  function(m) do_resize(m, random_size()) end,
  function(m) return m:protect(pick({"r", "rw"})) end,
  function(m) return do_begin(m) end,
  function(m) do_commit(m) end,
  function(m) do_abort(m) end,
  function(m)
    m:transaction(function() write_somewhere(m); chaos() end)
    after_commit(m)  -- (directly after: see after_commit)
  end,
}

-- Every method of every view kind, from the view's own method table:
-- methods that no list above knows (added later) get random arguments.
local KNOWN = {}
local function known(list, obj)
  for _, f in ipairs(list) do pcall(f, obj) end
end
local function methods_of(v)
  local mt = debug.getmetatable(v)
  local idx = mt and mt.__index
  if type(idx) ~= "function" then return {} end
  local _, t = debug.getupvalue(idx, 1)
  return type(t) == "table" and t or {}
end
local function any_method(v)
  local names = {}
  for k in pairs(methods_of(v)) do
    if not KNOWN[k] then names[#names + 1] = k end
  end
  if #names == 0 then return end
  table.sort(names)
  local name = pick(names)
  last_method = name
  return v[name](v, rint(), pick({"u8", "l", 2, nil}), rint())
end
for _, k in ipairs({"byte", "sub", "string", "find", "match", "gmatch", "gsub",
  "rep", "upper", "lower", "reverse", "equals", "put", "fill", "pack", "unpack",
  "len", "get", "set", "copy", "slice", "totable", "sum", "min", "max", "sort",
  "cast", "bytes", "read", "write", "seek", "lines", "flush", "setvbuf", "close",
  "release", "wait", "notify", "field", "push", "pop", "put", "add", "incr",
  "delete", "keys", "pairs", "encode", "decode"}) do
  KNOWN[k] = true
end
local _ = known

-- ---- Invariants ----

local function check()
  quiet = true
  for _, v in ipairs(views) do
    if not released(v) then
      local m = v.memory
      if closed(m) then fail("a live view over closed memory: " .. tostring(v)) end
      if v.offset + v.length > m.size then
        fail(("a view of bytes %d..%d over %d bytes"):format(v.offset,
             v.offset + v.length, m.size))
      end
    end
  end
  for _, e in ipairs(mems) do
    if e.pool then
      if closed(e.m) then  -- closed by someone: reopen and compare
        local m, err = memobj.persistent(e.pool, nil, {durability = "process"})
        if not m then fail("cannot reopen " .. e.pool .. ": " .. tostring(err)) end
        if content(m) ~= e.snap then fail("reopened " .. e.pool .. " differs from its last commit") end
        e.m = m
        stats.reopened = stats.reopened + 1
      elseif e.m:txdepth() == 0 and content(e.m) ~= e.snap then
        local now, k = content(e.m), 1
        while now:byte(k) == e.snap:byte(k) do k = k + 1 end
        fail(("pool %s at depth 0 differs from its last commit: %d bytes, model %d, " ..
              "first difference at byte %d (%s, model %s); it starts %q"):format(e.pool, #now, #e.snap, k,
              tostring(now:byte(k)), tostring(e.snap:byte(k)), now:sub(1, 8)))
      end
    end
  end
  quiet = false
end

-- ---- The loop ----

collectgarbage("generational", 1, 100)
for i = 1, steps do
  step_no = i
  touched = {}
  plant_finalizers()
  local r = math.random(20)
  if #mems < 3 or r == 1 then new_memory()
  elseif #views < 4 or r <= 4 then new_view()
  else
    local useview = #views > 0 and math.random(4) > 1
    local obj = useview and pick(views) or pick(mems).m
    local list
    local has = useview and methods_of(obj) or {}
    if not useview then list = MEMORY
    elseif has.push then list = QUEUES
    elseif has.incr then list = DICTS
    elseif has.sub then list = BYTES
    elseif has.field then list = RECORDS
    elseif has.slice then list = ARRAYS
    elseif has.seek then list = FILES end
    if list and math.random(12) > 1 then
      call({obj}, pick(list), obj)
      if list == QUEUES or list == DICTS then resnap(obj) end
    elseif useview then
      call({obj}, any_method, obj)
    end
  end
  if math.random(50) == 1 then
    collectgarbage(pick({"incremental", "generational"}), math.random(1, 100), 100)
  end
  if #views > 40 then table.remove(views, 1) end
  if #mems > 12 then
    local e = table.remove(mems, 1)
    quiet = true
    for _, v in ipairs(views) do
      local ok, m = pcall(function() return v.memory end)
      if ok and rawequal(m, e.m) then pcall(v.release, v) end
    end
    while not closed(e.m) and e.m:txdepth() > 0 do do_abort(e.m) end
    pcall(e.m.close, e.m)
    quiet = false
  end
  check()
end

-- ---- Cleanup: nothing left behind ----
quiet = true
collectgarbage("incremental")
for _, v in ipairs(views) do pcall(v.release, v) end
for _, e in ipairs(mems) do
  while not closed(e.m) and e.m:txdepth() > 0 do pcall(e.m.abort, e.m) end
  pcall(e.m.close, e.m)
end
views, mems = {}, {}
collectgarbage()
for _, p in ipairs(files) do os.remove(p) end
print(("chaos: seed %d, %d steps: ok (%d calls, %d errors, %d refused as pinned, " ..
  "%d chaos actions, %d pool aborts checked, %d pools reopened)"):format(seed, steps,
  stats.calls, stats.errors, stats.pinned, stats.chaos, stats.aborts, stats.reopened))

-- ops.lua: a random-operation fuzzer for the Lua API. It calls random
-- methods with random (often wrong) arguments on random objects: memory
-- objects, views, closed and released ones. Every call is protected; the
-- process must never crash, and the buffer-locking invariants must hold.
-- usage: lua5.4 tests/fuzz/ops.lua [seed] [steps]
local memobj = require("memobj")

local seed = tonumber(arg[1]) or os.time()
local steps = tonumber(arg[2]) or 20000
math.randomseed(seed)

local METHODS = {
  -- memory objects
  "close", "resize", "sync", "protect", "advise", "unlink", "bytes", "array",
  "file", "transaction", "begin", "commit", "abort",
  -- views
  "release", "get", "set", "unpack", "fill", "copy", "slice", "totable",
  "sum", "min", "max", "sort", "find", "cast", "atomic_load", "atomic_store",
  "atomic_add", "atomic_cas", "notify", "len", "byte", "sub", "string",
  "match", "gmatch", "rep", "upper", "lower", "reverse", "equals", "put",
  "pack", "read", "write", "seek", "lines", "flush", "setvbuf",
  "records", "field", "nosuchmethod",
}
local FIELDS = {"kind", "size", "pointer", "permission", "persistence", "locks",
  "closed", "path", "name", "type", "itemsize", "memory", "offset", "length",
  "readonly", "released", "max", "fields", "layout", "format", 1, 0, -1, 2.5, true}
local TYPES = {"i8", "u8", "i16", "u16be", "i32", "u32le", "i64", "u64",
  "f32", "f64be", "float64", "nope", ""}
local PATTERNS = {"%a+", "(%d)(%d)", "[^\n]*", "%b()", "%f[%w]", "(", "%",
  "[a-", "(()", "%1", ".-", "^$", ""}

local LAYOUTS = {
  {{"x", "f64"}, {"n", "i32"}, {"s", "bytes", 3}},
  {{"a", "u8"}, {"b", "u16be"}, align = "packed"},
  {{"v", "i64", offset = 8}, {"w", "f32", offset = 0}, size = 24},
  {{"x", "u8"}, {"x", "u8"}}, {{"x", "nope"}}, {},
}

local pool = {}

local function pick(t) return t[math.random(#t)] end

local function random_int()
  local r = math.random(10)
  if r <= 5 then return math.random(-3, 40) end
  if r == 6 then return math.maxinteger end
  if r == 7 then return math.mininteger end
  if r == 8 then return 1 << math.random(40, 62) end  -- fails fast: no 8 GB zero-fills
  if r == 9 then return -(1 << math.random(0, 62)) end
  return math.random(0, 4096)
end

local function random_value()
  local r = math.random(14)
  if r <= 5 then return random_int() end
  if r == 6 then return pick({0.5, -0.0, 1 / 0, 0 / 0, 1e300, 2.0}) end
  if r == 7 then return pick(TYPES) end
  if r == 8 then return pick(PATTERNS) end
  if r == 9 then return pick({"r", "rw", "w", "a", "r+", "n", "l", "a", "L", "set", "cur", "end"}) end
  if r == 10 and #pool > 0 then return pick(pool) end
  if r == 11 then
    return math.random(2) == 1 and {math.random(-5, 300), 1.5, "x"} or pick(LAYOUTS)
  end
  if r == 12 then return string.rep("ab\0\255", math.random(0, 8)) end
  if r == 13 then return nil end
  return pick({true, false, {}, tostring})
end

local tmpfile = os.tmpname()
do
  local f = assert(io.open(tmpfile, "wb"))
  f:write(string.rep("0123456789abcdef\n", 64))
  f:close()
end
local shm_count = 0
local pools = {}

local npy_count = 0

local function new_object()
  local r = math.random(12)
  local ok, obj
  if r == 1 then ok, obj = pcall(memobj.heap, math.random(0, 256))
  elseif r == 2 then ok, obj = pcall(memobj.heap, math.random(0, 256), {max = 65536})
  elseif r == 3 then ok, obj = pcall(memobj.string, string.rep("x\0", math.random(0, 50)))
  elseif r == 4 then ok, obj = pcall(memobj.array, pick(TYPES), math.random(0, 64))
  elseif r == 5 and memobj.bytes then ok, obj = pcall(memobj.bytes, string.rep("line\n", 5))
  elseif r == 6 and memobj.map then
    ok, obj = pcall(memobj.map, tmpfile, {mode = pick({"r", "rw", "private"}),
      offset = math.random(0, 40), max = pick({nil, 1 << 20})})
  elseif r == 7 and memobj.shared then
    shm_count = shm_count + 1
    local name = ("/memobj-fuzz-%d-%d"):format(seed, shm_count)
    ok, obj = pcall(memobj.shared, name, math.random(0, 512))
    if ok and obj then obj:unlink() end
  elseif r == 9 and memobj.persistent then
    shm_count = shm_count + 1
    local path = ("%s.%d.pool"):format(tmpfile, shm_count)
    ok, obj = pcall(memobj.persistent, path, math.random(0, 512), {durability = "process"})
    pools[#pools + 1] = path
  elseif r == 8 and memobj.file then ok, obj = pcall(memobj.file, "1 2 3\nabc\n")
  elseif r == 10 and memobj.records then
    ok, obj = pcall(memobj.records, pick(LAYOUTS), math.random(0, 20))
  elseif r == 11 and memobj.npy and #pool > 0 then
    -- a random object saved as .npy (often refused) and mapped back
    npy_count = npy_count + 1
    local path = ("%s.%d.npy"):format(tmpfile, npy_count)
    pools[#pools + 1] = path
    if pcall(memobj.npy.save, path, pick(pool), random_value()) then
      ok, obj = pcall(memobj.npy.open, path, pick({"r", "rw", "private", "x"}))
    end
  else ok, obj = pcall(memobj.array, "u8", random_value()) end
  if ok and obj then pool[#pool + 1] = obj end
end

local function args(n)
  local t = {}
  for i = 1, n do t[i] = random_value() end
  return t, n
end

local function step()
  if #pool == 0 or math.random(10) == 1 then return new_object() end
  local obj = pick(pool)
  local r = math.random(12)
  if r <= 6 then
    local name = pick(METHODS)
    local a, n = args(math.random(0, 4))
    if name == "resize" then
      -- a sparse file of terabytes is a valid request, and reading it
      -- fills memory: keep resizes small, or hopeless
      a[1] = pick({math.random(0, 1 << 16), -1, 1 << 62, math.maxinteger, 1.5, "x"})
    end
    pcall(function()
      local res = {obj[name](obj, table.unpack(a, 1, n))}
      -- keep views and iterators that came back, to use them later
      for _, v in ipairs(res) do
        if type(v) == "userdata" then pool[#pool + 1] = v end
        if type(v) == "function" then pcall(v) pcall(v) end
      end
    end)
  elseif r == 7 then
    pcall(function() return obj[pick(FIELDS)] end)
  elseif r == 8 then
    pcall(function() obj[random_value() or 1] = random_value() end)
  elseif r == 9 then
    pcall(function() return #obj, tostring(obj) end)
  elseif r == 10 then
    pcall(function() for _ in pairs(obj) do end end)
  elseif r == 11 then
    pcall(function() return obj .. "x", obj < obj end)
  else
    if math.random(4) == 1 then table.remove(pool, math.random(#pool)) end
    if math.random(20) == 1 then collectgarbage() end
  end
  if #pool > 60 then table.remove(pool, 1) end
end

for _ = 1, steps do step() end

-- invariant: once every view is gone, nothing is locked
local mems = {}
for _, o in ipairs(pool) do
  local ok, m = pcall(function() return o.memory end)
  if ok and m then mems[#mems + 1] = m end
  local okk, kind = pcall(function() return o.kind end)
  if okk and kind then mems[#mems + 1] = o end
end
for _, o in ipairs(pool) do pcall(function() o:release() end) end
pool = nil
collectgarbage()
collectgarbage()
for _, m in ipairs(mems) do
  if not m.closed then
    -- only locks held by views in `mems` itself may remain: none are views
    assert(m.locks == 0, ("seed %d: %s still has %d locks"):format(seed, tostring(m), m.locks))
  end
end
os.remove(tmpfile)
for _, p in ipairs(pools) do os.remove(p) end
print(("fuzz ops: seed %d, %d steps: ok"):format(seed, steps))

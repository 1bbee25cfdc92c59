-- bench/structures.lua: queues and dictionaries (doc/structures.md).
-- 1. Messages per second from one lua5.4 process to another: a queue in
--    shared memory (batched push, pop(n)) against an io.popen pipe with
--    buffered line writes (the producer writes lines, the reader reads
--    them one by one), 16-byte and 4 KiB messages; each side measured
--    from starting the producer to the last message read, alternated
--    (median of MEMOBJ_BENCH_RUNS pairs).
--    Then the cost per value of push and pop in one process (no waiting).
-- 2. d:get of a short value against a Lua table read, in one process.
-- 3. d:incr from two processes at once: increments per second in total.
-- 4. A durable dict set on a persistent pool (each call its own
--    transaction) against the I/O of one commit (bench/txbase.c: append
--    a record of the same size to a log, fdatasync), alternated windows.
--
--   make bench   or   LUA_CPATH="build/?.so;;" LUA_PATH="bench/?.lua;;" \
--     lua5.4 bench/structures.lua [messages]
package.path = "bench/?.lua;" .. package.path
local memobj = require("memobj")
local B = require("common")

local lua = arg[-1] or "lua5.4"
local N16 = math.tointeger(tonumber(arg[1] or "1000000"))
local N4K = N16 // 10
local RUNS = B.runs
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

local cflags = io.popen("pkg-config --cflags lua5.4"):read("a"):gsub("%s+$", "")
local so = dir .. "/mapc.so"
assert(os.execute(("gcc -O2 -shared -fPIC %s -o %s bench/mapc.c"):format(cflags, so)),
       "cannot build the wall clock")
local now = package.loadlib(so, "luaopen_mapc")().now

local function script(code)
  local p = dir .. "/s" .. math.random(1 << 30) .. ".lua"
  local f = assert(io.open(p, "w"))
  f:write(code)
  f:close()
  return p
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- ---- 1. queue vs pipe ----

local producer_q = script([[
local memobj = require("memobj")
local m = assert(memobj.shared(arg[1]))
local q = assert(m:queue())
local n, size, batch = tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local msg = ("m"):rep(size)
local t = {}
for i = 1, batch do t[i] = msg end
local push, put, unpack = q.push, q.put, table.unpack
local sent = 0
while sent < n do
  local k = math.min(batch, n - sent)
  if k < batch then for i = k + 1, batch do t[i] = nil end end
  if push(q, unpack(t)) then sent = sent + k else put(q, msg); sent = sent + 1 end
end
]])

local producer_pipe = script([[
local n, size = tonumber(arg[1]), tonumber(arg[2])
local line = ("m"):rep(size) .. "\n"
local write = io.write
io.stdout:setvbuf("full", 1 << 16)
for _ = 1, n do write(line) end
]])

-- values returned by pop(n): none is one nil
local function count(a, ...)
  if a == nil then return 0 end
  return 1 + select("#", ...)
end

local function queue_run(n, size, batch)
  local name = ("/memobj_bench_q_%d_%d"):format(os.time(), math.random(1 << 30))
  local m = assert(memobj.shared(name, 1 << 20))  -- fits in L2
  local q = m:queue()
  local pop, get = q.pop, q.get
  local t0 = now()
  local p = io.popen(("%s %s %s %d %d %d"):format(lua, producer_q, name, n, size, batch))
  local got = 0
  while got < n do
    local k = count(pop(q, 1024))
    if k == 0 then
      local v = get(q, 10)
      assert(v, "producer stalled")
      k = 1
    end
    got = got + k
  end
  local dt = now() - t0
  p:close()
  q:release()
  m:unlink()
  m:close()
  return n / dt
end

local queue_rate = queue_run

local function pipe_rate(n, size)
  local t0 = now()
  local p = io.popen(("%s %s %d %d"):format(lua, producer_pipe, n, size))
  local got = 0
  for _ in p:lines() do got = got + 1 end
  local dt = now() - t0
  p:close()
  assert(got == n)
  return n / dt
end

local function ipc(n, size, batch, goal, label)
  local qs, ps, ratios = {}, {}, {}
  for i = 1, RUNS do
    qs[i] = queue_rate(n, size, batch)
    ps[i] = pipe_rate(n, size)
    ratios[i] = qs[i] / ps[i]
  end
  local r = median(ratios)
  print(("  %-5s messages: queue %9.0f /s, pipe %9.0f /s, queue/pipe %.2f " ..
         "(median of %d pairs; goal >= %s)"):format(label, median(qs), median(ps),
         r, RUNS, goal))
  B.row("structures", ("queue/pipe msgs/s, %s messages (higher better)"):format(label),
        r, "x", ">= " .. goal)
end

print(("queue between two processes vs an io.popen pipe (%d x 16 B, %d x 4 KiB)")
  :format(N16, N4K))
ipc(N16, 16, 512, "2", "16 B")
ipc(N4K, 4096, 16, "10", "4 KiB")

-- ---- 1b. the cost per value in one process (no waiting) ----

do
  local clock = os.clock
  for _, cfg in ipairs({{16, 512, 2000}, {4096, 16, 2000}}) do
    local size, batch, rounds = cfg[1], cfg[2], cfg[3]
    local q = memobj.queue(1 << 20)
    local t = {}
    for i = 1, batch do t[i] = ("m"):rep(size) end
    local push, pop, unpack = q.push, q.pop, table.unpack
    local both, pushes = math.huge, math.huge
    for _ = 1, 5 do
      local t0, tp = clock(), 0
      for _ = 1, rounds do
        local t1 = clock()
        push(q, unpack(t))
        tp = tp + clock() - t1
        pop(q, batch)
      end
      both = math.min(both, clock() - t0)
      pushes = math.min(pushes, tp)
    end
    local n = rounds * batch
    print(("  one process, %4d B values: push+pop %.0f ns per value (push about %.0f)")
      :format(size, both / n * 1e9, pushes / n * 1e9))
    B.row("structures", ("queue push+pop in one process, %d B values, ns per value (lower better)")
      :format(size), both / n * 1e9, "ns", "")
    q:release()
  end
end

-- ---- 2. dict get vs a Lua table read ----

do
  local d = memobj.dict(1 << 20)
  local t = {}
  for i = 1, 1000 do
    d["key" .. i] = "value" .. i
    t["key" .. i] = "value" .. i
  end
  local keys = {}
  for i = 1, 1000 do keys[i] = "key" .. i end
  local REP = 1000
  local get = d.get
  local function dget()
    local x
    for _ = 1, REP do for i = 1, 1000 do x = get(d, keys[i]) end end
    return x
  end
  local function dmethod()
    local x
    for _ = 1, REP do for i = 1, 1000 do x = d:get(keys[i]) end end
    return x
  end
  local function dindex()
    local x
    for _ = 1, REP do for i = 1, 1000 do x = d[keys[i]] end end
    return x
  end
  local function tread()
    local x
    for _ = 1, REP do for i = 1, 1000 do x = t[keys[i]] end end
    return x
  end
  local a, b = B.compare(dget, tread)
  local c = B.compare(dindex, tread)
  local m = B.compare(dmethod, tread)
  local function ns(x) return x / (REP * 1000) * 1e9 end
  print(("dict get of a short value: %.0f ns (get(d, k)), %.0f ns (d:get(k)), " ..
         "%.0f ns (d[k]); Lua table %.1f ns; ratio %.1f, %.1f, %.1f (goal <= 10)")
    :format(ns(a), ns(m), ns(c), ns(b), a / b, m / b, c / b))
  B.row("structures", "dict get(d, k) / Lua table read (lower better)", a / b, "x", "<= 10")
  B.row("structures", "dict d:get(k) / Lua table read (lower better)", m / b, "x", "")
  B.row("structures", "dict d[k] / Lua table read (lower better)", c / b, "x", "")
end

-- ---- 3. d:incr from two processes ----

do
  local N = 2000000
  local name = ("/memobj_bench_d_%d_%d"):format(os.time(), math.random(1 << 30))
  local m = assert(memobj.shared(name, 1 << 16))
  local d = m:dict()
  d.n = 0
  local worker = script([[
    local memobj = require("memobj")
    local m = assert(memobj.shared(arg[1]))
    local d = assert(m:dict())
    local incr = d.incr
    d:incr("ready", 1)
    while d:get("ready") < 2 do end
    for _ = 1, tonumber(arg[2]) do incr(d, "n", 1) end
  ]])
  d.ready = 0
  local rates = {}
  for r = 1, 3 do
    d.n = 0
    d.ready = 0
    local t0 = now()
    local a = io.popen(("%s %s %s %d"):format(lua, worker, name, N // 2))
    local b = io.popen(("%s %s %s %d"):format(lua, worker, name, N // 2))
    a:close()
    b:close()
    rates[r] = N / (now() - t0)
    assert(d.n == N, "lost increments")
  end
  local rate = median(rates)
  print(("d:incr from two processes: %.2f million/s in total (goal >= 2)")
    :format(rate / 1e6))
  B.row("structures", "d:incr, two processes, million/s (higher better)",
        rate / 1e6, "M/s", ">= 2")
  d:release()
  m:unlink()
  m:close()
end

-- ---- 4. durable dict set vs the I/O of a commit ----

do
  local txbase = dir .. "/txbase"
  assert(os.execute(("gcc -O2 -o %s bench/txbase.c"):format(txbase)))
  local function txbase_run(...)
    local p = assert(io.popen(txbase .. " " .. table.concat({...}, " ")))
    local out = p:read("a")
    p:close()
    local v, more = out:match("^(%S+)%s*(%S*)")
    return assert(tonumber(v), "bench/txbase.c failed"), tonumber(more)
  end
  -- the log record of one set (doc/format.md): head 48; the header
  -- (512 bytes), the bucket's chunk, the new block, the old entry's last
  -- block as ranges of 16 + their bytes; two page entries of 16
  local RECLEN = 48 + (16 + 512) + 3 * (16 + 64) + 2 * 16
  local SECONDS = tonumber(os.getenv("MEMOBJ_BENCH_SECONDS") or "0.5")
  local path = dir .. "/dict.pool"
  local m = assert(memobj.persistent(path, 1 << 20))
  local d = m:dict()
  local ours, base, ratios, at = {}, {}, {}, 0
  local i = 0
  for k = 1, 10 do
    local t0, c = now(), 0
    repeat
      for _ = 1, 10 do
        i = i + 1
        d:set("key" .. i % 1000, i)
      end
      c = c + 10
    until now() - t0 >= SECONDS
    ours[k] = c / (now() - t0)
    base[k], at = txbase_run("append", dir .. "/append", SECONDS, RECLEN, at)
    ratios[k] = ours[k] / base[k]
  end
  d:release()
  m:close()
  local r = median(ratios)
  print(("durable d:set on a pool: %.0f /s; C append %d B + fdatasync %.0f /s; " ..
         "ratio %.2f (median of 10 pairs; goal >= 0.9)"):format(median(ours),
         RECLEN, median(base), r))
  B.row("structures", "durable d:set / C append+fdatasync (higher better)", r, "x", ">= 0.9")
end

os.execute("rm -rf " .. dir)

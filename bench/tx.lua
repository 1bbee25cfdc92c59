-- bench/tx.lua: transactions.
-- 1. Durable transactions per second, each adding to 8 random int64 of a
--    persistent array (1M elements), durability "sync" and "process",
--    against SQLite (lua-sql-sqlite3, journal_mode=WAL, synchronous=FULL)
--    doing the same 8 updates in BEGIN..COMMIT, when it is installed.
-- 2. The cost of a[i] = v outside a transaction, inside one (first
--    write to each place: logged), and inside (place already logged).
-- usage: LUA_CPATH="build/?.so;;" lua5.4 bench/tx.lua [seconds] [elements]
-- (MEMOBJ_BENCH_SECONDS also sets the time per measurement)
package.path = "bench/?.lua;" .. package.path
local memobj = require("memobj")
local B = require("common")

local SECONDS = tonumber(arg[1] or os.getenv("MEMOBJ_BENCH_SECONDS") or "1")
local N = math.tointeger(tonumber(arg[2] or "1000000"))
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

-- Wall-clock seconds (fsync waits do not show in os.clock).
local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

-- Run step() in batches until SECONDS have passed; returns steps/second.
local function rate(step, batch)
  local t0, n = now(), 0
  repeat
    for _ = 1, batch do step() end
    n = n + batch
    local dt = now() - t0
    if dt >= SECONDS then return n / dt end
  until false
end

local random = math.random

local function memobj_rate(durability)
  local path = dir .. "/pool-" .. durability
  local m = assert(memobj.persistent(path, 8 * N, {durability = durability}))
  local a = m:array("int64")
  local function tx()
    for _ = 1, 8 do
      local i = random(1, N)
      a[i] = a[i] + 1
    end
  end
  local r = rate(function() m:transaction(tx) end,
                 durability == "sync" and 50 or 2000)
  a:release()
  m:close()
  os.remove(path)
  return r
end

local function sqlite_rate()
  local ok, driver = pcall(require, "luasql.sqlite3")
  if not ok then return nil end
  local path = dir .. "/bench.db"
  local env = driver.sqlite3()
  local c = assert(env:connect(path))
  local function exec(sql) assert(c:execute(sql)) end
  local cur = c:execute("PRAGMA journal_mode=WAL")
  if type(cur) == "userdata" then cur:close() end
  exec("PRAGMA synchronous=FULL")
  exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)")
  exec("BEGIN")
  exec(("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s " ..
        "WHERE i < %d) INSERT INTO t SELECT i, 0 FROM s"):format(N))
  exec("COMMIT")
  local r = rate(function()
    exec("BEGIN")
    for _ = 1, 8 do
      exec(("UPDATE t SET v = v + 1 WHERE id = %d"):format(random(1, N)))
    end
    exec("COMMIT")
  end, 50)
  c:close()
  env:close()
  for _, s in ipairs({"", "-wal", "-shm"}) do os.remove(path .. s) end
  return r
end

print(("durable transactions, 8 random int64 updates in %d elements, " ..
       "%.1f s each"):format(N, SECONDS))
local sync = memobj_rate("sync")
local process = memobj_rate("process")
local sqlite = sqlite_rate()
print(("  memobj durability=sync     %10.0f tx/s"):format(sync))
print(("  memobj durability=process  %10.0f tx/s"):format(process))
if sqlite then
  print(("  SQLite WAL synchronous=FULL %9.0f tx/s"):format(sqlite))
  print(("  ratio sync/SQLite %.2f, process/SQLite %.1f"):format(
    sync / sqlite, process / sqlite))
  B.row("tx", "durable tx/s, sync / SQLite WAL FULL (higher better)",
        sync / sqlite, "x", ">= 5x")
  B.row("tx", "durable tx/s, process / SQLite WAL FULL (higher better)",
        process / sqlite, "x", "")
else
  print("  SQLite: lua-sql-sqlite3 not installed (apt-get install " ..
        "lua-sql-sqlite3), no baseline")
end

-- ---- a[i] = v inside and outside a transaction ----
local function ns_per_write(a, m, mode)
  local n = #a
  local total, t0 = 0, os.clock()
  repeat
    if mode == "outside" then
      for i = 1, n do a[i] = i end
    elseif mode == "logged" then  -- every place already logged
      for i = 1, n do a[i] = i end
    else                           -- first write to each place
      m:begin()
      for i = 1, n do a[i] = i end
      m:commit()
    end
    total = total + n
  until os.clock() - t0 >= SECONDS
  return (os.clock() - t0) / total * 1e9
end

local M = 1000000
print(("a[i] = v on a heap int64 array of %d elements (ns per write)")
  :format(M))
local m = memobj.heap(8 * M)
local a = m:array("int64")
local outside = ns_per_write(a, m, "outside")
local first = ns_per_write(a, m, "first")
m:begin()
for i = 1, M do a[i] = 0 end
local logged = ns_per_write(a, m, "logged")
m:commit()
print(("  outside a transaction            %6.1f"):format(outside))
print(("  inside, place already logged     %6.1f  (x%.2f)"):format(
  logged, logged / outside))
print(("  inside, first write (logs 64 B)  %6.1f  (x%.2f, incl. commit)")
  :format(first, first / outside))
B.row("tx", "a[i]=v inside a transaction / outside", logged / outside, "x",
      "")
local t = {}
local t0 = os.clock()
local reps = 0
repeat
  for i = 1, M do t[i] = i end
  reps = reps + 1
until os.clock() - t0 >= SECONDS
print(("  Lua table t[i] = v (baseline)    %6.1f"):format(
  (os.clock() - t0) / (reps * M) * 1e9))
os.execute("rm -rf " .. dir)

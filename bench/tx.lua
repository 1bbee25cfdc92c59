-- bench/tx.lua: transactions.
-- 1. Durable transactions per second, each adding to 8 random int64 of a
--    persistent array (1M elements), durability "sync" and "process",
--    against a C loop that does only the I/O of a commit (append a record
--    of the same size to a preallocated log, fdatasync) on the same file
--    system, alternated in short windows (median of the pairs' ratios);
--    and as baselines SQLite
--    (lua-sql-sqlite3, journal_mode=WAL, synchronous=FULL) and LMDB
--    (liblmdb, bench/txbase.c) doing the same 8 updates per transaction,
--    when installed.
-- 2. Opening (with verification of every page) a pool of
--    MEMOBJ_BENCH_POOL_MB (default 1024) MiB against reading its file,
--    both from storage (the file's cached pages dropped first).
-- 3. The cost of a[i] = v outside a transaction, inside one (first
--    write to each place: logged), and inside (place already logged).
-- usage: LUA_CPATH="build/?.so;;" lua5.4 bench/tx.lua [seconds] [elements]
-- (MEMOBJ_BENCH_SECONDS also sets the time per measurement)
package.path = "bench/?.lua;" .. package.path
local memobj = require("memobj")
local B = require("common")

local SECONDS = tonumber(arg[1] or os.getenv("MEMOBJ_BENCH_SECONDS") or "1")
local N = math.tointeger(tonumber(arg[2] or "1000000"))
local POOL_MB = tonumber(os.getenv("MEMOBJ_BENCH_POOL_MB") or "1024")
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

-- Wall-clock seconds (fsync waits do not show in os.clock), from
-- /proc/uptime (10 ms steps): starting `date` costs ~5 ms, more than
-- several durable commits, and would be counted against them.
local function now()
  local f = io.open("/proc/uptime")
  if f then
    local t = tonumber(f:read("n"))
    f:close()
    if t then return t end
  end
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

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- The C baselines (bench/txbase.c), with LMDB when its header is there.
local txbase = dir .. "/txbase"
local has_lmdb = os.execute("test -f /usr/include/lmdb.h")
assert(os.execute(("gcc -O2 %s -o %s bench/txbase.c %s"):format(
  has_lmdb and "-DHAVE_LMDB" or "", txbase, has_lmdb and "-llmdb" or "")))
local function txbase_run(...)
  local p = assert(io.popen(txbase .. " " .. table.concat({...}, " ")))
  local out = p:read("a")
  p:close()
  local v, more = out:match("^(%S+)%s*(%S*)")
  return assert(tonumber(v), "bench/txbase.c failed"), tonumber(more)
end

local random = math.random

-- Bytes of the log record of one of our transactions (doc/format.md):
-- head 48, 8 ranges of 16 + 64 bytes, 8 page entries of 16.
local RECLEN = 48 + 8 * (16 + 64) + 8 * 16

-- Transactions/s of memobj with this durability, in `rounds` windows of
-- `seconds` each (a list), calling between(k) after window k (the
-- baseline runs there, so both see the same stretch of the device).
local function memobj_rates(durability, seconds, rounds, between)
  local path = dir .. "/pool-" .. durability
  local m = assert(memobj.persistent(path, 8 * N, {durability = durability}))
  local a = m:array("int64")
  local function tx()
    for _ = 1, 8 do
      local i = random(1, N)
      a[i] = a[i] + 1
    end
  end
  local rates = {}
  for k = 1, rounds do
    local t0, c = now(), 0
    repeat
      for _ = 1, durability == "sync" and 10 or 1000 do m:transaction(tx) end
      c = c + (durability == "sync" and 10 or 1000)
    until now() - t0 >= seconds
    rates[k] = c / (now() - t0)
    if between then between(k) end
  end
  a:release()
  m:close()
  os.remove(path)
  return rates
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
-- 10 windows each, alternated: other processes share the device and
-- its speed jumps, so each memobj window is compared with the baseline
-- window right after it, and the ratio is the median of those pairs.
local ROUNDS = 10
local appends, at = {}, 0
local syncs = memobj_rates("sync", SECONDS / 2, ROUNDS, function(k)
  appends[k], at = txbase_run("append", dir .. "/append", SECONDS / 2,
                              RECLEN, at)
end)
os.remove(dir .. "/append")
local ratios = {}
for k = 1, ROUNDS do ratios[k] = syncs[k] / appends[k] end
local ratio = median(ratios)
local sync, append = median(syncs), median(appends)
local process = memobj_rates("process", SECONDS, 1)[1]
print(("  memobj durability=sync     %10.0f tx/s"):format(sync))
print(("  C append %d B + fdatasync %9.0f /s  (the I/O of a commit)")
  :format(RECLEN, append))
print(("  ratio sync / append+fdatasync %.2f  (median of %d pairs of " ..
       "windows; goal >= 0.9)"):format(ratio, ROUNDS))
B.row("tx", "durable tx/s / C append+fdatasync (higher better)",
      ratio, "x", ">= 0.9")
print(("  memobj durability=process  %10.0f tx/s"):format(process))
local sqlite = sqlite_rate()
if sqlite then
  print(("  SQLite WAL synchronous=FULL %9.0f tx/s  (sync/SQLite %.2f)")
    :format(sqlite, sync / sqlite))
  B.row("tx", "durable tx/s, sync / SQLite WAL FULL (higher better)",
        sync / sqlite, "x", "")
else
  print("  SQLite: lua-sql-sqlite3 not installed (apt-get install " ..
        "lua-sql-sqlite3), no baseline")
end
if has_lmdb then
  assert(os.execute("mkdir -p " .. dir .. "/lmdb"))
  local lmdb = txbase_run("lmdb", dir .. "/lmdb/db", SECONDS, N)
  print(("  LMDB, 8 puts per txn      %10.0f tx/s  (sync/LMDB %.2f)")
    :format(lmdb, sync / lmdb))
  B.row("tx", "durable tx/s, sync / LMDB (higher better)", sync / lmdb,
        "x", "")
else
  print("  LMDB: liblmdb-dev not installed, no baseline")
end

-- ---- open + verify of a large pool against reading its file ----
if POOL_MB > 0 then
  local path = dir .. "/big.pool"
  local size = math.tointeger(POOL_MB * 1024 * 1024)
  local m = assert(memobj.persistent(path, size, {durability = "process"}))
  local step = 32 * 1024 * 1024
  for off = 0, size - 1, step do  -- real data, not a sparse file
    local len = math.min(step, size - off)
    m:transaction(function()
      m:bytes(off, len):fill(1 + (off // step) % 250)
    end)
  end
  m:close()
  local times = {}
  for k = 1, 2 do
    txbase_run("drop", path)
    local t0 = now()
    m = assert(memobj.persistent(path))
    times[k] = now() - t0
    m:close()
  end
  local open = median(times)
  local read = txbase_run("read", path)
  print(("open + verify of a %d MiB pool %.3f s, read of its file %.3f s " ..
         "(ratio %.2f)"):format(POOL_MB, open, read, open / read))
  B.row("tx", ("open+verify %d MiB pool / read of the file"):format(POOL_MB),
        open / read, "x", "")
  os.remove(path)
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

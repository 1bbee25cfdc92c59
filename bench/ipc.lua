-- ipc.lua: move bytes from one Lua process to another through a ring in
-- shared memory (memobj.shared + atomics + wait/notify, 1 MiB chunks
-- copied in and out with a:copy) against an io.popen pipe.
--
--   LUA_CPATH="build/?.so;;" LUA_PATH="bench/?.lua;;" lua5.4 bench/ipc.lua
--   MEMOBJ_BENCH_MB=256 ...   (default 1024: 1 GiB each way measured)
local memobj = require("memobj")
local B = require("common")

local MB = B.mb or 1024
local CHUNK, SLOTS = 1 << 20, 8
local lua = arg[-1] or "lua5.4"

local cflags = io.popen("pkg-config --cflags lua5.4"):read("a"):gsub("%s+$", "")
local so = "/tmp/memobj_bench_mapc.so"
assert(os.execute(("gcc -O2 -shared -fPIC %s -o %s bench/mapc.c"):format(cflags, so)),
       "cannot build the wall clock")
local C = package.loadlib(so, "luaopen_mapc")()

local function script(code)
  local p = os.tmpname()
  local f = assert(io.open(p, "w"))
  f:write(code)
  f:close()
  return p
end

-- ---- shared ring: header i64 [1] head, [2] tail, [3] ready ----
local producer = script([[
local memobj = require("memobj")
local name, MB, CHUNK, SLOTS = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local m = assert(memobj.shared(name))
local h = m:array("i64", 0, 3)
local slot = {}
for s = 1, SLOTS do slot[s] = m:array("u8", 64 + (s - 1) * CHUNK, CHUNK) end
local src = memobj.array("u8", CHUNK)
src:fill(7)
h:atomic_store(3, 1)
h:notify(3)
for k = 0, MB - 1 do
  while k - h:atomic_load(2) >= SLOTS do h:wait(2, k - SLOTS) end
  slot[k % SLOTS + 1]:copy(src)
  h:atomic_store(1, k + 1)
  h:notify(1)
end
]])

local function ring_run()
  local name = ("/memobj_bench_ipc_%d_%d"):format(os.time(), math.random(1 << 30))
  local m = assert(memobj.shared(name, 64 + SLOTS * CHUNK))
  local h = m:array("i64", 0, 3)
  local slot = {}
  for s = 1, SLOTS do slot[s] = m:array("u8", 64 + (s - 1) * CHUNK, CHUNK) end
  local dst = memobj.array("u8", CHUNK)
  local p = io.popen(("%s %s %s %d %d %d"):format(lua, producer, name, MB, CHUNK, SLOTS), "r")
  while h:atomic_load(3) == 0 do h:wait(3, 0, 1) end
  local t0 = C.now()
  for k = 0, MB - 1 do
    while h:atomic_load(1) <= k do h:wait(1, k) end
    dst:copy(slot[k % SLOTS + 1])
    h:atomic_store(2, k + 1)
    h:notify(2)
  end
  local t = C.now() - t0
  assert(dst[CHUNK] == 7, "data did not arrive")
  assert(p:close(), "producer failed")
  m:unlink()
  return t
end

-- ---- pipe: the child writes MB chunks to its stdout ----
local writer = script([[
local MB, CHUNK = tonumber(arg[1]), tonumber(arg[2])
local s = string.rep("\7", CHUNK)
io.stdout:setvbuf("full", CHUNK)
io.write("ready\n")
io.flush()
for _ = 1, MB do io.write(s) end
]])

local function pipe_run()
  local p = io.popen(("%s %s %d %d"):format(lua, writer, MB, CHUNK), "r")
  assert(p:read("l") == "ready")
  local t0 = C.now()
  local n, last = 0, nil
  while true do
    local s = p:read(CHUNK)
    if not s then break end
    n = n + #s
    last = s
  end
  local t = C.now() - t0
  assert(n == MB * CHUNK and last:byte(-1) == 7, "pipe lost data")
  p:close()
  return t
end

local r, q = {}, {}
for i = 1, 3 do
  collectgarbage()
  r[i] = ring_run()
  collectgarbage()
  q[i] = pipe_run()
end
table.sort(r); table.sort(q)
local GB = MB * CHUNK / 1e9
print(("%d MiB: shared ring %.2f GB/s, io.popen pipe %.2f GB/s"):format(MB, GB / r[2], GB / q[2]))
B.row("ipc", "shared ring speed vs io.popen pipe", q[2] / r[2], "x faster", ">= 10x")
os.remove(producer)
os.remove(writer)

-- work_queue.lua: a pool of worker processes fed through a queue in
-- memfd memory, results coming back on a second queue. Workers wait with
-- q:get (a futex: no polling), and the parent counts every result.
--
--   LUA_CPATH="build/?.so;;" lua5.4 examples/work_queue.lua [jobs [workers]]
--
-- The script starts copies of itself as workers, giving them m.path.
local memobj = require("memobj")

if arg[1] == "worker" then
  local m = assert(memobj.map(arg[2], {mode = "rw"}))
  local jobs = assert(m:queue(0, 1 << 16))
  local results = assert(m:queue(1 << 16, 1 << 16))
  local done = 0
  while true do
    local n = jobs:get()          -- waits for a job
    if n == "stop" then break end
    local sum = 0                 -- the work: sum of the divisors of n
    for d = 1, n do if n % d == 0 then sum = sum + d end end
    results:put(n .. " " .. sum)  -- waits if the results queue is full
    done = done + 1
  end
  print(("worker %s: %d jobs"):format(arg[3], done))
  return
end

local JOBS = tonumber(arg[1]) or 2000
local WORKERS = tonumber(arg[2]) or 3
local m = assert(memobj.memfd(2 << 16, {name = "work-queue"}))
local jobs, results = m:queue(0, 1 << 16), m:queue(1 << 16, 1 << 16)

local lua = arg[-1] or "lua5.4"
local workers = {}
for w = 1, WORKERS do
  workers[w] = assert(io.popen(("%s %s worker %s %d"):format(lua, arg[0], m.path, w)))
end

local sent, got, perfect = 0, 0, {}
while got < JOBS do
  -- keep the job queue fed without blocking, collect what is ready
  while sent < JOBS and jobs:push(sent + 1) do sent = sent + 1 end
  local r = results:get(5)
  assert(r, "no result in 5 s")
  got = got + 1
  local n, sum = r:match("(%d+) (%d+)")
  if tonumber(sum) == 2 * tonumber(n) then perfect[#perfect + 1] = tonumber(n) end
end
for _ = 1, WORKERS do jobs:put("stop") end
for _, p in ipairs(workers) do
  io.write(p:read("a"))
  assert(p:close(), "a worker failed")
end
table.sort(perfect)
print(("%d jobs done by %d workers; perfect numbers up to %d: %s"):format(
  got, WORKERS, JOBS, table.concat(perfect, " ")))
assert(got == JOBS and #jobs == 0 and #results == 0)

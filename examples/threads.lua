-- threads.lua: two luv threads (each its own Lua state) work on one
-- array in place: m:export() in this state, memobj.import(token) in
-- theirs. No copy, no string blob; a counter with atomics and
-- wait/notify says when they are done.
--   lua5.4 threads.lua [n]
-- luacheck: no redefined (thread functions run in their own state: they load memobj again)
local memobj = require("memobj")
local uv = require("luv")

local n = tonumber(arg[1]) or 1000000
local data = memobj.array("f64", n)
for i = 1, n do data[i] = i % 1000 / 7 end
-- results: [1] sum of squares of the first half, [2] of the second
local results = memobj.array("f64", 2)
local done = memobj.array("i32", 1)        -- threads finished

local function worker(dtok, rtok, ctok, part, cpath)
  package.cpath = cpath
  local memobj = require("memobj")
  local d = memobj.import(dtok):array("f64")
  local half = #d // 2
  local first, last = part == 1 and 1 or half + 1, part == 1 and half or #d
  local mine = d:slice(first, last)         -- a view, no copy
  local r = memobj.import(rtok):array("f64")
  r[part] = mine:dot(mine)
  local c = memobj.import(ctok):array("i32")
  c:atomic_add(1, 1)
  c:notify(1)
end

local threads = {}
for part = 1, 2 do
  threads[part] = uv.new_thread(worker, data.memory:export(),
                                results.memory:export(), done.memory:export(),
                                part, package.cpath)
end
-- wait until both are done (wait returns at once if the count moved)
while done:atomic_load(1) < 2 do done:wait(1, done:atomic_load(1), 1) end
for part = 1, 2 do threads[part]:join() end

local total = results[1] + results[2]
local check = data:dot(data)
print(("sum of squares of %d values: %.6g (two threads), %.6g (one)"):format(
  n, total, check))
assert(math.abs(total - check) <= 1e-9 * check)

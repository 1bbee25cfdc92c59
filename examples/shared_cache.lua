-- shared_cache.lua: a cache shared by worker processes, like
-- ngx.shared.DICT but in any memory and with tables as values. Workers
-- look a key up and compute it only on a miss; d:add makes sure that
-- only one of them stores it, and d:incr keeps exact hit counts.
--
--   LUA_CPATH="build/?.so;;" lua5.4 examples/shared_cache.lua [workers]
local memobj = require("memobj")

local function slow_square(n)
  local x = 0
  for _ = 1, n do x = x + n end               -- pretend this is expensive
  return x
end

if arg[1] == "worker" then
  local m = assert(memobj.shared(arg[2]))
  local cache = assert(m:dict())
  local computed = 0
  for i = 1, 200 do
    local key = "sq" .. (i % 50)
    local v = cache[key]
    if v == nil then
      v = slow_square(i % 50)
      if cache:add(key, v) then computed = computed + 1 end  -- first one wins
      cache:incr("misses", 1, 0)
    else
      cache:incr("hits", 1, 0)
    end
    assert(v == (i % 50) ^ 2)
  end
  print(("worker %s computed %d values"):format(arg[3], computed))
  return
end

local WORKERS = tonumber(arg[1]) or 3
local name = ("/memobj_cache_example_%d"):format(math.random(1 << 30))
local m = assert(memobj.shared(name, 1 << 16))
local cache = m:dict()
local lua = arg[-1] or "lua5.4"
local ws = {}
for w = 1, WORKERS do
  ws[w] = assert(io.popen(("%s %s worker %s %d"):format(lua, arg[0], name, w)))
end
local ok = true
for _, p in ipairs(ws) do
  io.write(p:read("a"))
  ok = p:close() and ok
end
m:unlink()   -- attached processes keep their mapping; the name goes
assert(ok, "a worker failed")
print(("%d keys cached, %d hits, %d misses"):format(
  #cache - 2, cache.hits or 0, cache.misses))
assert(cache.hits + cache.misses == 200 * WORKERS)
assert(#cache == 50 + 2)

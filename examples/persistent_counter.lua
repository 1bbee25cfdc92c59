-- persistent_counter.lua: counters that survive the process, crashes and
-- power loss. A dictionary in a persistent pool: outside a transaction
-- every d:incr is its own durable transaction; inside m:transaction
-- several changes commit together, or not at all.
--
--   LUA_CPATH="build/?.so;;" lua5.4 examples/persistent_counter.lua [path]
--
-- Run it several times with a path to see the counts grow across runs;
-- without one it uses a temporary file and shows a few runs itself.
local memobj = require("memobj")

local function run(path)
  local m = memobj.persistent(path)            -- open and recover...
  if not m then m = assert(memobj.persistent(path, 1 << 16)) end  -- ...or create
  local d = m:dict()
  local runs = d:incr("runs", 1, 0)            -- durable when it returns
  m:transaction(function()                      -- both or neither
    d:incr("visits", 10, 0)
    d.last = os.date("!%Y-%m-%dT%H:%M:%SZ")
  end)
  local ok = pcall(m.transaction, m, function()
    d:incr("visits", 1000)
    error("changed my mind")                    -- rolled back: not counted
  end)
  assert(not ok)
  print(("run %d: visits %d, last %s"):format(runs, d.visits, d.last))
  d:release()
  m:close()
  return runs
end

if arg[1] then
  run(arg[1])
else
  local path = os.tmpname()
  os.remove(path)
  for _ = 1, 3 do run(path) end
  assert(run(path) == 4)
  os.remove(path)
end

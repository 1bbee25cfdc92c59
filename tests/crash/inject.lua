-- Injected-crash child: one action on a pool; MEMOBJ_CRASH_AT makes it
-- _exit(77) at a chosen step. usage: lua5.4 inject.lua pool action durability
--   transfer: one transaction touching a[1], a[2], a[3] and a[#a]
--   big:      one transaction bigger than the log (adds 1 to all)
--   many:     commits a[2] = a[3] = k for k = 1, 2, ... (fills the log:
--             the commit that finds it full checkpoints first); each k
--             is appended to the file arg[4] once its commit returned
--   resize:   resize to the size in arg[4]
--   open:     open only (recovery)
local memobj = require("memobj")
local path, action, durability = arg[1], arg[2], arg[3]
local m = assert(memobj.persistent(path, nil, {durability = durability}))
if action == "transfer" then
  local a = m:array("int64")
  m:transaction(function()
    a[2] = a[2] - 10
    a[3] = a[3] + 10
    a[1] = a[1] + 1
    a[#a] = a[1]
  end)
  a:release()
elseif action == "big" then
  local a = m:array("int64")
  m:transaction(function()
    for i = 1, #a do a[i] = a[i] + 1 end
  end)
  a:release()
elseif action == "many" then  -- commits a[2] = a[3] = k until it dies
  local a = m:array("int64")
  local ack = assert(io.open(arg[4], "w"))
  ack:setvbuf("no")
  for k = 1, 100000 do
    m:transaction(function()
      a[2] = k
      a[3] = k
    end)
    ack:write(k, "\n")  -- acknowledged
  end
  a:release()
elseif action == "resize" then
  m:resize(tonumber(arg[4]))
end
m:close()

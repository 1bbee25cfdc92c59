-- Injected-crash child: one action on a pool; MEMOBJ_CRASH_AT makes it
-- _exit(77) at a chosen step. usage: lua5.4 inject.lua pool action durability
--   transfer: one transaction touching a[1], a[2], a[3] and a[#a]
--   big:      one transaction bigger than the log slots (adds 1 to all)
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
elseif action == "resize" then
  m:resize(tonumber(arg[4]))
end
m:close()

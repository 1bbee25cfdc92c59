-- Crash-harness child: money transfers over a persistent int64 array.
-- a[1] counts commits; a[2..] are accounts whose sum never changes.
-- After each commit returns, the new count is appended to the ack file.
-- usage: lua5.4 transfer.lua pool ackfile count durability seed [exit]
-- (exit: end without closing the pool, leaving the commits in its log)
local memobj = require("memobj")
local path, ackpath = arg[1], arg[2]
local count, durability = tonumber(arg[3]), arg[4]
math.randomseed(tonumber(arg[5]))

local m = assert(memobj.persistent(path, nil, {durability = durability}))
local a = m:array("int64")
local n = #a
local ack = assert(io.open(ackpath, "a"))
ack:setvbuf("no")
local random = math.random
for _ = 1, count do
  m:transaction(function()
    for _ = 1, 4 do
      local i, j, x = random(2, n), random(2, n), random(1, 100)
      a[i] = a[i] - x
      a[j] = a[j] + x
    end
    a[1] = a[1] + 1
  end)
  ack:write(a[1] .. "\n")  -- one write: a kill cannot tear the line
end
if arg[6] == "exit" then os.exit(0) end

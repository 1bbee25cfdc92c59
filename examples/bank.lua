-- bank.lua: accounts in a persistent pool. Each transfer is a
-- transaction: it either happens entirely or not at all, also when the
-- process is killed half way; run it twice to see the balances persist.
-- usage: LUA_CPATH="../build/?.so;;" lua5.4 bank.lua [pool-path]
-- Without a path it uses a temporary pool and removes it at the end.
local memobj = require("memobj")

local path, temporary = arg[1], arg[1] == nil
if temporary then
  path = os.tmpname()   -- creates an empty file: a pool needs a fresh name
  os.remove(path)
  path = path .. ".pool"
end
local ACCOUNTS = 10

-- Opens the pool, or creates it (zeroed) the first time.
local m = assert(memobj.persistent(path, 8 * ACCOUNTS))
local balance = m:array("int64")

if balance:sum() == 0 then
  m:transaction(function() balance:fill(100) end)
  print("new pool " .. path .. ": every account starts with 100")
end

local function transfer(from, to, amount)
  m:transaction(function()
    balance[from] = balance[from] - amount
    if balance[from] < 0 then
      error(("account %d cannot pay %d"):format(from, amount))
    end
    balance[to] = balance[to] + amount
  end)
end

transfer(1, 2, 30)
print("after 1 -> 2 (30):", table.concat(balance:totable(), " "))

-- A failed transfer rolls back the withdrawal it had already made.
local ok, err = pcall(transfer, 3, 4, 1000)
print("1000 from account 3:", ok, err)
print("unchanged:", table.concat(balance:totable(), " "))

-- Writes outside a transaction are refused on persistent memory.
print("write outside:", pcall(function() balance[1] = 0 end))

print("total (always " .. 100 * ACCOUNTS .. "):", balance:sum())
balance:release()
m:close()
if temporary then os.remove(path) end

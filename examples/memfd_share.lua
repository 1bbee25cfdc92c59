-- memfd_share.lua: hand memory to another process without a name to clean
-- up. memobj.memfd makes anonymous memory with a file descriptor; its size
-- is sealed, so the other process can read and write it but never shrink
-- it under us (no lost pages, no SIGBUS here, whatever it does).
--
--   LUA_CPATH="build/?.so;;" lua5.4 examples/memfd_share.lua
--
-- The script starts a second copy of itself as the worker, giving it m.path.
local memobj = require("memobj")

if arg[1] == "worker" then
  -- map the parent's memory through /proc/<pid>/fd/<fd>
  local m = assert(memobj.map(arg[2], {mode = "rw"}))
  local xs = m:array("f64")
  local n = #xs
  for i = 1, n do xs[i] = xs[i] * xs[i] end         -- square in place
  xs:release()
  print("worker: squared " .. n .. " numbers; shrinking it: "
        .. select(2, pcall(m.resize, m, 0)))
  return
end

local m = assert(memobj.memfd(8 * 1000, {name = "squares"}))
local xs = m:array("f64")
for i = 1, #xs do xs[i] = i end
print(("parent: %s at %s (sealed: %s)"):format(tostring(m), m.path, m.sealed))

local lua = arg[-1] or "lua5.4"
local p = assert(io.popen(("%s %s worker %s"):format(lua, arg[0], m.path)))
io.write(p:read("a"))
assert(p:close(), "the worker failed")

local sum = math.tointeger(xs:sum())
print(("parent: sum of squares 1..1000 = %d (expected %d)"):format(
      sum, 1000 * 1001 * 2001 // 6))
assert(sum == 1000 * 1001 * 2001 // 6)
xs:release()
assert(m.size == 8000)   -- the worker could not change it
m:close()                -- the memory is gone with the last user

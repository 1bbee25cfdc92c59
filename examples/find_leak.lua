-- find_leak.lua: find the line that leaks Lua memory by comparing two
-- snapshots of memobj.trace, as Python's tracemalloc does.
--   LUA_CPATH="build/?.so;;" lua5.4 examples/find_leak.lua
local memobj = require("memobj")

local cache = {}

-- Renders an item, and (the bug) keeps every result forever.
local function render(id)
  local html = ("<li>item %d</li>"):format(id)
  cache[#cache + 1] = {id = id, html = html}  -- the leak
  return html
end

memobj.trace.start()
for i = 1, 100 do render(i) end  -- warm up: first-time costs are not leaks
collectgarbage()
local before = memobj.trace.snapshot()

for i = 1, 5000 do render(i) end
collectgarbage()  -- what is left now is live
local after = memobj.trace.snapshot()
memobj.trace.stop()

print("largest growth between the snapshots:")
for _, d in ipairs(after:compare(before):top(3)) do
  print(("  %s:%d: %+d bytes in %+d blocks (now %d bytes)"):format(
    d.source, d.line, d.bytes_diff, d.count_diff, d.bytes))
end
local top = after:compare(before)[1]
print(("leak: %s:%d"):format(top.source, top.line))

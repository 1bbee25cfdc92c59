-- find_leak.lua: find the lines that leak memory by comparing two
-- snapshots of memobj.trace, as Python's tracemalloc does. Snapshots count
-- Lua's own blocks (`bytes`) and the bytes of memory objects still alive
-- (`native`) by the line that made them, and rank both together.
--   LUA_CPATH="build/?.so;;" lua5.4 examples/find_leak.lua
local memobj = require("memobj")

local cache, scratch = {}, {}

-- Renders an item, and (the bugs) keeps every result and buffer forever.
local function render(id)
  local html = ("<li>item %d</li>"):format(id)
  cache[#cache + 1] = {id = id, html = html}  -- a smaller leak: Lua tables
  local buf = memobj.heap(4096)  -- the leak: a 4 KiB buffer per item, kept
  scratch[#scratch + 1] = buf
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
  print(("  %s:%d: %+d Lua bytes in %+d blocks, %+d native bytes"):format(
    d.source, d.line, d.bytes_diff, d.count_diff, d.native_diff))
end
local top = after:compare(before)[1]
print(("leak: %s:%d"):format(top.source, top.line))

-- memobj.objects() lists the live memory objects themselves.
local n, bytes = 0, 0
for _, o in ipairs(memobj.objects()) do
  if o.line == top.line then n, bytes = n + 1, bytes + o.size end
end
print(("%d %s objects made at line %d hold %d bytes"):format(n, "heap", top.line, bytes))

-- methods.lua: what one call of a short view method costs, against the
-- same call on a Lua string or table in this process. Every view method
-- goes through the declared-method trampoline (runtime/core/method.h), so
-- these ratios are where its cost would show: calls that do little work.
local memobj = require("memobj")
local B = require("common")

local N = 2000000
local s = "hello world, a short line of text"
local b = memobj.bytes(s)
local t = {1, 2, 3, 4, 5, 6, 7, 8}
local a = memobj.array("f64", t)

local ours, base = B.compare(function()
  for _ = 1, N do b:find("line", 1, true) end
end, function()
  for _ = 1, N do s:find("line", 1, true) end
end)
B.row("methods", "b:find(short, plain) vs s:find", ours / base, "x", "")
print(("b:find %.1f ns, s:find %.1f ns"):format(ours / N * 1e9, base / N * 1e9))

ours, base = B.compare(function()
  for _ = 1, N do b:byte(5) end
end, function()
  for _ = 1, N do s:byte(5) end
end)
B.row("methods", "b:byte(i) vs s:byte(i)", ours / base, "x", "")
print(("b:byte %.1f ns, s:byte %.1f ns"):format(ours / N * 1e9, base / N * 1e9))

ours, base = B.compare(function()
  local x = 0
  for i = 1, N do x = x + a:get((i & 7) + 1) end
end, function()
  local x = 0
  for i = 1, N do x = x + t[(i & 7) + 1] end
end)
B.row("methods", "a:get(i) vs t[i]", ours / base, "x", "")
print(("a:get %.1f ns, t[i] %.1f ns"):format(ours / N * 1e9, base / N * 1e9))

ours, base = B.compare(function()
  local x = 0
  for _ = 1, N do x = x + a:sum() end
end, function()
  local x = 0
  for _ = 1, N do
    x = x + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7] + t[8]
  end
end)
B.row("methods", "a:sum() of 8 vs 8 t[i] in Lua", ours / base, "x", "")
print(("a:sum() of 8 %.1f ns"):format(ours / N * 1e9))

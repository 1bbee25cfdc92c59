-- bytes.lua: byte views against glibc memmem and against Lua's string
-- library over the same bytes held in a Lua string, in this process.
-- Size: MEMOBJ_BENCH_MB (default 256).
local memobj = require("memobj")
local B = require("common")

local MB = B.mb or 256
local N = MB * 1024 * 1024

-- A log-like text: lines of 20..90 bytes, one needle near the end.
local lines, len = {}, 0
local nl = 0
while len < 1024 * 1024 do
  nl = nl + 1
  local l = ("2026-11-23 12:%02d:%02d INFO request %d served in %d ms%s\n")
    :format(nl % 60, nl % 59, nl * 7919 % 100000, nl % 97, (" ."):rep(nl % 20))
  lines[#lines + 1] = l
  len = len + #l
end
local chunk = table.concat(lines):sub(1, 1024 * 1024)
local m = memobj.heap(N)
local b = m:bytes()
for pos = 1, N, #chunk do b:put(pos, chunk:sub(1, N - pos + 1)) end
local needle = "ERROR disk full on /dev/sda1"
b:put(N - 1000, " " .. needle)
-- Memory of the view path, measured before any big Lua string exists
-- (a freed big string makes Lua's collector pace itself to its size):
-- the peak Lua heap growth while counting lines over a quarter of the view
-- and over all of it.
local function heap_growth(v)
  collectgarbage()
  collectgarbage()
  local before, peak, n = collectgarbage("count"), 0, 0
  for _ in v:gmatch("[^\n]*") do
    n = n + 1
    if n % 4096 == 0 then peak = math.max(peak, collectgarbage("count") - before) end
  end
  return peak / 1024
end
local quarter, whole = heap_growth(b:sub(1, N // 4)), heap_growth(b)
B.row("bytes", "Lua heap growth, gmatch over 1/4 of the view", quarter, "MB", "")
B.row("bytes", "Lua heap growth, gmatch over all of the view", whole, "MB", "same as 1/4")

-- b[i] and b[i] = v against a Lua table, 4M accesses
do
  local K = math.min(N, 4 * 1024 * 1024)
  local t = {}
  for i = 1, K do t[i] = i & 255 end
  local ours, base = B.compare(function()
    local x = 0
    for i = 1, K do x = x + b[i] end
  end, function()
    local x = 0
    for i = 1, K do x = x + t[i] end
  end)
  B.row("bytes", "b[i] read vs t[i]", ours / base, "x", "<= 4.5x")
  print(("b[i] %.1f ns, t[i] %.1f ns"):format(ours / K * 1e9, base / K * 1e9))
  local w = memobj.heap(K):bytes()
  ours, base = B.compare(function()
    for i = 1, K do w[i] = 65 end
  end, function()
    for i = 1, K do t[i] = 65 end
  end)
  B.row("bytes", "b[i] = v vs t[i] = v", ours / base, "x", "<= 4.5x")
end

local s = tostring(b)  -- the same bytes in a Lua string, for the baselines
print(("%d MB of text"):format(MB))

-- plain find against memmem
local so = "/tmp/memobj_bench_memmem.so"
local cflags = io.popen("pkg-config --cflags lua5.4"):read("a"):gsub("%s+$", "")
local built = os.execute(("gcc -O2 -shared -fPIC %s -Iruntime -o %s bench/memmem.c 2>/dev/null")
  :format(cflags, so))
local want = s:find(needle, 1, true)
assert(b:find(needle, 1, true) == want)
if built then
  local mm = package.loadlib(so, "luaopen_memmem")()
  assert(mm.find(b, needle) == want)
  local ours, base = B.compare(function()
    for _ = 1, 3 do b:find(needle, 1, true) end
  end, function()
    for _ = 1, 3 do mm.find(b, needle) end
  end)
  B.row("bytes", "plain find speed as % of memmem", 100 * base / ours, "%", ">= 100%")
  print(("plain find %.1f GB/s, memmem %.1f GB/s"):format(3 * N / ours / 1e9, 3 * N / base / 1e9))
  -- a needle whose first byte is common (a space): the memmem fallback
  local common = " ERROR disk full"
  assert(b:find(common, 1, true) == mm.find(b, common))
  ours, base = B.compare(function()
    for _ = 1, 3 do b:find(common, 1, true) end
  end, function()
    for _ = 1, 3 do mm.find(b, common) end
  end)
  B.row("bytes", "plain find, common first byte, % of memmem", 100 * base / ours, "%", ">= 100%")
else
  print("no C compiler: memmem baseline skipped")
end
local ours, base = B.compare(function()
  for _ = 1, 3 do b:find(needle, 1, true) end
end, function()
  for _ = 1, 3 do s:find(needle, 1, true) end
end)
B.row("bytes", "plain find time vs string.find on a Lua string", ours / base, "x", "")
print(("plain find %.1f GB/s, string.find %.1f GB/s"):format(3 * N / ours / 1e9, 3 * N / base / 1e9))

-- a pattern find with a literal first byte (memchr skipping)
ours, base = B.compare(function()
  b:find("ERROR %a+ full")
end, function()
  s:find("ERROR %a+ full")
end)
B.row("bytes", "pattern find time vs string.find", ours / base, "x", "")

-- gmatch line counting
local function count(iter)
  local n = 0
  for _ in iter do n = n + 1 end
  return n
end
assert(count(b:gmatch("[^\n]*")) == count(s:gmatch("[^\n]*")))
ours, base = B.compare(function()
  count(b:gmatch("[^\n]*"))
end, function()
  count(s:gmatch("[^\n]*"))
end)
B.row("bytes", "gmatch line count time vs string.gmatch", ours / base, "x", "<= 1.2x")
print(("gmatch lines %.2f GB/s, string.gmatch %.2f GB/s"):format(N / ours / 1e9, N / base / 1e9))


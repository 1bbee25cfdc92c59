-- fileview.lua: file views against Lua io on the same bytes in a real
-- file (warm page cache), all measured in this process.
--   LUA_CPATH="build/?.so;;" LUA_PATH="bench/?.lua;;" lua5.4 bench/fileview.lua
-- MEMOBJ_BENCH_MB sets the text size (default 256), MEMOBJ_BENCH_RUNS the
-- number of interleaved runs (default 5).
local memobj = require("memobj")
local B = require("common")

local MB = B.mb or 256
local SIZE = MB * 1048576
local CHUNK = 1048576

-- A text of lines of 1..120 characters, built in pieces of about 1 MiB
-- and written both to a heap buffer (through a file view) and to a file.
math.randomseed(42)
local pool = {}
for i = 1, 1000 do
  pool[i] = ("%d,%s,%.3f"):format(i, ("x"):rep(math.random(0, 100)),
                                   math.random() * 1000):sub(1, math.random(1, 120))
end
local path = os.tmpname()
local real = assert(io.open(path, "wb"))
local m = memobj.heap(SIZE)
local w = m:file("w")
local written, lines = 0, 0
while written < SIZE do
  local t, n = {}, 0
  while n < CHUNK do
    local l = pool[math.random(#pool)]
    t[#t + 1] = l
    n = n + #l + 1
  end
  local piece = (table.concat(t, "\n") .. "\n"):sub(1, SIZE - written)
  assert(w:write(piece))
  real:write(piece)
  written = written + #piece
end
w:close()
real:close()
for _ in io.lines(path) do lines = lines + 1 end  -- also warms the cache
print(("%d MB, %d lines"):format(MB, lines))

-- f:lines() against io.lines
local function count(iter)
  local n, bytes = 0, 0
  for l in iter do n = n + 1; bytes = bytes + #l end
  assert(n == lines)
  return bytes
end
local ours, base = B.compare(function()
  local f <close> = m:file()
  count(f:lines())
end, function()
  count(io.lines(path))
end)
B.row("fileview", "f:lines() vs io.lines", ours / base, "x", "<= 1.0x")
print(("f:lines %.1f ns/line, io.lines %.1f ns/line"):format(
  ours / lines * 1e9, base / lines * 1e9))

-- read(1 MiB) chunks against io's read of the same file
local function chunks(f)
  local n = 0
  while true do
    local s = f:read(CHUNK)
    if s == nil then break end
    n = n + #s
  end
  assert(n == SIZE)
end
local ours_read, io_read = B.compare(function()
  local f <close> = m:file()
  chunks(f)
end, function()
  local f <close> = assert(io.open(path, "rb"))
  chunks(f)
end)
B.row("fileview", "f:read(1 MiB) vs io read(1 MiB)", ours_read / io_read, "x", "<= 1.0x")

-- ... and against a plain C memcpy of the same chunks into one scratch
-- buffer: the floor, since a read must copy into a new Lua string
local so = "/tmp/memobj_bench_fvcopy.so"
local cflags = io.popen("pkg-config --cflags lua5.4"):read("a"):gsub("%s+$", "")
assert(os.execute(("gcc -O2 -shared -fPIC %s -Iruntime -o %s bench/fvcopy.c")
  :format(cflags, so)), "cannot build the C baseline")
local fvcopy = package.loadlib(so, "luaopen_fvcopy")()
local _, memcpy = B.compare(function() end, function() fvcopy.copy(m, CHUNK) end)
B.row("fileview", "f:read(1 MiB) vs C memcpy of 1 MiB chunks", ours_read / memcpy, "x", "<= 1.2x at 256 MB")
print(("read(1 MiB): ours %.2f GB/s, io %.2f GB/s, C memcpy %.2f GB/s")
  :format(SIZE / ours_read / 1e9, SIZE / io_read / 1e9, SIZE / memcpy / 1e9))

os.remove(path)

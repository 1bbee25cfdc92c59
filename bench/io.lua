-- io.lua: bytes that leave memobj. 100 MB (MEMOBJ_BENCH_MB) through a
-- loopback TCP socket with b:writeto / b:readfrom against LuaSocket's
-- send / receive with strings, and a file read into a heap buffer with
-- b:readfrom against f:read("a"). Wall time from the accepted connection
-- to the last byte received (the sender is a luv thread)
-- and the growth of the receiving Lua state's heap
-- (collectgarbage("count"), no collection in between). Each pair runs
-- alternately; medians of MEMOBJ_BENCH_RUNS (default 5).
-- luacheck: no redefined (the sender thread loads its modules again)
local memobj = require("memobj")
local socket = require("socket")
local uv = require("luv")
local common = require("common")

local MB = common.mb or 100
local SIZE = MB * 1024 * 1024
local RUNS = common.runs

local function now() return uv.hrtime() / 1e9 end
local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- ---- TCP ----

-- The sender, in its own thread and Lua state: connects and sends SIZE
-- bytes, from an imported buffer (writeto) or from a Lua string.
local function sender(port, how, tok, size, cpath)
  package.cpath = cpath
  local memobj = require("memobj")
  local socket = require("socket")
  local b = memobj.import(tok):bytes()
  -- the string a user would have, made before connecting (not timed)
  local s = how == "string" and tostring(b) or nil
  local c = assert(socket.connect("127.0.0.1", port))
  if how == "view" then
    assert(b:writeto(c) == size)
  else
    local i = 1
    while i <= #s do
      local last, err, partial = c:send(s, i)
      if not last then error(err .. " " .. tostring(partial)) end
      i = last + 1
    end
  end
  c:close()
end

local src = memobj.heap(SIZE)
local words = src:array("u32")
for i = 1, #words, 4099 do words[i] = i end
local tok = src:export()
local dst = memobj.bytes(memobj.heap(SIZE))

local function tcp_once(how)
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  collectgarbage()
  collectgarbage("stop")
  local th = uv.new_thread(sender, port, how, tok, SIZE, package.cpath)
  local conn = assert(server:accept())
  -- timed from the connection: the sender's thread start and string
  -- making are not part of the transfer
  local heap0 = collectgarbage("count")
  local t0 = now()
  local got = 0
  if how == "view" then
    while got < SIZE do
      local n = assert(dst:readfrom(conn, got + 1))
      if n == 0 then break end
      got = got + n
    end
  else
    local s = assert(conn:receive(SIZE))
    got = #s
  end
  local t = now() - t0
  local grew = collectgarbage("count") - heap0
  collectgarbage("restart")
  th:join()
  conn:close()
  server:close()
  assert(got == SIZE)
  return t, grew
end

local tv, ts, gv, gs = {}, {}, {}, {}
for i = 1, RUNS do
  tv[i], gv[i] = tcp_once("view")
  ts[i], gs[i] = tcp_once("string")
end
assert(dst:equals(src:bytes()))
local tview, tstr = median(tv), median(ts)
print(("TCP loopback %d MB: writeto/readfrom %.3f s, LuaSocket send/receive "
       .. "%.3f s; receiver's Lua heap grew %.1f KB vs %.1f MB"):format(
  MB, tview, tstr, median(gv), median(gs) / 1024))
common.row("io", ("tcp %d MB writeto/readfrom vs LuaSocket strings"):format(MB),
           tview / tstr, "x time", "< 1")
common.row("io", "tcp receiver heap growth, readfrom", median(gv), "KB", "~0")
common.row("io", "tcp receiver heap growth, LuaSocket receive", median(gs) / 1024, "MB", "")

-- ---- A file into a heap buffer ----

local path = os.tmpname()
do
  local f = assert(io.open(path, "wb"))
  assert(src:bytes():writeto(f) == SIZE)
  f:close()
end

local function file_once(how)
  collectgarbage()
  collectgarbage("stop")
  local heap0 = collectgarbage("count")
  local t0 = now()
  local f = assert(io.open(path, "rb"))
  local got
  if how == "view" then
    got = 0
    while got < SIZE do
      local n = assert(dst:readfrom(f, got + 1))
      if n == 0 then break end
      got = got + n
    end
  else
    got = #f:read("a")
  end
  f:close()
  local t = now() - t0
  local grew = collectgarbage("count") - heap0
  collectgarbage("restart")
  assert(got == SIZE)
  return t, grew
end

tv, ts, gv, gs = {}, {}, {}, {}
for i = 1, RUNS do
  tv[i], gv[i] = file_once("view")
  ts[i], gs[i] = file_once("string")
end
os.remove(path)
tview, tstr = median(tv), median(ts)
print(("file %d MB into memory: readfrom %.3f s, f:read(\"a\") %.3f s; "
       .. "Lua heap grew %.1f KB vs %.1f MB"):format(
  MB, tview, tstr, median(gv), median(gs) / 1024))
common.row("io", ("file %d MB readfrom vs f:read('a')"):format(MB),
           tview / tstr, "x time", "< 1")
common.row("io", "file heap growth, readfrom", median(gv), "KB", "~0")
common.row("io", "file heap growth, f:read('a')", median(gs) / 1024, "MB", "")

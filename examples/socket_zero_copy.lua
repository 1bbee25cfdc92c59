-- socket_zero_copy.lua: send a buffer through a loopback TCP connection
-- with LuaSocket and memobj, with no Lua string of its size on either
-- side: b:writeto(socket) sends straight from the buffer, b:readfrom
-- (socket) receives straight into one. The sender is a luv thread (its
-- own Lua state) that imports the buffer with memobj.import.
--   lua5.4 socket_zero_copy.lua [megabytes]
-- luacheck: no redefined (thread functions run in their own state: they load memobj again)
local memobj = require("memobj")
local socket = require("socket")
local uv = require("luv")

local size = math.floor((tonumber(arg[1]) or 16) * 1024 * 1024)
local src = memobj.heap(size)
local words = src:array("u32")
for i = 1, #words, 1021 do words[i] = i end   -- something to check

local server = assert(socket.bind("127.0.0.1", 0))
local _, port = server:getsockname()

local sender = uv.new_thread(function(tok, p, cpath)
  package.cpath = cpath
  local memobj = require("memobj")
  local socket = require("socket")
  local c = assert(socket.connect("127.0.0.1", p))
  local b = memobj.import(tok):bytes()
  assert(b:writeto(c) == #b)                  -- all of it, no string
  c:close()
end, src:export(), port, package.cpath)

local conn = assert(server:accept())
local dst = memobj.bytes(memobj.heap(size))
local heap0 = collectgarbage("count")
local got = 0
while got < size do
  local n = assert(dst:readfrom(conn, got + 1))
  if n == 0 then break end                   -- the sender closed early
  got = got + n
end
local grew = collectgarbage("count") - heap0
sender:join()
conn:close()
server:close()

assert(got == size and dst:equals(src:bytes()))
print(("%d bytes through loopback TCP; the Lua heap grew by %.1f KB"):format(
  got, grew))

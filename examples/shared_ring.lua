-- shared_ring.lua: two Lua processes passing messages through a ring
-- buffer in POSIX shared memory, coordinated with atomics and
-- wait/notify (futexes shared between the processes).
--
--   LUA_CPATH="build/?.so;;" lua5.4 examples/shared_ring.lua [count]
--
-- The script starts a second copy of itself as the consumer.
local memobj = require("memobj")

local SLOTS, SLOT = 16, 256      -- 16 messages of up to 252 bytes
local HEADER = 64                -- i32 [1] head (sent), [2] tail (received)

-- The ring over a shared memory object: views of the header and slots.
local function ring(m)
  local r = {h = m:array("i32", 0, 2), len = {}, data = {}}
  for s = 1, SLOTS do
    local off = HEADER + (s - 1) * SLOT
    r.len[s] = m:array("i32", off, 1)
    r.data[s] = m:array("u8", off + 4, SLOT - 4)
  end
  return r
end

local function send(r, msg)
  local head = r.h:atomic_load(1)
  while true do                   -- wait for a free slot
    local tail = r.h:atomic_load(2)
    if head - tail < SLOTS then break end
    r.h:wait(2, tail)             -- sleeps only while tail is unchanged
  end
  local s = head % SLOTS + 1
  r.data[s]:copy({msg:byte(1, -1)})
  r.len[s][1] = #msg
  r.h:atomic_store(1, head + 1)   -- publish, then wake the consumer
  r.h:notify(1)
end

local function receive(r)
  local tail = r.h:atomic_load(2)
  while true do                   -- wait for a message
    local head = r.h:atomic_load(1)
    if head ~= tail then break end
    r.h:wait(1, head)
  end
  local s = tail % SLOTS + 1
  local msg = string.char(r.data[s]:unpack(1, r.len[s][1]))
  r.h:atomic_store(2, tail + 1)   -- free the slot, wake the producer
  r.h:notify(2)
  return msg
end

if arg[1] == "--consumer" then
  local m = assert(memobj.shared(arg[2]))   -- attach by name
  local r, n = ring(m), 0
  while true do
    local msg = receive(r)
    if msg == "quit" then break end
    n = n + 1
    if n <= 3 then print("consumer got: " .. msg) end
  end
  print(string.format("consumer: %d messages", n))
  return
end

local count = tonumber(arg[1]) or 1000
local name = string.format("/memobj_ring_%d_%d", os.time(), math.random(1 << 30))
local m = assert(memobj.shared(name, HEADER + SLOTS * SLOT))
local ok, err = pcall(function()
  local lua = arg[-1] or "lua5.4"
  local consumer = assert(io.popen(string.format("%s %q --consumer %q",
                                                 lua, arg[0], name)))
  local r = ring(m)
  for i = 1, count do send(r, string.format("message %d of %d", i, count)) end
  send(r, "quit")
  io.write(consumer:read("a"))
  assert(consumer:close(), "consumer failed")
end)
m:unlink()                        -- names live until unlinked
assert(ok, err)
print(string.format("producer: %d messages sent through %s", count, name))

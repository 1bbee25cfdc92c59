-- bytes.lua: byte views, Lua strings that live in memory objects.
-- Run: LUA_CPATH="build/?.so;;" lua5.4 examples/bytes.lua [file]
local memobj = require("memobj")

-- A log in heap memory (a mapped file works the same way: m:bytes()).
local path = arg[1]
local text
if path then
  local f = assert(io.open(path, "rb"))
  text = f:read("a")
  f:close()
else
  local t = {}
  for i = 1, 1000 do
    t[i] = ("%05d %s request %d\n"):format(i, i % 97 == 0 and "ERROR" or "INFO", i * 31)
  end
  text = table.concat(t)
end
local m = memobj.heap(#text)
local b = m:bytes()
b:put(1, text)
text = nil

-- grep without loading the memory into a Lua string: only matches are copied
local lines, errors = 0, 0
for line in b:gmatch("[^\n]*") do
  lines = lines + 1
  if line:find("ERROR", 1, true) then errors = errors + 1 end
end
print(("%d lines, %d with ERROR"):format(lines, errors))
print("first ERROR at byte", b:find("ERROR", 1, true))

-- sub is a view, not a copy; writes through it land in the memory
local head = b:sub(1, 5)
print("head:", tostring(head), "offset", head.offset, "length", #head)

-- binary records in place: pack writes, unpack reads
local rec = memobj.heap(64):bytes()
local pos = rec:pack(1, "<I4 z d", 42, "answer", 3.25)
print("packed", pos - 1, "bytes:", rec:unpack("<I4 z d"))

-- comparison and equality like strings
print(memobj.bytes("abc") < "abd", memobj.bytes("abc"):equals("abc"))

-- read-only views refuse writes, and a failed write changes nothing
local ro = memobj.bytes("constant")
print("write to a string view:", pcall(function() ro[1] = 65 end))

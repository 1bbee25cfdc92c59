-- demo.lua: the main example (`make demo`). Memory objects own bytes;
-- views give access; a view locks its memory so it can never be freed
-- or moved underneath.
local memobj = require("memobj")

-- A million float64 in heap memory, filled and summed in C.
local a = memobj.array("f64", 1000000)
a:fill(0.5)
a[1] = 1000
print(("%d items, sum %.1f, max %.1f"):format(#a, a:sum(), a:max()))

-- The same bytes seen as another type, and a slice: views share memory.
local m = a.memory
local words = m:array("u32", 0, 4)
print(("first float64 as two u32 words: 0x%08x 0x%08x"):format(words[2], words[1]))
local tail = a:slice(-3)
tail:fill(2)
print("last three:", a:unpack(#a - 2, #a))

-- Views lock their memory: resize and close are refused, naming the holder.
local ok, err = pcall(m.resize, m, 16)
print("resize while viewed:", ok, err)
a:release(); words:release(); tail:release()
m:resize(16)
print("after release:", m)

-- Zero-copy, read-only memory over a Lua string.
local bytes = memobj.array("u8", "memobj")
print("bytes of 'memobj':", table.concat(bytes:totable(), " "))
print("write to it:", pcall(function() bytes[1] = 0 end))

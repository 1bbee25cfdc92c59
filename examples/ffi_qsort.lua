-- ffi_qsort.lua: C's qsort sorting a typed array with a comparator
-- written in Lua, through memobj.ffi (no C code to write).
--   LUA_CPATH="build/?.so;;" lua5.4 examples/ffi_qsort.lua
local memobj = require("memobj")
local ffi = require("memobj.ffi")

local libc = assert(ffi.load("libc.so.6"))
-- void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
local qsort = libc:func("qsort", "void", {"wbuffer", "size_t", "size_t", "pointer"})

-- Twenty pseudo-random int32 in heap memory.
local a = memobj.array("int32", 20)
local x = 12345
for i = 1, #a do
  x = (x * 1103515245 + 12345) % (1 << 31)
  a[i] = x % 1000 - 500
end
print("before:", table.concat(a:totable(), " "))

-- The comparator gets two addresses inside the array: turn them back
-- into indices and compare the elements. Descending order.
local base, size = a.memory.pointer + a.offset, a.itemsize
local descending = ffi.callback(function(pa, pb)
  local u, v = a[(pa - base) // size + 1], a[(pb - base) // size + 1]
  return u > v and -1 or (u < v and 1 or 0)
end, "int", {"pointer", "pointer"})

-- qsort writes the array: it is passed as a "wbuffer", so it is locked
-- for the call (a comparator that tried a.memory:close() would get an
-- error, reported when qsort returns).
qsort(a, #a, size, descending)
print("after: ", table.concat(a:totable(), " "))

for i = 2, #a do assert(a[i - 1] >= a[i], "not sorted") end
print("sorted: yes")
descending:free()

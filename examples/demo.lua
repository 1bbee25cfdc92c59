-- demo.lua: the main example (`make demo`), a tour in five steps. Memory
-- objects own bytes; views give access; a view locks its memory so it can
-- never be freed, moved or resized underneath.
local memobj = require("memobj")
local ffi = require("memobj.ffi")

-- 1. A million float64 in heap memory, filled and summed in C.
local a = memobj.array("f64", 1000000)
a:fill(0.5)
a[1] = 1000
print(("1. %d items, sum %.1f, max %.1f"):format(#a, a:sum(), a:max()))

-- 2. Views lock their memory: resize is refused and names the holder.
local m = a.memory
local ok, err = pcall(m.resize, m, 16)
print("2. resize while viewed:", ok, (err:gsub(" %(bytes.*", " ...")))
a:release()
m:resize(16)
print("   after release:", m)

-- 3. A file mapped as a float64 array, and the same file seen as text.
local path = os.tmpname()
do
  local f <close> = assert(memobj.map(path, {mode = "rw", create = 8 * 1000}))
  local xs = f:array("f64")
  for i = 1, #xs do xs[i] = i end
  xs:release()
end
local data <close> = assert(memobj.map(path))
print(("3. %s file, %d bytes, mean %.1f"):format(data.kind, data.size,
  data:array("f64"):sum() / 1000))

-- 4. Byte strings and file views: Lua's string patterns and io's read
--    formats, in place over memory.
local log = memobj.string("ok 1\nERROR disk full\nok 2\nERROR fan\n")
local b = log:bytes()
local errors = {}
for msg in b:gmatch("ERROR ([^\n]*)") do errors[#errors + 1] = msg end
local fv = log:file()
print("4. errors:", table.concat(errors, ", "), "| first line:", fv:read("l"))

-- 5. C functions through libffi, with memory locked during the call.
local libc = assert(ffi.load("libc.so.6"))
local snprintf = libc:func("snprintf", "int", {"wbuffer", "size_t", "string", "...", "int", "int"})
local out = memobj.heap(32)
local n = snprintf(out, #out, "%d squared is %d", 12, 12 * 12)
print("5. snprintf wrote:", out:bytes():sub(1, n):string())
os.remove(path)

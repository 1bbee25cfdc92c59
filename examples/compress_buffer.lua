-- compress_buffer.lua: zlib (Debian's zlib1g, libz.so.1) compressing the
-- bytes of a memory object in place and uncompressing them back, through
-- memobj.ffi: C reads and writes memobj memory directly, no copies.
--   LUA_CPATH="build/?.so;;" lua5.4 examples/compress_buffer.lua [bytes]
local memobj = require("memobj")
local ffi = require("memobj.ffi")

local z = assert(ffi.load("libz.so.1"))
-- uLong compressBound(uLong sourceLen)
local compressBound = z:func("compressBound", "ulong", {"ulong"})
-- int compress2(Bytef *dest, uLongf *destLen, const Bytef *source, uLong sourceLen, int level)
local compress2 = z:func("compress2", "int", {"wbuffer", "wbuffer", "buffer", "ulong", "int"})
-- int uncompress(Bytef *dest, uLongf *destLen, const Bytef *source, uLong sourceLen)
local uncompress = z:func("uncompress", "int", {"wbuffer", "wbuffer", "buffer", "ulong"})
local Z_OK = 0

-- Some compressible data: a table of squares as float64.
local n = math.tointeger(tonumber(arg[1]) or 1 << 20)
local src = memobj.heap(n)
local values = src:array("float64")
for i = 1, #values do values[i] = (i % 4096) ^ 2 end

-- Compress into a heap buffer big enough for any input. destLen is an
-- in/out uLong: a one-element uint64 array passed as a "wbuffer".
local dst = memobj.heap(compressBound(n))
local dlen = memobj.array("uint64", {dst.size})
assert(compress2(dst, dlen, src, n, 9) == Z_OK, "compress2 failed")
local clen = dlen[1]
print(("compressed %d bytes to %d (%.1f%%)"):format(n, clen, 100 * clen / n))

-- Uncompress from a view of just the compressed bytes, then compare
-- with memcmp from libc.
local back = memobj.heap(n)
local blen = memobj.array("uint64", {n})
assert(uncompress(back, blen, dst:array("uint8", 0, clen), clen) == Z_OK,
       "uncompress failed")
local memcmp = assert(ffi.load("libc.so.6")):func("memcmp", "int",
                                                   {"buffer", "buffer", "size_t"})
assert(blen[1] == n and memcmp(back, src, n) == 0, "round trip differs")
print(("uncompressed %d bytes: identical"):format(blen[1]))

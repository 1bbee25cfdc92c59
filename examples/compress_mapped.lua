-- compress_mapped.lua: zlib (Debian's zlib1g, libz.so.1) compressing a
-- mapped file straight into another mapped file and uncompressing it
-- back, through memobj.ffi. zlib reads and writes the files' pages in
-- place: no read() or write() calls, no copies through Lua strings.
--   LUA_CPATH="build/?.so;;" lua5.4 examples/compress_mapped.lua [bytes]
local memobj = require("memobj")
local ffi = require("memobj.ffi")

local z = assert(ffi.load("libz.so.1"))
-- uLong compressBound(uLong sourceLen)
local compressBound = z:func("compressBound", "ulong", {"ulong"})
-- int compress2(Bytef *dest, uLongf *destLen, const Bytef *source, uLong sourceLen, int level)
local compress2 = z:func("compress2", "int", {"wbuffer", "wbuffer", "buffer", "ulong", "int"})
-- int uncompress(Bytef *dest, uLongf *destLen, const Bytef *source, uLong sourceLen)
local uncompress = z:func("uncompress", "int", {"wbuffer", "wbuffer", "buffer", "ulong"})
local memcmp = assert(ffi.load("libc.so.6")):func("memcmp", "int",
                                                   {"buffer", "buffer", "size_t"})
local Z_OK = 0

-- An input file: some compressible text.
local n = math.tointeger(tonumber(arg[1]) or 1 << 20)
local base = os.tmpname()
local input, packed, unpacked = base .. ".txt", base .. ".z", base .. ".out"
do
  local f = assert(io.open(input, "wb"))
  local line = "memobj maps files; zlib reads them in place. "
  f:write(line:rep(n // #line + 1):sub(1, n))
  f:close()
end

-- Map the input read-only, and an output file big enough for any result.
local src <close> = assert(memobj.map(input))
local dst = assert(memobj.map(packed, {mode = "rw", create = compressBound(n)}))

-- destLen is an in/out uLong: a one-element uint64 array, as a "wbuffer".
-- Both files are locked while zlib runs.
local dlen = memobj.array("uint64", {dst.size})
assert(compress2(dst, dlen, src, n, 9) == Z_OK, "compress2 failed")
local clen = dlen[1]
dst:resize(clen)   -- the file now holds exactly the compressed bytes
print(("compressed %s: %d bytes to %d (%.1f%%)"):format(input, n, clen, 100 * clen / n))

-- Uncompress the packed file into a third mapped file and compare.
local out <close> = assert(memobj.map(unpacked, {mode = "rw", create = n}))
local ulen = memobj.array("uint64", {n})
assert(uncompress(out, ulen, dst, clen) == Z_OK, "uncompress failed")
assert(ulen[1] == n and memcmp(out, src, n) == 0, "round trip differs")
print(("uncompressed %s: %d bytes, identical to the input"):format(unpacked, ulen[1]))

dst:close()
os.remove(input); os.remove(packed); os.remove(unpacked); os.remove(base)

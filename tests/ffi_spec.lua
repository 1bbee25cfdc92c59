-- memobj.ffi against real libraries (libc, libm, libz) and foreign memory.
local memobj = require("memobj")
local ffi = require("memobj.ffi")

local libc = assert(ffi.load("libc.so.6"))
local libm = assert(ffi.load("libm.so.6"))

local strlen = libc:func("strlen", "size_t", {"buffer"})
local memset = libc:func("memset", "pointer", {"wbuffer", "int", "size_t"})
local memcpy = libc:func("memcpy", "pointer", {"wbuffer", "buffer", "size_t"})
local qsort = libc:func("qsort", "void", {"wbuffer", "size_t", "size_t", "pointer"})
local malloc = libc:func("malloc", "pointer", {"size_t"})
local free = libc:func("free", "void", {"pointer"})

-- The first n bytes of memory m (or a view) as a Lua string.
local function str(m, n)
  local a = m:array("u8")
  local s = string.char(a:unpack(1, n or #a))
  a:release()
  return s
end

local LUA = os.getenv("LUA") or "lua5.4"

describe("memobj.ffi loading", function()
  it("loads memobj and exposes the functions of the contract", function()
    assert.equal(memobj, package.loaded.memobj)
    for _, k in ipairs({"load", "func", "callback", "pointer"}) do
      assert.equal("function", type(ffi[k]))
    end
  end)

  it("initialises memobj when required first", function()
    local code = [[local ffi = require("memobj.ffi")
      local m = package.loaded.memobj.heap(4)
      print(ffi.load():func("memset", "pointer", {"wbuffer", "int", "size_t"})(m, 0, 4) == m.pointer)]]
    local p = assert(io.popen("exec " .. LUA .. " -e '" .. code .. "' 2>&1"))
    local out = p:read("a")
    assert.is_true(p:close())
    assert.equal("true\n", out)
  end)

  it("loads a library by name and keeps its name", function()
    assert.equal("libc.so.6", libc.name)
    assert.matches("libc%.so%.6", tostring(libc))
  end)

  it("loads the global namespace with no name", function()
    local g = assert(ffi.load())
    assert.is_nil(g.name)
    assert.equal(3, g:func("strlen", "size_t", {"string"})("abc"))
  end)

  it("returns nil and a message for a missing library, like io.open", function()
    local lib, msg = ffi.load("libmemobj-does-not-exist.so")
    assert.is_nil(lib)
    assert.matches("libmemobj%-does%-not%-exist%.so", msg)
  end)

  it("raises a clear error for a missing symbol", function()
    local ok, err = pcall(libc.func, libc, "no_such_function_xyz", "int", {})
    assert.is_false(ok)
    assert.matches("memobj: ffi: symbol 'no_such_function_xyz' not found in libc%.so%.6", err)
    ok, err = pcall(function() ffi.load():func("no_such_function_xyz", "int", {}) end)
    assert.is_false(ok)
    assert.matches("not found in the global namespace", err)
  end)

  it("gives symbol addresses with lib:sym", function()
    local p = libc:sym("strlen")
    assert.equal("integer", math.type(p))
    assert.equal(p, ffi.pointer(strlen))
    local none, msg = libc:sym("no_such_function_xyz")
    assert.is_nil(none)
    assert.matches("not found", msg)
  end)
end)

describe("calls into libc", function()
  it("strlen reads Lua strings, memory objects and views", function()
    assert.equal(5, strlen("hello"))
    assert.equal(3, strlen(memobj.string("abc")))
    local m = memobj.heap(16)
    local a = m:array("u8")
    for i = 1, 10 do a[i] = 64 + i end
    assert.equal(10, strlen(m))
    assert.equal(6, strlen(m:array("u8", 4)))   -- a view from byte 4
    a[3] = 0
    assert.equal(2, strlen(a))
  end)

  it("memset writes through a wbuffer and returns the pointer", function()
    local m = memobj.heap(32)
    local p = memset(m, 0x41, 31)
    assert.equal(m.pointer, p)
    assert.equal(string.rep("A", 31) .. "\0", str(m))
    -- a view: only its range, at its offset
    local v = m:array("u8", 8, 4)
    assert.equal(m.pointer + 8, memset(v, 0x42, 4))
    assert.equal("AAAAAAAABBBBAAAA", str(m, 16))
  end)

  it("takes byte string and file views as buffers", function()
    if not memobj.heap(1).bytes then
      pending("byte strings are not on this branch")
      return
    end
    local m = memobj.heap(8)
    local b = m:bytes()
    memset(b:sub(3, 5), 0x41, 3)
    assert.is_true(b:equals("\0\0AAA\0\0\0"))
    assert.equal(3, strlen(b:sub(3)))
    local f = m:file("r")
    assert.has_error(function() memset(f, 0, 1) end,
      "bad argument #1 to 'memset' (memory is read-only)")
  end)

  it("memcpy copies between memory objects and from strings", function()
    local src, dst = memobj.heap(8), memobj.heap(8)
    memcpy(src, "abcdefgh", 8)
    memcpy(dst, src, 8)
    assert.equal("abcdefgh", str(dst))
  end)

  it("snprintf (variadic) formats into a wbuffer", function()
    local snprintf = libc:func("snprintf", "int",
      {"wbuffer", "size_t", "string", "...", "int", "double", "string", "char"})
    local m = memobj.heap(64)
    local n = snprintf(m, 64, "%d|%.3f|%s|%c", -42, 3.14159, "xyz", 65)
    assert.equal(#"-42|3.142|xyz|A", n)
    assert.equal("-42|3.142|xyz|A", str(m, n))
    -- truncation is C's: the count is the full length
    local small = memobj.heap(4)
    assert.equal(n, snprintf(small, 4, "%d|%.3f|%s|%c", -42, 3.14159, "xyz", 65))
    assert.equal("-42\0", str(small))
    -- a NULL buffer asks for the length only
    assert.equal(n, snprintf(nil, 0, "%d|%.3f|%s|%c", -42, 3.14159, "xyz", 65))
  end)

  it("variadic functions may get no variadic arguments", function()
    local snprintf = libc:func("snprintf", "int", {"wbuffer", "size_t", "string", "..."})
    local m = memobj.heap(16)
    assert.equal(5, snprintf(m, 16, "plain"))
    assert.equal("plain\0", str(m, 6))
    assert.has_error(function() libc:func("printf", "int", {"...", "int"}) end,
      "bad argument #3 to 'func' ('...' needs a fixed argument before it)")
  end)

  it("variadic float arguments are promoted to double", function()
    local snprintf = libc:func("snprintf", "int",
      {"wbuffer", "size_t", "string", "...", "float", "short"})
    local m = memobj.heap(32)
    local n = snprintf(m, 32, "%.1f %d", 2.5, -7)
    assert.equal("2.5 -7", str(m, n))
  end)

  it("getpid agrees with a child's getppid", function()
    local getpid = libc:func("getpid", "int", {})
    local code = [[local f = require("memobj.ffi").load("libc.so.6")
      print(f:func("getppid", "int", {})())]]
    local p = assert(io.popen("exec " .. LUA .. " -e '" .. code .. "'"))
    local child = tonumber(p:read("l"))
    assert.is_true(p:close())
    assert.equal(getpid(), child)
  end)

  it("returns errno after the results with {errno = true}", function()
    local open = libc:func("open", "int", {"string", "int"}, {errno = true})
    local fd, err = open("/nonexistent-memobj/dir/file", 0)
    assert.equal(-1, fd)
    assert.equal(2, err)   -- ENOENT
    local close = libc:func("close", "int", {"int"}, {errno = true})
    local r, e = close(-1)
    assert.equal(-1, r)
    assert.equal(9, e)     -- EBADF
  end)

  it("returns C strings as Lua strings and NULL as nil", function()
    local getenv = libc:func("getenv", "string", {"string"})
    assert.equal(os.getenv("PATH"), getenv("PATH"))
    assert.is_nil(getenv("MEMOBJ_NO_SUCH_VARIABLE"))
    local strchr = libc:func("strchr", "pointer", {"buffer", "int"})
    assert.is_nil(strchr("abc", string.byte("z")))
  end)

  it("converts integers like string.pack and returns uint64 bits", function()
    local labs = libc:func("labs", "long", {"long"})
    assert.equal(math.maxinteger, labs(-math.maxinteger))
    assert.equal(7, labs(-7.0))
    local toupper = libc:func("toupper", "int", {"int"})
    assert.equal(65, toupper(97))
    local strtoull = libc:func("strtoull", "uint64", {"string", "pointer", "int"})
    assert.equal(-1, strtoull("18446744073709551615", nil, 10))
    local strtoul8 = libc:func("strtoul", "uint8", {"string", "pointer", "int"})
    assert.equal(0x34, strtoul8("0x1234", nil, 16))   -- the low byte
  end)

  it("qsort sorts a typed array with a Lua comparator", function()
    local a = memobj.array("int32", {5, -3, 9, 0, 12, -7, 4, 4, 1})
    local base = a.memory.pointer + a.offset
    local calls = 0
    local cmp = ffi.callback(function(pa, pb)
      calls = calls + 1
      local x, y = a[(pa - base) // 4 + 1], a[(pb - base) // 4 + 1]
      return x < y and -1 or (x > y and 1 or 0)
    end, "int", {"pointer", "pointer"})
    qsort(a, #a, 4, cmp)
    assert.same({-7, -3, 0, 1, 4, 4, 5, 9, 12}, {a:unpack()})
    assert.is_true(calls > 0)
    -- the pointer works as well as the object, and in reverse order
    local rcmp = ffi.callback(function(pa, pb)
      local x = memobj.foreign(pa, 4, {mode = "r"}):array("int32")[1]
      local y = memobj.foreign(pb, 4, {mode = "r"}):array("int32")[1]
      return y - x
    end, "int", {"pointer", "pointer"})
    qsort(a, #a, 4, rcmp.pointer)
    assert.same({12, 9, 5, 4, 4, 1, 0, -3, -7}, {a:unpack()})
    assert.equal(0, a.memory.locks - 1)   -- only the array view itself
  end)

  it("qsort sorts doubles in a heap buffer", function()
    local m = memobj.heap(8 * 100)
    local d = m:array("float64")
    for i = 1, 100 do d[i] = math.sin(i) end
    local cmp = ffi.callback(function(pa, pb)
      local x = memobj.foreign(pa, 8, {mode = "r"}):array("float64")[1]
      local y = memobj.foreign(pb, 8, {mode = "r"}):array("float64")[1]
      return x < y and -1 or (x > y and 1 or 0)
    end, "int", {"pointer", "pointer"})
    qsort(m, 100, 8, cmp)
    for i = 2, 100 do assert.is_true(d[i - 1] <= d[i]) end
  end)
end)

describe("calls into libm", function()
  it("cos and float functions", function()
    local cos = libm:func("cos", "double", {"double"})
    assert.equal(1.0, cos(0))
    assert.equal(-1.0, cos(math.pi))
    local cosf = libm:func("cosf", "float", {"float"})
    assert.is_true(math.abs(cosf(1.0) - math.cos(1.0)) < 1e-6)
    local ldexp = libm:func("ldexp", "double", {"double", "int"})
    assert.equal(48.0, ldexp(3, 4))
    local fmaf = libm:func("fmaf", "float", {"float", "float", "float"})
    assert.equal(7.0, fmaf(2, 3, 1))
  end)

  it("frexp writes its exponent through an out-pointer into heap memory", function()
    local frexp = libm:func("frexp", "double", {"double", "wbuffer"})
    local e = memobj.heap(4)
    assert.equal(0.5, frexp(8.0, e))
    assert.equal(4, e:array("int32")[1])
    local v = memobj.array("int32", 3)
    assert.equal(-0.75, frexp(-6.0, v:slice(2, 2)))
    assert.same({0, 3, 0}, {v:unpack()})
  end)

  it("gives the same answers through libffi and the direct path", function()
    local pow1 = libm:func("pow", "double", {"double", "double"})
    local pow2 = libm:func("pow", "double", {"double", "double"}, {libffi = true})
    assert.equal(pow1(2, 10), pow2(2, 10))
    local f = libm:func("ldexpf", "float", {"float", "int"}, {libffi = true})
    assert.equal(12.0, f(1.5, 3))
  end)
end)

describe("calls into libz", function()
  -- mapped files come from another part of memobj; heap memory here
  local z = assert(ffi.load("libz.so.1"))
  local compressBound = z:func("compressBound", "ulong", {"ulong"})
  local compress2 = z:func("compress2", "int",
    {"wbuffer", "wbuffer", "buffer", "ulong", "int"})
  local uncompress = z:func("uncompress", "int",
    {"wbuffer", "wbuffer", "buffer", "ulong"})

  it("compresses a buffer and uncompresses it back", function()
    local n = 64 * 1024
    local src = memobj.heap(n)
    local a = src:array("uint32")
    for i = 1, #a do a[i] = (i * 7) % 1000 end
    local dst = memobj.heap(compressBound(n))
    local len = memobj.array("uint64", {#dst})   -- in: capacity, out: length
    assert.equal(0, compress2(dst, len, src, n, 6))   -- Z_OK
    local clen = len[1]
    assert.is_true(clen > 0 and clen < n // 4)
    local back = memobj.heap(n)
    local blen = memobj.array("uint64", {n})
    assert.equal(0, uncompress(back, blen, dst:array("uint8", 0, clen), clen))
    assert.equal(n, blen[1])
    assert.equal(0, libc:func("memcmp", "int", {"buffer", "buffer", "size_t"})(back, src, n))
    assert.equal(0, src.locks - 1)
  end)

  it("reports an error code for corrupt input", function()
    local back = memobj.heap(100)
    local blen = memobj.array("uint64", {100})
    assert.equal(-3, uncompress(back, blen, "not zlib data", 13))  -- Z_DATA_ERROR
  end)
end)

describe("calls on mapped files", function()
  -- memobj.map comes from another part of memobj: skip until it is there
  local function mapped(name, fn)
    if memobj.map then it(name, fn)
    else it(name, function() pending("memobj.map is not on this branch") end) end
  end

  mapped("compress a mapped file into another with zlib, in place", function()
    local z = assert(ffi.load("libz.so.1"))
    local compress2 = z:func("compress2", "int",
      {"wbuffer", "wbuffer", "buffer", "ulong", "int"})
    local uncompress = z:func("uncompress", "int",
      {"wbuffer", "wbuffer", "buffer", "ulong"})
    local p1, p2 = os.tmpname(), os.tmpname()
    local f = assert(io.open(p1, "wb"))
    f:write(string.rep("mapped bytes for zlib ", 3000))
    f:close()
    local src = assert(memobj.map(p1))
    local n = src.size
    local dst = assert(memobj.map(p2, {mode = "rw", create = n + 1024}))
    local len = memobj.array("uint64", {dst.size})
    assert.equal(0, compress2(dst, len, src, n, 9))
    dst:resize(len[1])
    dst:close()
    dst = assert(memobj.map(p2))
    assert.equal(len[1], dst.size)
    local back = memobj.heap(n)
    local blen = memobj.array("uint64", {n})
    assert.equal(0, uncompress(back, blen, dst, dst.size))
    assert.equal(n, blen[1])
    assert.equal(0, libc:func("memcmp", "int", {"buffer", "buffer", "size_t"})(back, src, n))
    src:close()
    dst:close()
    os.remove(p1)
    os.remove(p2)
  end)

  mapped("raise instead of dying when C touches pages of a truncated file", function()
    if (os.getenv("LUA_WRAPPER") or ""):match("valgrind") then
      pending("valgrind turns this SIGBUS into a fatal SIGSEGV")
      return
    end
    local path = os.tmpname()
    local m = assert(memobj.map(path, {mode = "rw", create = 65536}))
    memset(m, 1, #m)
    io.open(path, "w"):close()   -- truncate under the mapping
    assert.has_error(function() memset(m, 2, #m) end,
      "memobj: access to pages lost by a truncated file")
    assert.equal(0, m.locks)
    m:close()
    os.remove(path)
  end)
end)

describe("buffer locking during calls", function()
  it("holds locks only during the call", function()
    local m = memobj.heap(16)
    local seen
    local cb = ffi.callback(function() seen = m.locks; return 0 end,
      "int", {"pointer", "pointer"})
    local a = memobj.array("int32", {2, 1})
    local held = a.memory
    qsort(a, 2, 4, ffi.callback(function() seen = held.locks; return 0 end,
      "int", {"pointer", "pointer"}))
    assert.equal(2, seen)           -- the view and the call
    assert.equal(1, held.locks)     -- the view only
    assert.equal(0, m.locks)
    assert.is_not_nil(cb)
  end)

  it("refuses close and resize from a callback and reports it after the call", function()
    local m = memobj.heap(16)
    local attempts = 0
    local cmp = ffi.callback(function()
      attempts = attempts + 1
      m:close()
      return 0
    end, "int", {"pointer", "pointer"})
    local ok, err = pcall(qsort, m, 4, 4, cmp)
    assert.is_false(ok)
    assert.matches("memobj: close: refused", err)
    assert.matches("argument 1 of C function 'qsort'", err)
    assert.equal(1, attempts)       -- later callbacks do not run
    assert.is_false(m.closed)
    assert.equal(0, m.locks)
    local rcmp = ffi.callback(function() m:resize(1); return 0 end,
      "int", {"pointer", "pointer"})
    ok, err = pcall(qsort, m, 4, 4, rcmp)
    assert.is_false(ok)
    assert.matches("memobj: resize: refused", err)
    assert.equal(16, m.size)
    m:close()
    assert.is_true(m.closed)
  end)

  it("refuses protect('r') on memory passed as wbuffer during the call", function()
    local m = memobj.heap(8)
    local cb = ffi.callback(function() m:protect("r"); return 0 end,
      "int", {"pointer", "pointer"})
    assert.has_error(function() qsort(m, 2, 4, cb) end)
    assert.equal("rw", m.permission)
  end)

  it("refuses wbuffer on read-only memory before the call", function()
    local ro = memobj.string("abcdefgh")
    assert.has_error(function() memset(ro, 0, 8) end,
      "bad argument #1 to 'memset' (memory is read-only)")
    local m = memobj.heap(8)
    memset(m, 0x61, 8)
    local v = m:array("u8", 0, 8, "r")
    assert.has_error(function() memset(v, 0, 8) end,
      "bad argument #1 to 'memset' (memory is read-only)")
    v:release()
    m:protect("r")
    assert.has_error(function() memset(m, 0, 8) end)
    assert.equal("aaaaaaaa", str(m))
    assert.has_error(function() memset("lua string", 0, 1) end,
      "bad argument #1 to 'memset' (a Lua string is read-only)")
  end)

  it("releases every lock when an argument conversion fails", function()
    local m, n = memobj.heap(8), memobj.heap(8)
    assert.has_error(function() memcpy(m, n, "x") end)
    assert.has_error(function() memcpy(m, 42, 8) end)
    assert.equal(0, m.locks)
    assert.equal(0, n.locks)
    m:close()
    n:close()
  end)

  it("refuses closed memory and released views", function()
    local m = memobj.heap(8)
    local v = m:array("u8")
    v:release()
    assert.has_error(function() strlen(v) end,
      "bad argument #1 to 'strlen' (view is released)")
    m:close()
    assert.has_error(function() strlen(m) end,
      "bad argument #1 to 'strlen' (memory object is closed)")
  end)

  it("logs the whole wbuffer range inside a transaction", function()
    local m = memobj.heap(16)
    if not m.transaction then
      pending("transactions are not on this branch yet")
      return
    end
    memset(m, 0x61, 16)
    assert.has_error(function()
      m:transaction(function() memset(m, 0x62, 16); error("undo") end)
    end)
    assert.equal(string.rep("a", 16), str(m))
  end)
end)

describe("callbacks", function()
  it("have a pointer C can call, also through ffi.func", function()
    local cb = ffi.callback(function(a, b) return a * b end, "int", {"int", "int"})
    assert.equal("integer", math.type(cb.pointer))
    assert.equal(cb.pointer, ffi.pointer(cb))
    local mul = ffi.func(cb.pointer, "int", {"int", "int"})
    assert.equal(42, mul(6, 7))
    assert.equal(-42, ffi.func(cb, "int", {"int", "int"})(-6, 7))
    local dcb = ffi.callback(function(x, s) return x / 2 + #s end,
      "double", {"double", "string"})
    assert.equal(4.25, ffi.func(dcb, "double", {"double", "string"})(2.5, "abc"))
    local bcb = ffi.callback(function(x) return x > 0 end, "bool", {"int"})
    assert.is_true(ffi.func(bcb, "bool", {"int"})(3))
    assert.is_false(ffi.func(bcb, "bool", {"int"})(-3))
  end)

  it("report a Lua error after the C call returns, with zero given to C", function()
    local cb = ffi.callback(function(a) error("boom " .. a) end, "int", {"int"})
    local f = ffi.func(cb, "int", {"int"})
    local ok, err = pcall(f, 5)
    assert.is_false(ok)
    assert.matches("boom 5", err)
    -- the state is usable afterwards
    assert.equal(3, strlen("abc"))
  end)

  it("check their results", function()
    local cb = ffi.callback(function() return "nope" end, "int", {})
    assert.has_error(function() ffi.func(cb, "int", {})() end,
      "memobj: callback: bad result for 'int32' (integer expected, got string)")
    local big = ffi.callback(function() return 300 end, "uint8", {})
    assert.has_error(function() ffi.func(big, "uint8", {})() end)
  end)

  it("cannot yield across C", function()
    local cb = ffi.callback(function() coroutine.yield() return 1 end, "int", {})
    local co = coroutine.wrap(function() return ffi.func(cb, "int", {})() end)
    assert.has_error(co)
  end)

  it("run on the coroutine that makes the call", function()
    local where
    local cb = ffi.callback(function() where = coroutine.running(); return 0 end,
      "int", {"pointer", "pointer"})
    local co = coroutine.create(function()
      qsort(memobj.array("int32", {2, 1}), 2, 4, cb)
      return coroutine.running()
    end)
    local ok, me = coroutine.resume(co)
    assert.is_true(ok)
    assert.equal(me, where)
  end)

  it("nest: a callback may call C that calls back", function()
    local inner = ffi.callback(function(x) return x + 1 end, "int", {"int"})
    local finner = ffi.func(inner, "int", {"int"})
    local outer = ffi.callback(function(x) return finner(x) * 10 end, "int", {"int"})
    assert.equal(60, ffi.func(outer, "int", {"int"})(5))
  end)

  it("can be freed", function()
    local cb = ffi.callback(function() return 1 end, "int", {})
    local f = ffi.func(cb, "int", {})
    assert.equal(1, f())
    local p = cb.pointer
    assert.is_true(p ~= 0)
    cb:free()
    cb:free()   -- idempotent
    assert.is_true(cb.freed)
    assert.has_error(function() return cb.pointer end, "memobj: callback is freed")
    assert.has_error(function() ffi.func(cb, "int", {}) end)
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.matches("memobj: 0x%x+: the callback it calls is freed", err)
    do local _ <close> = ffi.callback(function() end, "void", {}) end
  end)

  it("freed during a call, stay callable by C until it returns, and raise", function()
    local calls = 0
    local cb
    cb = ffi.callback(function()
      calls = calls + 1
      cb:free()     -- qsort will call it again
      return 0
    end, "int", {"pointer", "pointer"})
    local a = memobj.array("int32", {3, 2, 1})
    assert.has_error(function() qsort(a, #a, 4, cb) end,
      "memobj: callback: called after it was freed")
    assert.equal(1, calls)
    -- one freed by another callback during the call
    local victim = ffi.callback(function() return 0 end, "int", {"pointer", "pointer"})
    local fvictim = ffi.func(victim, "int", {"pointer", "pointer"})
    local killer = ffi.callback(function()
      victim:free()
      return 0
    end, "int", {})
    local both = ffi.callback(function(pa, pb)
      ffi.func(killer, "int", {})()
      return fvictim(pa, pb)
    end, "int", {"pointer", "pointer"})
    local ok, err = pcall(qsort, a, #a, 4, both)
    assert.is_false(ok)
    assert.matches("the callback it calls is freed", err)
    -- and through the bare pointer: the closure lives until qsort returns
    victim = ffi.callback(function() return 0 end, "int", {"pointer", "pointer"})
    fvictim = ffi.func(victim.pointer, "int", {"pointer", "pointer"})
    ok, err = pcall(qsort, a, #a, 4, both)
    assert.is_false(ok)
    assert.matches("memobj: callback: called after it was freed", err)
  end)

  it("refuse types that make no sense in a callback", function()
    assert.has_error(function() ffi.callback(print, "int", {"buffer"}) end)
    assert.has_error(function() ffi.callback(print, "string", {}) end)
    assert.has_error(function() ffi.callback(print, "int", {"int", "..."}) end)
    assert.has_error(function() ffi.callback(42, "int", {}) end)
  end)

  it("do not run Lua when called outside a memobj.ffi call", function()
    -- a callback as the free function of foreign memory: close is not an
    -- ffi call, so C gets zero and a line on stderr; run in a child
    local code = [[
      local memobj, ffi = require("memobj"), require("memobj.ffi")
      local ran = false
      local cb = ffi.callback(function() ran = true end, "void", {"pointer"})
      local m = memobj.foreign(4096, 0, {free = ffi.func(cb, "void", {"pointer"})})
      m:close()
      print("ran", ran)]]
    local p = assert(io.popen("exec " .. LUA .. " -e '" .. code .. "' 2>&1"))
    local out = p:read("a")
    assert.is_true(p:close())
    assert.matches("called outside a memobj.ffi call", out)
    assert.matches("ran\tfalse", out)
  end)

  it("stay alive while running when C was given only the pointer", function()
    local a = memobj.array("int32", {3, 1, 2, 5, 4})
    local base = a.memory.pointer + a.offset
    qsort(a, #a, 4, ffi.callback(function(pa, pb)
      collectgarbage()   -- the callback object is reachable only while running
      return a[(pa - base) // 4 + 1] - a[(pb - base) // 4 + 1]
    end, "int", {"pointer", "pointer"}).pointer)
    assert.same({1, 2, 3, 4, 5}, {a:unpack()})
  end)

  it("collected during a call, keep working until the call returns", function()
    local victim = ffi.callback(function(pa, pb)
      return memobj.foreign(pa, 4, {mode = "r"}):array("int32")[1]
           - memobj.foreign(pb, 4, {mode = "r"}):array("int32")[1]
    end, "int", {"pointer", "pointer"})
    local weak = setmetatable({victim}, {__mode = "v"})
    local fv = ffi.func(victim.pointer, "int", {"pointer", "pointer"})
    local a = memobj.array("int32", {5, 3, 8, 1, 9, 2, 7})
    qsort(a, #a, 4, ffi.callback(function(pa, pb)
      victim = nil       -- now only C (through fv) knows the closure
      collectgarbage()
      collectgarbage()
      return fv(pa, pb)
    end, "int", {"pointer", "pointer"}))
    assert.is_nil(weak[1])   -- it was collected during qsort
    assert.same({1, 2, 3, 5, 7, 8, 9}, {a:unpack()})
  end)

  it("are collected when unreachable", function()
    local weak = setmetatable({}, {__mode = "v"})
    weak[1] = ffi.callback(function() end, "void", {})
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak[1])
  end)
end)

describe("foreign memory", function()
  local setenv = libc:func("setenv", "int", {"string", "string", "int"})
  local unsetenv = libc:func("unsetenv", "int", {"pointer"})
  local NAME = "MEMOBJ_FOREIGN_SPEC"

  -- a C string "MEMOBJ_FOREIGN_SPEC\0" in heap memory
  local function cname()
    local m = memobj.heap(#NAME + 1)
    memcpy(m, NAME, #NAME)
    return m
  end

  it("wraps C memory without owning it", function()
    local h = memobj.heap(16)
    memset(h, 0x7a, 16)
    local f = memobj.foreign(h.pointer, 16)
    assert.equal("foreign", f.kind)
    assert.equal("volatile", f.persistence)
    assert.equal(16, f.size)
    assert.equal("rw", f.permission)
    assert.equal(h.pointer, f.pointer)
    assert.equal(string.rep("z", 16), str(f))
    f:array("u8")[1] = 65
    f:close()
    assert.equal("A", str(h, 1))    -- h still owns its bytes
  end)

  it("calls free once, on close, with a memobj.ffi function", function()
    local name = cname()
    setenv(NAME, "1", 1)
    local f = memobj.foreign(name.pointer, #name, {free = unsetenv})
    local v = f:array("u8")
    assert.has_error(function() f:close() end)   -- locked by the view
    assert.equal("1", os.getenv(NAME))
    v:release()
    f:close()
    assert.is_nil(os.getenv(NAME))
    setenv(NAME, "2", 1)
    f:close()                                    -- idempotent: not again
    assert.equal("2", os.getenv(NAME))
    f = nil
    collectgarbage()
    assert.equal("2", os.getenv(NAME))
    unsetenv(name.pointer)
  end)

  it("calls free on collection, with a C function address", function()
    local name = cname()
    setenv(NAME, "3", 1)
    do
      local f = memobj.foreign(name.pointer, #name, {free = libc:sym("unsetenv")})
      assert.equal(#NAME + 1, #f)
    end
    collectgarbage()
    collectgarbage()
    assert.is_nil(os.getenv(NAME))
  end)

  it("owns malloc'ed memory with free", function()
    local p = malloc(64)
    local f = memobj.foreign(p, 64, {free = free})
    memset(f, 0, 64)
    local a = f:array("int64")
    a[8] = 12345
    assert.equal(12345, a[8])
    a:release()
    f:close()
    assert.is_true(f.closed)
  end)

  it("can be read-only", function()
    local h = memobj.heap(8)
    local f = memobj.foreign(h.pointer, 8, {mode = "r"})
    assert.equal("r", f.permission)
    assert.has_error(function() memset(f, 0, 8) end)
    assert.has_error(function() f:array("u8")[1] = 1 end)
    assert.has_error(function() f:protect("rw") end)
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() memobj.foreign(0, 10) end)
    assert.equal(0, memobj.foreign(0, 0).size)
    assert.has_error(function() memobj.foreign("x", 1) end)
    assert.has_error(function() memobj.foreign(4096, -1) end)
    assert.has_error(function() memobj.foreign(-1, 16) end)
    assert.has_error(function() memobj.foreign(4096, 1, {free = "free"}) end)
    assert.has_error(function() memobj.foreign(4096, 1, {free = strlen}) end,
      "memobj: foreign: option 'free' must take one 'pointer'")
    assert.has_error(function() memobj.foreign(4096, 1, {mode = "w"}) end,
      "bad argument #3 to 'foreign' (unknown mode 'w' (expected \"r\" or \"rw\"))")
  end)
end)

describe("bad input", function()
  it("rejects unknown and misplaced types", function()
    assert.has_error(function() libc:func("strlen", "flaot", {"buffer"}) end,
      "bad argument #2 to 'func' (unknown type 'flaot')")
    assert.has_error(function() libc:func("strlen", "size_t", {"buffer", "nope"}) end,
      "bad argument #3 to 'func' (unknown type 'nope' at position 2)")
    assert.has_error(function() libc:func("strlen", "size_t", {"void"}) end)
    assert.has_error(function() libc:func("strlen", "buffer", {}) end)
    assert.has_error(function() libc:func("strlen", "size_t", {1}) end)
    assert.has_error(function() libc:func("strlen", "size_t", "buffer") end)
    assert.has_error(function() libc:func("printf", "int", {"string", "...", "..."}) end)
    local many = {}
    for i = 1, 33 do many[i] = "int" end
    assert.has_error(function() libc:func("printf", "int", many) end)
  end)

  it("rejects wrong argument counts and types", function()
    assert.has_error(function() strlen() end,
      "memobj: strlen: expected 1 argument, got 0")
    assert.has_error(function() strlen("a", "b") end,
      "memobj: strlen: expected 1 argument, got 2")
    assert.has_error(function() strlen(12) end,
      "bad argument #1 to 'strlen' (memory object, view or string expected, got number)")
    assert.has_error(function() memset(memobj.heap(1), "x", 1) end,
      "bad argument #2 to 'memset' (integer expected, got string)")
    assert.has_error(function() memset(memobj.heap(1), 1.5, 1) end,
      "bad argument #2 to 'memset' (number has no integer representation)")
    assert.has_error(function() memset(memobj.heap(1), 2^31, 1) end,
      "bad argument #2 to 'memset' (integer out of range)")
    local cos = libm:func("cos", "double", {"double"})
    assert.has_error(function() cos("x") end,
      "bad argument #1 to 'cos' (number expected, got string)")
    assert.has_error(function() free(memobj.heap(1)) end,
      "bad argument #1 to 'free' (pointer (integer or nil) expected, got userdata)")
  end)

  it("rejects bad libraries and pointers", function()
    assert.has_error(function() ffi.load({}) end)
    assert.has_error(function() ffi.load("libc.so.6", "global") end)
    assert.has_error(function() ffi.func(0, "int", {}) end)
    assert.has_error(function() ffi.func(nil, "int", {}) end)
    assert.has_error(function() ffi.func("strlen", "int", {}) end)
    assert.has_error(function() ffi.pointer(print) end)
    assert.has_error(function() libc.func(memobj.heap(1), "strlen", "int", {}) end)
  end)
end)

describe("random signatures and values", function()
  -- a callback called through ffi.func with the same random signature,
  -- random arguments and results, errors and collections inside: every
  -- call either works or raises, and the process survives
  it("never crash, and valid calls round-trip", function()
    local vals = {true, false, 0, -1, 1.5, 2^63, math.mininteger, 255, 256,
                  -129, "", "abc", {}, print, memobj.heap(8)}
    local types = {"bool", "int8", "uint8", "int16", "uint16", "int", "uint",
                   "long", "ulong", "size_t", "float", "double", "pointer", "string"}
    math.randomseed(7)
    local function pick(t) return t[math.random(#t)] end
    local worked, failed = 0, 0
    for _ = 1, 300 do
      local args = {}
      for j = 1, math.random(0, 9) do args[j] = pick(types) end
      local ret = math.random(5) == 1 and "void" or pick(types)
      if ret == "string" then ret = "pointer" end   -- not a callback result
      local cb = ffi.callback(function(...)
        local r = math.random(8)
        if r == 1 then error("random failure") end
        if r == 2 then collectgarbage() end
        if r == 3 then return (...) end
        return pick(vals)
      end, ret, args)
      local f = ffi.func(cb, ret, args, {libffi = math.random(2) == 1})
      local cargs = {}
      for j = 1, #args do cargs[j] = pick(vals) end
      if pcall(f, table.unpack(cargs, 1, #args)) then worked = worked + 1
      else failed = failed + 1 end
      -- identity through the callback for an integer signature
      local id = ffi.func(ffi.callback(function(x) return x end, "int64", {"int64"}),
                          "int64", {"int64"})
      local x = math.random(math.mininteger, math.maxinteger)
      assert.equal(x, id(x))
    end
    assert.is_true(worked > 0 and failed > 0)
  end)
end)

describe("memobj.ffi under the debug library", function()
  it("a function whose state upvalue was replaced raises", function()
    local f = libc:func("labs", "long", {"long"})
    assert.equal(3, f(-3))
    for _, v in ipairs({io.stdout, memobj.heap(64), memobj.bytes("x"), {}}) do
      local g = libc:func("labs", "long", {"long"})
      debug.setupvalue(g, 1, v)
      assert.has_error(function() return g(-3) end,
        "memobj: ffi: the function's state was replaced")
      assert.has_error(function() return ffi.pointer(g) end)
    end
  end)

  it("the callback runner reached by debug.getinfo finds nothing to run", function()
    local a = memobj.array("int32", {3, 1, 2})
    local base = a.memory.pointer + a.offset
    local runner, inside
    local cmp = ffi.callback(function(pa, pb)
      runner = runner or debug.getinfo(2, "f").func
      if inside == nil then inside = {pcall(runner)} end
      local x, y = a[(pa - base) // 4 + 1], a[(pb - base) // 4 + 1]
      return x < y and -1 or (x > y and 1 or 0)
    end, "int", {"pointer", "pointer"})
    qsort(a, #a, 4, cmp)
    assert.same({1, 2, 3}, {a:unpack()})
    assert.is_function(runner)
    assert.is_false(inside[1])
    assert.matches("no C call of it is running", inside[2])
    local ok, err = pcall(runner)
    assert.is_false(ok)
    assert.matches("no C call of it is running", err)
  end)

  it("a library has no finalizer to call early: its functions keep working", function()
    local lib = assert(ffi.load("libc.so.6"))
    assert.is_nil(debug.getmetatable(lib).__gc)
    local strlen2 = lib:func("strlen", "size_t", {"buffer"})
    lib = nil  -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    assert.equal(3, strlen2("abc"))
  end)
end)

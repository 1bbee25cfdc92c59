-- Persistent pools: creation, reopening, transactions, resize, and
-- damaged files (each refused with a message, and left byte-for-byte
-- untouched).
local memobj = require("memobj")

local dir = os.tmpname()
os.remove(dir)
teardown(function() os.execute("rm -rf " .. dir) end)
assert(os.execute("mkdir -p " .. dir))
local n = 0
local function newpath()
  n = n + 1
  return dir .. "/pool" .. n
end

local readfile = require("mo_procs").readfile

local function writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- Header fields (doc/format.md): little-endian u64 at these offsets.
local function header(s)
  return {
    datasize = string.unpack("<I8", s, 25),
    logoff = string.unpack("<I8", s, 33),
    logcap = string.unpack("<I8", s, 41),
    seq = string.unpack("<I8", s, 49),
    flags = string.unpack("<I4", s, 57),
  }
end

local function flip(s, pos)  -- pos is 1-based
  local b = s:byte(pos) ~ 0x5a
  return s:sub(1, pos - 1) .. string.char(b) .. s:sub(pos + 1)
end

-- Flip the byte at 0-based offset off of the file in place.
local function flipfile(path, s, off)
  local f = assert(io.open(path, "r+b"))
  f:seek("set", off)
  f:write(string.char(s:byte(off + 1) ~ 0x5a))
  f:close()
end

-- A pool with a few committed transactions, closed cleanly.
local function makepool(path, durability)
  local m = assert(memobj.persistent(path, 4096, {durability = durability}))
  local a = m:array("int64")
  for k = 1, 5 do
    m:transaction(function()
      for i = 1, #a, 7 do a[i] = i * k end
    end)
  end
  a:release()
  m:close()
end

local function expect_refused(path, pattern)
  local before = readfile(path)
  local m, msg = memobj.persistent(path)
  assert.is_nil(m)
  assert.is_string(msg)
  if pattern then assert.matches(pattern, msg) end
  assert.are.equal(before, readfile(path))  -- untouched
  return msg
end

describe("memobj.persistent", function()
  it("creates a 0600 pool with the documented fields", function()
    local path = newpath()
    local m = assert(memobj.persistent(path, 1000))
    assert.are.equal("persistent", m.kind)
    assert.are.equal("durable", m.persistence)
    assert.are.equal(path, m.path)
    assert.are.equal(1000, m.size)
    assert.are.equal("rw", m.permission)
    m:close()
    local p = io.popen("stat -c %a " .. path)
    assert.are.equal("600", p:read("l"))
    p:close()
    local h = header(readfile(path))
    assert.are.equal(1000, h.datasize)
    assert.are.equal(1, h.flags)  -- clean
  end)

  it("keeps committed data across close and reopen", function()
    for _, d in ipairs({"sync", "process"}) do
      local path = newpath()
      makepool(path, d)
      local m = assert(memobj.persistent(path, nil, {durability = d}))
      local a = m:array("int64")
      for i = 1, #a do
        assert.are.equal((i - 1) % 7 == 0 and i * 5 or 0, a[i])
      end
      a:release()
      m:close()
    end
  end)

  it("returns nil, message, errno for a missing file without a size",
    function()
      local m, msg, errno = memobj.persistent(dir .. "/missing")
      assert.is_nil(m)
      assert.matches("No such file", msg)
      assert.are.equal(2, errno)
    end)

  it("refuses writes outside a transaction", function()
    local path = newpath()
    local m = assert(memobj.persistent(path, 64))
    local a = m:array("uint8")
    assert.has_error(function() a[1] = 1 end,
      "memobj: persistent memory can only change inside a transaction")
    assert.has_error(function() a:fill(3) end)
    assert.are.equal(0, a[1])
    a:release()
    m:close()
  end)

  it("rolls back in memory and on disk", function()
    local path = newpath()
    local m = assert(memobj.persistent(path, 800))
    local a = m:array("int64")
    m:transaction(function() a:fill(1) end)
    local ok = pcall(m.transaction, m, function()
      a:fill(2)
      a[5] = 99
      error("no")
    end)
    assert.is_false(ok)
    assert.are.equal(100, a:sum())
    a:release()
    m:close()
    m = assert(memobj.persistent(path))
    assert.are.equal(100, m:array("int64"):sum())
  end)

  it("refuses a second open of the same pool", function()
    local path = newpath()
    local m = assert(memobj.persistent(path, 64))
    local m2, msg = memobj.persistent(path)
    assert.is_nil(m2)
    assert.matches("open in another", msg)
    -- and from another process
    local lua = os.getenv("LUA") or "lua5.4"
    local p = assert(io.popen(("%s -e %q"):format(lua, ([[
      local m, msg = require("memobj").persistent(%q)
      io.write(tostring(m), " ", tostring(msg))]]):format(path))))
    local out = p:read("a")
    p:close()
    assert.matches("^nil .*open in another process", out)
    m:close()
    m2 = assert(memobj.persistent(path))
    m2:close()
  end)

  it("resizes outside transactions and keeps the data", function()
    local path = newpath()
    local m = assert(memobj.persistent(path, 100))
    m:transaction(function() m:array("uint8"):fill(7) end)
    collectgarbage()
    m:begin()
    assert.has_error(function() m:resize(200) end,
      "memobj: resize: refused inside a transaction")
    m:commit()
    m:resize(10000)
    assert.are.equal(10000, m.size)
    local a = m:array("uint8")
    assert.are.equal(700, a:sum())  -- old bytes kept, new ones zero
    m:transaction(function() a[10000] = 1 end)
    a:release()
    m:resize(50)
    assert.are.equal(50, m.size)
    m:close()
    m = assert(memobj.persistent(path))
    assert.are.equal(50, m.size)
    assert.are.equal(350, m:array("uint8"):sum())
    collectgarbage()
    m:resize(5000)
    assert.are.equal(350, m:array("uint8"):sum())  -- the grown part is zero
  end)

  it("handles a transaction bigger than the log", function()
    local path = newpath()
    local size = 1024 * 1024
    local m = assert(memobj.persistent(path, size, {durability = "process"}))
    local a = m:array("uint32")
    m:transaction(function() a:fill(3) end)
    assert.is_true(header(readfile(path)).logcap > size)
    a:release()
    m:close()
    m = assert(memobj.persistent(path))
    assert.are.equal(3 * size // 4, m:array("uint32"):sum())
  end)

  it("sync inside a transaction writes only committed bytes", function()
    local path = newpath()
    local m = assert(memobj.persistent(path, 4096, {durability = "process"}))
    local a = m:array("int64")
    m:transaction(function() a[1] = 1 end)
    m:begin()
    a[1] = 2
    a[2] = 2
    assert.is_true(m:sync())
    local s = readfile(path)  -- the data part starts at 8192
    assert.are.equal(1, string.unpack("<i8", s, 8193))
    assert.are.equal(0, string.unpack("<i8", s, 8201))
    m:commit()
    a:release()
    m:close()
    s = readfile(path)
    assert.are.equal(2, string.unpack("<i8", s, 8193))
    assert.are.equal(2, string.unpack("<i8", s, 8201))
  end)

  it("a collected object with an open transaction leaves no trace",
    function()
      local path = newpath()
      do
        local m = assert(memobj.persistent(path, 64))
        m:transaction(function() m:bytes():fill(1) end)
        m:begin()
        m:bytes():fill(2)
      end
      collectgarbage()
      collectgarbage()
      local m = assert(memobj.persistent(path))
      assert.are.equal(64, m:array("uint8"):sum())
    end)

  it("accepts a zero-size pool", function()
    local path = newpath()
    local m = assert(memobj.persistent(path, 0))
    assert.are.equal(0, m.size)
    m:transaction(function() end)
    m:close()
    m = assert(memobj.persistent(path))
    assert.are.equal(0, #m)
    m:close()
  end)
end)

describe("damaged and foreign files", function()
  it("refuses files that are not pools and leaves them alone", function()
    local path = newpath()
    writefile(path, "just some text\n")
    expect_refused(path, "not a memobj pool")
    writefile(path, "")
    expect_refused(path, "not a memobj pool")
    writefile(path, string.rep("\0", 20000))
    expect_refused(path, "not a memobj pool")
    -- also with a size: an existing file is never overwritten
    local before = readfile(path)
    assert.is_nil(memobj.persistent(path, 100))
    assert.are.equal(before, readfile(path))
  end)

  it("opens from the other header copy when one is damaged", function()
    local path = newpath()
    makepool(path)
    local good = readfile(path)
    local function check()
      local m = assert(memobj.persistent(path))
      local a = m:array("int64")
      assert.are.equal(5 * 8, a[8])  -- the last commit is there
      a:release()
      m:close()
    end
    for pos = 1, 128 do
      writefile(path, flip(good, pos))           -- copy A
      check()
      writefile(path, flip(good, 4096 + pos))    -- copy B
      check()
    end
    local zeros = string.rep("\0", 4096)
    writefile(path, zeros .. good:sub(4097))     -- page A zeroed
    check()
    writefile(path, good:sub(1, 4096) .. zeros .. good:sub(8193))
    check()
  end)

  it("refuses a pool whose two header copies are both damaged", function()
    local path = newpath()
    makepool(path)
    local good = readfile(path)
    for pos = 1, 128, 3 do
      writefile(path, flip(flip(good, pos), 4096 + pos))
      -- (a changed version number may be a newer format)
      expect_refused(path, (pos >= 9 and pos <= 12) and "unsupported pool version"
                           or "damaged pool header")
    end
    writefile(path, string.rep("\0", 8192) .. good:sub(8193))
    local msg = expect_refused(path, "damaged pool header")
    assert.is_nil(msg:find("bad magic", 1, true))
    writefile(path, good)
    assert(memobj.persistent(path)):close()
  end)

  it("refuses damaged data pages; verify = false opens; m:verify reports",
    function()
      local path = newpath()
      local m = assert(memobj.persistent(path, 5 * 4096 + 100))
      local a = m:array("uint8")
      m:transaction(function() for i = 1, #a, 13 do a[i] = i % 251 end end)
      a:release()
      m:close()
      local good = readfile(path)
      for _, off in ipairs({0, 4095, 4096 + 77, 5 * 4096 + 99}) do
        writefile(path, good)
        flipfile(path, good, 8192 + off)
        local msg = expect_refused(path, "damaged pool data")
        local pg = off // 4096
        assert.matches("page " .. pg .. " %(bytes " .. pg * 4096, msg)
        m = assert(memobj.persistent(path, nil, {verify = false}))
        local ok, report = m:verify()
        assert.is_nil(ok)
        assert.matches("page " .. pg .. " ", report)
        m:close()
      end
      -- damage while open: m:verify() sees it through the page cache
      writefile(path, good)
      m = assert(memobj.persistent(path))
      assert.is_true(m:verify())
      flipfile(path, good, 8192 + 2 * 4096 + 5)
      local ok, report = m:verify()
      assert.is_nil(ok)
      assert.matches("1 page: page 2 %(bytes 8192%-12287%)", report)
      m:begin()
      assert.has_error(function() m:verify() end,
        "memobj: verify: a transaction is open")
      m:abort()
      m:close()
      assert.has_error(function() memobj.heap(10):verify() end)
      assert.has_error(function()
        memobj.persistent(path, nil, {verify = 1})
      end)
    end)

  it("opens version-1 pools made by memobj 0.1 (upgrading them)", function()
    for _, case in ipairs({{"clean", 6}, {"recover", 2000}}) do
      local path = newpath()
      writefile(path, readfile("tests/fixtures/pool-v1-" .. case[1] .. ".pool"))
      local m = assert(memobj.persistent(path))
      local a = m:array("int64")
      assert.are.equal(512, m.size)
      assert.are.equal(1000, a[1])
      assert.are.equal(case[2], a[2])
      assert.are.equal(9, a[3])
      assert.are.equal(case[1] == "clean" and 192 or 6400, a[64])
      assert.is_true(m:verify())
      m:transaction(function() a[3] = 33 end)
      a:release()
      m:close()
      local s = readfile(path)
      assert.are.equal(2, string.unpack("<I4", s, 9))  -- now version 2
      m = assert(memobj.persistent(path))
      assert.are.equal(33, m:array("int64")[3])
      m:close()
      local p = io.popen("ls " .. dir)
      local names = p:read("a")
      p:close()
      assert.is_nil(names:find("tmp", 1, true))  -- no temporary left
    end
  end)

  it("refuses resize inside a transaction", function()
    local path = newpath()
    local m = assert(memobj.persistent(path, 4096))
    m:begin()
    m:bytes(1, 8):fill(7)
    assert.has_error(function() m:resize(8192) end)
    m:abort()
    assert.are.equal(4096, m.size)
    m:close()
  end)

  it("refuses a flipped byte in the records of a log that needs recovery",
    function()
      local path = newpath()
      local m = assert(memobj.persistent(path, 4096))
      m:close()
      -- a child commits 5 times and exits without closing: the commits
      -- are only in the log
      local script = dir .. "/commit5.lua"
      writefile(script, ([[
        local memobj = require("memobj")
        local m = assert(memobj.persistent(%q))
        local a = m:array("int64")
        for k = 1, 5 do m:transaction(function() a[k * 40] = k end) end
        os.exit(0, false)
      ]]):format(path))
      local lua = os.getenv("LUA") or "lua5.4"
      assert(os.execute(lua .. " " .. script))
      local good = readfile(path)
      local h = header(good)
      local at, starts = h.logoff, {}
      for _ = 1, 5 do
        starts[#starts + 1] = at
        at = at + 48 + string.unpack("<I8", good, at + 25)
      end
      for r = 1, 4 do  -- damage to a record before the last: refused
        for _, k in ipairs({0, 5, 17, 44, 47, 60, 100}) do
          writefile(path, good)
          flipfile(path, good, starts[r] + k)
          expect_refused(path, "damaged pool log")
        end
      end
      -- the last record torn or damaged: the first four commits
      writefile(path, good)
      flipfile(path, good, starts[5] + 60)
      m = assert(memobj.persistent(path))
      local a = m:array("int64")
      assert.are.same({1, 2, 3, 4, 0}, {a[40], a[80], a[120], a[160], a[200]})
      a:release()
      m:close()
      writefile(path, good)
      m = assert(memobj.persistent(path))
      assert.are.equal(5, m:array("int64")[200])
      m:close()
    end)

  it("refuses truncated files", function()
    local path = newpath()
    makepool(path)
    local good = readfile(path)
    for _, len in ipairs({0, 7, 100, 511, 512, 4096, 8000, #good - 1}) do
      writefile(path, good:sub(1, len))
      expect_refused(path)
    end
  end)
end)

-- Issue 20: findings from an outside attack, each fixed with this test.
describe("pools: links, forks, truncation and a full disk (issue 20)", function()
  local inproc = it
  if (os.getenv("LUA_WRAPPER") or ""):match("valgrind") then
    inproc = function(name) pending(name .. " (not under valgrind)") end
  end

  local function stat(fmt, ...)
    local p = io.popen(("stat -c '%s' %s"):format(fmt, table.concat({...}, " ")))
    local s = p:read("a")
    p:close()
    return s
  end

  it("checksums with a constant software CRC-32C table, also from many threads", function()
    -- tests/c/crc32c_sw.c does not compile while the table is filled lazily
    local build = os.getenv("MEMOBJ_BUILD") or "build"
    local p = assert(io.popen(build .. "/crc32c_sw 2>&1"))
    local out = p:read("a")
    assert.is_true(p:close(), out)
    assert.matches("crc32c: ok", out)
  end)

  it("upgrades a version-1 pool through a symbolic link, keeping the link and the mode", function()
    local real, link = newpath(), newpath()
    writefile(real, readfile("tests/fixtures/pool-v1-clean.pool"))
    assert(os.execute(("chmod 640 %s && ln -s %s %s"):format(real, real:match("[^/]+$"), link)))
    local m = assert(memobj.persistent(link))
    assert.are.equal(1000, m:array("int64")[1])
    m:close()
    assert.are.equal("symbolic link\nregular file 640\n", stat("%F%n", link):gsub(link, "") ..
      stat("%F %a", real))
    assert.are.equal(2, string.unpack("<I4", readfile(real), 9))  -- the real pool is version 2
    m = assert(memobj.persistent(link))
    assert.are.equal(6, m:array("int64")[2])
    m:close()
    -- a new pool through a dangling link is made at the link's target
    local target = newpath()
    assert(os.execute(("ln -s %s %s"):format(target, newpath())))
    m = assert(memobj.persistent(dir .. "/pool" .. n, 4096))
    m:close()
    assert.are.equal("regular file\n", stat("%F", target))
  end)

  it("refuses a pool in a forked child: its commit would be lost", function()
    local ffi = require("memobj.ffi")
    local libc = assert(ffi.load("libc.so.6"))
    local fork = libc:func("fork", "int", {})
    local waitpid = libc:func("waitpid", "int", {"int", "wbuffer", "int"})
    local exit = libc:func("_exit", "void", {"int"})
    local path = newpath()
    local m = assert(memobj.persistent(path, 4096))
    local a = m:array("int64")
    m:transaction(function() a[1] = 1 end)
    local status = memobj.array("int32", 1)
    local pid = fork()
    if pid == 0 then
      -- the child: every use that would write the pool is refused
      local code = 0
      local ok, msg = pcall(m.transaction, m, function() a[2] = 42 end)
      if ok or not msg:find("forked child", 1, true) then code = code | 1 end
      -- sync and resize raise (the kind's errno: EPERM)
      ok, msg = pcall(m.sync, m)
      if ok or not tostring(msg):find("Operation not permitted", 1, true) then code = code | 2 end
      a:release()
      ok, msg = pcall(m.resize, m, 8192)
      if ok or not tostring(msg):find("Operation not permitted", 1, true) then code = code | 4 end
      ok = pcall(m.close, m)  -- closing is allowed, and writes nothing
      if not ok then code = code | 8 end
      exit(code)
    end
    assert.is_true(pid > 0)
    assert.are.equal(pid, waitpid(pid, status, 0))
    local st = status[1]
    assert.are.equal(0, st >> 8 & 0xff)  -- the child's exit code: each step refused
    m:transaction(function() a[3] = 3 end)
    a:release()
    m:close()
    m = assert(memobj.persistent(path))
    a = m:array("int64")
    assert.are.same({1, 0, 3}, {a[1], a[2], a[3]})
    a:release()
    m:close()
  end)

  inproc("verify reports pages lost to a truncation, leaving no fault pending", function()
    local path = newpath()
    local m = assert(memobj.persistent(path, 8 * 4096))
    local a = m:array("int64")
    m:transaction(function() a:fill(5) end)
    assert.is_true(m:sync())
    a:release()
    m:close()
    m = assert(memobj.persistent(path))
    -- another process cuts the file inside the data (two data pages kept)
    assert(os.execute(("truncate -s %d %s"):format(8192 + 2 * 4096, path)))
    local ok, report = m:verify()
    assert.is_nil(ok)
    assert.matches("pages 2%-7 %(bytes 8192%-32767%): access to pages lost by a truncated file", report)
    -- nothing pending: an unrelated call goes through
    assert.are.equal(6, memobj.array("f64", {1, 2, 3}):sum())
    ok, report = m:verify()
    assert.is_nil(ok)
    assert.matches("access to pages lost", report)
    m:close()
  end)

  local can = os.execute("unshare -rm true >/dev/null 2>&1")
  local full = can and inproc or function(name) pending(name .. " (needs unshare -rm)") end
  full("on a full file system says no space left", function()
    local tdir = os.tmpname()
    os.remove(tdir)
    assert(os.execute("mkdir " .. tdir))
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
      local memobj = require("memobj")
      local dir = ...
      local m = assert(memobj.persistent(dir .. "/pool", 64 * 4096))
      m:close()
      -- fill the file system
      local fill = assert(io.open(dir .. "/fill", "wb"))
      local chunk = ("x"):rep(4096)
      while fill:write(chunk) and fill:flush() do end
      fill:close()
      m = assert(memobj.persistent(dir .. "/pool"))
      print("sum", pcall(function() return m:array("int64"):sum() end))
      print("tx", pcall(m.transaction, m, function() m:array("u8"):fill(1) end))
      m:close()
    ]])
    f:close()
    local cmd = ("unshare -rm sh -c 'mount -t tmpfs -o size=160k tmpfs %s && " ..
                 "LUA_CPATH=\"%s\" %s %s %s' 2>&1"):format(tdir, package.cpath,
                 require("mo_procs").lua, script, tdir)
    local h = assert(io.popen(cmd))
    local out = h:read("a")
    h:close()
    os.remove(script)
    os.remove(tdir)
    print(out)
    assert.matches("sum\tfalse\t[^\n]*no space left on the file system", out)
    assert.is_nil(out:find("truncated", 1, true), out)
  end)
end)

-- A resize that fails at any step (an OS error injected through the OS
-- table, tests/c/oshook.c) reports it, and the pool reopens whole: the
-- old size or the new one, with every byte that both hold.
describe("pools: a resize that fails half way", function()
  local build = os.getenv("MEMOBJ_BUILD") or "build"
  local oshook = assert(package.loadlib(build .. "/test/oshook.so", "luaopen_oshook"))()
  after_each(function() oshook.reset() end)

  it("reopens to the old or the new size, the data intact", function()
    local failed, cases = 0, 0
    for _, sizes in ipairs({{4 * 4096 + 10, 40 * 4096 + 3}, {40 * 4096 + 3, 4096 + 1},
                            {3 * 4096, 300 * 4096}}) do
      for _, call in ipairs({"pwrite", "ftruncate", "fdatasync", "fallocate"}) do
        for nth = 1, 10 do
          local path = newpath()
          local m = assert(memobj.persistent(path, sizes[1]))
          local a = m:array("u8")
          m:transaction(function()
            for i = 1, #a, 97 do a[i] = i % 251 end
          end)
          a:release()
          oshook.fail(call, "EIO", nth)
          local ok = m:resize(sizes[2])
          oshook.reset()
          cases = cases + 1
          if not ok then failed = failed + 1 end
          m:close()
          m = assert(memobj.persistent(path))
          assert.is_true(m.size == sizes[1] or m.size == sizes[2],
            ("%s #%d: size %d"):format(call, nth, m.size))
          a = m:array("u8")
          local common = math.min(sizes[1], sizes[2], m.size)
          for i = 1, common, 97 do
            assert.are.equal(i % 251, a[i], ("%s #%d: byte %d"):format(call, nth, i))
          end
          assert.is_true(m:verify())
          a:release()
          m:close()
        end
      end
    end
    assert.is_true(failed > 10 and failed < cases)  -- failures were injected
  end)
end)

describe("a queue or dictionary in a pool", function()
  it("leaves the pool openable whatever its last call (a read after attach)", function()
    local reads = {
      dict = function(s) return s:get("x") end,
      queue = function(s) return s:pop() end,
    }
    for kind, read in pairs(reads) do
      for _, durability in ipairs({"process", "sync"}) do
        local path = newpath()
        local m = assert(memobj.persistent(path, 8192, {durability = durability}))
        local s = assert(m[kind](m))
        assert.is_nil(read(s))
        s:release()
        m:close()
        m = assert(memobj.persistent(path, nil, {durability = durability}))
        assert.is_true(m:verify(), kind)
        s = assert(m[kind](m))
        assert.is_nil(read(s))
        s:release()
        m:close()
      end
    end
  end)
end)

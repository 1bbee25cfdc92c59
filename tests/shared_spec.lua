-- shared_spec.lua: memobj.shared: create, attach by name with the
-- creator's size, modes, permissions, names, unlink, resize, and real
-- child processes that see each other's writes.
local memobj = require("memobj")
local P = require("mo_procs")

local function shm_perm(name)
  local h = io.popen("stat -c %a /dev/shm" .. name)
  local s = h:read("l")
  h:close()
  return s
end

local function exists(name)
  local f = io.open("/dev/shm" .. name)
  if f then f:close() end
  return f ~= nil
end

describe("memobj.shared", function()
  local newname, cleanup = P.shm_tracker()
  after_each(cleanup)

  it("creates an object with its fields, and attaches with the exact size", function()
    local name = newname("fields")
    local m = assert(memobj.shared(name, 1000))
    assert.equal("shared", m.kind)
    assert.equal("kernel", m.persistence)
    assert.equal(name, m.name)
    assert.equal(1000, m.size)
    assert.equal("rw", m.permission)
    local z = m:array("u8")
    assert.equal(0, z:sum())
    z:release()
    local a = assert(memobj.shared(name))
    assert.equal(1000, a.size)  -- not the page-rounded size
    local w, r = m:array("u32"), a:array("u32")
    w[250] = 0xdeadbeef
    assert.equal(0xdeadbeef, r[250])
    w:release()
    r:release()
    a:close()
    m:close()
    -- closing never unlinks
    local again = assert(memobj.shared(name))
    assert.equal(1000, again.size)
    assert.is_true(again:unlink())
  end)

  it("is created with mode 0600 unless perm says otherwise", function()
    local n1, n2 = newname("perm"), newname("perm")
    local m = assert(memobj.shared(n1, 10))
    assert.equal("600", shm_perm(n1))
    local m2 = assert(memobj.shared(n2, 10, {perm = tonumber("640", 8)}))
    assert.equal("640", shm_perm(n2))
    m:unlink()
    m2:unlink()
    assert.error_matches(function() memobj.shared(newname("p"), 1, {perm = 4096}) end,
                         "perm must be")
  end)

  it("creates exclusively by default", function()
    local name = newname("excl")
    local m = assert(memobj.shared(name, 64))
    local x, msg, err = memobj.shared(name, 64)
    assert.is_nil(x)
    assert.equal(name .. ": File exists", msg)
    assert.equal(17, err)
    -- exclusive = false attaches to an object of the same size
    local y = assert(memobj.shared(name, 64, {exclusive = false}))
    assert.equal(64, y.size)
    x, msg, err = memobj.shared(name, 65, {exclusive = false})
    assert.is_nil(x)
    assert.matches("exists with size 64, not 65", msg)
    assert.equal(17, err)
    -- and creates when there is nothing
    local n2 = newname("nonexcl")
    local z = assert(memobj.shared(n2, 8, {exclusive = false}))
    assert.equal(8, z.size)
    m:unlink()
    z:unlink()
  end)

  it("attaches read-only", function()
    local name = newname("ro")
    local m = assert(memobj.shared(name, 16))
    m:array("u8")[1] = 42
    local r = assert(memobj.shared(name, nil, {mode = "r"}))
    assert.equal("r", r.permission)
    local a = r:array("u8")
    assert.equal(42, a[1])
    assert.error_matches(function() a[1] = 1 end, "read%-only")
    a:release()
    assert.error_matches(function() r:protect("rw") end, "protect")
    assert.error_matches(function() r:resize(32) end, "resize")
    assert.equal(16, r.size)
    m:unlink()
  end)

  it("returns nil, message, errno when the name does not exist", function()
    local name = newname("none")
    local m, msg, err = memobj.shared(name)
    assert.is_nil(m)
    assert.equal(name .. ": No such file or directory", msg)
    assert.equal(2, err)
  end)

  it("validates names", function()
    for _, bad in ipairs({"noslash", "/", "/a/b", "/a\0b", "/" .. string.rep("x", 256), "",
                          "/.", "/.."}) do
      assert.error_matches(function() memobj.shared(bad, 10) end,
                           "bad argument #1 to 'shared'")
    end
    assert.error_matches(function() memobj.shared(newname("m"), 10, {mode = "w"}) end,
                         "unknown mode 'w'")
    assert.error_matches(function() memobj.shared(newname("m"), -1) end,
                         "non%-negative")
  end)

  it("unlinks only when asked; mappings survive the unlink", function()
    local name = newname("unlink")
    local m = assert(memobj.shared(name, 100))
    local a = m:array("u8")
    a[100] = 9
    assert.is_true(exists(name))
    assert.is_true(m:unlink())
    assert.is_false(exists(name))
    assert.equal(9, a[100])
    a[1] = 3
    assert.equal(3, a[1])
    local x, msg, err = m:unlink()
    assert.is_nil(x)
    assert.matches("No such file", msg)
    assert.equal(2, err)
    assert.is_nil((memobj.shared(name)))
    assert.error_matches(function() memobj.heap(1):unlink() end,
                         "heap memory has no name to unlink")
  end)

  it("resizes, keeping data, with zeros past the old size", function()
    local name = newname("resize")
    local m = assert(memobj.shared(name, 10))
    m:array("u8"):fill(5)
    collectgarbage()
    m:resize(3)
    m:resize(10000)
    assert.equal(10000, m.size)
    local a = m:array("u8")
    assert.equal(15, a:sum())
    a:release()
    local b = assert(memobj.shared(name))
    assert.equal(10000, b.size)
    m:resize(0)
    assert.equal(0, assert(memobj.shared(name)).size)
    m:unlink()
  end)

  it("with max grows in place under attached views", function()
    local name = newname("max")
    local m = assert(memobj.shared(name, 100, {max = 1 << 20}))
    local ptr = m.pointer
    local v = m:array("i32", 0, 25)
    v[25] = -1
    m:resize(1 << 20)
    assert.equal(ptr, m.pointer)
    assert.equal(-1, v[25])
    assert.equal(1 << 20, assert(memobj.shared(name)).size)
    v:release()
    m:unlink()
  end)

  it("supports zero-length objects", function()
    local name = newname("zero")
    local m = assert(memobj.shared(name, 0))
    assert.equal(0, m.size)
    assert.equal(0, assert(memobj.shared(name)).size)
    m:unlink()
  end)

  it("attaches to an object made by another program with its whole size", function()
    local name = newname("foreign")
    local f = assert(io.open("/dev/shm" .. name, "wb"))
    f:write("hello")
    f:close()
    local m = assert(memobj.shared(name))
    assert.equal(5, m.size)
    assert.equal(string.byte("o"), m:array("u8")[5])
    m:unlink()
  end)

  it("a child sees the creator's writes and the creator sees the child's", function()
    local name = newname("child")
    local m = assert(memobj.shared(name, 4096))
    local a = m:array("i64")
    for i = 1, 256 do a[i] = i * 3 end
    local out, ok = P.run([[
      local name = ...
      local m = assert(memobj.shared(name))
      assert(m.size == 4096, "size " .. m.size)
      local a = m:array("i64")
      local s = 0
      for i = 1, 256 do s = s + a[i] end
      print("sum", s)
      for i = 257, 512 do a[i] = -i end
      a:release()
      m:close()
    ]], {name})
    assert.is_true(ok, out)
    assert.matches("sum\t" .. 3 * 256 * 257 // 2, out)
    local s = 0
    for i = 257, 512 do s = s + a[i] end
    assert.equal(-(257 + 512) * 256 // 2, s)
    assert.is_true(exists(name))  -- the child's exit did not unlink
    a:release()
    m:unlink()
  end)

  it("sync, advise and protect work", function()
    local name = newname("misc")
    local m = assert(memobj.shared(name, 8192))
    assert.is_true(m:sync())
    assert.is_true(m:sync(10, 100))
    for _, h in ipairs({"normal", "sequential", "random", "willneed", "dontneed"}) do
      assert.is_true(m:advise(h))
    end
    m:protect("r")
    assert.error_matches(function() m:array("u8")[1] = 1 end, "read%-only")
    collectgarbage()
    m:protect("rw")
    m:array("u8")[1] = 1
    m:unlink()
  end)
end)

local function shm_size(name)
  local h = io.popen("stat -c %s /dev/shm" .. name)
  local s = h:read("l")
  h:close()
  return tonumber(s)
end

-- Issue 16.2: the object was data plus a hidden trailer page, and an
-- attacher could see a creation in progress.
describe("shared memory sizes", function()
  local newname, cleanup = P.shm_tracker()
  after_each(cleanup)

  it("are exact in /dev/shm, for every program, after create and resize", function()
    local name = newname("exact")
    local m = assert(memobj.shared(name, 100))
    assert.equal(100, shm_size(name))
    m:resize(5000)
    assert.equal(5000, shm_size(name))
    m:resize(1)
    assert.equal(1, shm_size(name))
    m:resize(0)
    assert.equal(0, shm_size(name))
    m:resize(8 * 4096)
    assert.equal(8 * 4096, shm_size(name))
    -- a plain Lua reader sees the bytes at offset 0 and nothing after
    m:bytes():put(1, "hello")
    local data = P.readfile("/dev/shm" .. name)
    assert.equal(8 * 4096, #data)
    assert.equal("hello", data:sub(1, 5))
    m:unlink()
  end)

  local py = os.execute("python3 -c 'import multiprocessing.shared_memory' >/dev/null 2>&1")
  local with_python = py and it or function(n) pending(n .. " (no python3)") end
  with_python("look the same to Python's multiprocessing.shared_memory", function()
    local name = newname("py")
    local m = assert(memobj.shared(name, 12345))
    m:bytes():put(12341, "tail")
    -- (unregistered from Python's resource tracker, which would unlink it)
    local h = io.popen(("python3 -c \"from multiprocessing import shared_memory as s, resource_tracker as r;" ..
      " m = s.SharedMemory(name='%s'); r.unregister(m._name, 'shared_memory');" ..
      " print(m.size, bytes(m.buf[12340:12344]).decode()); m.close()\" 2>&1"):format(name:sub(2)))
    local out = h:read("a")
    h:close()
    assert.equal("12345 tail\n", out)
    m:unlink()
  end)

  it("an attacher never sees a creation in progress (200 creator/attacher races)", function()
    local N = 200
    local base = newname("race")
    local names = {}
    for i = 1, N do names[i] = base .. "_" .. i end
    -- the attachers start first and spin on each name until it appears
    local attach = [[
      local base, n = ...
      local bad, seen = 0, 0
      local deadline = os.time() + 60
      for i = 1, tonumber(n) do
        local name = base .. "_" .. i
        while true do
          local m, msg, err = memobj.shared(name, nil, {mode = "r"})
          if m then
            seen = seen + 1
            if m.size ~= 8 * (1000000 + i) then
              bad = bad + 1
              print("bad size", name, m.size)
            end
            m:close()
            break
          elseif err ~= 2 or not msg:match("No such file") then
            bad = bad + 1
            print("bad error", name, msg, err)
            break
          elseif os.time() > deadline then
            print("timeout", name)
            bad = bad + 1
            break
          end
        end
      end
      print("done", seen, bad)
    ]]
    local create = [[
      local base, n = ...
      for i = 1, tonumber(n) do
        local m = assert(memobj.shared(base .. "_" .. i, 8 * (1000000 + i)))
        m:close()
      end
      print("created")
    ]]
    local attachers = {}
    for k = 1, 4 do attachers[k] = P.spawn(attach, {base, N}) end
    local c = P.spawn(create, {base, N})
    local cout, cok = c.wait()
    local outs = {}
    for k = 1, 4 do
      local o, ok = attachers[k].wait()
      outs[k] = {o, ok}
    end
    for i = 1, N do os.remove("/dev/shm" .. names[i]) end
    assert.is_true(cok, cout)
    for k = 1, 4 do
      assert.is_true(outs[k][2], outs[k][1])
      assert.matches("done\t" .. N .. "\t0\n", outs[k][1])
    end
  end)

  it("creating leaves no temporary name behind, also when the name exists", function()
    local function listing()
      local h = io.popen("ls -a /dev/shm")
      local t = {}
      for l in h:lines() do t[l] = true end
      h:close()
      return t
    end
    local before = listing()
    local name = newname("tmp")
    local m = assert(memobj.shared(name, 64))
    assert.is_nil((memobj.shared(name, 64)))
    assert.is_nil((memobj.shared(name, 65, {exclusive = false})))
    local after = listing()
    for f in pairs(after) do
      assert.is_true(before[f] or "/" .. f == name, "left behind: " .. f)
    end
    m:unlink()
  end)
end)

-- Issue 16.6: a:wait retried the futex after EINTR, so Ctrl-C left the
-- script asleep.
describe("a:wait and a signal", function()
  local function alive(pid)  -- running or asleep, not exited (a zombie)
    local f = io.open("/proc/" .. pid .. "/stat")
    local s = f and f:read("l")
    if f then f:close() end
    return s ~= nil and s:match("^%d+ %(.-%) (%a)") ~= "Z"
  end

  for _, timeout in ipairs({"", ", 60"}) do
    it("ends on SIGINT so lua.c raises 'interrupted!'" ..
       (timeout == "" and " (no timeout)" or " (with a timeout)"), function()
      local child = P.spawn(([[
        local a = memobj.array("i32", 1)
        print(io.open("/proc/self/stat"):read("l"):match("^%%d+"))
        io.stdout:flush()
        a:wait(1, 0%s)
        print("woke without an error")
      ]]):format(timeout))
      local pid = assert(tonumber(child.line()))
      -- let it reach the futex, then interrupt it as Ctrl-C would
      os.execute("sleep 0.3")
      assert(os.execute("kill -INT " .. pid))
      local gone = false
      for _ = 1, 50 do
        if not alive(pid) then gone = true break end
        os.execute("sleep 0.1")
      end
      if not gone then os.execute("kill -KILL " .. pid) end
      local out, ok = child.wait()
      assert.is_true(gone, "still asleep 5 s after SIGINT")
      assert.is_falsy(ok)
      assert.matches("interrupted!", out)
      assert.is_nil(out:match("woke without an error"))
    end)
  end
end)

-- Failures of the OS, injected through the OS layer's table (tests/c/oshook.c).
describe("shared memory when the OS fails", function()
  local oshook = assert(package.loadlib((os.getenv("MEMOBJ_BUILD") or "build") ..
                                        "/test/oshook.so", "luaopen_oshook"))()
  local newname, cleanup = P.shm_tracker()
  after_each(function()
    oshook.reset()
    cleanup()
  end)

  it("a failing size leaves no name and returns nil, message, errno", function()
    local name = newname("enospc")
    oshook.fail("ftruncate", "ENOSPC")
    local m, msg, err = memobj.shared(name, 1 << 20)
    assert.is_nil(m)
    assert.equal(name .. ": No space left on device", msg)
    assert.equal(28, err)
    assert.is_false(exists(name))
    m = assert(memobj.shared(name, 1 << 20))  -- the OS again
    assert.equal(1 << 20, shm_size(name))
    m:unlink()
  end)

  it("a failing map leaves no name", function()
    local name = newname("nomap")
    oshook.fail("mmap", "ENOMEM")
    local m, msg, err = memobj.shared(name, 100)
    assert.is_nil(m)
    assert.equal(name .. ": Cannot allocate memory", msg)
    assert.equal(12, err)
    assert.is_false(exists(name))
  end)

  it("a failing resize changes neither the size nor the segment", function()
    local name = newname("noresize")
    local m = assert(memobj.shared(name, 100))
    m:bytes():put(1, "keep")
    oshook.fail("ftruncate", "EFBIG")
    assert.same({nil, "resize: File too large", 27}, {m:resize(1 << 20)})
    assert.equal(100, m.size)
    assert.equal(100, shm_size(name))
    assert.equal("keep", m:bytes():string(1, 4))
    m:unlink()
  end)
end)

-- doc/interop.md's claims about Python's multiprocessing.shared_memory,
-- checked with Debian's python3: its names have no "/", and its resource
-- tracker unlinks at exit a segment it only attached, unless unregistered.
describe("memobj.shared with Python's multiprocessing.shared_memory", function()
  local newname, cleanup = P.shm_tracker()
  after_each(cleanup)
  local PY = "/usr/bin/python3"

  local function python(name, unregister)
    local code = ([[
from multiprocessing import shared_memory, resource_tracker
shm = shared_memory.SharedMemory(name=%q, create=False)
%s
print(bytes(shm.buf[:8]).decode())
shm.buf[:6] = b"python"
shm.close()
]]):format(name:sub(2), unregister
      and 'resource_tracker.unregister(shm._name, "shared_memory")' or "")
    local p = assert(io.popen(PY .. " -c '" .. code .. "' 2>/dev/null"))
    local out = p:read("a")
    assert(p:close(), "python failed")
    return out
  end

  it("the name without its '/'; the tracker unlinks it unless unregistered", function()
    local name = newname("py")
    local m = assert(memobj.shared(name, 4096))
    m:bytes():put(1, "from lua")
    assert.equal("from lua\n", python(name, true))
    assert.equal("pythonua", m:bytes():string(1, 8))
    assert.is_true(exists(name))         -- unregistered: still there
    assert.equal("pythonua\n", python(name, false))
    assert.is_false(exists(name))        -- Python's tracker unlinked it
    assert.equal("pythonua", m:bytes():string(1, 8))  -- our mapping stays
  end)
end)

-- mo_procs.lua: helpers for specs that start real lua5.4 child processes
-- and use real files and shared memory (not a spec itself).
local M = {}

M.lua = os.getenv("LUA") or "lua5.4"
-- The build directory holding memobj.so (absolute when run by tests/run.sh).
M.build = os.getenv("MEMOBJ_BUILD") or "build"

local function pid()
  local f = io.open("/proc/self/stat")
  local s = f and f:read("l") or ""
  if f then f:close() end
  return s:match("^(%d+)") or tostring(os.time())
end

local counter = 0
-- A shared memory name unique to this run ("/mo_test_<pid>_<n>").
function M.shmname(tag)
  counter = counter + 1
  return string.format("/mo_test_%s_%s_%d", pid(), tag or "x", counter)
end

-- Names for a describe block's shared memory: newname(tag) makes one,
-- cleanup() (for after_each) unlinks every name made so far.
function M.shm_tracker()
  local names = {}
  local function newname(tag)
    local n = M.shmname(tag)
    names[#names + 1] = n
    return n
  end
  local function cleanup()
    collectgarbage()
    for _, n in ipairs(names) do os.remove("/dev/shm" .. n) end
    names = {}
  end
  return newname, cleanup
end

-- A fresh temporary path (the file exists, empty).
function M.tmpfile(content)
  local p = os.tmpname()
  if content then
    local f = assert(io.open(p, "wb"))
    f:write(content)
    f:close()
  end
  return p
end

-- Map a file of `content` read-write, call setup(m) if given, truncate
-- the file to `keep` bytes under the mapping (the pages beyond are lost:
-- touching them is a SIGBUS that memobj turns into an error), and call
-- fn(m, what setup returned); then close m and remove the file. Returns
-- pcall's results of fn (or of setup, if it raised).
function M.lost_pages(content, keep, fn, setup)
  local memobj = require("memobj")
  local p = M.tmpfile(content)
  local m = assert(memobj.map(p, {mode = "rw"}))
  local res = table.pack(pcall(function()
    local prepared = setup and setup(m)
    assert(os.execute(("truncate -s %d '%s'"):format(keep, p)))
    return fn(m, prepared)
  end))
  pcall(m.close, m)
  os.remove(p)
  return table.unpack(res, 1, res.n)
end

-- Under valgrind a SIGBUS is fatal: the tests that cause one are pending.
function M.sigbus_ok()
  return not (os.getenv("LUA_WRAPPER") or ""):match("valgrind")
end

function M.readfile(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.filesize(p)
  local f = assert(io.open(p, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

local function script(code)
  local p = os.tmpname()
  local f = assert(io.open(p, "w"))
  f:write('local memobj = require("memobj")\n', code)
  f:close()
  return p
end

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function cmdline(path, args)
  local t = {M.lua, path}
  for _, a in ipairs(args or {}) do t[#t + 1] = quote(a) end
  return table.concat(t, " ") .. " 2>&1"
end

-- Start a child running `code` (memobj is required for it) with string
-- arguments in `arg`; returns a handle whose :wait() gives output, ok.
function M.spawn(code, args)
  local path = script(code)
  local h = assert(io.popen(cmdline(path, args), "r"))
  return {
    pipe = h,
    line = function() return h:read("l") end,
    wait = function()
      local out = h:read("a")
      local ok, how, status = h:close()
      os.remove(path)
      return out, ok, how, status
    end,
  }
end

-- Run a child to completion: output, ok (exit status 0).
function M.run(code, args)
  return M.spawn(code, args).wait()
end

return M

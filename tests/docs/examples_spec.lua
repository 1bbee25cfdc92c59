-- examples_spec.lua: every script in examples/ runs to the end as a user
-- would run it, and leaves no file in /tmp and no name in /dev/shm behind
-- (tests/run.sh checks the whole suite for leftovers too; this names the
-- example that left one).
local procs = require("mo_procs")

-- Arguments that keep the longer examples short.
local ARGS = {
  ["map_typed_array.lua"] = "'' 20000",
  ["shared_ring.lua"] = "500",
  ["compress_mapped.lua"] = "65536",
  ["compress_buffer.lua"] = "65536",
}

local function listing()
  local seen = {}
  for _, dir in ipairs({"/tmp", "/dev/shm"}) do
    local p = io.popen("ls -A " .. dir .. " 2>/dev/null")
    for name in p:lines() do seen[dir .. "/" .. name] = true end
    p:close()
  end
  return seen
end

local function examples()
  local list = {}
  local p = io.popen("ls examples/*.lua")
  for path in p:lines() do
    local name = path:match("[^/]+$")
    -- the MPI examples run under mpirun, in mpi_spec.lua
    if not name:match("^mpi_") then list[#list + 1] = name end
  end
  p:close()
  return list
end

describe("examples", function()
  for _, name in ipairs(examples()) do
    it(name .. " runs and leaves nothing behind", function()
      local before = listing()
      local cmd = ("cd examples && LUA_CPATH='%s/?.so;;' %s %s %s 2>&1"):format(
        procs.build, procs.lua, name, ARGS[name] or "")
      local p = io.popen(cmd)
      local out = p:read("a")
      local ok = p:close()
      assert(ok, name .. " failed:\n" .. out)
      local left = {}
      for path in pairs(listing()) do
        if not before[path] then left[#left + 1] = path end
      end
      table.sort(left)
      assert.same({}, left)
    end)
  end
end)

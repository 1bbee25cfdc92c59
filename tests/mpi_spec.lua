-- mpi_spec.lua: memobj.mpi (build/memobj/mpi.so) under a real mpirun with
-- 4 ranks on this machine. Each script of tests/mpi/ (and the MPI
-- examples) runs once; every check it makes becomes one test here that
-- passes only if all 4 ranks report it ok, plus one test that the job
-- ended cleanly (exit status 0, every rank done). tests/run.sh runs this
-- spec in the first suite only: the ranks are child processes, whose
-- allocator the arena run does not change.
local procs = require("mo_procs")

local NP = 4

local function is_root()
  local p = io.popen("id -u")
  local uid = p:read("l")
  p:close()
  return uid == "0"
end

-- The mpirun command for a Lua script: oversubscribed (the machine may
-- have fewer cores than ranks), shared memory and self transports only.
local function mpirun(script, args, dir)
  return ("%stimeout 300 mpirun %s-np %d --oversubscribe --mca btl self,vader "
    .. "-x LUA_PATH -x LUA_CPATH %s %s %s 2>&1"):format(
    dir and ("cd " .. dir .. " && ") or "", is_root() and "--allow-run-as-root " or "",
    NP, procs.lua, script, args or "")
end

local function run(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

local built = io.open(procs.build .. "/memobj/mpi.so") ~= nil

-- One describe per script: the checks it reported, in order, with the
-- ranks that said ok and what the others said.
local function scenario(title, script)
  describe(title, function()
    if not built then
      it("needs build/memobj/mpi.so (Open MPI's headers: make deps)", function()
        assert(false, "memobj.mpi was not built")
      end)
      return
    end
    local ok, out = run(mpirun(script))
    local names, oks, fails, done = {}, {}, {}, 0
    for rank, verdict, rest in out:gmatch("MPI (%d+) (%a+) ?([^\n]*)") do
      if verdict == "done" then done = done + 1
      else
        local name, why = rest:match("^(.-): (.*)$")
        if verdict == "ok" then name = rest end
        if not oks[name] then names[#names + 1] = name; oks[name] = 0; fails[name] = {} end
        if verdict == "ok" then oks[name] = oks[name] + 1
        else fails[name][#fails[name] + 1] = "rank " .. rank .. ": " .. (why or "") end
      end
    end
    for _, name in ipairs(names) do
      it(name, function()
        assert(oks[name] == NP, table.concat(fails[name], "\n"))
      end)
    end
    it("ends cleanly on every rank", function()
      assert(ok and done == NP, "mpirun failed:\n" .. out)
    end)
  end)
end

scenario("mpi: point to point", "tests/mpi/p2p.lua")
scenario("mpi: collectives", "tests/mpi/coll.lua")
scenario("mpi: windows", "tests/mpi/window.lua")
scenario("mpi: os.exit with a window open", "tests/mpi/exit.lua")

-- The MPI examples (examples_spec.lua leaves them to this spec): they run
-- under mpirun from examples/, check their own answer, and leave nothing
-- in /tmp or /dev/shm.
local function listing()
  local seen = {}
  for _, dir in ipairs({"/tmp", "/dev/shm"}) do
    local p = io.popen("ls -A " .. dir .. " 2>/dev/null")
    for name in p:lines() do seen[dir .. "/" .. name] = true end
    p:close()
  end
  return seen
end

describe("mpi: examples", function()
  local EXAMPLES = {
    {"mpi_sum.lua", "200000", "sum ok"},
    {"mpi_halo.lua", "100 20", "heat conserved"},
  }
  for _, e in ipairs(EXAMPLES) do
    it(e[1] .. " gives its answer under mpirun and leaves nothing behind", function()
      assert(built, "memobj.mpi was not built")
      local before = listing()
      local ok, out = run(mpirun(e[1], e[2], "examples"))
      assert(ok, out)
      assert(out:find(e[3], 1, true), out)
      local left = {}
      for path in pairs(listing()) do
        if not before[path] then left[#left + 1] = path end
      end
      table.sort(left)
      assert.same({}, left)
    end)
  end
end)

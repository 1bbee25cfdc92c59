-- mpi_harness.lua: checks for the scripts of tests/mpi/, which run under
-- mpirun (tests/mpi_spec.lua starts them). Every rank prints one line per
-- check, "MPI <rank> ok <name>" or "MPI <rank> fail <name>: <why>", and
-- "MPI <rank> done" at the end; the spec turns each name into one test
-- that passes only if every rank said ok.
local mpi = require("memobj.mpi")
local H = {mpi = mpi}

local function say(s)
  io.stdout:write(("MPI %d %s\n"):format(mpi.rank, s))
  io.stdout:flush()
end

-- Run fn as the check `name`. Checks that call collectives must be
-- called by every rank, in the same order.
function H.check(name, fn)
  local ok, err = pcall(fn)
  if ok then say("ok " .. name)
  else say("fail " .. name .. ": " .. tostring(err):gsub("\n", " | ")) end
end

function H.eq(got, want, what)
  if got ~= want then
    error(("%s: expected %s, got %s"):format(what or "value", tostring(want),
      tostring(got)), 2)
  end
end

-- fn must raise an error whose message contains `text`.
function H.raises(fn, text)
  local ok, err = pcall(fn)
  if ok then error("expected an error containing '" .. text .. "'", 2) end
  if not tostring(err):find(text, 1, true) then
    error("error '" .. tostring(err) .. "' lacks '" .. text .. "'", 2)
  end
  return err
end

function H.done()
  mpi.barrier()
  say("done")
end

return H

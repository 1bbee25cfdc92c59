-- mapped_examples_spec.lua: the mapped-file and shared-memory examples
-- run to completion (smoke tests; run from the repository root).
local P = require("mo_procs")

local function run(cmd)
  local h = assert(io.popen(P.lua .. " " .. cmd .. " 2>&1"))
  local out = h:read("a")
  return out, h:close()
end

describe("examples", function()
  it("map_typed_array.lua computes statistics over a mapped file", function()
    local out, ok = run("examples/map_typed_array.lua '' 20000")
    assert.is_true(ok, out)
    assert.matches("sample: 20000 values %(160000 bytes mapped%)", out)
    assert.matches("min %-99%.9%d+  max 99%.9%d+", out)
  end)

  it("shared_ring.lua passes messages between two processes", function()
    local out, ok = run("examples/shared_ring.lua 500")
    assert.is_true(ok, out)
    assert.matches("consumer got: message 1 of 500\n", out)
    assert.matches("consumer: 500 messages", out)
    local name = out:match("sent through (%S+)")
    assert.is_string(name)
    local f = io.open("/dev/shm" .. name)
    assert.is_nil(f)  -- the example unlinks its name
  end)
end)

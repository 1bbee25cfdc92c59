-- Runs the differential fuzzer of typed arrays (tests/fuzz/arrays.lua) for
-- a few seeds: every random operation must agree with the Lua table model
-- built on string.pack. `make fuzz` runs it much longer.
local P = require("mo_procs")

describe("typed arrays against the string.pack model (fuzzer)", function()
  for _, seed in ipairs({101, 202, 303, 404}) do
    it("agree over 4000 random operations, seed " .. seed, function()
      local p = io.popen(("%s tests/fuzz/arrays.lua %d 4000 2>&1"):format(P.lua, seed))
      local out = p:read("a")
      local ok = p:close()
      assert.is_true(ok, out)
      assert.matches("seed " .. seed .. ", 4000 steps: ok", out)
    end)
  end
end)

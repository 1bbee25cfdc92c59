-- Runs the finalizer-chaos fuzzer (tests/fuzz/chaos.lua) for a short,
-- seeded run in child processes (make chaos runs it longer under ASan).
describe("finalizer-chaos fuzzer", function()
  for _, seed in ipairs({101, 202}) do
    it("keeps its invariants for 1500 steps, seed " .. seed, function()
      local lua = os.getenv("LUA") or "lua5.4"
      local p = io.popen(("%s tests/fuzz/chaos.lua %d 1500 2>&1"):format(lua, seed))
      local out = p:read("a")
      local ok, how, code = p:close()
      assert.is_true(ok, ("seed %d ended by %s %s:\n%s"):format(seed, how, code, out))
      assert.matches("chaos: seed " .. seed .. ", 1500 steps: ok", out)
      -- the run did what it is for: chaos actions ran, pools were checked
      local actions = tonumber(out:match("(%d+) chaos actions"))
      assert.is_true(actions > 100, out)
    end)
  end
end)

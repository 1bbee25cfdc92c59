-- Runs the random-operation fuzzer (tests/fuzz/ops.lua) in child
-- processes: whatever the sequence of calls, the process must not crash.
describe("random-operation fuzzer", function()
  for _, seed in ipairs({11, 22, 33}) do
    it("survives 5000 random calls, seed " .. seed, function()
      local p = io.popen(("lua5.4 tests/fuzz/ops.lua %d 5000 2>&1"):format(seed))
      local out = p:read("a")
      local ok, how, code = p:close()
      assert.is_true(ok, ("seed %d ended by %s %s:\n%s"):format(seed, how, code, out))
      assert.matches("seed " .. seed .. ", 5000 steps: ok", out)
    end)
  end
end)

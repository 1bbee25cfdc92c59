-- Short seeded runs of the differential fuzzers (make fuzz runs them
-- longer under ASan): byte views against Lua strings and the string
-- library, file views against io on a real temporary file.
local function run(script, seed, steps)
  local lua = os.getenv("LUA") or "lua5.4"
  local p = io.popen(("%s tests/fuzz/%s %d %d 2>&1"):format(lua, script, seed, steps))
  local out = p:read("a")
  local ok, how, code = p:close()
  assert.is_true(ok, ("%s seed %d ended by %s %s:\n%s"):format(script, seed, how, code, out))
  assert.matches(("seed %d, %d steps: ok"):format(seed, steps), out)
end

describe("differential fuzzers", function()
  for _, seed in ipairs({7, 8}) do
    it("byte views agree with the string library, seed " .. seed, function()
      run("bytesdiff.lua", seed, 3000)
    end)
    it("file views agree with io on a temporary file, seed " .. seed, function()
      run("filediff.lua", seed, 150)
    end)
  end
end)

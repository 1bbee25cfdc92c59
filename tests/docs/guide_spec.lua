-- Every ```lua block of doc/guide.md runs, each in its own lua5.4 process
-- and empty directory, so the guide cannot drift from the code.
local function blocks(path)
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  local found = {}
  for code in text:gmatch("```lua\n(.-)```") do found[#found + 1] = code end
  return found
end

describe("doc/guide.md", function()
  local list = blocks("doc/guide.md")

  it("has code blocks", function()
    assert.is_true(#list >= 8)
  end)

  for i, code in ipairs(list) do
    it("block " .. i .. " runs", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir " .. dir))
      local script = dir .. "/block.lua"
      local f = assert(io.open(script, "w"))
      f:write(code)
      f:close()
      local p = io.popen(("cd %s && lua5.4 block.lua 2>&1"):format(dir))
      local out = p:read("a")
      local ok = p:close()
      os.execute("rm -rf " .. dir)
      assert.is_true(ok, "block " .. i .. " failed:\n" .. code .. "\n" .. out)
    end)
  end
end)

-- The memobj.ffi examples run as they would for a user (smoke tests).
local LUA = os.getenv("LUA") or "lua5.4"

-- Run a script in a child lua5.4 (LUA_CPATH is inherited); return its
-- output and whether it exited with success.
local function run(script, args)
  local p = assert(io.popen(LUA .. " " .. script .. " " .. (args or "") .. " 2>&1"))
  local out = p:read("a")
  return out, p:close()
end

describe("memobj.ffi examples", function()
  it("ffi_qsort.lua sorts with a Lua comparator", function()
    local out, ok = run("examples/ffi_qsort.lua")
    assert.is_true(ok, out)
    assert.matches("sorted: yes", out)
    local after = out:match("after:%s*([^\n]*)")
    local prev = math.huge
    for v in after:gmatch("%-?%d+") do
      assert.is_true(tonumber(v) <= prev)
      prev = tonumber(v)
    end
  end)

  it("compress_mapped.lua round-trips mapped files through zlib", function()
    if not require("memobj").map then
      pending("memobj.map is not on this branch")
      return
    end
    local out, ok = run("examples/compress_mapped.lua", "65536")
    assert.is_true(ok, out)
    assert.matches("compressed %S+: 65536 bytes to %d+", out)
    assert.matches("uncompressed %S+: 65536 bytes, identical to the input", out)
  end)

  it("compress_buffer.lua round-trips through zlib", function()
    local out, ok = run("examples/compress_buffer.lua", "65536")
    assert.is_true(ok, out)
    assert.matches("compressed 65536 bytes to %d+", out)
    assert.matches("uncompressed 65536 bytes: identical", out)
  end)
end)

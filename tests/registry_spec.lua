-- The runtime's registries have no fixed size (tests/c/registry.c:
-- 40 kinds, all durable, and 40 view tags, where stats once had 16 slots,
-- transactions 4 durable kinds and view.c a closed list of 3 tags).
local build = os.getenv("MEMOBJ_BUILD") or "build"

describe("registries", function()
  it("take any number of kinds, durable kinds and view tags", function()
    local h = assert(io.popen(build .. "/test/registry 2>&1"))
    local out = h:read("a")
    local ok = h:close()
    assert.is_true(ok, out)
    assert.matches("ok: 40 kinds %(40 durable%), 40 view tags", out)
  end)

  it("list every kind of the library in stats() from the start", function()
    local memobj = require("memobj")
    local s = memobj.stats()
    for _, k in ipairs({"heap", "string", "foreign", "mapped", "shared",
                        "persistent", "memfd"}) do
      assert.is_table(s[k], k)
    end
  end)
end)

-- Two Lua states in two POSIX threads use memobj at the same time
-- (tests/c/threads.c): heap, mapped files, views, transactions, the
-- debug heap switched on in one state only, and a truncated mapping in one
-- thread only. Nothing may cross over.
local build = os.getenv("MEMOBJ_BUILD") or "build"

describe("two Lua states in two threads", function()
  it("keep their switches, faults and data apart", function()
    local h = assert(io.popen(build .. "/test/threads " .. build .. " 400 2>&1"))
    local out = h:read("a")
    local ok = h:close()
    assert.is_true(ok, out)
    assert.matches("A ok: 400 iterations, 400 faults", out)
    assert.matches("B ok: 400 iterations, 0 faults", out)
  end)
end)

-- Crash safety of persistent pools:
-- 1. children doing money transfers are killed with SIGKILL at random
--    instants; after each kill the sum is intact and every acknowledged
--    commit is present (MEMOBJ_CRASH_KILLS kills, default 200);
-- 2. byte flips in a pool that needs recovery: refused untouched, or
--    intact;
-- 3. simulated power loss (tests/crash/powerloss.c, built by make): every
--    crash state of recorded workloads, including every step of commit,
--    checkpoint, log growth, resize and recovery, opens to a committed
--    state no older than the last acknowledged one; every crash state of
--    pool creation and of the version-1 upgrade (files, names, directory
--    syncs) gives no pool / the old pool, or the whole new one
--    (MEMOBJ_POWERLOSS_STATES, default 3000; make crashtest runs 100,000).
local memobj = require("memobj")

local LUA = os.getenv("LUA") or "lua5.4"
local HERE = "tests/crash/"
-- (fewer under valgrind, `make check`: there it looks for memory errors)
local KILLS = tonumber(os.getenv("MEMOBJ_CRASH_KILLS") or
  (os.getenv("LUA_WRAPPER") and "40" or "200"))
local ACCOUNTS, START = 1000, 1000

local dir = os.tmpname()
os.remove(dir)
teardown(function() os.execute("rm -rf " .. dir) end)
assert(os.execute("mkdir -p " .. dir))

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  return ok, how, code
end

local function newpool(name, durability)
  local path = dir .. "/" .. name
  os.remove(path)
  local m = assert(memobj.persistent(path, 8 * (ACCOUNTS + 1),
    {durability = durability}))
  local a = m:array("int64")
  m:transaction(function()
    a[1] = 0
    for i = 2, #a do a[i] = START end
  end)
  a:release()
  m:close()
  return path
end

local function lastack(path)
  local f = io.open(path, "r")
  if not f then return 0 end
  local last = 0
  for line in f:lines() do
    local v = tonumber(line)
    if v then last = v end  -- a torn last line cannot happen (one write)
  end
  f:close()
  return last
end

describe("SIGKILL at random instants", function()
  it(("keeps the sum and every acknowledged commit over %d kills")
    :format(KILLS), function()
    local path = newpool("kill", "process")
    local ack = dir .. "/acks"
    os.remove(ack)
    math.randomseed(12345)
    local verified, progress = 0, 0
    for k = 1, KILLS do
      local durability = k % 10 == 0 and "sync" or "process"
      local delay = math.random() * 0.04
      sh(string.format("%s %stransfer.lua %s %s 100000000 %s %d & pid=$!; " ..
        "sleep %.4f; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null",
        LUA, HERE, path, ack, durability, k, delay))
      -- every other time the next child recovers instead of the parent
      if k % 2 == 0 or k == KILLS then
        local m, msg = memobj.persistent(path)
        assert(m, msg)
        local a = m:array("int64")
        local sum = a:sum() - a[1]
        assert.are.equal(ACCOUNTS * START, sum)
        local acked = lastack(ack)
        assert.is_true(a[1] >= acked,
          ("commit %d acknowledged but pool has %d"):format(acked, a[1]))
        progress = a[1]
        os.remove(ack)  -- later acks are all above what was checked
        a:release()
        m:close()
        verified = verified + 1
      end
    end
    assert.is_true(verified >= KILLS // 2)
    assert.is_true(progress > 0)  -- the children did commit work
  end)
end)

describe("damage to a pool that needs recovery", function()
  it("random byte flips in header and log: refused untouched, or intact",
    function()
      local path = newpool("fuzz", "process")
      -- 50 commits only in the log: the child exits without closing
      local _, _, code = sh(string.format(
        "%s %stransfer.lua %s %s/fuzzacks 50 process 1 exit", LUA, HERE,
        path, dir))
      assert.are.equal(0, code)
      local f = assert(io.open(path, "rb"))
      local residue = f:read("a")
      f:close()
      local logoff = string.unpack("<I8", residue, 33)
      local used = 50 * 1000  -- generous: the records are ~700 bytes
      math.randomseed(99)
      local refused, opened = 0, 0
      for _ = 1, 300 do
        local s = residue
        for _ = 1, math.random(1, 3) do
          local pos = math.random() < 0.2 and math.random(1, 128)
                      or logoff + math.random(1, used)
          s = s:sub(1, pos - 1) .. string.char(s:byte(pos) ~ math.random(1, 255))
              .. s:sub(pos + 1)
        end
        f = assert(io.open(path, "wb"))
        f:write(s)
        f:close()
        local m = memobj.persistent(path)
        if m then
          local a = m:array("int64")
          assert.are.equal(ACCOUNTS * START, a:sum() - a[1])
          assert.is_true(a[1] <= 50)
          a:release()
          m:close()
          opened = opened + 1
        else
          f = assert(io.open(path, "rb"))
          assert.are.equal(s, f:read("a"))  -- untouched
          f:close()
          refused = refused + 1
        end
      end
      assert.is_true(refused > 0 and opened > 0)
    end)
end)

describe("simulated power loss", function()
  local states = tonumber(os.getenv("MEMOBJ_POWERLOSS_STATES") or "3000")
  local bin = (os.getenv("MEMOBJ_BUILD") or "build") .. "/powerloss"
  it(("every crash state of %d opens to an acknowledged state")
    :format(states), function()
    if states == 0 then return end  -- make crashtest runs it itself
    local p = assert(io.popen(("%s %s %d 2>&1"):format(bin, dir, states)))
    local out = p:read("a")
    p:close()
    local n, wrong = out:match("powerloss: (%d+) states, (%d+) wrong")
    assert(n, out)
    io.stderr:write(out:match("powerloss: %d+ states[^\n]*"), "\n")
    assert.is_true(tonumber(n) >= states)
    assert.are.equal("0", wrong, out)
    -- creation and the version-1 upgrade are crashed too (issue 20.4)
    local made, upgraded = out:match("(%d+) of pool creation, (%d+) of version%-1 upgrades")
    assert.is_true(tonumber(made) > 100, out)
    assert.is_true(tonumber(upgraded) > 100, out)
  end)
end)

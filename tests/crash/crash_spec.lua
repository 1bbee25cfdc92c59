-- Crash safety of persistent pools, with real processes:
-- 1. children doing money transfers are killed with SIGKILL at random
--    instants; after each kill the sum is intact and every acknowledged
--    commit is present (MEMOBJ_CRASH_KILLS kills, default 200);
-- 2. injected crash points: the child _exits at step k of commit, of
--    log growth, of resize and of recovery; every state recovers.
local memobj = require("memobj")

local LUA = os.getenv("LUA") or "lua5.4"
local HERE = "tests/crash/"
-- (fewer under valgrind, `make check`: there it looks for memory errors)
local KILLS = tonumber(os.getenv("MEMOBJ_CRASH_KILLS") or
  (os.getenv("LUA_WRAPPER") and "40" or "200"))
local ACCOUNTS, START = 1000, 1000

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  return ok, how, code
end

-- Run inject.lua with MEMOBJ_CRASH_AT=crashat; returns its exit code.
local function inject(path, action, durability, crashat, extra)
  local _, _, code = sh(string.format(
    "MEMOBJ_CRASH_AT=%s %s %sinject.lua %s %s %s %s",
    crashat or "none", LUA, HERE, path, action, durability, extra or ""))
  return code
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

local function contents(path)
  local m = assert(memobj.persistent(path))
  local t = m:array("int64"):totable()
  collectgarbage()
  m:close()
  return t
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
      -- 49 commits in the log, the 50th stopped at its commit point
      local _, _, code = sh(string.format(
        "MEMOBJ_CRASH_AT=commit:3:50 %s %stransfer.lua %s %s/fuzzacks " ..
        "1000 process 1", LUA, HERE, path, dir))
      assert.are.equal(77, code)
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
          local pos = math.random() < 0.2 and math.random(1, 64)
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

describe("injected crash points", function()
  local base = {}
  for i = 1, ACCOUNTS + 1 do base[i] = START end
  base[1] = 0
  local after = {}
  for i = 1, #base do after[i] = base[i] end
  after[2], after[3], after[1], after[#after] = START - 10, START + 10, 1, 1

  local function same(expect, got)
    assert.are.equal(#expect, #got)
    for i = 1, #expect do
      if expect[i] ~= got[i] then
        error(("element %d: expected %d, got %d"):format(i, expect[i], got[i]))
      end
    end
  end

  for _, durability in ipairs({"process", "sync"}) do
    it("commit, every step (" .. durability .. ")", function()
      for step = 1, 3 do
        for nth = 1, 2 do  -- the first commit, and one after another
          local path = newpool("commit", durability)
          local exp = base
          if nth == 2 then
            assert.are.equal(0, inject(path, "transfer", durability))
            exp = after
          end
          assert.are.equal(77, inject(path, "transfer", durability,
            ("commit:%d"):format(step)))
          -- a torn record (step 1) is not a commit; from step 2 the whole
          -- record is in the file, and recovery redoes it
          local want = exp
          if step >= 2 then
            want = {}
            for i = 1, #exp do want[i] = exp[i] end
            want[2], want[3] = want[2] - 10, want[3] + 10
            want[1] = want[1] + 1
            want[#want] = want[1]
          end
          same(want, contents(path))
        end
      end
    end)

    it("checkpoint, every step (" .. durability .. ")", function()
      for step = 1, 3 do
        local path = newpool("ckpt", durability)
        -- close checkpoints: crash in it, after the commit
        assert.are.equal(77, inject(path, "transfer", durability,
          ("ckpt:%d"):format(step)))
        same(after, contents(path))
      end
    end)

    it("checkpoint inside a commit keeps that commit out (" ..
      durability .. ")", function()
      for step = 1, 3 do
        local path = newpool("full", durability)
        local ack = dir .. "/many-acks"
        assert.are.equal(77, inject(path, "many", durability,
          ("ckpt:%d"):format(step), ack))
        local t = contents(path)
        -- exactly the acknowledged commits: the one that checkpointed
        -- was not committed, and nothing of it is in the file
        local acked = lastack(ack)
        assert.is_true(acked > 100)
        assert.are.equal(acked, t[2])
        assert.are.equal(acked, t[3])
      end
    end)

    it("recovery, every step, and again after a crash in it (" ..
      durability .. ")", function()
      for _, residue in ipairs({"commit:3", "ckpt:1"}) do
        for step = 1, 4 do
          local path = newpool("recover", durability)
          -- leave a commit that is only in the log, or half applied
          assert.are.equal(77, inject(path, "transfer", durability, residue))
          assert.are.equal(77, inject(path, "open", durability,
            ("recover:%d"):format(step)))
          -- and crash the next recovery too, at the same step
          assert.are.equal(77, inject(path, "open", durability,
            ("recover:%d"):format(step)))
          same(after, contents(path))
        end
      end
    end)

    it("log growth, every step (" .. durability .. ")", function()
      for step = 1, 2 do
        local path = dir .. "/grow"
        os.remove(path)
        local m = assert(memobj.persistent(path, 200 * 1024))
        m:close()
        assert.are.equal(77, inject(path, "big", durability,
          ("grow:%d"):format(step)))
        local t = contents(path)
        for i = 1, #t do assert.are.equal(0, t[i]) end
        assert.are.equal(0, inject(path, "big", durability))
        t = contents(path)
        for i = 1, #t do assert.are.equal(1, t[i]) end
      end
    end)

    it("resize, every step (" .. durability .. ")", function()
      -- step 2 (publishing the smaller size) exists only when shrinking
      for _, case in ipairs({{1, 800}, {2, 800}, {3, 800}, {4, 800},
                             {1, 40000}, {3, 40000}, {4, 40000}}) do
        local step, newsize = case[1], case[2]
        do
          local path = newpool("resize", durability)
          assert.are.equal(77, inject(path, "resize", durability,
            ("resize:%d"):format(step), newsize))
          local t = contents(path)
          assert.is_true(#t == #base or #t * 8 == newsize)
          for i = 1, math.min(#t, #base) do assert.are.equal(base[i], t[i]) end
          for i = #base + 1, #t do assert.are.equal(0, t[i]) end
          -- the pool still works
          assert.are.equal(0, inject(path, "transfer", durability))
        end
      end
    end)
  end
end)

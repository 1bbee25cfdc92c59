-- bytesdiff.lua: a differential fuzzer of byte views against Lua strings
-- and the string library (issue 16). One memory object holds the bytes and
-- a Lua string M models them; views (and views of views, from b:sub) are
-- (offset, length) windows of M. Every read method must give what the
-- string library gives on the window's string, errors included (without
-- the position prefix); every write (put, fill, pack, b[i] = v) must
-- change M as the documented model says.
-- usage: lua5.4 tests/fuzz/bytesdiff.lua [seed] [steps]
local memobj = require("memobj")

local seed = tonumber(arg[1]) or os.time()
local steps = tonumber(arg[2]) or 3000
math.randomseed(seed)

local step_no, what = 0, ""
local function fail(msg)
  io.stderr:write(("bytesdiff: seed %d, step %d (%s): %s\n"):format(seed, step_no, what, msg))
  os.exit(1)
end

local function pick(t) return t[math.random(#t)] end

local ALPHA = {"a", "b", "c", "x", " ", "\n", "0", "1", "9", "\0", "\255", "%", "(", ")", "."}
local function rstring(n)
  local t = {}
  for i = 1, n do t[i] = pick(ALPHA) end
  return table.concat(t)
end

-- ---- The memory, its model, the views ----

local size = math.random(0, 200)
local m = memobj.heap(size)
local M = rstring(size)
memobj.bytes(m):put(1, M)
local views = {}   -- {b =, off =, len =}

local function model(w) return M:sub(w.off + 1, w.off + w.len) end

local function new_view()
  local r = math.random(4)
  if r == 1 or #views == 0 then
    local off = math.random(0, size)
    local len = math.random(0, size - off)
    views[#views + 1] = {b = m:bytes(off, len), off = off, len = len}
  elseif r == 2 then  -- a view of a view: string.sub's clamping
    local w = pick(views)
    local i, j = math.random(-w.len - 3, w.len + 3), math.random(-w.len - 3, w.len + 3)
    local b = w.b:sub(i, j)
    local s = model(w):sub(i, j)
    if b:string() ~= s then fail(("sub(%d, %d): %q vs %q"):format(i, j, b:string(), s)) end
    views[#views + 1] = {b = b, off = b.offset, len = #b}
  elseif r == 3 then  -- memobj.bytes of a view, with offset and length
    local w = pick(views)
    local off = math.random(0, w.len)
    local len = math.random(0, w.len - off)
    views[#views + 1] = {b = memobj.bytes(w.b, off, len), off = w.off + off, len = len}
  else
    local w = pick(views)
    views[#views + 1] = {b = memobj.bytes(w.b), off = w.off, len = w.len}
  end
  if #views > 12 then table.remove(views, 1).b:release() end
end

-- ---- Random arguments ----

local function rint(n)
  local r = math.random(12)
  if r <= 7 then return math.random(-n - 3, n + 3) end
  if r == 8 then return 0 end
  if r == 9 then return math.maxinteger end
  if r == 10 then return math.mininteger end
  if r == 11 then return -math.random(1, 3) end
  return pick({1, n, n + 1, -n, -n - 1})
end

local CLASSES = {"%a", "%d", "%s", "%w", "%x", "%p", "%c", "%l", "%u", "%z", ".", "%A", "%S",
  "[abc]", "[^a]", "[%d%s]", "[a-c]", "[]]", "[^]]", "%%", "%(", "%.", "%f[%w]", "%bab", "%b()"}
local function rpattern()
  local t = {}
  if math.random(5) == 1 then t[#t + 1] = "^" end
  for _ = 1, math.random(0, 5) do
    local r = math.random(10)
    local item = r <= 4 and pick(ALPHA):gsub("[%%%(%)%.%[%]%^%$%*%+%-%?]", "%%%0") or pick(CLASSES)
    if item == "\0" then item = "%z" end
    local q = math.random(8)
    if q == 1 then item = item .. "*" elseif q == 2 then item = item .. "+"
    elseif q == 3 then item = item .. "-" elseif q == 4 then item = item .. "?" end
    if math.random(6) == 1 then item = "(" .. item .. ")" end
    t[#t + 1] = item
  end
  if math.random(10) == 1 then t[#t + 1] = "()" end
  if math.random(12) == 1 then t[#t + 1] = "%1" end
  if math.random(8) == 1 then t[#t + 1] = "$" end
  if math.random(30) == 1 then t[#t + 1] = pick({"(", "%", "[a", "%g", "(()", "%b", "%f"}) end
  return table.concat(t)
end

-- ---- Comparing results ----

local function norm(ok, ...)
  local r = table.pack(...)
  if not ok then
    local e = tostring(r[1]):gsub("^[^\n]-:%d+: ", "")
    return "error: " .. e
  end
  for i = 1, r.n do
    local v = r[i]
    if type(v) == "userdata" then r[i] = "string:" .. v:string()
    elseif type(v) == "number" then r[i] = math.type(v) .. ":" .. tostring(v)
    else r[i] = type(v) .. ":" .. tostring(v) end
  end
  return table.concat(r, "|", 1, r.n)
end

local function same(label, f_ours, f_lua)
  what = label
  local a = norm(pcall(f_ours))
  local b = norm(pcall(f_lua))
  if a ~= b then fail(("%s:\n  view:   %s\n  string: %s"):format(label, a, b)) end
end

-- ---- Operations ----

local function reads(w)
  local b, s, n = w.b, model(w), w.len
  local i, j, p = rint(n), rint(n), rpattern()
  local init, plain = rint(n), math.random(3) == 1
  local r = math.random(16)
  if r == 1 then same(("byte(%d, %d)"):format(i, j), function() return b:byte(i, j) end,
                      function() return s:byte(i, j) end)
  elseif r == 2 then same(("string(%d, %d)"):format(i, j), function() return b:string(i, j) end,
                          function() return s:sub(i, j) end)
  elseif r == 3 then same(("find(%q, %d, %s)"):format(p, init, plain),
    function() return b:find(p, init, plain) end, function() return s:find(p, init, plain) end)
  elseif r == 4 then same(("match(%q, %d)"):format(p, init),
    function() return b:match(p, init) end, function() return s:match(p, init) end)
  elseif r == 5 then
    local function all(it)
      local t = {}
      for a, c in it do
        t[#t + 1] = tostring(a) .. "/" .. tostring(c)
        if #t > 300 then break end
      end
      return table.concat(t, ",")
    end
    same(("gmatch(%q, %d)"):format(p, init), function() return all(b:gmatch(p, init)) end,
         function() return all(s:gmatch(p, init)) end)
  elseif r == 6 then
    local repl = pick({"<%0>", "%1", "x", "", "%%", "%2", 7,
      {a = "A", b = false, ["1"] = 1}, function(c) return c and #c > 1 and c:upper() end})
    local maxn = pick({nil, 0, 1, 3, -1})
    same(("gsub(%q, %s, %s)"):format(p, tostring(repl), tostring(maxn)),
         function() return b:gsub(p, repl, maxn) end, function() return s:gsub(p, repl, maxn) end)
  elseif r == 7 then
    local k, sep = math.random(-1, 4), pick({nil, "", ",", "ab"})
    same(("rep(%d, %s)"):format(k, tostring(sep)), function() return b:rep(k, sep) end,
         function() return s:rep(k, sep) end)
  elseif r == 8 then same("upper/lower/reverse", function() return b:upper(), b:lower(), b:reverse() end,
                          function() return s:upper(), s:lower(), s:reverse() end)
  elseif r == 9 then
    local fmt = pick({"i4", "<i2", ">I3", "b", "B", "s1", "z", "c3", "d", "f", "!4i3", "j", "xb",
                      "<i2i2", "i16", "c0", "s2", "Xi4", "=H", "c"})
    -- b:unpack(fmt, pos) numbers its arguments as a method: string.unpack's
    -- data (#2) is self, its pos (#3) is #2
    same(("unpack(%q, %d)"):format(fmt, init), function() return b:unpack(fmt, init) end,
         function()
           local res = table.pack(pcall(string.unpack, fmt, s, init))
           if res[1] then return table.unpack(res, 2, res.n) end
           error((res[2]:gsub("'string.unpack'", "'unpack'")
                        :gsub("bad argument #2 to 'unpack'", "calling 'unpack' on bad self")
                        :gsub("bad argument #3 to 'unpack'", "bad argument #2 to 'unpack'")), 0)
         end)
  elseif r == 10 then same(("b[%d]"):format(i), function() return b[i] end,
    function() if i >= 1 and i <= n then return s:byte(i) end return nil end)
  elseif r == 11 then same("len, tostring, ..", function() return #b, tostring(b), b .. "!", "!" .. b end,
                           function() return #s, s, s .. "!", "!" .. s end)
  elseif r == 12 then
    local o = pick(views)
    local t = model(o)
    same("compare", function() return b == o.b, b < o.b, b <= o.b, b:equals(o.b), b:equals(t) end,
         function() return s == t, s < t, s <= t, s == t, s == t end)
  elseif r == 13 then same(("sub(%d, %d)"):format(i, j), function() return b:sub(i, j) end,
                           function() return s:sub(i, j) end)
  elseif r == 14 then
    local needle = s:sub(math.random(1, n + 1), math.random(0, n))
    same(("find(%q, %d, true)"):format(needle, init), function() return b:find(needle, init, true) end,
         function() return s:find(needle, init, true) end)
  elseif r == 15 then same(("byte(%d)"):format(i), function() return b:byte(i) end,
                           function() return s:byte(i) end)
  else same("byte()", function() return b:byte() end, function() return s:byte() end)
  end
end

-- The documented write model: put/pack at i (negative from the end, up to
-- #b + 1), everything or nothing; fill clamps like string.sub.
local function put_model(w, i, x)
  local n = w.len
  if i < 0 then i = i + n + 1 end
  if i < 1 or i > n + 1 then return nil, "index" end
  if #x > n - (i - 1) then return nil, "fit" end
  local at = w.off + i - 1
  return M:sub(1, at) .. x .. M:sub(at + #x + 1), i + #x
end

local function writes(w)
  local b, n = w.b, w.len
  local r = math.random(5)
  local before = M
  if r == 1 or r == 2 then
    local i, x = rint(n), rstring(math.random(0, 6))
    what = ("put(%d, %q)"):format(i, x)
    local newM, ret = put_model(w, i, x)
    local ok, res = pcall(b.put, b, i, x)
    if ok ~= (newM ~= nil) then fail("put succeeded/failed differently: " .. tostring(res)) end
    if ok then
      if res ~= ret then fail(("put returned %s, model %s"):format(tostring(res), tostring(ret))) end
      M = newM
    end
  elseif r == 3 then
    local c, i, j = math.random(0, 255), rint(n), rint(n)
    what = ("fill(%d, %d, %d)"):format(c, i, j)
    -- string.sub's clamping of i..j, as mo_range does
    local from = i > 0 and i or (i == 0 or i < -n) and 1 or n + i + 1
    local to = j > n and n or j >= 0 and j or j < -n and 0 or n + j + 1
    b:fill(c, i, j)
    if from <= to then
      local at = w.off + from - 1
      M = M:sub(1, at) .. string.char(c):rep(to - from + 1) .. M:sub(w.off + to + 1)
    end
  elseif r == 4 then
    local i, v = rint(n), math.random(-2, 300)
    what = ("b[%d] = %d"):format(i, v)
    local ok = pcall(function() b[i] = v end)
    local should = i >= 1 and i <= n and v >= 0 and v <= 255
    if ok ~= should then fail("b[i] = v " .. (ok and "succeeded" or "failed")) end
    if ok then M = M:sub(1, w.off + i - 1) .. string.char(v) .. M:sub(w.off + i + 1) end
  else
    local i, fmt = rint(n), pick({"i4", "<i2", "s1", "z", "B", "d"})
    local val = fmt == "s1" and rstring(3) or fmt == "z" and "ab" or fmt == "d" and 1.5
                or math.random(0, 100)
    what = ("pack(%d, %q)"):format(i, fmt)
    local x = string.pack(fmt, val)
    local newM, ret = put_model(w, i, x)
    local ok, res = pcall(b.pack, b, i, fmt, val)
    if ok ~= (newM ~= nil) then fail("pack succeeded/failed differently: " .. tostring(res)) end
    if ok then
      if res ~= ret then fail(("pack returned %s, model %s"):format(tostring(res), tostring(ret))) end
      M = newM
    end
  end
  if #M ~= size then fail("model size changed (bug in the fuzzer)") end
  local whole = memobj.bytes(m)
  local got = whole:string()
  whole:release()
  if got ~= M then
    local k = 1
    while got:byte(k) == M:byte(k) do k = k + 1 end
    fail(("memory differs from the model at byte %d (before: %q)"):format(k, before:sub(k - 2, k + 2)))
  end
end

for k = 1, steps do
  step_no = k
  if #views == 0 or math.random(8) == 1 then new_view() end
  local w = pick(views)
  if math.random(4) == 1 then writes(w) else reads(w) end
end
for _, w in ipairs(views) do w.b:release() end
m:close()
print(("bytesdiff: seed %d, %d steps: ok"):format(seed, steps))

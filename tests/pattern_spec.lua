-- Patterns on byte views: a differential test against Lua's own string
-- library (the oracle) on random subjects and random patterns drawn from a
-- grammar, plus the edge cases of Lua's pattern language as our own specs.
local memobj = require("memobj")

-- A byte view over a heap copy of s (not the Lua string itself), so that
-- the matcher never relies on Lua's terminating zero.
local function heapview(s)
  local m = memobj.heap(#s)
  local b = m:bytes()
  b:put(1, s)
  return b
end

-- pcall results as one comparable string: values with their types, or
-- the error message.
local function outcome(ok, ...)
  local n = select("#", ...)
  local parts = {ok and "ok" or "err"}
  for i = 1, n do
    local v = select(i, ...)
    parts[#parts + 1] = type(v) .. ":" .. (type(v) == "string" and ("%q"):format(v) or tostring(v))
  end
  return table.concat(parts, " ")
end

-- All results of a gmatch loop (at most 200 rounds), or the error.
local function gmatch_all(iter_maker, ...)
  local ok, res = pcall(function(...)
    local out = {}
    for a, b, c in iter_maker(...) do
      out[#out + 1] = outcome(true, a, b, c)
      if #out > 200 then break end
    end
    return table.concat(out, "|")
  end, ...)
  return (ok and "ok " or "err ") .. tostring(res)
end

-- ---- The grammar of random patterns ----
local ALPHABET = {"a", "b", "c", "\0", "\255", " ", "(", ")", "%", "1", "A", "\n",
                  ".", "[", "]", "-", "x", "\200", "9", "^", "$", "z", "_"}

local function subject(rnd, maxlen)
  local t = {}
  for i = 1, rnd(0, maxlen) do t[i] = ALPHABET[rnd(1, #ALPHABET)] end
  return table.concat(t)
end

local CLASSES = {"%a", "%c", "%d", "%g", "%l", "%p", "%s", "%u", "%w", "%x",
                 "%A", "%D", "%S", "%W", "%P", ".", "%%", "%.", "%(", "%z", "%]"}
local LITERALS = {"a", "b", "c", "x", "\0", "\255", " ", "1", "A", "\n", "_", "9", "\200"}

local function set(rnd)
  local t = {"["}
  if rnd(1, 3) == 1 then t[#t + 1] = "^" end
  if rnd(1, 6) == 1 then t[#t + 1] = "]" end
  for _ = 1, rnd(1, 4) do
    local k = rnd(1, 4)
    if k == 1 then t[#t + 1] = LITERALS[rnd(1, #LITERALS)]
    elseif k == 2 then t[#t + 1] = CLASSES[rnd(1, 15)]
    elseif k == 3 then t[#t + 1] = ({"a-c", "0-9", "\0-\31", "\128-\255", "c-a", "%a-z", "-"})[rnd(1, 7)]
    else t[#t + 1] = ({"%]", "%-", "%^", "^", "-"})[rnd(1, 5)] end
  end
  t[#t + 1] = "]"
  return table.concat(t)
end

local function single(rnd)
  local k = rnd(1, 4)
  if k == 1 then return LITERALS[rnd(1, #LITERALS)] end
  if k == 2 then return CLASSES[rnd(1, #CLASSES)] end
  if k == 3 then return set(rnd) end
  return "."
end

local QUANTS = {"", "", "", "*", "+", "-", "?"}

-- One pattern: items, captures (nested), anchors, %b, %f, back-references,
-- and now and then something malformed.
local function pattern(rnd, depth)
  local t = {}
  local ncap = 0
  local function items(n, d)
    for _ = 1, n do
      local k = rnd(1, 20)
      if k <= 11 then
        t[#t + 1] = single(rnd) .. QUANTS[rnd(1, #QUANTS)]
      elseif k <= 13 and d > 0 then
        ncap = ncap + 1
        t[#t + 1] = "("
        items(rnd(0, 3), d - 1)
        t[#t + 1] = ")"
      elseif k == 14 then
        t[#t + 1] = "()"; ncap = ncap + 1
      elseif k == 15 then
        t[#t + 1] = ({"%b()", "%bab", "%b\0\255", "%baa"})[rnd(1, 4)]
      elseif k == 16 then
        t[#t + 1] = "%f" .. set(rnd)
      elseif k == 17 and ncap > 0 then
        t[#t + 1] = "%" .. rnd(1, ncap)
      elseif k == 18 then
        t[#t + 1] = ({"$", "^", "%", "[a", "(", ")", "%b", "%ba", "%f", "%fa", "%0", "%9", "%f[a"})[rnd(1, 13)]
      else
        t[#t + 1] = LITERALS[rnd(1, #LITERALS)]
      end
    end
  end
  if rnd(1, 5) == 1 then t[1] = "^" end
  items(rnd(1, 5), depth)
  if rnd(1, 6) == 1 then t[#t + 1] = "$" end
  return table.concat(t)
end

local function randint_init(rnd, len)
  local k = rnd(1, 8)
  if k == 1 then return nil end
  if k == 2 then return math.mininteger end
  if k == 3 then return len + rnd(0, 3) end
  return rnd(-len - 3, len + 3)
end

describe("patterns against Lua's string library", function()
  it("find, match and gmatch agree on thousands of random cases", function()
    math.randomseed(20261123)
    local rnd = math.random
    local cases, errors = 0, 0
    for _ = 1, 6000 do
      local s = subject(rnd, 24)
      local p = pattern(rnd, 2)
      local init = randint_init(rnd, #s)
      local b = rnd(1, 2) == 1 and heapview(s) or memobj.bytes(s)
      local want = outcome(pcall(string.find, s, p, init))
      local got = outcome(pcall(b.find, b, p, init))
      assert.are.equal(want, got, ("find(%q, %q, %s)"):format(s, p, tostring(init)))
      if want:match("^err") then errors = errors + 1 end
      want = outcome(pcall(string.match, s, p, init))
      got = outcome(pcall(b.match, b, p, init))
      assert.are.equal(want, got, ("match(%q, %q, %s)"):format(s, p, tostring(init)))
      want = gmatch_all(string.gmatch, s, p, init)
      got = gmatch_all(b.gmatch, b, p, init)
      assert.are.equal(want, got, ("gmatch(%q, %q, %s)"):format(s, p, tostring(init)))
      cases = cases + 3
    end
    assert.is_true(cases >= 18000)
    assert.is_true(errors > 100)  -- the grammar does reach the error paths
  end)

  it("gsub agrees with string.gsub for string, table and function replacements", function()
    math.randomseed(1123)
    local rnd = math.random
    local repls = {"", "-", "%0", "%1", "[%1|%2]", "%%", "%", "%x", "<%0>", "\0\255",
                   {a = "A", b = false, ["1"] = "one", [1] = "pos"},
                   function(a, b2) return a and b2 and (tostring(a) .. "/" .. tostring(b2)) end,
                   function(a) return #tostring(a) % 2 == 0 and a or nil end,
                   function() return {} end, 7}
    for _ = 1, 3000 do
      local s = subject(rnd, 20)
      local p = pattern(rnd, 2)
      local r = repls[rnd(1, #repls)]
      local max = rnd(1, 4) == 1 and rnd(-1, 5) or nil
      local b = rnd(1, 2) == 1 and heapview(s) or memobj.bytes(s)
      local want = outcome(pcall(string.gsub, s, p, r, max))
      local got = outcome(pcall(b.gsub, b, p, r, max))
      assert.are.equal(want, got, ("gsub(%q, %q, %s, %s)"):format(s, p, tostring(r), tostring(max)))
    end
  end)

  it("plain find agrees, with embedded zeros and high bytes", function()
    math.randomseed(7)
    local rnd = math.random
    for _ = 1, 3000 do
      local s = subject(rnd, 40)
      local needle = rnd(1, 3) == 1 and subject(rnd, 3) or s:sub(rnd(1, #s + 1), rnd(0, #s))
      local init = randint_init(rnd, #s)
      local b = heapview(s)
      assert.are.equal(outcome(pcall(string.find, s, needle, init, true)),
                       outcome(pcall(b.find, b, needle, init, true)))
      assert.are.equal(outcome(pcall(string.find, s, needle, init)),
                       outcome(pcall(b.find, b, needle, init)))
    end
  end)

  it("agrees on longer subjects (memchr paths, backtracking)", function()
    math.randomseed(99)
    local rnd = math.random
    local pats = {"a", "a+", "[^\n]*", "[^\n]+", "\n", "%a+", "(a)(b?)", "a-b",
                  "%f[%w]%w+", "%b()", "x*$", "^a", "(.)%1", "[%z\1-\31]+", ".-\n"}
    for _ = 1, 200 do
      local s = subject(rnd, 400)
      local b = heapview(s)
      for _, p in ipairs(pats) do
        local init = randint_init(rnd, #s)
        assert.are.equal(outcome(pcall(string.find, s, p, init)), outcome(pcall(b.find, b, p, init)))
        assert.are.equal(gmatch_all(string.gmatch, s, p), gmatch_all(b.gmatch, b, p))
      end
    end
  end)
end)

describe("pattern edge cases", function()
  local b = memobj.bytes("hello world, hello moon")

  it("empty patterns and init beyond the end follow string.find", function()
    assert.same({1, 0}, {b:find("")})
    assert.same({24, 23}, {b:find("", 24)})
    assert.is_nil(b:find("", 25))
    assert.is_nil(b:find("x", 100))
    assert.same({23, 23}, {b:find("n", -1)})
    assert.same({1, 5}, {b:find("hello", -100)})
    assert.same({14, 18}, {b:find("hello", 2)})
    assert.equal("", b:match("", 24))
    assert.is_nil(b:match("", 25))
  end)

  it("raises Lua's messages for malformed patterns", function()
    local cases = {
      ["%"] = "malformed pattern (ends with '%')",
      ["[a"] = "malformed pattern (missing ']')",
      ["[]"] = "malformed pattern (missing ']')",
      ["%b"] = "malformed pattern (missing arguments to '%b')",
      ["%bx"] = "malformed pattern (missing arguments to '%b')",
      ["%f"] = "missing '[' after '%f' in pattern",
      ["%fx"] = "missing '[' after '%f' in pattern",
      ["(h%1)"] = "invalid capture index %1",
      ["%0"] = "invalid capture index %0",
      ["h.)"] = "invalid pattern capture",
      ["(h"] = "unfinished capture",
      [string.rep("(", 33)] = "too many captures",
    }
    for p, msg in pairs(cases) do
      local ok, err = pcall(b.find, b, p)
      assert.is_false(ok, p)
      assert.equal(msg, err)
      assert.equal(select(2, pcall(string.find, "hello world", p)), err)
    end
  end)

  it("finds malformed parts only when matching reaches them, as Lua", function()
    assert.is_nil(b:find("x%"))
    assert.has_error(function() b:find("h%") end, "malformed pattern (ends with '%')")
    assert.is_nil(b:find("%", 100))  -- init beyond the end: no match at all
    assert.is_nil(b:find("q("))
  end)

  it("raises 'pattern too complex' instead of overflowing the C stack", function()
    local s = string.rep("a", 300)
    local v = memobj.bytes(s)
    local ok, err = pcall(v.find, v, string.rep("a?", 300))
    assert.is_false(ok)
    assert.equal("pattern too complex", err)
    assert.equal(select(2, pcall(string.find, s, string.rep("a?", 300))), err)
  end)

  it("supports captures, position captures, back-references", function()
    local v = memobj.bytes("key = value; x=yy")
    assert.same({"key", "value"}, {v:match("(%w+)%s*=%s*(%w+)")})
    assert.same({1, 4, 7}, {v:match("()key()%s*=%s*()")})
    assert.same({15, 17, "y"}, {v:find("=(.)%1")})
    assert.is_nil(v:find("()k%1"))  -- a back-reference to a position never matches
    assert.same({"x", "yy"}, {v:match("(%w+)=(%w+)$")})
  end)

  it("supports %b, %f, anchors, sets with ']' first and ranges", function()
    local v = memobj.bytes("f(a(b)c) THE (quick) fox]")
    assert.equal("(a(b)c)", v:match("%b()"))
    assert.same({"THE", "quick", "fox"}, (function()
      local t = {}
      for w in v:gmatch("%f[%a]%a%a%a+%f[%A]") do t[#t + 1] = w end
      return t
    end)())
    assert.equal("f", v:match("^f"))
    assert.is_nil(v:match("^a"))
    assert.equal("]", v:match("[]]"))
    assert.equal("x]", v:match("[%]x]+$"))
    assert.equal("a(b", v:match("[a-c(]+", 3))
  end)

  it("treats '^' in gmatch as a literal, as Lua 5.4 does", function()
    local v = memobj.bytes("^a^a")
    local t = {}
    for w in v:gmatch("^a") do t[#t + 1] = w end
    assert.same({"^a", "^a"}, t)
  end)

  it("gmatch gives no empty match right after the previous match", function()
    local v = memobj.bytes("abc")
    local t = {}
    for w in v:gmatch("%a*") do t[#t + 1] = w end
    assert.same({"abc"}, t)
    t = {}
    for a, p in memobj.bytes("ab"):gmatch("(x*)()") do t[#t + 1] = a .. p end
    assert.same({"1", "2", "3"}, t)
  end)

  it("takes views and memory objects as patterns", function()
    local pat = memobj.bytes("(%d+)")
    assert.equal("42", memobj.bytes("ab42cd"):match(pat))
    local m = memobj.heap(2)
    m:bytes():put(1, "cd")
    assert.same({5, 6}, {memobj.bytes("ab42cd"):find(m)})
  end)

  it("counts lines of a view like string.gmatch over the same bytes", function()
    local lines = {}
    for i = 1, 1000 do lines[i] = ("line %d %s"):format(i, ("x"):rep(i % 17)) end
    local s = table.concat(lines, "\n")
    local v = heapview(s)
    local n1, n2, len1, len2 = 0, 0, 0, 0
    for l in s:gmatch("[^\n]*") do n1 = n1 + 1; len1 = len1 + #l end
    for l in v:gmatch("[^\n]*") do n2 = n2 + 1; len2 = len2 + #l end
    assert.equal(n1, n2)
    assert.equal(len1, len2)
    assert.equal(1000, n2)
  end)

  it("gsub raises when a replacement function releases the view", function()
    local v = heapview("a b c")
    assert.has_error(function()
      v:gsub("%a", function() v:release() return "x" end)
    end, "memobj: view is released")
    assert.has_error(function() v:gsub("%a", 1) end, "memobj: view is released")
    assert.has_error(function() memobj.bytes("x"):gsub("x", true) end)
  end)

  it("raises when the view is released between gmatch steps", function()
    local v = heapview("a b c")
    local it = v:gmatch("%a")
    assert.equal("a", it())
    v:release()
    assert.has_error(function() it() end, "memobj: view is released")
  end)
end)

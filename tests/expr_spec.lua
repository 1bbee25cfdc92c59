-- expr_spec.lua: memobj.expr / memobj.eval against a Lua model (the same
-- expression evaluated element by element with Lua's own operators and
-- math library) on random inputs of every element type, byte order and
-- stride; Lua's integer and float rules; reductions; out aliasing its
-- inputs; threads; errors naming the position; and against numpy on 10M
-- elements.
local memobj = require("memobj")

local TYPES = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
               "uint64", "float32", "float64"}
local OTHER = string.pack("=i2", 1) == string.pack("<i2", 1) and "be" or "le"

local function isfloat(t) return t:find("float") ~= nil end

-- A random value for an element type: small values most of the time (so
-- that mixed int/float arithmetic stays exact), the type's extremes and
-- float specials sometimes.
local function randval(t)
  local r = math.random()
  if isfloat(t) then
    if r < 0.03 then return 0/0 end
    if r < 0.05 then return (math.random() < 0.5) and math.huge or -math.huge end
    if r < 0.1 then return 0.0 end
    local x = (math.random() - 0.5) * 200
    if t:find("32") then x = string.unpack("f", string.pack("f", x)) end
    return x
  end
  local bits = tonumber(t:match("%d+"))
  local signed = t:sub(1, 1) == "i"
  if r < 0.05 and bits == 64 then return math.random(math.mininteger, math.maxinteger) end
  if r < 0.1 then
    if signed then return (math.random() < 0.5) and -(1 << (bits - 1)) or (1 << (bits - 1)) - 1 end
    return bits == 64 and -1 or (1 << bits) - 1
  end
  local lo = signed and -100 or 0
  return math.random(lo, 100)
end

-- A typed array of n random elements of type t, laid out as `layout`:
-- "plain", "swapped" (other byte order), "strided" (every 3rd element of
-- a bigger array) or "reversed" (negative step).
local function randarray(t, n, layout)
  local vals = {}
  for i = 1, n do vals[i] = randval(t) end
  local a
  if layout == "swapped" then
    a = memobj.array(t .. OTHER, n)
    for i = 1, n do a[i] = vals[i] end
  elseif layout == "strided" then
    local big = memobj.array(t, 3 * n + 2)
    a = big:slice(2, 3 * n + 1, 3)
    for i = 1, n do a[i] = vals[i] end
  elseif layout == "reversed" then
    local big = memobj.array(t, n)
    a = big:slice(n, 1, -1)
    for i = 1, n do a[i] = vals[i] end
  else
    a = memobj.array(t, n)
    for i = 1, n do a[i] = vals[i] end
  end
  return a
end

-- ---- The Lua model ----

local function tofloat(x) return x + 0.0 end
local function anyfloat(...)
  for i = 1, select("#", ...) do
    if math.type((select(i, ...))) == "float" then return true end
  end
  return false
end
local MODEL_ENV = {
  abs = math.abs,
  sqrt = math.sqrt, exp = math.exp, log = math.log,
  log10 = function(x) return math.log(x, 10) end,
  sin = math.sin, cos = math.cos, tan = math.tan,
  floor = function(x)
    if math.type(x) == "integer" then return x end
    return tofloat(math.floor(x))
  end,
  ceil = function(x)
    if math.type(x) == "integer" then return x end
    return tofloat(math.ceil(x))
  end,
  min = function(x, y)
    if anyfloat(x, y) then x, y = tofloat(x), tofloat(y) end
    return math.min(x, y)
  end,
  max = function(x, y)
    if anyfloat(x, y) then x, y = tofloat(x), tofloat(y) end
    return math.max(x, y)
  end,
  where = function(c, x, y)
    local r
    if c then r = x else r = y end
    if anyfloat(x, y) then r = tofloat(r) end
    return r
  end,
}

-- The model of src: a function of a table of per-element values.
local function model(src, names)
  local code = "local E = ...\nreturn function(V)\n"
  for _, n in ipairs(names) do code = code .. "local " .. n .. " = V." .. n .. "\n" end
  code = code .. "return " .. src .. "\nend"
  local env = setmetatable({}, {__index = MODEL_ENV})
  return assert(load(code, "=model", "t", env))(env)
end

-- Values equal as the result array stores them (comparisons as bool; NaN equals
-- NaN); transcendental functions within `ulps` units in the last place.
local function ulp(x)
  x = math.abs(x)
  if x < 2.2250738585072014e-308 then return 4.9406564584124654e-324 end
  return 2.0 ^ (math.floor(math.log(x, 2)) - 52)
end
local function same(got, want, ulps)
  if type(want) == "boolean" then return got == want end
  if want ~= want then return got ~= got end
  if math.type(want) == "float" and math.type(got) == "float" and ulps and ulps > 0
     and want ~= math.huge and want ~= -math.huge then
    return math.abs(got - want) <= ulps * ulp(want)
  end
  return got == want and math.type(got) == math.type(want)
end

local function input_table(arrays, scalars)
  local t = {}
  for k, v in pairs(arrays) do t[k] = v end
  for k, v in pairs(scalars or {}) do t[k] = v end
  return t
end

-- Check memobj.eval(src) against the model over every element.
local function check(src, arrays, scalars, ulps)
  local names = {}
  for k in pairs(arrays) do names[#names + 1] = k end
  for k in pairs(scalars or {}) do names[#names + 1] = k end
  table.sort(names)
  local f = model(src, names)
  local r = memobj.eval(src, input_table(arrays, scalars))
  local n
  for _, a in pairs(arrays) do n = #a end
  assert.are.equal(n, #r)
  for i = 1, n do
    local v = {}
    for k, a in pairs(arrays) do v[k] = a[i] end
    for k, x in pairs(scalars or {}) do v[k] = x end
    local ok, want = pcall(f, v)
    if not ok then error("model failed on " .. src .. ": " .. tostring(want)) end
    local got = r[i]
    if not same(got, want, ulps) then
      local desc = {}
      for _, k in ipairs(names) do desc[#desc + 1] = k .. "=" .. string.format("%q", v[k]) end
      error(string.format("%s: element %d (%s): got %s (%s), Lua gives %s (%s)",
            src, i, table.concat(desc, " "), tostring(got), math.type(got),
            tostring(want), type(want) == "boolean" and "boolean" or math.type(want)))
    end
  end
  return r
end

describe("memobj.expr against a Lua model", function()
  math.randomseed(23)
  local LAYOUTS = {"plain", "swapped", "strided", "reversed"}
  local ARITH = {"a + b", "a - b", "a * b", "a / b", "a // b", "a % b", "a ^ b",
                 "-a", "a ^ 2", "2 * a + 3 * b", "a * b - 4.1 * a", "(a + 1) * (b - 2)",
                 "- a ^ 2", "2 ^ -a", "a - -b"}
  local CMP = {"a < b", "a <= b", "a > b", "a >= b", "a == b", "a ~= b",
               "a < b and b < 50", "a > b or a == 0", "not (a < b)",
               "a * b - 4.1 * a > 2.5 * b"}
  local FUNCS = {"abs(a)", "floor(a)", "ceil(a)", "min(a, b)", "max(a, b)",
                 "where(a > b, a, b)", "where(a < 0, -a, 2 * b)", "sqrt(abs(a))"}
  local MATH = {"sin(a)", "cos(a)", "tan(a)", "exp(a / 10)", "log(abs(a) + 1)",
                "log10(abs(a) + 1)", "sin(a) ^ 2 + cos(b) ^ 2", "sqrt(a)", "log(a)"}

  for _, ta in ipairs(TYPES) do
    it("arithmetic, comparisons and functions, " .. ta .. " with every type", function()
      for _, tb in ipairs(TYPES) do
        local n = math.random(1, 40)
        local a = randarray(ta, n, LAYOUTS[math.random(#LAYOUTS)])
        local b = randarray(tb, n, LAYOUTS[math.random(#LAYOUTS)])
        -- integer // and % by zero raise (checked below): keep b nonzero
        if not isfloat(tb) then for i = 1, n do if b[i] == 0 then b[i] = 3 end end end
        for _, src in ipairs(ARITH) do check(src, {a = a, b = b}) end
        for _, src in ipairs(CMP) do check(src, {a = a, b = b}) end
        for _, src in ipairs(FUNCS) do check(src, {a = a, b = b}) end
        for _, src in ipairs(MATH) do check(src, {a = a, b = b}, nil, 8) end
      end
    end)
  end

  it("every layout, over several blocks", function()
    for _, la in ipairs(LAYOUTS) do
      for _, lb in ipairs(LAYOUTS) do
        local a = randarray("float64", 2500, la)
        local b = randarray("int32", 2500, lb)
        check("a * b - 4.1 * a > 2.5 * b", {a = a, b = b})
        check("a // b + a % b", {a = a, b = b})
      end
    end
  end)

  it("numbers in the inputs are scalars for every element", function()
    local a = randarray("int32", 30, "plain")
    check("a * x + y", {a = a}, {x = 3, y = 0.5})
    check("a * x + y", {a = a}, {x = 3, y = -7})
    check("a // x", {a = a}, {x = -4})
    check("where(c, a, 0)", {a = a}, {c = true})
  end)

  it("records fields (strided views of a struct array)", function()
    local r = memobj.records({{"id", "int32"}, {"x", "float64"}, {"flag", "uint8"}}, 50)
    for i = 1, 50 do r[i] = {id = i * 7 - 100, x = i / 3, flag = i % 2} end
    local id, x = r:field("id"), r:field("x")
    local out = check("id * x - id // 3", {id = id, x = x})
    assert.are.equal("float64", out.type)
  end)
end)

describe("memobj.expr: Lua's integer and float rules", function()
  local function ev(src, inputs) return memobj.eval(src, inputs) end

  it("integers stay int64 and wrap", function()
    local a = memobj.array("int64", {math.maxinteger, math.mininteger, 5})
    local r = ev("a + 1", {a = a})
    assert.are.equal("int64", r.type)
    assert.are.same({math.mininteger, math.mininteger + 1, 6}, r:totable())
    assert.are.same({math.mininteger + 1, math.mininteger, -5}, ev("-a - 0", {a = a}):totable())
    assert.are.same({math.maxinteger, math.mininteger, 5}, ev("abs(a)", {a = a}):totable())
    assert.are.same({math.maxinteger * math.maxinteger, math.mininteger * math.mininteger, 25}, ev("a * a", {a = a}):totable())
  end)

  it("// and % floor as Lua does, for negative operands", function()
    local a = memobj.array("int32", {7, -7, 7, -7, 0, -2147483648})
    local b = memobj.array("int32", {2, 2, -2, -2, 5, -1})
    assert.are.same({7 // 2, -7 // 2, 7 // -2, -7 // -2, 0, 2147483648},
                    ev("a // b", {a = a, b = b}):totable())
    assert.are.same({7 % 2, -7 % 2, 7 % -2, -7 % -2, 0, 0},
                    ev("a % b", {a = a, b = b}):totable())
    local m = memobj.array("int64", {math.mininteger})
    assert.are.same({math.mininteger // -1}, ev("m // -1", {m = m}):totable())
    assert.are.same({0}, ev("m % -1", {m = m}):totable())
    local x = memobj.array("float64", {5.5, -5.5, 5.5, -5.5})
    local y = memobj.array("float64", {2, 2, -2, -2})
    assert.are.same({5.5 // 2, -5.5 // 2, 5.5 // -2, -5.5 // -2}, ev("x // y", {x = x, y = y}):totable())
    assert.are.same({5.5 % 2, -5.5 % 2, 5.5 % -2, -5.5 % -2}, ev("x % y", {x = x, y = y}):totable())
  end)

  it("integer // 0 and % 0 raise as Lua does; float // 0 is inf", function()
    local a = memobj.array("int16", {1, 2, 3})
    local z = memobj.array("int16", {1, 0, 1})
    assert.has_error(function() ev("a // z", {a = a, z = z}) end,
                     "memobj.expr: attempt to perform 'n//0' at position 3")
    assert.has_error(function() ev("a + a % z", {a = a, z = z}) end,
                     "memobj.expr: attempt to perform 'n%0' at position 7")
    assert.has_error(function() ev("a // 0", {a = a}) end,
                     "memobj.expr: attempt to perform 'n//0' at position 3")
    local r = ev("a // 0.0", {a = a}):totable()
    assert.are.same({math.huge, math.huge, math.huge}, r)
    local m = ev("a % 0.0", {a = a}):totable()
    assert.is_true(m[1] ~= m[1])
    local big = memobj.array("int64", 5000)
    big:fill(1)
    big[4321] = 0
    assert.has_error(function() memobj.expr("7 // big", {threads = 3})({big = big}) end,
                     "memobj.expr: attempt to perform 'n//0' at position 3")
  end)

  it("/ and ^ give floats; comparisons of int and float are exact", function()
    local a = memobj.array("int64", {4, 9})
    assert.are.equal("float64", ev("a / 2", {a = a}).type)
    assert.are.same({2.0, 4.5}, ev("a / 2", {a = a}):totable())
    assert.are.same({16.0, 81.0}, ev("a ^ 2", {a = a}):totable())
    -- 2^53 + 1 is not a double: Lua compares it exactly
    local big = memobj.array("int64", {(1 << 53) + 1, (1 << 53)})
    local f = 2.0 ^ 53
    assert.are.same({(1 << 53) + 1 > f, (1 << 53) > f},
                    ev("big > f", {big = big, f = f}):totable())
    assert.are.same({false, true}, ev("big == f", {big = big, f = f}):totable())
    assert.are.same({true, false}, ev("big ~= f", {big = big, f = f}):totable())
    assert.are.same({true, true}, ev("big < 1e300 and big > -1e300", {big = big}):totable())
  end)

  it("NaN: comparisons are false (~= true), min and max keep Lua's order", function()
    local a = memobj.array("float64", {0/0, 1, 0/0})
    local b = memobj.array("float64", {1, 0/0, 0/0})
    assert.are.same({false, false, false}, ev("a < b or a >= b or a == b", {a = a, b = b}):totable())
    assert.are.same({true, true, true}, ev("a ~= b", {a = a, b = b}):totable())
    local mn = ev("min(a, b)", {a = a, b = b}):totable()
    assert.is_true(mn[1] ~= mn[1])          -- math.min(nan, 1) is nan
    assert.are.equal(1.0, mn[2])            -- math.min(1, nan) is 1
    local mx = ev("max(a, b)", {a = a, b = b}):totable()
    assert.is_true(mx[1] ~= mx[1])
    assert.are.equal(1.0, mx[2])
    assert.is_true(ev("max(a)", {a = a}) ~= ev("max(a)", {a = a}))
  end)

  it("comparisons give bool arrays; bool arrays are comparison inputs", function()
    local a = memobj.array("float32", {1, 2, 3})
    local r = ev("a >= 2", {a = a})
    assert.are.equal("bool", r.type)
    assert.are.same({false, true, true}, r:totable())
    assert.are.same({true, false, false}, ev("not r", {r = r}):totable())
    assert.are.same({1.0, 0.0, 0.0}, ev("where(r, 0, a)", {r = r, a = a}):totable())
    assert.are.equal(2, ev("count(r)", {r = r}))
    -- a bool byte other than 0 and 1 (numpy's rule: nonzero is true)
    local raw = memobj.array("uint8", {0, 7, 1})
    local b = raw.memory:array("bool")
    assert.are.same({true, true, true}, ev("b == (a > 0)", {b = b, a = memobj.array("int8", {0, 1, 1})}):totable())
    -- into out: a comparison into an integer array stores 0/1, a number
    -- into a bool array is refused
    local out = memobj.array("int32", 3)
    memobj.eval("a > 1", {a = a}, out)
    assert.are.same({0, 1, 1}, out:totable())
    assert.has_error(function() memobj.eval("a + 1", {a = a}, memobj.array("bool", 3)) end,
                     "memobj.expr: the result is a number, out is bool (it stores comparisons only)")
    -- strided bool in and out
    local big = memobj.array("bool", 6)
    local s = big:slice(2, 6, 2)
    memobj.eval("a > 1", {a = a}, s)
    assert.are.same({false, false, false, true, false, true}, big:totable())
  end)
end)

describe("memobj.expr: reductions", function()
  math.randomseed(7)
  it("sum prod min max mean count any all against the model", function()
    for _, t in ipairs(TYPES) do
      for _, n in ipairs({1, 7, 3000}) do
        local a = randarray(t, n, "strided")
        if isfloat(t) then
          for i = 1, n do if a[i] ~= a[i] or math.abs(a[i]) == math.huge then a[i] = 1.5 end end
        end
        local vals = a:totable()
        local s, p, mn, mx, c = 0, 1, vals[1], vals[1], 0
        local pi = 1
        for i = 1, n do
          s = s + vals[i]
          p = p * vals[i]
          mn = math.min(mn, vals[i])
          mx = math.max(mx, vals[i])
          if vals[i] > 3 then c = c + 1 end
        end
        local rs = memobj.eval("sum(a)", {a = a})
        if isfloat(t) then
          assert.is_true(rs == s or math.abs(rs - s) <= 1e-9 * (math.abs(s) + 1), t)
        else
          assert.are.equal(s, rs)
          assert.are.equal(p, memobj.eval("prod(a)", {a = a}))
        end
        assert.are.equal(mn, memobj.eval("min(a)", {a = a}))
        assert.are.equal(mx, memobj.eval("max(a)", {a = a}))
        assert.are.equal(c, memobj.eval("count(a > 3)", {a = a}))
        assert.are.equal(c > 0, memobj.eval("any(a > 3)", {a = a}))
        assert.are.equal(c == n, memobj.eval("all(a > 3)", {a = a}))
        assert.are.equal(c, memobj.eval("sum(a > 3)", {a = a}))
        local mean = memobj.eval("mean(a)", {a = a})
        local want = 0.0
        for i = 1, n do want = want + vals[i] end
        want = want / n
        assert.is_true(math.abs(mean - want) <= 1e-9 * (math.abs(want) + 1))
        _ = pi
      end
    end
  end)

  it("of an empty array", function()
    local e = memobj.array("float64", 0)
    assert.are.equal(0.0, memobj.eval("sum(e)", {e = e}))
    assert.are.equal(1.0, memobj.eval("prod(e)", {e = e}))
    assert.is_nil(memobj.eval("min(e)", {e = e}))
    assert.is_nil(memobj.eval("mean(e)", {e = e}))
    assert.are.equal(0, memobj.eval("count(e > 0)", {e = e}))
    assert.is_false(memobj.eval("any(e > 0)", {e = e}))
    assert.is_true(memobj.eval("all(e > 0)", {e = e}))
    assert.are.equal(0, #memobj.eval("e * 2", {e = e}))
  end)

  it("sum(a*b) is the dot product", function()
    local a = randarray("float64", 5000, "plain")
    local b = randarray("float64", 5000, "plain")
    for i = 1, 5000 do
      if a[i] ~= a[i] or math.abs(a[i]) == math.huge then a[i] = 1 end
      if b[i] ~= b[i] or math.abs(b[i]) == math.huge then b[i] = 2 end
    end
    local d = a:dot(b)
    local s = memobj.eval("sum(a * b)", {a = a, b = b})
    assert.is_true(math.abs(d - s) <= 1e-9 * math.abs(d))
  end)
end)

describe("memobj.expr: out", function()
  it("writes into out and returns it; integers wrap into narrow types", function()
    local a = memobj.array("int32", {1, 2, 300})
    local out = memobj.array("int8", 3)
    assert.are.equal(out, memobj.eval("a * 2", {a = a}, out))
    assert.are.same({2, 4, 88}, out:totable())  -- 600 wraps to 88
    local f = memobj.array("float32", 3)
    memobj.eval("a / 4", {a = a}, f)
    assert.are.same({0.25, 0.5, 75.0}, f:totable())
  end)

  it("refuses a float result into an integer out, a wrong length, read-only", function()
    local a = memobj.array("float64", {1, 2})
    assert.has_error(function() memobj.eval("a * 2", {a = a}, memobj.array("int32", 2)) end,
                     "memobj.expr: the result is float, out is int32 (an integer array)")
    assert.has_error(function() memobj.eval("a * 2", {a = a}, memobj.array("float64", 3)) end,
                     "memobj.expr: out has 3 elements, the inputs 2")
    assert.has_error(function() memobj.eval("sum(a)", {a = a}, memobj.array("float64", 2)) end,
                     "memobj.expr: a reduction returns a number (out given)")
    local ro = memobj.array("float64", 2).memory:array("float64", 0, 2, "r")
    assert.has_error(function() memobj.eval("a * 2", {a = a}, ro) end)
  end)

  local function seq(t, n)
    local a = memobj.array(t, n)
    for i = 1, n do a[i] = i end
    return a
  end

  it("may be an input (each element read before it is written)", function()
    local a = seq("float64", 3000)
    local b = seq("float64", 3000)
    memobj.eval("a * 2 + b", {a = a, b = b}, a)
    for i = 1, 3000 do assert.are.equal(3.0 * i, a[i]) end
  end)

  -- issue 20: the same bytes at two addresses (a file mapped twice)
  it("reads an input first when it is the same file mapped again", function()
    local path = os.tmpname()
    local n = 2500                                -- several blocks
    local h = assert(io.open(path, "wb"))
    h:write(string.rep("\0", 8 * n))
    h:close()
    local m1 = assert(memobj.map(path, {mode = "rw"}))
    local m2 = assert(memobj.map(path, {mode = "rw"}))
    local a = m1:array("float64")
    for i = 1, n do a[i] = i end
    local out, x = a:slice(2, n), m2:array("float64"):slice(1, n - 1)
    memobj.eval("x * 3 + 1", {x = x}, out)      -- out[i] = old a[i] * 3 + 1
    for i = 2, n do assert.are.equal((i - 1) * 3 + 1, a[i], "element " .. i) end
    a:release(); out:release(); x:release()
    m1:close(); m2:close()
    os.remove(path)
  end)

  it("may overlap an input with another layout: the result is as if read first", function()
    for _, case in ipairs({
      {"reversed", function(m) return m:slice(#m, 1, -1) end},
      {"shifted by one", function(m) return m:slice(2) end},
      {"shifted back", function(m) return m:slice(1, #m - 1) end},
      {"every other", function(m) return m:slice(1, #m, 2) end},
      {"int64 over float64 bytes", function(m) return m.memory:array("int64") end},
    }) do
      for _, n in ipairs({10, 2500}) do
        local m = seq("float64", n)
        local out = case[2](m)
        local k = #out
        local src = m:slice(1, k)
        local want = {}
        for i = 1, k do want[i] = src[i] * 3 + 1 end
        if out.type == "int64" then
          for i = 1, k do want[i] = nil end
          local ints = out:totable()
          memobj.eval("x * 3 + 1", {x = out}, out)
          for i = 1, k do assert.are.equal(ints[i] * 3 + 1, out[i], case[1]) end
        else
          memobj.eval("x * 3 + 1", {x = src}, out)
          for i = 1, k do assert.are.equal(want[i], out[i], case[1] .. " " .. i) end
        end
      end
    end
  end)
end)

describe("memobj.expr: threads", function()
  it("give the same elements as one thread, and the same integer reductions", function()
    local n = 100003
    local a, b = memobj.array("float64", n), memobj.array("int32", n)
    for i = 1, n do a[i] = (i % 977) / 7 - 50; b[i] = (i * 31) % 1001 - 500 end
    local src = "sin(a) ^ 2 + cos(b) ^ 2 + a // 3 - b % 7"
    local one = memobj.expr(src)({a = a, b = b})
    for _, t in ipairs({2, 3, 8}) do
      local f = memobj.expr(src, {threads = t})
      local r = f({a = a, b = b})
      for i = 1, n, 97 do assert.are.equal(one[i], r[i]) end
      assert.are.equal(memobj.eval("count(x ~= y)", {x = one, y = r}), 0)
      assert.are.equal(memobj.expr("sum(b * b)")({b = b}),
                       memobj.expr("sum(b * b)", {threads = t})({b = b}))
      local s1 = memobj.expr("sum(a)")({a = a})
      local st = memobj.expr("sum(a)", {threads = t})({a = a})
      assert.is_true(math.abs(s1 - st) <= 1e-9 * math.abs(s1))
    end
  end)

  it("refuse bad options", function()
    assert.has_error(function() memobj.expr("a", {threads = 0}) end,
                     "memobj.expr: threads must be an integer from 1 to 64")
    assert.has_error(function() memobj.expr("a", {thread = 2}) end,
                     "memobj.expr: unknown option 'thread'")
  end)

  it("pin the inputs: closing memory during a call is refused by the pin", function()
    local m = memobj.heap(8 * 1000)
    local a = m:array("float64")
    local f = memobj.expr("a + 1", {threads = 2})
    assert.are.equal(1000, #f({a = a}))
    a:release()
    assert.has_error(function() f({a = a}) end)
    m:close()
  end)
end)

describe("memobj.expr: errors name the position", function()
  local a = memobj.array("float64", {1, 2})
  local cases = {
    {"a + )", "memobj.expr: unexpected ')' at position 5"},
    {"(a + 1", "memobj.expr: unexpected end of expression at position 7"},
    {"a +* 2", "memobj.expr: unexpected '*' at position 4"},
    {"a $ 2", "memobj.expr: unexpected '$' at position 3"},
    {"sin(a, a)", "memobj.expr: sin takes 1 argument at position 1"},
    {"min(a, a, a)", "memobj.expr: min takes 1 or 2 arguments at position 1"},
    {"foo(a)", "memobj.expr: unknown function 'foo' at position 1"},
    {"a + sum(a)", "memobj.expr: a reduction (sum) must be the outermost call at position 5"},
    {"1.2.3 + a", "memobj.expr: malformed number '1.2.3' at position 1"},
    {"a + nil", "memobj.expr: unexpected 'nil' at position 5"},
    {"a .. a", "memobj.expr: unexpected '.' at position 3"},
    {"", "memobj.expr: unexpected end of expression at position 1"},
  }
  for _, c in ipairs(cases) do
    it(string.format("%q", c[1]), function()
      assert.has_error(function() memobj.expr(c[1]) end, c[2])
      assert.has_error(function() memobj.eval(c[1], {a = a}) end, c[2])
    end)
  end

  it("type errors and inputs at call time", function()
    local b = memobj.array("float64", {1, 2, 3})
    local function err(src, inputs, msg)
      assert.has_error(function() memobj.eval(src, inputs) end, msg)
    end
    err("a + c", {a = a}, "memobj.expr: unknown name 'c' at position 5 (not in the inputs)")
    err("a + b", {a = a, b = b},
        "memobj.expr: 'b' has 3 elements, 'a' has 2 (arrays of different lengths) at position 5")
    err("(a < 1) + 1", {a = a}, "memobj.expr: arithmetic on a comparison (a bool value) at position 9")
    err("a and a < 1", {a = a}, "memobj.expr: 'and' takes comparisons (bool values) at position 3")
    err("not a", {a = a}, "memobj.expr: 'not' takes comparisons (bool values) at position 1")
    err("a < 1 < 2", {a = a}, "memobj.expr: order comparison of a comparison (a bool value) at position 7")
    err("where(a, a, a)", {a = a}, "memobj.expr: where takes a comparison (a bool value) first at position 1")
    err("count(a)", {a = a}, "memobj.expr: count, any and all take a comparison (a bool value) at position 1")
    err("a + s", {a = a, s = "x"}, "memobj.expr: input 's' is a string, not a typed array or a number")
    err("x + 1", {x = 2}, "memobj.expr: no typed array among the inputs")
    assert.has_error(function() memobj.expr("a")({a = a}, nil, 3) end)
  end)

  it("numerals read as Lua reads them", function()
    local one = memobj.array("int64", {0})
    assert.are.same({255}, memobj.eval("one + 0xff", {one = one}):totable())
    assert.are.same({-1}, memobj.eval("one + 0xffffffffffffffff", {one = one}):totable())
    assert.are.same({9223372036854775808.0}, memobj.eval("one + 9223372036854775808", {one = one}):totable())
    assert.are.same({0.5}, memobj.eval("one + .5", {one = one}):totable())
    assert.are.same({1e10}, memobj.eval("one + 1E10", {one = one}):totable())
  end)
end)

describe("memobj.expr against numpy on 10M elements", function()
  local PY
  for _, p in ipairs({"/usr/bin/python3", "python3"}) do
    if os.execute(p .. " -c 'import numpy' >/dev/null 2>&1") then PY = p break end
  end

  it("matches numpy's results (mapped .npy files)", function()
    assert(PY, "python3 with numpy is needed (make test installs python3-numpy)")
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    local ok, err = pcall(function()
      local script = dir .. "/gen.py"
      local f = assert(io.open(script, "w"))
      f:write([[
import numpy as np, sys
d = sys.argv[1]
rng = np.random.default_rng(23)
n = 10_000_000
a = rng.standard_normal(n) * 10
b = rng.standard_normal(n) * 10
i = rng.integers(-1000, 1000, n, dtype=np.int32)
np.save(d + "/a.npy", a); np.save(d + "/b.npy", b); np.save(d + "/i.npy", i)
np.save(d + "/r1.npy", 2*a + 3*b)
np.save(d + "/r2.npy", a*b - 4.1*a > 2.5*b)
np.save(d + "/r3.npy", np.sin(a)**2 + np.cos(b)**2)
np.save(d + "/r4.npy", a // 3 - i % 7 + np.floor_divide(i, 5))
print(repr(float(np.sum(a*b))))
]])
      f:close()
      local p = assert(io.popen(PY .. " " .. script .. " " .. dir))
      local dot = tonumber(p:read("a"))
      assert(p:close())
      local function open(name) return assert(memobj.npy.open(dir .. "/" .. name .. ".npy")) end
      local a, b, i = open("a"), open("b"), open("i")
      assert.are.equal(10000000, #a)
      local cases = {
        {"r1", "2*a + 3*b", 0},
        {"r2", "a*b - 4.1*a > 2.5*b", 0},
        {"r3", "sin(a)^2 + cos(b)^2", 4},
        {"r4", "a // 3 - i % 7 + i // 5", 0},
      }
      for _, c in ipairs(cases) do
        local want = open(c[1])
        local got = memobj.eval(c[2], {a = a, b = b, i = i})
        -- every element, compared in C by the engine itself ...
        local isbool = got.type == "bool"
        assert.are.equal(want.type, got.type)
        local bad = memobj.eval(isbool and "count(x ~= y)" or "count(abs(x - y) > u * abs(y) * 2.3e-16)",
                                {x = got, y = want, u = c[3]})
        assert.are.equal(0, bad, c[2])
        -- ... and a sample compared in Lua
        for k = 1, #got, 99991 do
          local x, y = got[k], want[k]
          if isbool then
            assert.are.equal(y, x, c[2] .. " " .. k)
          else
            assert.is_true(math.abs(x - y) <= c[3] * math.abs(y) * 2.3e-16, c[2] .. " " .. k)
          end
        end
        want:release()
      end
      local s = memobj.eval("sum(a*b)", {a = a, b = b})
      assert.is_true(math.abs(s - dot) <= 1e-9 * math.abs(dot))
      for _, v in ipairs({a, b, i}) do v:release() end
      collectgarbage()
    end)
    os.execute("rm -rf " .. dir)
    assert(ok, err)
  end)
end)

describe("memobj.expr over a truncated mapped file", function()
  local procs = require("mo_procs")
  local PAGE = 4096
  local inproc = procs.sigbus_ok() and it or function(name) pending(name) end

  inproc("raises for lost pages, never answers with what they read as", function()
    local calls = {
      function(a) return memobj.eval("sum(a)", {a = a}) end,
      function(a) return memobj.eval("a * 2", {a = a}) end,
      function(a) return memobj.expr("a + 1", {threads = 2})({a = a}) end,
      function(a) return memobj.eval("a + 1", {a = memobj.array("f64", #a)}, a) end,
      function(a) return memobj.eval("a + 0", {a = a:slice(#a, 1, -1)}, a) end,
      function(a) return memobj.expr("x * 3")({x = a:slice(1, #a, 2)}) end,
    }
    for i, call in ipairs(calls) do
      assert(procs.lost_pages(string.pack("<d", 1.0):rep(PAGE), PAGE, function(m)
        local a = m:array("f64")
        local ok, msg = pcall(call, a)
        a:release()
        assert.is_false(ok, "call " .. i)
        assert.matches("truncated file", msg, 1, false, "call " .. i)
      end))
    end
  end)
end)

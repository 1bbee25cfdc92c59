-- filediff.lua: a differential fuzzer of file views against io on a real
-- temporary file (issue 16). The same random reads, writes, seeks and
-- lines go to an io handle and to a file view opened with the same mode
-- ("w+" over a large heap, "r" and "r+" over memory holding the file's
-- bytes); every result (values, nil, message, errno) must be the same,
-- and so must the bytes at the end. Writes and seeks stay inside the
-- view's capacity, where a file view and a file agree.
-- usage: lua5.4 tests/fuzz/filediff.lua [seed] [steps]
local memobj = require("memobj")

local seed = tonumber(arg[1]) or os.time()
local steps = tonumber(arg[2]) or 2000
math.randomseed(seed)

local path = os.tmpname()
local step_no, what = 0, ""
local function fail(msg)
  io.stderr:write(("filediff: seed %d, step %d (%s): %s\n"):format(seed, step_no, what, msg))
  os.remove(path)
  os.exit(1)
end

local function pick(t) return t[math.random(#t)] end

local PIECES = {"1", "23", " 4.5", "-7", "0x1F", "1e3", "abc", "\n", "\n\n", " ", "nan",
  "0x", "1.5e", ".5", "+3", "--", "\t12\n", "x\ny\n", "123456789012345678901234567890",
  "0x1p4", "\0", "\255"}
local function rtext(k)
  local t = {}
  for i = 1, k do t[i] = pick(PIECES) end
  return table.concat(t)
end

local function norm(...)
  local r = table.pack(...)
  for i = 1, r.n do
    local v = r[i]
    if type(v) == "userdata" then r[i] = "handle"
    elseif type(v) == "number" then r[i] = math.type(v) .. ":" .. tostring(v)
    else r[i] = type(v) .. ":" .. tostring(v) end
  end
  return table.concat(r, "|", 1, r.n)
end

local function pnorm(ok, ...)
  if not ok then return "error: " .. tostring((...)):gsub("^[^\n]-:%d+: ", "") end
  return norm(...)
end

local CAP = 1 << 16
local function session()
  local mode = pick({"w+", "w+", "r", "r+"})
  local initial = rtext(math.random(0, 40))
  local fh = assert(io.open(path, "wb"))
  fh:write(initial)
  fh:close()
  local f = assert(io.open(path, mode .. "b"))
  local m, v
  if mode == "w+" then
    m = memobj.heap(CAP)
  else  -- the memory is exactly the file: its capacity is the data
    m = memobj.heap(#initial)
    memobj.bytes(m):put(1, initial)
  end
  v = m:file(mode)
  local cap = mode == "w+" and CAP or #initial
  local pos, len = 0, mode == "w+" and 0 or #initial  -- to keep writes inside cap

  local function same(label, fn)
    what = mode .. " " .. label
    local a = pnorm(pcall(fn, f))
    local b = pnorm(pcall(fn, v))
    if a ~= b then fail(("%s:\n  io:   %s\n  view: %s"):format(label, a, b)) end
    return a
  end

  for _ = 1, math.random(5, 60) do
    local r = math.random(10)
    if r <= 4 then
      local fmts = {}
      for i = 1, math.random(0, 4) do
        fmts[i] = pick({"l", "L", "n", "a", 0, 1, 3, 10, "*l", "*n"})
      end
      local label = "read(" .. table.concat((function()
        local t = {}
        for i, x in ipairs(fmts) do t[i] = tostring(x) end
        return t
      end)(), ",") .. ")"
      same(label, function(h) return h:read(table.unpack(fmts)) end)
    elseif r <= 6 then
      local x = pick({rtext(math.random(0, 3)), math.random(-50, 50), math.random() * 100,
                      1e300, -0.0, math.maxinteger})
      local n = type(x) == "string" and #x or 40
      if mode == "r+" and type(x) == "string" and pos + n <= cap then
        same(("write(%q)"):format(x), function(h) return h:write(x) end)
        pos = pos + n
      elseif mode == "w+" and pos + n < cap then
        same("write(" .. tostring(x) .. ")", function(h) return h:write(x) end)
        pos = pos + #tostring(x)
        if pos > len then len = pos end
      elseif mode == "r" then
        same("write on r", function(h) return h:write(x) end)
      end
    elseif r <= 8 then
      local whence = pick({"set", "set", "cur", "end"})
      local off = math.random(-20, 60)
      if whence == "set" and math.random(2) == 1 then off = math.random(0, len) end
      local base = whence == "set" and 0 or whence == "end" and len or pos
      if base + off <= cap then
        local res = same(("seek(%s, %d)"):format(whence, off),
                         function(h) return h:seek(whence, off) end)
        local p = tonumber(res:match("^integer:(%-?%d+)$"))
        if p then pos = p end
      end
    elseif r == 9 then
      same("seek()", function(h) return h:seek() end)
      same("lines(L)", function(h)
        local out = {}
        for line in h:lines("L") do
          out[#out + 1] = line
          if #out > 5 then break end
        end
        return table.concat(out, "/")
      end)
    else
      same("read() at", function(h) return h:read(), h:seek() end)
    end
    -- positions agree (reads moved them)
    local p = same("seek(cur)", function(h) return h:seek("cur", 0) end)
    pos = tonumber(p:match("^integer:(%-?%d+)$")) or pos
  end
  same("flush", function(h) return h:flush() end)
  -- the data: what the file holds is the view's memory up to its logical end
  local vend = v:seek("end")
  f:close()
  v:close()
  fh = assert(io.open(path, "rb"))
  local filedata = fh:read("a")
  fh:close()
  local memdata = memobj.bytes(m):string(1, vend)
  what = mode .. " final bytes"
  if filedata ~= memdata then
    fail(("the file holds %q, the view %q"):format(filedata:sub(1, 60), memdata:sub(1, 60)))
  end
  collectgarbage()
  m:close()
end

for k = 1, steps do
  step_no = k
  session()
end
os.remove(path)
print(("filediff: seed %d, %d steps: ok"):format(seed, steps))

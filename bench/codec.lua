-- codec.lua: memobj.encode + memobj.decode of a nested table (1000
-- records of id, name, tags, score, address) against lua-cjson in the
-- same process, and against LuaJIT's string.buffer run on the same data
-- in a luajit child process (its timings are read back from its output).
-- Goals (issue 21): >= 3x faster than cjson; at most 1.25x the time of
-- string.buffer. GB/s counts the bytes of memobj's encoding.
--
-- The floors (bench/codecfloor.c, in this process): what PUC Lua itself
-- needs through its C API to walk the same value (lua_next, every type,
-- every string's bytes copied, one result string: the least an encoder
-- does) and to build it from data parsed already (exact lua_createtable,
-- one lua_pushlstring per distinct string, lua_rawset: the least a
-- decoder does). "vs floor" says how far memobj is from what the VM
-- allows; the floor's share of string.buffer's time says how close to
-- it any codec on PUC Lua can come.
local memobj = require("memobj")
local common = require("common")

local ITER = tonumber(os.getenv("MEMOBJ_CODEC_ITER")) or 200

-- The data, as source text so that luajit builds exactly the same.
local MAKE = [[
local function make()
  local colours = {"red", "green", "blue", "amber", "teal", "plum"}
  local t = {}
  for i = 1, 1000 do
    t[i] = {
      id = i,
      name = "user" .. i,
      tags = {colours[i % 6 + 1], colours[(i + 2) % 6 + 1], "t" .. (i % 50)},
      score = i * 0.25 + 0.125,
      address = {street = (i * 7) .. " Main Street", city = "Springfield",
                 zip = string.format("%05d", i * 13 % 100000)},
    }
  end
  return t
end
]]

local make = load(MAKE .. " return make")()
local data = make()

local function same(a, b)
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function clock(fn)
  local best = {}
  for r = 1, common.runs do
    collectgarbage()
    local t0 = os.clock()
    fn()
    best[r] = os.clock() - t0
  end
  table.sort(best)
  return best[(#best + 1) // 2] / ITER
end

-- memobj
local enc, dec = memobj.encode, memobj.decode
local s = enc(data)
assert(same(data, (dec(s))), "memobj round trip differs")
local m_enc = clock(function() for _ = 1, ITER do enc(data) end end)
local m_dec = clock(function() for _ = 1, ITER do dec(s) end end)

-- the floors, interleaved with memobj
local so = "/tmp/memobj_bench_codecfloor.so"
local cflags = io.popen("pkg-config --cflags lua5.4"):read("a"):gsub("%s+$", "")
assert(os.execute(("gcc -O2 -shared -fPIC %s -o %s bench/codecfloor.c")
  :format(cflags, so)), "cannot build the C floor")
local floor = package.loadlib(so, "luaopen_codecfloor")()
local prog = floor.prepare(data)
assert(same(data, floor.build(prog)), "the floor's build differs")
local walk, build = floor.walk, floor.build
local fe_ours, f_enc = common.compare(
  function() for _ = 1, ITER do enc(data) end end,
  function() for _ = 1, ITER do walk(data) end end)
local fd_ours, f_dec = common.compare(
  function() for _ = 1, ITER do dec(s) end end,
  function() for _ = 1, ITER do build(prog) end end)
f_enc, f_dec = f_enc / ITER, f_dec / ITER

-- lua-cjson, interleaved with memobj for the ratio
local ok, cjson = pcall(require, "cjson")
local m_both, c_both, jsize
if ok then
  jsize = #cjson.encode(data)
  assert(same(data, cjson.decode(cjson.encode(data))), "cjson round trip differs")
  local a, b = common.compare(
    function() for _ = 1, ITER do dec(enc(data)) end end,
    function() for _ = 1, ITER do cjson.decode(cjson.encode(data)) end end)
  m_both, c_both = a / ITER, b / ITER
else
  print("lua-cjson not installed (Debian lua-cjson): no cjson baseline")
  m_both = m_enc + m_dec
end

-- LuaJIT's string.buffer in a child process on the same data
local JIT = MAKE .. ([[
local buffer = require("string.buffer")
local data = make()
local ITER, RUNS = %d, %d
local s = buffer.encode(data)
assert(buffer.decode(s)[1000].address.city == "Springfield")
local function clock(fn)
  local t = {}
  for r = 1, RUNS do
    collectgarbage()
    local t0 = os.clock()
    fn()
    t[r] = os.clock() - t0
  end
  table.sort(t)
  return t[math.floor((#t + 1) / 2)] / ITER
end
local e = clock(function() for _ = 1, ITER do buffer.encode(data) end end)
local d = clock(function() for _ = 1, ITER do buffer.decode(s) end end)
local b = clock(function() for _ = 1, ITER do buffer.decode(buffer.encode(data)) end end)
io.write(string.format("%%.9g %%.9g %%.9g %%d\n", e, d, b, #s))
]]):format(ITER, common.runs)

local jit
do
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(JIT)
  f:close()
  local p = io.popen("luajit " .. path .. " 2>&1")
  local out = p:read("a")
  p:close()
  os.remove(path)
  local e, d, b, n = out:match("^(%S+) (%S+) (%S+) (%d+)")
  if e then
    jit = {enc = tonumber(e), dec = tonumber(d), both = tonumber(b), size = tonumber(n)}
  else
    print("luajit with string.buffer not available (Debian luajit): " .. out)
  end
end

local us = 1e6
print(("memobj: %d bytes; encode %.0f us (%.2f GB/s), decode %.0f us (%.2f GB/s), both %.0f us")
  :format(#s, m_enc * us, #s / m_enc / 1e9, m_dec * us, #s / m_dec / 1e9, m_both * us))
print(("floor (PUC Lua C API): walk %.0f us, build %.0f us, both %.0f us")
  :format(f_enc * us, f_dec * us, (f_enc + f_dec) * us))
common.row("codec", "encode, time vs the floor (lua_next walk)", fe_ours / ITER / f_enc, "x")
common.row("codec", "decode, time vs the floor (C API build)", fd_ours / ITER / f_dec, "x")
if c_both then
  print(("cjson:  %d bytes; encode+decode %.0f us"):format(jsize, c_both * us))
  common.row("codec", "encode+decode 1000 records, time vs lua-cjson", m_both / c_both,
             "x", "<= 0.33")
end
if jit then
  print(("luajit string.buffer: %d bytes; encode %.0f us (%.2f GB/s), decode %.0f us (%.2f GB/s), both %.0f us")
    :format(jit.size, jit.enc * us, jit.size / jit.enc / 1e9, jit.dec * us,
            jit.size / jit.dec / 1e9, jit.both * us))
  common.row("codec", "encode+decode, time vs LuaJIT string.buffer", m_both / jit.both,
             "x", "<= 1.25")
  common.row("codec", "encode, time vs LuaJIT string.buffer", m_enc / jit.enc, "x")
  common.row("codec", "decode, time vs LuaJIT string.buffer", m_dec / jit.dec, "x")
  common.row("codec", "floor walk+build, time vs LuaJIT string.buffer",
             (f_enc + f_dec) / jit.both, "x")
  common.row("codec", "floor walk, time vs LuaJIT encode", f_enc / jit.enc, "x")
  common.row("codec", "floor build, time vs LuaJIT decode", f_dec / jit.dec, "x")
end
common.row("codec", "encode GB/s (bytes of the encoding)", #s / m_enc / 1e9, "GB/s")
common.row("codec", "decode GB/s (bytes of the encoding)", #s / m_dec / 1e9, "GB/s")

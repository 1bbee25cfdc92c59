-- tools/layers.lua: the include check of `make lint`. It enforces the layer
-- rules of doc/internals.md ("Layers: which directory may include what"):
--   runtime/core/*      the object core: includes only runtime/core/* and the
--                       umbrella runtime/core.h (and Lua, libc), never a tool;
--   runtime/tools/*     the tools above the core: runtime/core/*, runtime/core.h
--                       and runtime/tools/*;
--   runtime/core.h      the umbrella header: runtime/core/* only;
--   runtime/core/os.[ch] include no Lua header and no other memobj header;
--   memobj/*, access/*  include runtime/* and their own directory only;
--   bindings/*          may include anything, but bindings/mpi/* (a module
--                       apart) only runtime/memobj.h and its own files;
--   a "No Lua" file (NOLUA below) includes, even indirectly, no Lua header.
-- usage: lua5.4 tools/layers.lua FILE...   (exit status 1 on a violation)

local NOLUA = {["runtime/core/os.h"] = true, ["runtime/core/os.c"] = true,
  ["memobj/pool.h"] = true, ["access/npy_format.h"] = true, ["access/npy_format.c"] = true,
  ["runtime/tools/arena.h"] = true, ["runtime/tools/arena.c"] = true}
local OSLAYER = {["runtime/core/os.h"] = true, ["runtime/core/os.c"] = true}
local LUA_HEADERS = {["lua.h"] = true, ["lauxlib.h"] = true, ["lualib.h"] = true,
  ["luaconf.h"] = true}

-- Known breaks, reported but not failing, each with the work that removes
-- it. Delete the entry with the fix: then the rule holds for good.
local KNOWN = {
}

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end

-- "a/b/../c.h" -> "a/c.h"
local function normalize(p)
  local out = {}
  for part in p:gmatch("[^/]+") do
    if part == ".." and #out > 0 and out[#out] ~= ".." then out[#out] = nil
    elseif part ~= "." then out[#out + 1] = part end
  end
  return table.concat(out, "/")
end

local includes = {}  -- file -> {quoted = {paths}, system = {names}}
local function scan(file)
  if includes[file] then return includes[file] end
  local inc = {quoted = {}, system = {}}
  includes[file] = inc
  local f = io.open(file)
  if not f then return inc end
  for line in f:lines() do
    local q = line:match('^%s*#%s*include%s*"([^"]+)"')
    local s = line:match("^%s*#%s*include%s*<([^>]+)>")
    if q then inc.quoted[#inc.quoted + 1] = normalize(dirname(file) .. "/" .. q) end
    if s then inc.system[#inc.system + 1] = s end
  end
  f:close()
  return inc
end

-- the first Lua header reached from file through quoted includes, as a chain
local function reaches_lua(file, seen)
  seen = seen or {}
  if seen[file] then return nil end
  seen[file] = true
  local inc = scan(file)
  for _, s in ipairs(inc.system) do
    if LUA_HEADERS[s] then return file .. " -> <" .. s .. ">" end
  end
  for _, q in ipairs(inc.quoted) do
    local chain = reaches_lua(q, seen)
    if chain then return file .. " -> " .. chain end
  end
  return nil
end

-- runtime/ holds two layers: runtime/core/ (with its umbrella header
-- runtime/core.h and the public runtime/memobj.h) and runtime/tools/
local function layer(p)
  if p == "runtime/core.h" or p == "runtime/memobj.h" then return "core" end
  local sub = p:match("^runtime/([^/]+)/")
  if sub then return sub end
  return p:match("^([^/]+)/")
end

local allowed = {
  core = {core = true},
  tools = {core = true, tools = true},
  memobj = {core = true, tools = true, memobj = true},
  access = {core = true, tools = true, access = true},
}

local bad = 0
local function fail(file, msg)
  if KNOWN[file] then
    io.stderr:write(("%s: %s (known: %s)\n"):format(file, msg, KNOWN[file]))
    return
  end
  io.stderr:write(("%s: %s\n"):format(file, msg))
  bad = bad + 1
end

for _, file in ipairs(arg) do
  file = normalize(file)
  local from = layer(file)
  local inc = scan(file)
  for _, q in ipairs(inc.quoted) do
    local to = layer(q)
    if allowed[from] and not allowed[from][to] then
      fail(file, ('includes "%s": %s may not include %s'):format(q, from, to))
    end
    -- memobj.mpi is a module apart: the public C API and its own files
    if file:match("^bindings/mpi/") and q ~= "runtime/memobj.h"
        and not q:match("^bindings/mpi/") then
      fail(file, ('includes "%s": memobj.mpi includes only runtime/memobj.h'):format(q))
    end
    if OSLAYER[file] and q ~= "runtime/core/os.h" then
      fail(file, ('includes "%s": the OS layer includes no other memobj header'):format(q))
    end
  end
  if NOLUA[file] then
    local chain = reaches_lua(file)
    if chain then fail(file, "must include no Lua header: " .. chain) end
  end
end
if bad > 0 then
  io.stderr:write(("layers: %d include(s) break doc/internals.md's rules\n"):format(bad))
  os.exit(1)
end
print(("layers: %d files follow doc/internals.md's include rules"):format(#arg))

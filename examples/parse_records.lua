-- parse_records.lua: a parser written for Lua io file handles parses a
-- heap buffer through a file view, unchanged, and gives the same answer
-- as on a real file.
--
--   LUA_CPATH="build/?.so;;" lua5.4 examples/parse_records.lua
--
-- The input: a title line "# <title>", then sections. "records N" is
-- followed by N lines "<name> <count> <price>"; "matrix R C" by R*C
-- numbers in any layout and any syntax Lua reads (2.5, 1e3, 0x10).

local memobj = require("memobj")

-- The parser knows nothing about memobj: it uses read("l"), read("n"),
-- lines and seek, as it would on a handle from io.open.
local function parse(f)
  local doc = {title = f:read("l"):match("^#%s*(.-)%s*$"), records = {}}
  for line in f:lines() do
    local word, a, b = line:match("^(%a+)%s+(%d+)%s*(%d*)")
    if word == "records" then
      for _ = 1, tonumber(a) do
        local name, count, price = f:read("l"):match("^(%S+)%s+(%S+)%s+(%S+)")
        doc.records[#doc.records + 1] =
          {name = name, count = math.tointeger(tonumber(count)), price = tonumber(price)}
      end
    elseif word == "matrix" then
      local m = {}
      for i = 1, tonumber(a) * tonumber(b) do
        m[i] = assert(f:read("n"), "matrix: number expected")
      end
      doc.matrix = m
    end
  end
  doc.size = f:seek("end")
  return doc
end

local function render(doc)
  local out = {("%s (%d bytes)"):format(doc.title, doc.size)}
  local total = 0
  for _, r in ipairs(doc.records) do
    out[#out + 1] = ("  %-7s %3d x %5.2f"):format(r.name, r.count, r.price)
    total = total + r.count * r.price
  end
  out[#out + 1] = ("  total %.2f"):format(total)
  local cells = {}
  for i, v in ipairs(doc.matrix) do cells[i] = tostring(v) end
  out[#out + 1] = "  matrix " .. table.concat(cells, " ")
  return table.concat(out, "\n")
end

local text = [[
# stock on 2026-11-23
records 4
apples 12 0.5
pears 3 1.25
figs 16 0.2
dates 7 3
matrix 2 3
1 0x10 2.5
  -4 1e3
6
]]

-- The same bytes in a heap buffer (written through a file view) ...
local m = memobj.heap(#text)
do
  local w <close> = m:file("w")
  assert(w:write(text))
end

-- ... and in a real file.
local path = os.tmpname()
do
  local w <close> = assert(io.open(path, "w"))
  w:write(text)
end

local f = m:file("r")
local from_memory = render(parse(f))
f:close()
f = assert(io.open(path, "r"))
local from_file = render(parse(f))
f:close()
os.remove(path)

print(from_memory)
print(from_memory == from_file and "same as io.open" or
      "DIFFERENT from io.open:\n" .. from_file)

-- docs_spec.lua: the documentation stands alone. Every relative link in
-- README.md and doc/ names a file of this repository, and none points
-- outside it (users never see the files beside the repository).
local function markdown_files()
  local list = {"README.md"}
  local p = io.popen("ls doc/*.md")
  for path in p:lines() do list[#list + 1] = path end
  p:close()
  return list
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Every (target) of a [text](target) link that is not a URL or an anchor.
local function links(text)
  local out = {}
  for target in text:gmatch("%]%(([^)%s]+)%)") do
    if not target:match("^%a[%w+.-]*:") and not target:match("^#") then
      out[#out + 1] = target:gsub("#.*$", "")
    end
  end
  return out
end

describe("documentation", function()
  for _, file in ipairs(markdown_files()) do
    it(file .. " links only to files of the repository", function()
      local f = assert(io.open(file, "rb"))
      local text = f:read("a")
      f:close()
      local dir = file:match("^(.*)/") or "."
      local bad = {}
      for _, target in ipairs(links(text)) do
        local path = dir .. "/" .. target
        -- a link may not climb out of the repository
        local depth, escapes = (dir == "." and 0 or 1), false
        for part in target:gmatch("[^/]+") do
          if part == ".." then depth = depth - 1 elseif part ~= "." then depth = depth + 1 end
          if depth < 0 then escapes = true end
        end
        if escapes or not exists(path) then bad[#bad + 1] = target end
      end
      assert.same({}, bad)
      -- nor name the steering documents outside the repository
      assert.is_nil(text:find("../shared/", 1, true))
    end)
  end
end)

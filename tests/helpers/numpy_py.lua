-- numpy_py.lua: run a Python script with numpy from a spec, for the specs
-- that check memobj's files and types against numpy itself.
local M = {}

local PY
for _, p in ipairs({"/usr/bin/python3", "python3"}) do
  if os.execute(p .. " -c 'import numpy' >/dev/null 2>&1") then PY = p break end
end

-- Run code (numpy imported as np, DIR the directory dir) from a script
-- written into dir; returns its output, raising if it fails.
function M.run(dir, code)
  assert(PY, "python3 with numpy is needed (make test installs python3-numpy)")
  local script = dir .. "/script.py"
  local f = assert(io.open(script, "w"))
  f:write("import numpy as np, sys, os\nDIR = sys.argv[1]\n", code)
  f:close()
  local p = assert(io.popen(PY .. " " .. script .. " " .. dir .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  os.remove(script)
  assert(ok, "python failed:\n" .. out)
  return out
end

return M

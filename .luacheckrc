-- luacheck configuration (make lint): Lua 5.4 everywhere, busted's
-- globals in the specs.
std = "lua54"
codes = true
max_line_length = false  -- long lines are a reviewer's call, not a lint failure
exclude_files = {"build/"}
-- Specs, benchmarks and examples hold references in locals and then drop
-- them (t = nil) so that the collector can run: assignments that are never
-- read are the point there (W241, W311).
files["tests/"] = {std = "+busted", ignore = {"241", "311"}}
files["bench/"] = {ignore = {"241", "311"}}
files["examples/"] = {ignore = {"241", "311"}}
-- 'not (x < y)' is how NaN-aware comparisons are written here (W581).
ignore = {"581"}

-- arena_helper.lua: busted --helper for the second run of the suite
-- (tests/run.sh): the state running every spec gets memobj's arena as
-- its allocator before the first spec loads.
local memobj = require("memobj")
assert(memobj.set_allocator("arena", "lua") == nil)

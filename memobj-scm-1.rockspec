package = "memobj"
version = "scm-1"
source = {
   url = "git+file:///memobj",  -- built from the checkout with `luarocks make`
}
description = {
   summary = "Memory objects for Lua 5.4: heap, mapped files, shared memory, persistent pools, typed arrays, libffi",
   detailed = [[
Memory objects own memory (heap, shared memory, mapped files, persistent
pools, Lua strings, foreign C memory); access objects (typed arrays, byte
strings, file views) attach to any of them through one buffer-locking
protocol, so memory is never freed or moved under a live view.
]],
   license = "MIT",
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
-- libffi comes from Debian's libffi-dev and is found with pkg-config by
-- the Makefile (its header lives in a multiarch directory luarocks does
-- not search).
build = {
   type = "make",
   build_variables = {
      CFLAGS = "$(CFLAGS)",
      LUA_INCDIR = "$(LUA_INCDIR)",
   },
   -- memobj.h and memobj.pc stay in the rock's own directory of the tree
   -- (luarocks deploys only lib/, lua/ and bin/): `luarocks show
   -- --rock-dir memobj` names it, and PKG_CONFIG_PATH=<that>/pkgconfig
   -- lets `pkg-config --cflags memobj` find the installed header.
   install_variables = {
      LUA_CMOD_DIR = "$(LIBDIR)",
      PREFIX = "$(PREFIX)",
      INCLUDE_DIR = "$(PREFIX)/include",
      PC_DIR = "$(PREFIX)/pkgconfig",
   },
}

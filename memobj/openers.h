/*
** openers.h: the memory kinds of memobj/, one line each. luaopen_memobj
** (bindings/memobj.c) opens every kind listed here, in this order; each
** opener takes the module table at the top of the stack and registers its
** descriptor (runtime/core/kinds.c). A new kind is one file plus one line here.
*/
#ifndef MO_MEMOBJ_OPENERS_H
#define MO_MEMOBJ_OPENERS_H

#include <lua.h>

#define MO_MEMORY_KINDS(X) \
  X(heap)                  \
  X(string)                \
  X(foreign)               \
  X(mapped)                \
  X(shared)                \
  X(persistent)            \
  X(memfd)                 \
  /* one line per kind, each ending in a backslash */

#define MO_DECLARE_OPENER(name) void mo_##name##_open(lua_State *L);
MO_MEMORY_KINDS(MO_DECLARE_OPENER)

#endif

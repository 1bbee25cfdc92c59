/*
** openers.h: the access kinds (views) of access/. luaopen_memobj
** (bindings/memobj.c) opens every one listed here; each opener takes the
** module table at the top of the stack and adds its constructors and the
** methods it gives memory objects.
*/
#ifndef MO_ACCESS_OPENERS_H
#define MO_ACCESS_OPENERS_H

#include <lua.h>

#define MO_ACCESS_KINDS(X) \
  X(array)                 \
  X(bytes)                 \
  X(fileview)              \
  X(atomics)               \
  X(records)               \
  X(codec)                 \
  X(queue)                 \
  X(dict)                  \
  X(expr)                  \
  /* one line per kind, each ending in a backslash */

#define MO_DECLARE_ACCESS_OPENER(name) void mo_##name##_open(lua_State *L);
MO_ACCESS_KINDS(MO_DECLARE_ACCESS_OPENER)

#endif

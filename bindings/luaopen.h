/*
** luaopen.h: the entry points Lua's require calls (memobj and
** memobj.ffi), declared once for the files that define and call them.
*/
#ifndef MO_LUAOPEN_H
#define MO_LUAOPEN_H

#include <lua.h>

LUAMOD_API int luaopen_memobj(lua_State *L);
LUAMOD_API int luaopen_memobj_ffi(lua_State *L);

#endif

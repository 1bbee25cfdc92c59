/*
** npy.h: memobj.npy (bindings/npy.c), opened by luaopen_memobj after the
** memory kinds, since npy.open maps files through memobj.map.
*/
#ifndef MO_NPY_H
#define MO_NPY_H

#include <lua.h>

/* Add the table memobj.npy (open, save) to the module table at the top. */
void mo_npy_open(lua_State *L);

#endif

/*
** bytes.h: the byte string view (a Lua string that lives in any memory
** object), for the files that create byte views of their own objects.
*/
#ifndef MO_BYTES_H
#define MO_BYTES_H

#include <lua.h>

/* memobj.bytes(src [, offset [, length [, mode]]]): src is a memory
** object, any view, or a Lua string at index 1. Pushes the new view. */
int mo_bytes_lnew(lua_State *L);

#endif

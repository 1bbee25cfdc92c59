/*
** bytes.h: the byte string view (a Lua string that lives in any memory
** object), for the files that create byte views of their own objects.
*/
#ifndef MO_BYTES_H
#define MO_BYTES_H

#include <lua.h>
#include "../runtime/core.h"

/* memobj.bytes(src [, offset [, length [, mode]]]): src is a memory
** object, any view, or a Lua string at index 1. Pushes the new view. */
int mo_bytes_lnew(lua_State *L);

/* ---- For the files that implement byte view methods ---- */

/* A byte view at idx (live or released), or NULL: the tag and the size
** of the userdata, for the metamethods b[i] and b[i] = v only (the VM
** passes them our object; see toarray_fast in array.c). */
static inline mo_view *mo_bytes_to(lua_State *L, int idx) {
  mo_view *v = (mo_view *)lua_touserdata(L, idx);
  if (v == NULL || lua_rawlen(L, idx) < sizeof(mo_view) ||
      v->tag != MO_TAG_BYTES)
    return NULL;
  return v;
}

/* The live byte view at idx, or raise. */
mo_view *mo_bytes_check(lua_State *L, int idx);
/* The bytes of a string argument (Lua string, number, memory object or
** any view), or raise. */
const unsigned char *mo_bytes_checkstr(lua_State *L, int idx, size_t *len);
/* An initial position as string.find takes it (may exceed len + 1). */
size_t mo_bytes_posrelat(lua_Integer pos, size_t len);
int mo_bytes_released(lua_State *L);
/* Add methods to every byte view (for files with methods of their own,
** called from their opener after mo_bytes_open). */
void mo_bytes_addmethods(lua_State *L, const luaL_Reg *l);
/* find, match, gmatch, gsub (bytes_match.c) */
extern const luaL_Reg mo_bytes_match_methods[];
/* readfrom, writeto (bytes_io.c) */
extern const luaL_Reg mo_bytes_io_methods[];

#endif

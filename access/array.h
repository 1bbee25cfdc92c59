/*
** array.h: the typed array view, shared with the files that add methods
** to it (atomics).
*/
#ifndef MO_ARRAY_H
#define MO_ARRAY_H

#include "../runtime/core.h"
#include "elemtype.h"

typedef struct mo_array {
  mo_view v;         /* v.count is the number of elements */
  uint8_t etype;     /* mo_etype: base type, + MO_NBASE if byte-swapped */
  uint8_t itemsize;
} mo_array;

/* The live array at idx, or raise. */
mo_array *mo_checkarray(lua_State *L, int idx);
/* Check a 1-based element index i of a (negative not allowed) for a
** write or read that must exist; raises "index out of range". Returns
** the 0-based index. */
size_t mo_array_checkindex(lua_State *L, mo_array *a, int arg);
/* Add methods to every typed array (called from openers after
** mo_array_open). */
void mo_array_addmethods(lua_State *L, const luaL_Reg *l);

#endif

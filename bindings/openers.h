/*
** openers.h: the registration function of every memory kind and access
** kind. Each takes the module table at the top of the stack and adds its
** constructors (and methods on memory objects) to it.
*/
#ifndef MO_OPENERS_H
#define MO_OPENERS_H

#include <lua.h>

/* memory kinds (memobj/) */
void mo_heap_open(lua_State *L);
void mo_string_open(lua_State *L);
void mo_foreign_open(lua_State *L);
void mo_mapped_open(lua_State *L);
void mo_shared_open(lua_State *L);
void mo_persistent_open(lua_State *L);

/* access kinds (access/) */
void mo_array_open(lua_State *L);
void mo_bytes_open(lua_State *L);   /* access/bytes.c */
void mo_fileview_open(lua_State *L);
void mo_atomics_open(lua_State *L);
void mo_records_open(lua_State *L);  /* access/records.c */
void mo_npy_open(lua_State *L);      /* bindings/npy.c: after map */

#endif

/*
** type.h: the identity of memobj's userdata. A userdata is a memory
** object, a view or another memobj object because of its metatable, as
** lauxlib's luaL_checkudata decides, never because of bytes inside it:
** each state keeps a table from the metatables memobj made to their type.
** The tag (the userdata's first word) stays as a cross-check against a
** metatable moved between two of memobj's own objects, and as the hot
** path's pre-filter (doc/internals.md, "Identity").
*/
#ifndef MO_TYPE_H
#define MO_TYPE_H

#include "base.h"

/* Register the metatable at mtidx as the one of objects with `tag` whose
** userdata hold at least `size` bytes; view says it is a view (any view
** check accepts it). Idempotent. Raises only when out of memory. */
void mo_type_register(lua_State *L, int mtidx, uint32_t tag, size_t size,
                      int view);
/* The tag of the memobj object at idx (0 if idx holds none): its
** metatable is registered, its userdata big enough and its first word
** says the same tag. *view (may be NULL) tells a view. */
uint32_t mo_type_of(lua_State *L, int idx, int *view);
/* The object at idx if it is one of `tag`, else NULL. */
void *mo_type_test(lua_State *L, int idx, uint32_t tag);
/* The object at idx if it is one of `tag`, else raise a type error
** naming tname. */
void *mo_type_check(lua_State *L, int idx, uint32_t tag, const char *tname);

/* Scratch space: pushes one value that holds n bytes (collected as any
** garbage once the caller drops it) and returns them. The bytes can
** never pass as an object (type.c says why). Raises when out of memory. */
void *mo_scratch(lua_State *L, size_t n);

#endif

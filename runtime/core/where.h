/*
** where.h: "where was this made" (where.c), the one recorder of the Lua
** code that made an object, a lock or an allocation: locks, memobj.objects()
** and memobj.trace read the stack through it.
*/
#ifndef MO_WHERE_H
#define MO_WHERE_H

#include "base.h"

#define MO_WHERE_MAX 16  /* the longest chain objects and trace keep */

/* One Lua frame: its line and source. */
typedef struct mo_frame {
  const char *source;          /* lua_Debug.source: a fast key, valid while
                                  the chunk lives (compare short_src too) */
  char short_src[LUA_IDSIZE];  /* as error messages show it */
  int line;
} mo_frame;

/* The level of the first Lua function (with a current line) at or above
** stack level `level`, with ar filled ("Sl"); -1 when none is. Level 1 is
** the caller of the running C function. */
int mo_where_level(lua_State *L, int level, lua_Debug *ar);
/* That function and then its Lua callers: up to n frames into out,
** innermost first; returns how many (0: no Lua code on the stack). */
int mo_where_frames(lua_State *L, int level, mo_frame *out, int n);
/* "source:line" of the nearest Lua line into buf, or "C code". */
void mo_where(lua_State *L, char *buf, size_t size);

#endif

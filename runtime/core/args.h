/*
** args.h: argument and result helpers shared by every Lua function of
** memobj (as lauxlib.c keeps Lua's): sizes, options, modes, ranges,
** extra arguments, and the two error channels
*/
#ifndef MO_ARGS_H
#define MO_ARGS_H

#include "base.h"

/* Raise "memobj: <op>: <strerror(err)>". */
int mo_oserror(lua_State *L, const char *op, int err);
/* Return nil, message, errno as io.open does; `what` prefixes the message. */
int mo_failresult(lua_State *L, const char *what, int err);
/* Read an optional size option field from table at idx (0 if absent). */
size_t mo_optsize_field(lua_State *L, int idx, const char *field, size_t def);
int mo_optbool_field(lua_State *L, int idx, const char *field, int def);
/* Raise unless the options at idx are nil or a table of known keys only. */
void mo_checkoptions(lua_State *L, int idx, const char *const known[]);
/* The option `mode` of the table at idx: its index in the NULL-terminated
** list modes, or def when absent; anything else raises the one message
** "unknown mode 'x' (expected "r" or "rw")" against argument idx. */
int mo_optmode_field(lua_State *L, int idx, const char *const modes[],
                     int def);
/* Check an integer argument that is a size or offset in bytes. */
size_t mo_checksize(lua_State *L, int arg);
/* Raise "bad argument #k to 'f' (no value expected)" for a non-nil
** argument after `last`: no function ignores an argument it was given. */
void mo_noextra(lua_State *L, int last);
/* Push registry[key], a value of type t (LUA_TTABLE, LUA_TFUNCTION) that
** memobj stored there; raise if Lua code replaced it (debug.getregistry):
** a metatable that is not a table would crash lua_setmetatable. */
void mo_regpush(lua_State *L, const void *key, int t);
/* 1-based inclusive range i..j over n items, clamped like string.sub. */
void mo_range(lua_Integer i, lua_Integer j, size_t n, size_t *from,
              size_t *to);

#endif

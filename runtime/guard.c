/*
** guard.c: the write guard. Memory with `guarded` set (inside a
** transaction, or persistent) routes every write through this hook
** before it changes a byte; other memory pays one branch.
*/
#include "core.h"

void (*mo_write_hook)(lua_State *L, memobj_mem *m, size_t off,
                      size_t len) = NULL;

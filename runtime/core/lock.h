/*
** lock.h: locks on memory objects (lock.c)
*/
#ifndef MO_LOCK_H
#define MO_LOCK_H

#include "base.h"

/* ---- Locks (runtime/core/lock.c) ---- */
void mo_lock(lua_State *L, memobj_mem *m, memobj_lock *lk, size_t off,
             size_t len, int write, const char *what);
void mo_unlock(memobj_lock *lk);
/* Raise, naming every holder, if m is locked for operation `op`. With
** newsize != SIZE_MAX, holders whose ranges fit in newsize are allowed
** when the memory has reserved space (`max`). Before refusing it runs a
** full collection (garbage views hold locks), so a finalizer may have
** closed m when it returns: callers check. */
void mo_refuse_if_locked(lua_State *L, memobj_mem *m, const char *op,
                         int writers_only, size_t newsize);


#endif

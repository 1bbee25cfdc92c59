/*
** mem.h: memory objects (memory.c) and the write guard of transactions
** and persistent memory
*/
#ifndef MO_MEM_H
#define MO_MEM_H

#include "base.h"

/* ---- Memory objects (runtime/core/memory.c) ---- */

/* Push a new memory object of kind k; udsize >= sizeof(memobj_mem). The
** object has one user value (kind-specific Lua value: string, path...). */
memobj_mem *mo_mem_new(lua_State *L, const memobj_kind *k, size_t udsize);
memobj_mem *mo_tomem(lua_State *L, int idx);            /* NULL if not one */
memobj_mem *mo_checkmem(lua_State *L, int idx);         /* open one, or raise */
/* Add methods (bytes, array, file...) to every memory object. */
void mo_mem_addmethods(lua_State *L, const luaL_Reg *l);

/* ---- Write guard: transactions and persistent memory ---- */
/* Called before a write to m->ptr[off .. off+len) when m->guarded is set
** (runtime/core/tx.c: it undo-logs the range, or raises). A plain function, not
** a settable hook: no process-wide state that two Lua states could fight
** over, and other memory pays one branch. */
void mo_tx_write(lua_State *L, memobj_mem *m, size_t off, size_t len);
static inline void mo_prewrite(lua_State *L, memobj_mem *m, size_t off,
                               size_t len) {
  if (MO_UNLIKELY(m->guarded)) mo_tx_write(L, m, off, len);
}

void mo_memory_open(lua_State *L);       /* runtime/core/memory.c */

#endif

/*
** tx.h: transactions on memory objects. While a transaction is open the
** memory is `guarded`: mo_tx_write saves the old bytes of every range
** before its first change (an in-memory undo log), so an abort restores
** them. Kinds with durable storage (persistent) register hooks that make
** a commit durable.
*/
#ifndef MO_TX_H
#define MO_TX_H

#include "../core.h"
#include "txlog.h"


typedef struct mo_txhooks {
  /* The kind's reusable state for m (so bitmaps are not rebuilt). */
  mo_tx *(*state)(memobj_mem *m);
  /* Make the ranges logged in t durable with the new bytes in m->ptr.
  ** Returns MO_TX_*; *err gets an errno value on failure. */
  int (*commit)(memobj_mem *m, mo_tx *t, int *err);
  /* Refuse to begin (returns a message) or NULL. */
  const char *(*check)(memobj_mem *m);
} mo_txhooks;

/* Durable kinds register their hooks (any number of kinds). Memory of a
** registered kind stays guarded outside transactions: writes raise.
** Returns 0, or -1 when out of memory (the kind is then not durable:
** its opener must raise). */
int mo_tx_register(const memobj_kind *k, const mo_txhooks *h);
/* Free the bitmap and logs of t (for owned states). */
void mo_tx_free(mo_tx *t);
/* Roll back and drop an open transaction of m (the memory is being
** released). */
void mo_tx_discard(memobj_mem *m);
/* For access kinds that change memory on their own (queues,
** dictionaries): open a level (m:begin), leave one (m:commit: raises
** after rolling back if the commit failed), roll the innermost level
** back without raising (returns why some bytes could not be restored, or
** NULL). None checks pins: the caller is the running call. */
void mo_tx_begin(lua_State *L, memobj_mem *m);
void mo_tx_commit(lua_State *L, memobj_mem *m);
const char *mo_tx_abort_quiet(memobj_mem *m, mo_tx *t);
/* Log [off, off+len) before a write as mo_prewrite does, but return a
** message instead of raising (for a caller holding a process-shared
** lock); NULL when the write may go ahead. */
const char *mo_tx_trywrite(memobj_mem *m, size_t off, size_t len);
/* Adds transaction methods to memory objects. */
void mo_tx_open(lua_State *L);

#endif

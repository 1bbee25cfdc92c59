/*
** txlog.h: the undo log of a transaction and the results of a durable
** commit, without Lua: what a kind's storage code (memobj/pool.h) needs
** to make a commit durable. The transaction module is tx.h.
*/
#ifndef MO_TXLOG_H
#define MO_TXLOG_H

#include <stddef.h>
#include <stdint.h>

/* Logging granularity: a write logs the whole 64-byte chunks it touches,
** once per transaction; a bitmap says which chunks are logged. */
#define MO_TX_SHIFT 6
#define MO_TX_CHUNK ((size_t)1 << MO_TX_SHIFT)

/* One undo entry: m->ptr[off .. off+len) held undo[pos .. pos+len). */
typedef struct mo_txent {
  size_t off, len, pos;
} mo_txent;

typedef struct mo_tx {
  unsigned depth;           /* begin() nesting; 0: not open */
  int doomed;               /* an inner level aborted: writes refused */
  int owned;                /* owned by the kind (reused), not freed at end */
  uint64_t serial;          /* distinguishes successive transactions */
  uint64_t *bits;           /* logged chunks */
  size_t nwords;
  mo_txent *ents;
  size_t nents, entcap;
  unsigned char *undo;      /* saved bytes */
  size_t undolen, undocap;
} mo_tx;

/* Results of a durable commit hook. */
#define MO_TX_OK 0
#define MO_TX_NOT_COMMITTED 1   /* storage unchanged: roll back */
#define MO_TX_BROKEN 2          /* committed in the log, data write failed */

#endif

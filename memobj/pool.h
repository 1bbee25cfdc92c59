/*
** pool.h: the pool file behind persistent memory: header, data, redo
** log; commit, checkpoint, recovery, resize (doc/format.md). No Lua.
*/
#ifndef MO_POOL_H
#define MO_POOL_H

#include <stddef.h>
#include <stdint.h>
#include "../runtime/tx.h"

#define MO_POOL_DATAOFF 4096u   /* data starts at this file offset */

typedef struct mo_pool_range {
  uint64_t off, len;
} mo_pool_range;

typedef struct mo_pool {
  int fd;
  int sync;              /* durability "sync": fdatasync at each commit */
  int failed;            /* errno of a data write that failed after the
                            commit point: no more commits, no clean mark */
  uint64_t datasize;     /* bytes of data */
  uint64_t logoff;       /* file offset of the log */
  uint64_t logcap;       /* bytes of log */
  uint64_t tail;         /* log bytes in use since the last checkpoint */
  uint64_t seq;          /* sequence number of the last commit */
  const unsigned char *data;  /* the current bytes (the mapping), set by
                                 the owner: checkpoints write them */
  unsigned char *rec;    /* record buffer */
  size_t reccap;
  mo_pool_range *dirty;  /* ranges committed since the last checkpoint */
  size_t ndirty, dirtycap;
} mo_pool;

/* Open (recovering if needed) or create the pool at path. `size` is used
** to create it when it does not exist (create != 0). Returns 0; an errno
** value for an OS failure; or -1 for a file that is not a pool or is
** damaged, with a message in msg. Nothing on disk changes unless the
** pool is valid. */
int mo_pool_open(mo_pool *p, const char *path, uint64_t size, int create,
                 int sync, char *msg, size_t msgsize);
/* Make the ranges logged in t (new bytes at p->data + off) durable.
** Returns MO_TX_OK or MO_TX_NOT_COMMITTED with *err set. */
int mo_pool_commit(mo_pool *p, const mo_tx *t, int *err);
/* Change the data size to n (new bytes are zero). Returns 0 or errno. */
int mo_pool_resize(mo_pool *p, uint64_t n);
/* Checkpoint: write the committed data to the file and sync it. t is
** the open transaction (its changes must not reach the file) or NULL. */
int mo_pool_sync(mo_pool *p, const mo_tx *t);
/* Close with no transaction open (the caller rolls it back first). */
void mo_pool_close(mo_pool *p);

#endif

/*
** pool.h: the pool file behind persistent memory: header, redo log in two
** slots, commit, recovery, resize (doc/format.md). No Lua in here.
*/
#ifndef MO_POOL_H
#define MO_POOL_H

#include <stddef.h>
#include <stdint.h>
#include "../runtime/tx.h"

#define MO_POOL_DATAOFF 4096u   /* data starts at this file offset */

typedef struct mo_pool {
  int fd;
  int sync;              /* durability "sync": fdatasync at each commit */
  int failed;            /* errno of a data write that failed after the
                            commit point: no more commits, no clean mark */
  uint64_t datasize;     /* bytes of data */
  uint64_t logoff;       /* file offset of log slot 0 */
  uint64_t slotcap;      /* bytes per log slot */
  uint64_t seq;          /* sequence number of the last commit */
  unsigned char *rec;    /* record buffer */
  size_t reccap;
} mo_pool;

/* Open (recovering if needed) or create the pool at path. `size` is used
** to create it when it does not exist (create != 0). Returns 0; an errno
** value for an OS failure; or -1 for a file that is not a pool or is
** damaged, with a message in msg. Nothing on disk changes unless the
** pool is valid. */
int mo_pool_open(mo_pool *p, const char *path, uint64_t size, int create,
                 int sync, char *msg, size_t msgsize);
/* Make the ranges in ents (new bytes at data + off) durable. Returns
** MO_TX_OK, MO_TX_NOT_COMMITTED or MO_TX_BROKEN with *err set. */
int mo_pool_commit(mo_pool *p, const unsigned char *data,
                   const mo_txent *ents, size_t n, int *err);
/* Change the data size to n (new bytes are zero). Returns 0 or errno. */
int mo_pool_resize(mo_pool *p, uint64_t n);
/* Write everything to storage. */
int mo_pool_sync(mo_pool *p);
/* Mark clean and close the file. */
void mo_pool_close(mo_pool *p);

#endif

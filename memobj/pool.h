/*
** pool.h: the pool file behind persistent memory: two header copies,
** data, redo log, page checksum table; commit, checkpoint, recovery,
** resize (doc/format.md). No Lua.
*/
#ifndef MO_POOL_H
#define MO_POOL_H

#include <stddef.h>
#include <stdint.h>
#include "../runtime/core/txlog.h"

#define MO_POOL_PAGE 4096u
#define MO_POOL_DATAOFF 8192u   /* data starts after the two header pages */

typedef struct mo_pool_range {
  uint64_t off, len;
} mo_pool_range;

typedef struct mo_pool {
  int fd;
  int sync;              /* durability "sync": fdatasync at each commit */
  int failed;            /* errno of a data write that failed after the
                            commit point: no more commits, no clean mark */
  long pid;              /* the process that opened it (a forked child
                            may not write it: mo_pool_usable) */
  uint64_t datasize;     /* bytes of data */
  uint64_t logoff;       /* file offset of the log */
  uint64_t logcap;       /* bytes of log */
  uint64_t tableoff;     /* file offset of the page checksum table */
  uint64_t tail;         /* log bytes in use since the last checkpoint */
  uint64_t seq;          /* sequence number of the last commit */
  uint64_t gen;          /* header generation: the log's epoch */
  int hdrslot;           /* header copy (0, 1) that holds gen for sure */
  uint32_t *crc;         /* CRC-32C of every data page (committed state) */
  const unsigned char *data;  /* the current bytes (the mapping), set by
                                 the owner: checkpoints write them */
  unsigned char *rec;    /* record buffer */
  size_t reccap;
  mo_pool_range *dirty;  /* ranges committed since the last checkpoint */
  size_t ndirty, dirtycap;
  uint64_t *pages;       /* scratch: pages a commit touches */
  size_t pagecap;
} mo_pool;

/* Open (recovering if needed) or create the pool at path. `size` is used
** to create it when it does not exist (create != 0). verify != 0 checks
** every data page against its checksum. Returns 0; an errno value for an
** OS failure; or -1 for a file that is not a pool or is damaged, with a
** message in msg. A version-1 pool is upgraded (doc/format.md). */
int mo_pool_open(mo_pool *p, const char *path, uint64_t size, int create,
                 int sync, int verify, char *msg, size_t msgsize);
/* Make the ranges logged in t (new bytes at p->data + off) durable.
** Returns MO_TX_OK or MO_TX_NOT_COMMITTED with *err set. */
int mo_pool_commit(mo_pool *p, const mo_tx *t, int *err);
/* Change the data size to n (new bytes are zero). Refused (EBUSY) while
** t is an open transaction. Returns 0 or errno. */
int mo_pool_resize(mo_pool *p, uint64_t n, const mo_tx *t);
/* Checkpoint: write the committed data to the file and sync it. t is
** the open transaction (its changes must not reach the file) or NULL. */
int mo_pool_sync(mo_pool *p, const mo_tx *t);
/* Check p->data (the committed state: no transaction open) against the
** page checksums. Returns the number of damaged pages; names up to a
** few of them in report. */
uint64_t mo_pool_verify(mo_pool *p, char *report, size_t reportsize);
/* Close with no transaction open (the caller rolls it back first). In
** a forked child it only closes the descriptor. */
void mo_pool_close(mo_pool *p);
/* 1 in a child forked after the pool was opened. */
int mo_pool_forked(const mo_pool *p);
/* 0 if p may write its file; the errno of an earlier failure, or EPERM
** in a forked child (commit, resize and sync refuse with it). */
int mo_pool_usable(const mo_pool *p);

#endif

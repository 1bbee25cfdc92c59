/*
** poolsize.c: making pool files and changing their layout (resize, log
** growth). The rule of every step: nothing that the durable header uses
** is written before a header that no longer uses it is durable.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../runtime/core/os.h"
#include "poolint.h"

static uint64_t file_size(int fd) {
  struct stat st;
  return mo_os_fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return alen && blen && a < b + blen && b < a + alen;
}

/* Move the checksum table to `to` (beyond everything in use) and
** publish it, so that what the final layout writes is unused. */
static int move_table(mo_pool *p, uint64_t to) {
  uint64_t tc = tabsize(p->datasize);
  int e;
  if (file_size(p->fd) < to + tc && (e = mo_pool_truncate(p->fd, to + tc)))
    return e;
  if ((e = mo_pool_write_table(p, to, 0, p->datasize / PAGE)) != 0 ||
      (e = mo_pool_psync(p)) != 0)
    return e;
  p->tableoff = to;
  return mo_pool_write_header(p, 0);
}

/*
** Change to data size n (the current size, or larger: a shrink has
** published its smaller size already) and log capacity cap, with the
** log right after the data and the table right after the log. The log
** is empty (a checkpoint came first), so its old place is free. The live
** table is not: when the final table or the new data would overlap it,
** it first moves beyond both. Then: new data zeroed, table written,
** sync, header, and only then the file is cut to its new end.
*/
int mo_pool_relayout(mo_pool *p, uint64_t n, uint64_t cap) {
  uint64_t cur = p->datasize, lf, tf, tl = tabsize(n), tc = tabsize(cur);
  uint64_t size = file_size(p->fd), pg, zend;
  int e;
  if (n > MAXOFF / 2 || cap > MAXOFF / 2 - MO_POOL_DATAOFF - pageup(n) - tl)
    return EFBIG;
  lf = MO_POOL_DATAOFF + pageup(n);
  tf = lf + cap;
  if (overlaps(tf, tl, p->tableoff, tc) && tf != p->tableoff) {
    if ((e = move_table(p, tf + tl > p->tableoff + tc ? tf + tl
                                                      : p->tableoff + tc)))
      return e;
  } else if (overlaps(MO_POOL_DATAOFF + pageup(cur), pageup(n) - pageup(cur),
                      p->tableoff, tc)) {
    if ((e = move_table(p, p->tableoff + tc > tf + tl ? p->tableoff + tc
                                                      : tf + tl)))
      return e;
  }
  size = file_size(p->fd);  /* a moved table may have extended it */
  if (size < tf + tl && (e = mo_pool_truncate(p->fd, tf + tl)) != 0) return e;
  /* new bytes read as zero; past the old end of file they already are */
  zend = MO_POOL_DATAOFF + n < size ? MO_POOL_DATAOFF + n : size;
  if (n > cur && (e = mo_pool_zero(p->fd, MO_POOL_DATAOFF + cur, zend)))
    return e;
  if ((e = mo_pool_setpages(p, n)) != 0) return e;
  for (pg = npages(cur); pg < npages(n); pg++)
    p->crc[pg] = mo_crc32c_page(NULL, 0);
  if ((e = mo_pool_write_table(p, tf, 0, n / PAGE)) != 0 ||
      (e = mo_pool_prealloc(p->fd, lf, cap)) != 0 ||
      (e = mo_pool_psync(p)) != 0)
    return e;
  p->datasize = n;
  p->logoff = lf;
  p->logcap = cap;
  p->tableoff = tf;
  if ((e = mo_pool_write_header(p, 0)) != 0) return e;
  if (file_size(p->fd) > tf + tl) return mo_pool_truncate(p->fd, tf + tl);
  return 0;
}

/* A shrink first publishes the smaller size (the checksum of the new
** last page, whose bytes past n count as zero, is in the header). */
static int publish_smaller(mo_pool *p, uint64_t n) {
  uint64_t old = p->datasize;
  uint32_t lastcrc = n % PAGE ? p->crc[n / PAGE] : 0;
  int e;
  if (n % PAGE) {
    p->datasize = n;
    p->crc[n / PAGE] = mo_pool_pagecrc(p, n / PAGE);
  }
  p->datasize = n;
  if ((e = mo_pool_write_header(p, 0)) != 0) {
    p->datasize = old;
    if (n % PAGE) p->crc[n / PAGE] = lastcrc;
  }
  return e;
}

int mo_pool_resize(mo_pool *p, uint64_t n, const mo_tx *t) {
  int e;
  if ((e = mo_pool_usable(p)) != 0) return e;
  /* a checkpoint must not see uncommitted bytes */
  if (t && t->depth) return EBUSY;
  if (n > MAXOFF / 2) return EFBIG;
  if ((e = mo_pool_checkpoint(p, 0, NULL)) != 0) return e;
  if (n < p->datasize && (e = publish_smaller(p, n)) != 0) return e;
  return mo_pool_relayout(p, n, p->logcap);
}

/* ---- Creation ---- */

int mo_pool_create_tmp(const char *path, uint64_t n, mo_pool *q,
                       mo_os_newfile *f) {
  uint64_t pg;
  int e = 0;
  memset(q, 0, sizeof *q);
  q->sync = 1;
  q->fd = -1;
  if (n > MAXOFF / 4) return EFBIG;
  q->datasize = n;
  q->logcap = n / 4 < MINLOG ? MINLOG : n / 4 > MAXLOG ? MAXLOG
                                                        : pageup(n / 4);
  q->logoff = MO_POOL_DATAOFF + pageup(n);
  q->tableoff = q->logoff + q->logcap;
  if ((e = mo_pool_setpages(q, n)) != 0) return e;
  for (pg = 0; pg < npages(n); pg++) q->crc[pg] = mo_crc32c_page(NULL, 0);
  /* a new pool is private to its owner (an upgrade keeps the old mode) */
  if ((e = mo_os_newfile_begin(f, path, 0600)) == 0) {
    q->fd = f->fd;
    e = mo_pool_truncate(q->fd, q->tableoff + tabsize(n));
    if (!e) e = mo_pool_prealloc(q->fd, q->logoff, q->logcap);
    if (e) mo_os_newfile_end(f);
  }
  if (e) {
    free(q->crc);
    q->crc = NULL;
  }
  return e;
}

/* Create a fresh pool under a temporary name and link it into place, so
** no one ever sees a half-made pool. EEXIST is not an error: someone
** made it first, and the caller opens theirs. */
int mo_pool_create(const char *path, uint64_t n) {
  mo_pool q;
  mo_os_newfile f;
  int e = mo_pool_create_tmp(path, n, &q, &f);
  if (e) return e;
  e = mo_pool_write_table(&q, q.tableoff, 0, n / PAGE);
  if (!e) e = mo_pool_psync(&q);
  if (!e) e = mo_pool_write_header(&q, 1);
  free(q.crc);
  /* the header is synced (write_header): the name may point at it */
  if (!e && (e = mo_os_newfile_commit(&f, MO_OS_CREATE, 0)) == EEXIST) e = 0;
  if (!e) e = mo_os_syncdir(f.target);
  mo_os_newfile_end(&f);
  return e;
}

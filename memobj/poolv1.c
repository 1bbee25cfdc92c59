/*
** poolv1.c: opening a version-1 pool (memobj 0.1: one 512-byte header
** at offset 0, data at 4096, no checksums). It is upgraded: its committed
** state (the data plus the records of its log) is written into a new
** version-2 file under a temporary name, synced, locked, and renamed
** over it. Until the rename the old file is untouched, so a crash at any
** point leaves the version-1 pool or the version-2 one, never a mix.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../runtime/core/os.h"
#include "poolint.h"

#define V1HDR 512u
#define V1DATA 4096u
#define V1RECHEAD 32u
#define V1RECMAGIC 0x524c4f4du  /* "MOLR" */

typedef struct v1pool {
  int fd;
  uint64_t datasize, logoff, logcap, seq;
} v1pool;

static const char *v1_header(int fd, v1pool *v) {
  unsigned char b[V1HDR];
  struct stat st;
  if (mo_os_fstat(fd, &st) != 0 || (uint64_t)st.st_size < V1HDR ||
      mo_pool_pread(fd, b, V1HDR, 0) != 0)
    return "truncated pool file (no complete header)";
  if (get32(b + 60) != mo_crc32c(b, 60))
    return "damaged pool header (bad checksum)";
  v->datasize = get64(b + 24);
  v->logoff = get64(b + 32);
  v->logcap = get64(b + 40);
  v->seq = get64(b + 48);
  if (get32(b + 12) != V1HDR || get64(b + 16) != V1DATA ||
      v->datasize > MAXOFF / 4 || v->logoff % PAGE != 0 ||
      v->logoff < V1DATA + pageup(v->datasize) || v->logoff > MAXOFF / 2 ||
      v->logcap < PAGE || v->logcap > MAXOFF / 2)
    return "damaged pool header (bad sizes)";
  if ((uint64_t)st.st_size < v->logoff + v->logcap)
    return "truncated pool file";
  return NULL;
}

/* Copy the version-1 data into the new pool's data part. */
static int copy_data(const v1pool *v, mo_pool *q, unsigned char *buf,
                     size_t bufsize) {
  uint64_t at = 0;
  int e;
  while (at < v->datasize) {
    size_t n = v->datasize - at < bufsize ? (size_t)(v->datasize - at)
                                          : bufsize;
    if ((e = mo_pool_pread(v->fd, buf, n, V1DATA + at)) != 0 ||
        (e = mo_pool_pwrite(q->fd, buf, n, MO_POOL_DATAOFF + at)) != 0)
      return e;
    at += n;
  }
  return 0;
}

/* Read the v1 record at pos into *body (head in h); 1 if it is valid and
** its ranges fill the body inside the data. */
static int v1_record(const v1pool *v, uint64_t pos, unsigned char *h,
                     unsigned char **body) {
  uint64_t len, at = 0, k, n;
  unsigned char *b;
  if (pos > v->logcap - V1RECHEAD ||
      mo_pool_pread(v->fd, h, V1RECHEAD, v->logoff + pos) != 0 ||
      get32(h) != V1RECMAGIC || get32(h + 28) != mo_crc32c(h, 28))
    return 0;
  len = get64(h + 16);
  n = get32(h + 4);
  if (len > v->logcap - pos - V1RECHEAD || len > SIZE_MAX - 1) return 0;
  if ((b = (unsigned char *)realloc(*body, (size_t)len + 1)) == NULL) return 0;
  *body = b;
  if (mo_pool_pread(v->fd, b, (size_t)len, v->logoff + pos + V1RECHEAD) != 0 ||
      get32(h + 24) != mo_crc32c(b, (size_t)len))
    return 0;
  for (k = 0; k < n; k++) {
    uint64_t off, rl;
    if (len - at < RANGEHEAD) return 0;
    off = get64(b + at);
    rl = get64(b + at + 8);
    at += RANGEHEAD;
    if (rl > len - at || off > v->datasize || rl > v->datasize - off) return 0;
    at += rl;
  }
  return at == len;
}

/* Redo the v1 log's unapplied records (consecutive seq after the
** header's) into the new pool. The walk ends at the first record that is
** not the next one: a torn record, or a stale one of an earlier epoch. */
static int redo_log(const v1pool *v, mo_pool *q) {
  unsigned char h[V1RECHEAD], *body = NULL;
  uint64_t pos = 0, prev = 0;
  int any = 0, e = 0;
  q->seq = v->seq;
  while (e == 0 && v1_record(v, pos, h, &body)) {
    uint64_t seq = get64(h + 8), len = get64(h + 16), at = 0;
    if (any && seq != prev + 1) break;
    if (seq > v->seq) {
      if (seq != q->seq + 1) break;
      while (e == 0 && at < len) {
        uint64_t off = get64(body + at), rl = get64(body + at + 8);
        e = mo_pool_pwrite(q->fd, body + at + RANGEHEAD, (size_t)rl,
                           MO_POOL_DATAOFF + off);
        at += RANGEHEAD + rl;
      }
      q->seq = seq;
    }
    any = 1;
    prev = seq;
    pos += V1RECHEAD + len;
  }
  free(body);
  return e;
}

/* The checksums of the new pool's data, read back from its file. */
static int checksum_data(mo_pool *q, unsigned char *buf, size_t bufsize) {
  uint64_t pg = 0, pages = npages(q->datasize);
  int e;
  while (pg < pages) {
    uint64_t bytes = q->datasize - pg * PAGE, k;
    if (bytes > bufsize) bytes = bufsize;
    if ((e = mo_pool_pread(q->fd, buf, (size_t)bytes,
                           MO_POOL_DATAOFF + pg * PAGE)) != 0)
      return e;
    for (k = 0; k * PAGE < bytes; k++, pg++) {
      uint64_t n = bytes - k * PAGE;
      q->crc[pg] = mo_crc32c_page(buf + k * PAGE, n < PAGE ? (size_t)n : PAGE);
    }
  }
  return 0;
}

static int build_v2(const v1pool *v, mo_pool *q) {
  enum { BUF = 256 * PAGE };
  unsigned char *buf = (unsigned char *)malloc(BUF);
  int e;
  if (buf == NULL) return ENOMEM;
  e = copy_data(v, q, buf, BUF);
  if (!e) e = redo_log(v, q);
  if (!e) e = checksum_data(q, buf, BUF);
  free(buf);
  if (!e) e = mo_pool_write_table(q, q->tableoff, 0, q->datasize / PAGE);
  if (!e) e = mo_pool_psync(q);
  if (!e) e = mo_pool_write_header(q, 0);
  return e;
}

/* The new file gets the old one's name (links followed, the mode kept:
** mo_os_newfile), locked before it has the name, so no one else can open
** it first. Its bytes are synced (build_v2), then the rename and the
** directory: a crash leaves the version-1 pool or the whole new one. */
int mo_pool_upgrade_v1(mo_pool *p, const char *path, char *msg,
                       size_t msgsize) {
  v1pool v;
  mo_pool q;
  mo_os_newfile f;
  const char *why;
  int e;
  v.fd = p->fd;
  if ((why = v1_header(p->fd, &v)) != NULL)
    return mo_pool_fail(msg, msgsize, why);
  if ((e = mo_pool_create_tmp(path, v.datasize, &q, &f)) != 0) return e;
  e = build_v2(&v, &q);
  free(q.crc);
  if (!e) e = mo_os_trylock(f.fd);
  if (!e) e = mo_os_newfile_commit(&f, MO_OS_REPLACE, 1);
  if (!e) {
    mo_os_close(p->fd);
    p->fd = f.fd;
    f.fd = -1;  /* taken */
  }
  mo_os_newfile_end(&f);
  return e;
}

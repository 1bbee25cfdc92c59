/*
** poolio.c: the pool's file I/O (through the replaceable mo_pool_os
** table), its header copies and its page checksum table.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../runtime/core/os.h"
#include "poolint.h"

const char mo_pool_magic[8] = {'M', 'E', 'M', 'O', 'B', 'J', 'P', 'L'};

/* ---- File I/O ---- */

/* File I/O goes through the OS layer (runtime/core/os.h), whose table tests
** replace to record or refuse calls (tests/crash/powerloss.c). */
int mo_pool_pwrite(int fd, const void *buf, size_t n, uint64_t off) {
  return mo_os_pwrite_all(fd, buf, n, (off_t)off);
}

int mo_pool_pread(int fd, void *buf, size_t n, uint64_t off) {
  return mo_os_pread_all(fd, buf, n, (off_t)off);
}

int mo_pool_zero(int fd, uint64_t from, uint64_t to) {
  static const unsigned char zeros[PAGE * 16];
  while (from < to) {
    size_t n = to - from < sizeof zeros ? (size_t)(to - from) : sizeof zeros;
    int e = mo_pool_pwrite(fd, zeros, n, from);
    if (e) return e;
    from += n;
  }
  return 0;
}

/* Allocate the log's blocks up front: a commit that writes into a hole
** makes fdatasync commit file-system metadata too, several times slower.
** Where the file system cannot, the log stays sparse. */
int mo_pool_prealloc(int fd, uint64_t off, uint64_t len) {
  int e = mo_os_allocate(fd, (off_t)off, (off_t)len);
  return e == EOPNOTSUPP || e == ENOSYS ? 0 : e;
}

int mo_pool_truncate(int fd, uint64_t len) {
  return mo_os_truncate(fd, (off_t)len);
}

/* Durability "sync" orders writes with fdatasync; "process" relies on
** the page cache, which outlives a killed process. */
int mo_pool_psync(mo_pool *p) {
  return p->sync ? mo_os_datasync(p->fd) : 0;
}

/* ---- Header ---- */

void mo_pool_encode_header(unsigned char *b, const mo_poolhdr *h) {
  memset(b, 0, PAGE);
  memcpy(b, mo_pool_magic, 8);
  put32(b + 8, VERSION);
  put32(b + 12, HDRLEN);
  put64(b + 16, MO_POOL_DATAOFF);
  put64(b + 24, h->datasize);
  put64(b + 32, h->logoff);
  put64(b + 40, h->logcap);
  put64(b + 48, h->seq);
  put32(b + 56, h->flags);
  put32(b + 60, h->lastcrc);
  put64(b + 64, h->tableoff);
  put64(b + 72, h->gen);
  put32(b + HDRLEN - 4, mo_crc32c(b, HDRLEN - 4));
}

const char *mo_pool_decode_header(const unsigned char *b, mo_poolhdr *h) {
  if (memcmp(b, mo_pool_magic, 8) != 0)
    return "damaged pool header (no magic)";
  if (get32(b + 8) != VERSION) return "unsupported pool version";
  if (get32(b + HDRLEN - 4) != mo_crc32c(b, HDRLEN - 4))
    return "damaged pool header (bad checksum)";
  h->datasize = get64(b + 24);
  h->logoff = get64(b + 32);
  h->logcap = get64(b + 40);
  h->seq = get64(b + 48);
  h->flags = get32(b + 56);
  h->lastcrc = get32(b + 60);
  h->tableoff = get64(b + 64);
  h->gen = get64(b + 72);
  if (get32(b + 12) != HDRLEN || get64(b + 16) != MO_POOL_DATAOFF ||
      (h->flags & ~FLAG_CLEAN) != 0 || h->datasize > MAXOFF / 2 ||
      h->logoff < MO_POOL_DATAOFF + pageup(h->datasize) ||
      h->logoff % PAGE != 0 || h->logoff > MAXOFF ||
      h->logcap < PAGE || h->logcap % PAGE != 0 ||
      h->logcap > MAXOFF - h->logoff ||
      h->tableoff < h->logoff + h->logcap || h->tableoff % PAGE != 0 ||
      h->tableoff > MAXOFF - tabsize(h->datasize))
    return "damaged pool header (bad sizes)";
  return NULL;
}

/*
** Publish p's state as generation gen + 1: first over the other copy
** (older, or damaged), sync, then over the one that holds gen, sync.
** Until the first write is durable the copy holding gen is intact, and
** so is its state (nothing it needs is written before a header that no
** longer needs it is durable); once the first is durable the second may
** tear. So a torn header write, or one lost page, always leaves a valid
** newest state. The generation is in every log record: the new header
** makes all earlier records stale.
*/
int mo_pool_write_header(mo_pool *p, int clean) {
  unsigned char b[PAGE];
  mo_poolhdr h;
  int e, k;
  h.datasize = p->datasize;
  h.logoff = p->logoff;
  h.logcap = p->logcap;
  h.tableoff = p->tableoff;
  h.seq = p->seq;
  h.gen = p->gen + 1;
  h.flags = clean ? FLAG_CLEAN : 0;
  h.lastcrc = p->datasize % PAGE ? p->crc[p->datasize / PAGE] : 0;
  mo_pool_encode_header(b, &h);
  for (k = 1; k >= 0; k--) {
    int slot = k ? 1 - p->hdrslot : p->hdrslot;
    if ((e = mo_pool_pwrite(p->fd, b, HDRLEN, (uint64_t)slot * PAGE)) != 0 ||
        (e = mo_pool_psync(p)) != 0)
      return e;
  }
  p->gen = h.gen;
  return 0;
}

/* ---- Page checksums ---- */

int mo_pool_write_table(mo_pool *p, uint64_t at, uint64_t first,
                        uint64_t last) {
  unsigned char b[PAGE];
  while (first < last) {
    size_t n = last - first < PAGE / 4 ? (size_t)(last - first) : PAGE / 4;
    size_t i;
    int e;
    for (i = 0; i < n; i++) put32(b + 4 * i, p->crc[first + i]);
    if ((e = mo_pool_pwrite(p->fd, b, 4 * n, at + 4 * first)) != 0) return e;
    first += n;
  }
  return 0;
}

uint32_t mo_pool_pagecrc(const mo_pool *p, uint64_t pg) {
  uint64_t off = pg * PAGE, n = p->datasize - off;
  return mo_crc32c_page(p->data + off, n < PAGE ? (size_t)n : PAGE);
}

int mo_pool_setpages(mo_pool *p, uint64_t n) {
  uint64_t k = npages(n);
  uint32_t *c;
  if (k > SIZE_MAX / 4 - 1) return ENOMEM;
  c = (uint32_t *)realloc(p->crc, (size_t)(k + 1) * 4);
  if (c == NULL) return ENOMEM;
  p->crc = c;
  return 0;
}

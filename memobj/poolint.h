/*
** poolint.h: what the pool's files share (pool.c, poolio.c,
** poolsize.c, poolv1.c): on-disk constants, encoding, file I/O, the
** header and the checksum table. Not part of the pool's interface.
*/
#ifndef MO_POOLINT_H
#define MO_POOLINT_H

#include "crc32c.h"
#include "pool.h"
#include "../runtime/core/os.h"

#define PAGE MO_POOL_PAGE
#define VERSION 2u
#define HDRLEN 128u     /* header bytes covered by its checksum */
#define RECHEAD 48u     /* log record head */
#define RANGEHEAD 16u   /* offset, length of a range in a record */
#define PAGEENT 16u     /* page number, CRC, zero of a record page entry */
/* First log size: a quarter of the data, within these bounds. A bigger
** log means fewer checkpoints; a single larger commit grows it. */
#define MINLOG ((uint64_t)64 * 1024)
#define MAXLOG ((uint64_t)16 * 1024 * 1024)
#define FLAG_CLEAN 1u
#define RECMAGIC 0x324c4f4du  /* "MOL2" little-endian */
#define MAXOFF ((uint64_t)INT64_MAX)

extern const char mo_pool_magic[8];

static inline void put32(unsigned char *p, uint32_t v) {
  int i;
  for (i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void put64(unsigned char *p, uint64_t v) {
  int i;
  for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static inline uint64_t get64(const unsigned char *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Round n up to a page; 0 on overflow. */
static inline uint64_t pageup(uint64_t n) {
  if (n > UINT64_MAX - (PAGE - 1)) return 0;
  return (n + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}
/* Pages of n data bytes (the last may be partial). */
static inline uint64_t npages(uint64_t n) { return n / PAGE + (n % PAGE != 0); }
/* Bytes of the checksum table for n data bytes: an entry per whole page
** (a partial last page has its checksum in the header). */
static inline uint64_t tabsize(uint64_t n) { return pageup(4 * (n / PAGE)); }

/* The header as decoded. */
typedef struct mo_poolhdr {
  uint64_t datasize, logoff, logcap, tableoff, seq, gen;
  uint32_t flags, lastcrc;
} mo_poolhdr;

/* ---- poolio.c ---- */
int mo_pool_pwrite(int fd, const void *buf, size_t n, uint64_t off);
int mo_pool_pread(int fd, void *buf, size_t n, uint64_t off);
int mo_pool_zero(int fd, uint64_t from, uint64_t to);
int mo_pool_prealloc(int fd, uint64_t off, uint64_t len);
int mo_pool_truncate(int fd, uint64_t len);
int mo_pool_psync(mo_pool *p);
/* Encode h into a page; decode a page (NULL, or what is wrong). */
void mo_pool_encode_header(unsigned char *b, const mo_poolhdr *h);
const char *mo_pool_decode_header(const unsigned char *b, mo_poolhdr *h);
/* Publish p's state with generation gen + 1 in both header copies. */
int mo_pool_write_header(mo_pool *p, int clean);
/* Write table entries of whole pages [first, last) at table offset at. */
int mo_pool_write_table(mo_pool *p, uint64_t at, uint64_t first,
                        uint64_t last);
/* Checksum of data page pg of p->data (bytes past datasize count 0). */
uint32_t mo_pool_pagecrc(const mo_pool *p, uint64_t pg);
/* Size p->crc for n data bytes. */
int mo_pool_setpages(mo_pool *p, uint64_t n);

/* ---- pool.c ---- */
int mo_pool_checkpoint(mo_pool *p, int clean, const mo_tx *t);
int mo_pool_open_fd(mo_pool *p, int verify, char *msg, size_t msgsize);
int mo_pool_fail(char *msg, size_t n, const char *what);

/* ---- poolsize.c ---- */
/* Move to data size n and log capacity cap (after a checkpoint). */
int mo_pool_relayout(mo_pool *p, uint64_t n, uint64_t cap);
/* Make a new pool file of n data bytes at path (not there yet). */
int mo_pool_create(const char *path, uint64_t n);
/* A fresh pool file of n zero bytes under a temporary name next to path
** (links followed: runtime/core/os.h, mo_os_newfile), described by q (layout,
** checksums, fd = f->fd; sync on). Neither table nor header is written
** yet. On success the caller ends f (and frees q->crc). */
int mo_pool_create_tmp(const char *path, uint64_t n, mo_pool *q,
                       mo_os_newfile *f);

/* ---- poolv1.c ---- */
/* p->fd is a version-1 pool: build a version-2 pool with the same
** committed data and put it in its place; p->fd becomes the new file. */
int mo_pool_upgrade_v1(mo_pool *p, const char *path, char *msg,
                       size_t msgsize);

#endif

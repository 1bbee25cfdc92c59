/*
** pool.c: the pool file of persistent memory (format: doc/format.md).
** Two header copies, the data, a redo log and a page checksum table. A
** commit appends its record (the new bytes of every range it changed and
** the checksum of every page it touched) and syncs it: that is the
** commit point, and the only write of a commit. The data in the file is
** brought up to date at checkpoints (log full, resize, sync, close):
** write the data and its checksums, sync, then publish a new header.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../runtime/core/os.h"
#include "poolint.h"

int mo_pool_fail(char *msg, size_t n, const char *what) {
  snprintf(msg, n, "%s", what);
  return -1;
}

static int grow_buf(mo_pool *p, size_t need) {
  unsigned char *b;
  if (need <= p->reccap) return 0;
  b = (unsigned char *)realloc(p->rec, need);
  if (b == NULL) return ENOMEM;
  p->rec = b;
  p->reccap = need;
  return 0;
}

/* ---- Log records ---- */

enum { REC_END, REC_VALID, REC_INVALID };

typedef struct recinfo {
  uint64_t len;       /* head + body */
  uint64_t nranges, npg;
  int headok;         /* the head alone checks out (len is known) */
} recinfo;

/* Check the ranges and page entries of a body in p->rec: the ranges and
** then the page entries exactly fill it, all inside the data. */
static int check_body(const mo_pool *p, const recinfo *r) {
  uint64_t bodylen = r->len - RECHEAD, at = 0, k, pages = npages(p->datasize);
  if (r->npg > bodylen / PAGEENT) return 0;
  bodylen -= r->npg * PAGEENT;
  for (k = 0; k < r->nranges; k++) {
    uint64_t roff, rlen;
    if (bodylen - at < RANGEHEAD) return 0;
    roff = get64(p->rec + at);
    rlen = get64(p->rec + at + 8);
    at += RANGEHEAD;
    if (rlen > bodylen - at || roff > p->datasize ||
        rlen > p->datasize - roff)
      return 0;
    at += rlen;
  }
  if (at != bodylen) return 0;
  for (k = 0; k < r->npg; k++)
    if (get64(p->rec + at + k * PAGEENT) >= pages) return 0;
  return 1;
}

/*
** Read and check the record at log position pos; a valid record's body
** is left in p->rec. Only a record of this header's generation with the
** expected seq is valid: anything else (zeros, a stale record of an
** earlier epoch, a torn one) ends the log.
*/
static int read_record(mo_pool *p, uint64_t pos, uint64_t seq, recinfo *r,
                       int *err) {
  unsigned char h[RECHEAD];
  uint64_t bodylen;
  memset(r, 0, sizeof *r);
  *err = 0;
  if (pos > p->logcap - RECHEAD) return REC_END;  /* the log is full */
  if ((*err = mo_pool_pread(p->fd, h, RECHEAD, p->logoff + pos)) != 0)
    return REC_INVALID;
  bodylen = get64(h + 24);
  if (get32(h) != RECMAGIC || get32(h + 44) != mo_crc32c(h, 44) ||
      get64(h + 16) != p->gen)
    return REC_END;
  if (get64(h + 8) != seq || bodylen > p->logcap - pos - RECHEAD ||
      bodylen > SIZE_MAX - 1)
    return REC_INVALID;
  r->headok = 1;
  r->len = RECHEAD + bodylen;
  r->nranges = get32(h + 4);
  r->npg = get32(h + 32);
  if ((*err = grow_buf(p, (size_t)bodylen + 1)) != 0 ||
      (*err = mo_pool_pread(p->fd, p->rec, (size_t)bodylen,
                            p->logoff + pos + RECHEAD)) != 0)
    return REC_INVALID;
  if (get32(h + 40) != mo_crc32c(p->rec, (size_t)bodylen)) return REC_INVALID;
  return check_body(p, r) ? REC_VALID : REC_INVALID;
}

/* Write the ranges of the record in p->rec into the data (replay). */
static int apply_record(mo_pool *p, const recinfo *r) {
  uint64_t at = 0, k;
  int e;
  for (k = 0; k < r->nranges; k++) {
    uint64_t roff = get64(p->rec + at), rlen = get64(p->rec + at + 8);
    e = mo_pool_pwrite(p->fd, p->rec + at + RANGEHEAD, (size_t)rlen,
                       MO_POOL_DATAOFF + roff);
    if (e) return e;
    at += RANGEHEAD + rlen;
  }
  return 0;
}

/* Take the page checksums of the record in p->rec. */
static void take_crcs(mo_pool *p, const recinfo *r) {
  const unsigned char *e = p->rec + r->len - RECHEAD - r->npg * PAGEENT;
  uint64_t k;
  for (k = 0; k < r->npg; k++, e += PAGEENT)
    p->crc[get64(e)] = get32(e + 8);
}

/* ---- Opening and recovery ---- */

/* Is there a record head of this generation with seq >= minseq anywhere
** in the log from position from? (Records of a generation are written in
** order, each synced before the next: after the end of the walk there
** can be none, unless a record in between was damaged.) */
static int later_record(mo_pool *p, uint64_t from, uint64_t minseq,
                        int *found) {
  enum { CHUNK = 1 << 20 };
  static const unsigned char mag[4] = {'M', 'O', 'L', '2'};
  unsigned char *b;
  int e = 0;
  *found = 0;
  if (p->logcap < RECHEAD || from > p->logcap - RECHEAD) return 0;
  if ((b = (unsigned char *)malloc(CHUNK + RECHEAD)) == NULL) return ENOMEM;
  while (e == 0 && !*found && from <= p->logcap - RECHEAD) {
    uint64_t n = p->logcap - from < CHUNK + RECHEAD ? p->logcap - from
                                                    : CHUNK + RECHEAD;
    const unsigned char *q = b, *end;
    if ((e = mo_pool_pread(p->fd, b, (size_t)n, p->logoff + from)) != 0)
      break;
    end = b + n - RECHEAD;  /* a head must fit */
    while (q <= end &&
           (q = memmem(q, (size_t)(end - q) + 4, mag, 4)) != NULL &&
           q <= end) {
      if (get32(q + 44) == mo_crc32c(q, 44) && get64(q + 16) == p->gen &&
          get64(q + 8) >= minseq) {
        *found = 1;
        break;
      }
      q++;
    }
    from += n - RECHEAD + 1;
  }
  free(b);
  return e;
}

/*
** Walk the log: records of this generation with consecutive seq from
** header seq + 1, from position 0. They are the commits since the last
** checkpoint. A walk that stops at an invalid record is a record torn by
** a crash (never acknowledged); it is damage instead when the pool was
** closed cleanly, or when a later record of this generation follows.
*/
static int scan_log(mo_pool *p, int clean, uint64_t *count, char *msg,
                    size_t msgsize) {
  uint64_t pos = 0;
  int e, kind, found;
  recinfo r;
  *count = 0;
  for (;;) {
    kind = read_record(p, pos, p->seq + *count + 1, &r, &e);
    if (e) return e;
    if (kind != REC_VALID) break;
    if (clean)
      return mo_pool_fail(msg, msgsize, "damaged pool log (unapplied record "
                          "in a closed pool)");
    take_crcs(p, &r);
    ++*count;
    pos += r.len;
  }
  if ((e = later_record(p, pos + 1, p->seq + *count + 1, &found)) != 0)
    return e;
  if (found) return mo_pool_fail(msg, msgsize, "damaged pool log (bad record)");
  return 0;
}

/* Redo the commits of the log into the data. Crash-safe: doing it again
** writes the same bytes. */
static int replay(mo_pool *p, uint64_t count) {
  uint64_t pos = 0, k;
  recinfo r;
  int e = 0;
  for (k = 0; k < count; k++) {
    if (read_record(p, pos, p->seq + k + 1, &r, &e) != REC_VALID)
      return e ? e : EIO;  /* it was valid a moment ago */
    if ((e = apply_record(p, &r)) != 0) return e;
    pos += r.len;
  }
  return 0;
}

/* Append "page k (bytes a-b)" to a report of damaged pages. */
static void name_page(char *msg, size_t size, uint64_t nbad, uint64_t pg,
                      uint64_t datasize) {
  size_t used = strlen(msg);
  uint64_t end = pg * PAGE + PAGE > datasize ? datasize : pg * PAGE + PAGE;
  if (nbad > 8) return;
  if (nbad == 8)
    snprintf(msg + used, size - used, ", ...");
  else
    snprintf(msg + used, size - used, "%spage %llu (bytes %llu-%llu)",
             nbad ? ", " : "", (unsigned long long)pg,
             (unsigned long long)(pg * PAGE), (unsigned long long)end - 1);
}

/* Check every data page in the file against p->crc, a chunk at a time;
** the next chunk is read ahead while this one is checked. */
static int verify_file(mo_pool *p, char *msg, size_t msgsize) {
  enum { CHUNK = 256 };
  unsigned char *b = (unsigned char *)malloc((size_t)CHUNK * PAGE);
  uint32_t crc[CHUNK];
  uint64_t pg = 0, pages = npages(p->datasize), nbad = 0;
  int e = 0;
  char report[200] = "";
  if (b == NULL) return ENOMEM;
  while (pg < pages && e == 0) {
    uint64_t bytes = p->datasize - pg * PAGE, k, whole;
    if (bytes > (uint64_t)CHUNK * PAGE) bytes = (uint64_t)CHUNK * PAGE;
    e = mo_pool_pread(p->fd, b, (size_t)bytes, MO_POOL_DATAOFF + pg * PAGE);
    if (e) break;
    mo_os_willneed(p->fd, (off_t)(MO_POOL_DATAOFF + pg * PAGE + bytes),
                   (off_t)CHUNK * PAGE);
    whole = bytes / PAGE;
    mo_crc32c_pages(b, (size_t)whole, crc);
    if (bytes % PAGE)
      crc[whole] = mo_crc32c_page(b + whole * PAGE, (size_t)(bytes % PAGE));
    for (k = 0; k < npages(bytes); k++, pg++)
      if (crc[k] != p->crc[pg])
        name_page(report, sizeof report, nbad++, pg, p->datasize);
  }
  free(b);
  if (e == 0 && nbad) {
    snprintf(msg, msgsize, "damaged pool data: %llu page%s: %s",
             (unsigned long long)nbad, nbad > 1 ? "s" : "", report);
    return -1;
  }
  return e;
}

/* Read the checksum table (whole pages) and the header's last one. */
static int read_table(mo_pool *p, uint32_t lastcrc) {
  uint64_t full = p->datasize / PAGE, k = 0;
  unsigned char b[PAGE];
  int e;
  if ((e = mo_pool_setpages(p, p->datasize)) != 0) return e;
  while (k < full) {
    size_t n = full - k < PAGE / 4 ? (size_t)(full - k) : PAGE / 4, i;
    if ((e = mo_pool_pread(p->fd, b, 4 * n, p->tableoff + 4 * k)) != 0)
      return e;
    for (i = 0; i < n; i++) p->crc[k + i] = get32(b + 4 * i);
    k += n;
  }
  if (p->datasize % PAGE) p->crc[full] = lastcrc;
  return 0;
}

static int all_zero(const unsigned char *b, size_t n) {
  while (n--)
    if (*b++) return 0;
  return 1;
}

/* The magic, or the version and length that follow it. */
static int looks_like_header(const unsigned char *b) {
  return memcmp(b, mo_pool_magic, 8) == 0 ||
         (get32(b + 8) == VERSION && get32(b + 12) == HDRLEN);
}

/* Pick the newest valid header copy from the first two pages b. */
static int pick_header(const unsigned char *b, size_t have, mo_poolhdr *h,
                       int *slot, char *msg, size_t msgsize) {
  mo_poolhdr c[2];
  memset(c, 0, sizeof c);
  const char *why[2];
  int k;
  for (k = 0; k < 2; k++)
    why[k] = have >= (size_t)(k + 1) * PAGE
                 ? mo_pool_decode_header(b + k * PAGE, &c[k])
                 : "damaged pool header (file too short)";
  if (why[0] && why[1]) {
    if (have >= 2 * PAGE && all_zero(b, 2 * PAGE))
      return mo_pool_fail(msg, msgsize, "damaged pool header or not a memobj "
                          "pool (both header pages are zero)");
    if (!looks_like_header(b) &&
        (have < 2 * PAGE || !looks_like_header(b + PAGE)))
      return mo_pool_fail(msg, msgsize, "not a memobj pool (bad magic)");
    snprintf(msg, msgsize, "%s (both copies)",
             strcmp(why[0], "damaged pool header (no magic)") ? why[0]
                                                               : why[1]);
    return -1;
  }
  k = why[0] ? 1 : why[1] ? 0 : c[1].gen > c[0].gen;
  *h = c[k];
  *slot = k;
  return 0;
}

/*
** Open the pool on p->fd: pick the newest header copy, read the
** checksums, walk the log (taking the checksums of its records), replay
** it, verify every page, then publish a new generation: the log starts
** over. Nothing is written before the walk found the pool consistent,
** and the replay writes only committed bytes.
*/
int mo_pool_open_fd(mo_pool *p, int verify, char *msg, size_t msgsize) {
  unsigned char b[2 * PAGE];
  struct stat st;
  mo_poolhdr h;
  uint64_t count;
  size_t have;
  int e;
  if ((e = mo_os_fstat(p->fd, &st)) != 0) return e;
  if (st.st_size < 8) return mo_pool_fail(msg, msgsize,
                                          "not a memobj pool (file too short)");
  have = (uint64_t)st.st_size < sizeof b ? (size_t)st.st_size : sizeof b;
  memset(b, 0, sizeof b);
  if ((e = mo_pool_pread(p->fd, b, have, 0)) != 0) return e;
  memset(&h, 0, sizeof h);
  if ((e = pick_header(b, have, &h, &p->hdrslot, msg, msgsize)) != 0) return e;
  if ((uint64_t)st.st_size < h.tableoff + tabsize(h.datasize))
    return mo_pool_fail(msg, msgsize, "truncated pool file");
  p->datasize = h.datasize;
  p->logoff = h.logoff;
  p->logcap = h.logcap;
  p->tableoff = h.tableoff;
  p->seq = h.seq;
  p->gen = h.gen;
  if ((e = read_table(p, h.lastcrc)) != 0 ||
      (e = scan_log(p, (h.flags & FLAG_CLEAN) != 0, &count, msg, msgsize)))
    return e;
  if ((e = replay(p, count)) != 0) return e;  /* the first write */
  if (verify && (e = verify_file(p, msg, msgsize)) != 0) return e;
  /* the replayed pages' checksums (from the records) go to the table
  ** before the header that makes the records stale */
  if (count && ((e = mo_pool_write_table(p, p->tableoff, 0,
                                         p->datasize / PAGE)) != 0 ||
                (e = mo_pool_psync(p)) != 0))
    return e;
  p->seq += count;
  if ((e = mo_pool_write_header(p, 0)) != 0) return e;
  p->tail = 0;  /* every record is applied: the log starts over */
  return 0;
}

/* After taking the lock: is path still the file we opened (a version-1
** upgrade may have replaced it)? */
static int same_file(int fd, const char *path) {
  struct stat a, b;
  return mo_os_fstat(fd, &a) == 0 && mo_os_stat(path, &b) == 0 &&
         a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int open_locked(mo_pool *p, const char *path, uint64_t size,
                       int create, char *msg, size_t msgsize) {
  int tries, e;
  for (tries = 0; tries < 100; tries++) {
    e = mo_os_open(path, O_RDWR | O_CLOEXEC, 0, &p->fd);
    if (e == ENOENT && create) {
      if ((e = mo_pool_create(path, size)) != 0) return e;
      e = mo_os_open(path, O_RDWR | O_CLOEXEC, 0, &p->fd);
    }
    if (e) {
      p->fd = -1;
      return e;
    }
    if ((e = mo_os_trylock(p->fd)) != 0) {
      if (e == EWOULDBLOCK)
        snprintf(msg, msgsize, "pool is open in another process or object");
      return e;
    }
    if (same_file(p->fd, path)) return 0;
    mo_os_close(p->fd);
    p->fd = -1;
  }
  return EAGAIN;
}

int mo_pool_open(mo_pool *p, const char *path, uint64_t size, int create,
                 int sync, int verify, char *msg, size_t msgsize) {
  unsigned char b[12];
  int e;
  memset(p, 0, sizeof *p);
  p->sync = sync;
  p->pid = mo_os_pid();
  msg[0] = '\0';
  e = open_locked(p, path, size, create, msg, msgsize);
  if (e == 0 && mo_pool_pread(p->fd, b, sizeof b, 0) == 0 &&
      memcmp(b, mo_pool_magic, 8) == 0 && get32(b + 8) == 1)
    e = mo_pool_upgrade_v1(p, path, msg, msgsize);
  if (e == 0) e = mo_pool_open_fd(p, verify, msg, msgsize);
  if (e) {
    mo_os_close(p->fd);
    free(p->rec);
    free(p->crc);
    memset(p, 0, sizeof *p);
    p->fd = -1;
  }
  return e;
}

/* ---- Checkpoints ---- */

static int cmp_range(const void *a, const void *b) {
  const mo_pool_range *x = (const mo_pool_range *)a;
  const mo_pool_range *y = (const mo_pool_range *)b;
  return x->off < y->off ? -1 : x->off > y->off;
}

/* Write the data changed since the last checkpoint (merged, in file
** order) and the table entries of its whole pages. The memory may also
** hold changes of an open transaction t: its undo log has the committed
** bytes of every place it changed, written on top. */
static int write_dirty(mo_pool *p, const mo_tx *t) {
  uint64_t full = p->datasize / PAGE;
  size_t i, j;
  int e;
  qsort(p->dirty, p->ndirty, sizeof(mo_pool_range), cmp_range);
  for (i = 0; i < p->ndirty; i = j) {
    uint64_t off = p->dirty[i].off, end = off + p->dirty[i].len, lp;
    for (j = i + 1; j < p->ndirty && p->dirty[j].off <= end; j++)
      if (p->dirty[j].off + p->dirty[j].len > end)
        end = p->dirty[j].off + p->dirty[j].len;
    e = mo_pool_pwrite(p->fd, p->data + off, (size_t)(end - off),
                       MO_POOL_DATAOFF + off);
    lp = npages(end) < full ? npages(end) : full;
    if (!e && off / PAGE < lp)
      e = mo_pool_write_table(p, p->tableoff, off / PAGE, lp);
    if (e) return e;
  }
  for (i = 0; t && i < t->nents; i++) {
    e = mo_pool_pwrite(p->fd, t->undo + t->ents[i].pos, t->ents[i].len,
                       MO_POOL_DATAOFF + t->ents[i].off);
    if (e) return e;
  }
  return 0;
}

/*
** Write the data and checksums changed since the last checkpoint, sync
** them, then publish a new header: from then on the log holds nothing
** needed. Until that header is durable the log still redoes everything
** (and its records carry the checksums of the pages they touch, so a
** torn table entry is never used).
*/
int mo_pool_checkpoint(mo_pool *p, int clean, const mo_tx *t) {
  int e;
  if (p->ndirty) {
    if ((e = write_dirty(p, t)) != 0 || (e = mo_pool_psync(p)) != 0)
      return e;
  }
  if ((e = mo_pool_write_header(p, clean)) != 0) return e;
  p->ndirty = 0;
  p->tail = 0;
  return 0;
}

/* ---- Commit ---- */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The distinct pages the ranges of t touch, sorted, in p->pages. */
static int touched_pages(mo_pool *p, const mo_tx *t, size_t *count) {
  size_t i, n = 0;
  for (i = 0; i < t->nents; i++) {
    uint64_t pg, last;
    if (t->ents[i].len == 0) continue;
    last = (t->ents[i].off + t->ents[i].len - 1) / PAGE;
    for (pg = t->ents[i].off / PAGE; pg <= last; pg++) {
      if (n == p->pagecap) {
        size_t cap = p->pagecap ? 2 * p->pagecap : 64;
        uint64_t *q = cap > SIZE_MAX / 8 ? NULL
                      : (uint64_t *)realloc(p->pages, cap * 8);
        if (q == NULL) return ENOMEM;
        p->pages = q;
        p->pagecap = cap;
      }
      p->pages[n++] = pg;
    }
  }
  qsort(p->pages, n, 8, cmp_u64);
  for (i = 0, *count = 0; i < n; i++)
    if (*count == 0 || p->pages[*count - 1] != p->pages[i])
      p->pages[(*count)++] = p->pages[i];
  return 0;
}

/* Build the record of commit `seq` in p->rec; returns its length. */
static size_t build_record(mo_pool *p, const mo_txent *ents, size_t n,
                           size_t npg, uint64_t seq, size_t body) {
  unsigned char *b = p->rec + RECHEAD;
  size_t i;
  for (i = 0; i < n; i++) {
    put64(b, ents[i].off);
    put64(b + 8, ents[i].len);
    memcpy(b + RANGEHEAD, p->data + ents[i].off, ents[i].len);
    b += RANGEHEAD + ents[i].len;
  }
  for (i = 0; i < npg; i++, b += PAGEENT) {
    put64(b, p->pages[i]);
    put32(b + 8, mo_pool_pagecrc(p, p->pages[i]));
    put32(b + 12, 0);
  }
  memset(p->rec, 0, RECHEAD);
  put32(p->rec, RECMAGIC);
  put32(p->rec + 4, (uint32_t)n);
  put64(p->rec + 8, seq);
  put64(p->rec + 16, p->gen);
  put64(p->rec + 24, body);
  put32(p->rec + 32, (uint32_t)npg);
  put32(p->rec + 40, mo_crc32c(p->rec + RECHEAD, body));
  put32(p->rec + 44, mo_crc32c(p->rec, 44));
  return RECHEAD + body;
}

/* Make room for the ranges of a commit in the dirty list. */
static int reserve_dirty(mo_pool *p, size_t n) {
  size_t cap = p->dirtycap ? p->dirtycap : 64;
  mo_pool_range *d;
  if (n > SIZE_MAX - p->ndirty) return ENOMEM;
  while (cap < p->ndirty + n) {
    if (cap > SIZE_MAX / 2 / sizeof *d) return ENOMEM;
    cap *= 2;
  }
  if (cap == p->dirtycap) return 0;
  d = (mo_pool_range *)realloc(p->dirty, cap * sizeof *d);
  if (d == NULL) return ENOMEM;
  p->dirty = d;
  p->dirtycap = cap;
  return 0;
}

/* Room in the log for a record of len bytes: checkpoint, grow. */
static int make_room(mo_pool *p, const mo_tx *t, size_t len) {
  uint64_t cap = p->logcap;
  int e;
  if (len <= p->logcap - p->tail) return 0;
  if ((e = mo_pool_checkpoint(p, 0, t)) != 0 || len <= p->logcap) return e;
  while (cap < len) {
    if (cap > MAXOFF / 4) return EFBIG;
    cap *= 2;
  }
  return mo_pool_relayout(p, p->datasize, cap);
}

int mo_pool_commit(mo_pool *p, const mo_tx *t, int *err) {
  const mo_txent *ents = t->ents;
  size_t n = t->nents, body = 0, len, npg, i;
  uint64_t seq = p->seq + 1, at;
  if ((*err = mo_pool_usable(p)) != 0) return MO_TX_NOT_COMMITTED;
  if (n > UINT32_MAX) return (*err = EFBIG), MO_TX_NOT_COMMITTED;
  if ((*err = touched_pages(p, t, &npg)) != 0) return MO_TX_NOT_COMMITTED;
  if (npg > UINT32_MAX || npg > (SIZE_MAX - RECHEAD) / PAGEENT / 2)
    return (*err = EFBIG), MO_TX_NOT_COMMITTED;
  body = npg * PAGEENT;
  for (i = 0; i < n; i++) {
    if (ents[i].len > SIZE_MAX - RANGEHEAD - RECHEAD - body)
      return (*err = EFBIG), MO_TX_NOT_COMMITTED;
    body += RANGEHEAD + ents[i].len;
  }
  len = RECHEAD + body;
  if ((*err = make_room(p, t, len)) != 0 || (*err = grow_buf(p, len)) != 0 ||
      (*err = reserve_dirty(p, n)) != 0)
    return MO_TX_NOT_COMMITTED;
  len = build_record(p, ents, n, npg, seq, body);
  at = p->logoff + p->tail;
  *err = mo_pool_pwrite(p->fd, p->rec, len, at);
  if (*err == 0) *err = mo_pool_psync(p);
  if (*err) {
    /* the record may be whole on disk: make sure it is never replayed */
    if (mo_pool_zero(p->fd, at, at + RECHEAD) != 0 || mo_pool_psync(p) != 0)
      p->failed = *err;
    return MO_TX_NOT_COMMITTED;
  }
  /* committed */
  p->seq = seq;
  p->tail += len;
  for (i = 0; i < npg; i++)
    p->crc[p->pages[i]] = get32(p->rec + RECHEAD + body -
                                (npg - i) * PAGEENT + 8);
  for (i = 0; i < n; i++) {
    p->dirty[p->ndirty].off = ents[i].off;
    p->dirty[p->ndirty].len = ents[i].len;
    p->ndirty++;
  }
  return MO_TX_OK;
}

/* ---- Sync, verify, close ---- */

int mo_pool_forked(const mo_pool *p) {
  return mo_os_pid() != p->pid;
}

/*
** 0 if p may write its file. A forked child shares the parent's
** descriptor and lock but not its memory: its commits would be written
** into a log the parent overwrites, a silent loss. So the pool belongs
** to the process that opened it, and a child is refused (EPERM).
*/
int mo_pool_usable(const mo_pool *p) {
  if (p->failed) return p->failed;
  return mo_pool_forked(p) ? EPERM : 0;
}

int mo_pool_sync(mo_pool *p, const mo_tx *t) {
  int e;
  if ((e = mo_pool_usable(p)) != 0) return e;
  if ((e = mo_pool_checkpoint(p, 0, t)) != 0) return e;
  return mo_os_datasync(p->fd);
}

uint64_t mo_pool_verify(mo_pool *p, char *report, size_t reportsize) {
  uint64_t pg, pages = npages(p->datasize), nbad = 0;
  report[0] = '\0';
  for (pg = 0; pg < pages; pg++)
    if (mo_pool_pagecrc(p, pg) != p->crc[pg])
      name_page(report, reportsize, nbad++, pg, p->datasize);
  return nbad;
}

void mo_pool_close(mo_pool *p) {
  if (p->fd < 0) return;
  /* a clean mark promises that every record is applied; a forked child
  ** writes nothing (the file is its parent's) */
  if (mo_pool_usable(p) == 0) mo_pool_checkpoint(p, 1, NULL);
  mo_os_close(p->fd);
  free(p->rec);
  free(p->dirty);
  free(p->crc);
  free(p->pages);
  p->fd = -1;
  p->rec = NULL;
  p->dirty = NULL;
  p->crc = NULL;
  p->pages = NULL;
  p->reccap = p->dirtycap = p->ndirty = p->pagecap = 0;
}

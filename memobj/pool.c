/*
** pool.c: the pool file of persistent memory (format: doc/format.md).
** A header, the data, and a redo log. A commit appends its record (the
** new bytes of every range it changed) and syncs it: that is the commit
** point, and the only write of a commit. The data in the file is brought
** up to date at checkpoints (log full, resize, close): write the data,
** sync it, then publish in the header that the log is applied.
*/
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pool.h"

#define HDRSIZE 512u
#define VERSION 1u
#define RECHEAD 32u
#define RANGEHEAD 16u
#define PAGE 4096u
/* First log size: a quarter of the data, within these bounds. A bigger
** log means fewer checkpoints; a single larger commit grows it. */
#define MINLOG ((uint64_t)64 * 1024)
#define MAXLOG ((uint64_t)16 * 1024 * 1024)
#define FLAG_CLEAN 1u
#define RECMAGIC 0x524c4f4du  /* "MOLR" little-endian */
#define MAXOFF ((uint64_t)INT64_MAX)

static const char magic[8] = {'M', 'E', 'M', 'O', 'B', 'J', 'P', 'L'};

/* ---- Encoding (little-endian on disk) and checksums ---- */

static void put32(unsigned char *p, uint32_t v) {
  int i;
  for (i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
  int i;
  for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* CRC-32C (Castagnoli), table driven. */
static uint32_t crc32c(const unsigned char *p, size_t n) {
  static uint32_t table[256];
  uint32_t c = 0xffffffffu;
  if (table[1] == 0) {
    uint32_t i, k;
    for (i = 0; i < 256; i++) {
      uint32_t r = i;
      for (k = 0; k < 8; k++) r = (r >> 1) ^ (0x82f63b78u & (0u - (r & 1)));
      table[i] = r;
    }
  }
  while (n--) c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

/* Round n up to a page; 0 on overflow. */
static uint64_t pageup(uint64_t n) {
  if (n > UINT64_MAX - (PAGE - 1)) return 0;
  return (n + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

/* ---- Injected crash points (tests): MEMOBJ_CRASH_AT="phase:step[:nth]"
** makes the process _exit(77) the nth time it reaches that step. ---- */

static struct {
  int parsed;
  char phase[16];
  int step;
  long nth, seen;
} crash;

static int crash_now(const char *phase, int step) {
  if (!crash.parsed) {
    const char *s = getenv("MEMOBJ_CRASH_AT");
    crash.parsed = 1;
    crash.nth = 1;
    if (s == NULL || sscanf(s, "%15[a-z]:%d:%ld", crash.phase, &crash.step,
                            &crash.nth) < 2)
      crash.phase[0] = '\0';
  }
  return crash.phase[0] && crash.step == step &&
         strcmp(crash.phase, phase) == 0 && ++crash.seen == crash.nth;
}

static void crashpoint(const char *phase, int step) {
  if (MO_UNLIKELY(crash.phase[0] || !crash.parsed) && crash_now(phase, step))
    _exit(77);
}

/* ---- File I/O ---- */

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off) {
  const char *p = (const char *)buf;
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, (off_t)off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
  return 0;
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off) {
  char *p = (char *)buf;
  while (n > 0) {
    ssize_t r = pread(fd, p, n, (off_t)off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) return EIO;  /* lengths were checked: the file shrank */
    p += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return 0;
}

static int zero_range(int fd, uint64_t from, uint64_t to) {
  static const unsigned char zeros[PAGE * 16];
  while (from < to) {
    size_t n = to - from < sizeof zeros ? (size_t)(to - from) : sizeof zeros;
    int e = pwrite_all(fd, zeros, n, from);
    if (e) return e;
    from += n;
  }
  return 0;
}

/* Allocate the log's blocks up front: a commit that writes into a hole
** makes fdatasync commit file-system metadata too, several times slower.
** Where the file system cannot, the log stays sparse. */
static int prealloc(int fd, uint64_t off, uint64_t len) {
  if (fallocate(fd, 0, (off_t)off, (off_t)len) == 0) return 0;
  return errno == EOPNOTSUPP || errno == ENOSYS ? 0 : errno;
}

/* Durability "sync" orders writes with fdatasync; "process" relies on
** the page cache, which outlives a killed process. */
static int psync(mo_pool *p) {
  if (p->sync && fdatasync(p->fd) != 0) return errno;
  return 0;
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

/* ---- Header ---- */

typedef struct header {
  uint64_t datasize, logoff, logcap, seq;
  uint32_t flags;
} header;

static void encode_header(unsigned char *b, const header *h) {
  memset(b, 0, HDRSIZE);
  memcpy(b, magic, 8);
  put32(b + 8, VERSION);
  put32(b + 12, HDRSIZE);
  put64(b + 16, MO_POOL_DATAOFF);
  put64(b + 24, h->datasize);
  put64(b + 32, h->logoff);
  put64(b + 40, h->logcap);
  put64(b + 48, h->seq);
  put32(b + 56, h->flags);
  put32(b + 60, crc32c(b, 60));
}

/* Decode and check; NULL or a message naming what is wrong. */
static const char *decode_header(const unsigned char *b, header *h) {
  if (memcmp(b, magic, 8) != 0) return "not a memobj pool (bad magic)";
  if (get32(b + 8) != VERSION) return "unsupported pool version";
  if (get32(b + 60) != crc32c(b, 60))
    return "damaged pool header (bad checksum)";
  h->datasize = get64(b + 24);
  h->logoff = get64(b + 32);
  h->logcap = get64(b + 40);
  h->seq = get64(b + 48);
  h->flags = get32(b + 56);
  if (get32(b + 12) != HDRSIZE || get64(b + 16) != MO_POOL_DATAOFF ||
      (h->flags & ~FLAG_CLEAN) != 0 || h->datasize > MAXOFF - 2 * PAGE ||
      h->logoff < MO_POOL_DATAOFF + pageup(h->datasize) ||
      h->logoff % PAGE != 0 || h->logoff > MAXOFF ||
      h->logcap < PAGE || h->logcap % PAGE != 0 ||
      h->logcap > MAXOFF - h->logoff)
    return "damaged pool header (bad sizes)";
  return NULL;
}

/* Write the header for p's current state: one 512-byte sector written
** in place (a sector write is atomic on the devices we support). */
static int write_header(mo_pool *p, int clean) {
  unsigned char b[HDRSIZE];
  header h;
  int e;
  h.datasize = p->datasize;
  h.logoff = p->logoff;
  h.logcap = p->logcap;
  h.seq = p->seq;
  h.flags = clean ? FLAG_CLEAN : 0;
  encode_header(b, &h);
  if ((e = pwrite_all(p->fd, b, HDRSIZE, 0)) != 0) return e;
  return psync(p);
}

/* ---- Log records ---- */

enum { REC_END, REC_VALID, REC_INVALID };

typedef struct recinfo {
  uint64_t seq;
  uint64_t len;      /* head + body */
  uint64_t maxend;   /* end of the furthest range */
  int headok;        /* the head alone checks out (len is known) */
} recinfo;

/* Read and check the record at log position pos; a valid record's body
** is left in p->rec. A zero head is the end of the log. */
static int read_record(mo_pool *p, uint64_t pos, recinfo *r, int *err) {
  static const unsigned char zero[RECHEAD];
  unsigned char h[RECHEAD];
  uint64_t bodylen, at;
  uint32_t nranges, k;
  memset(r, 0, sizeof *r);
  *err = 0;
  if (pos > p->logcap - RECHEAD) return REC_END;  /* the log is full */
  if ((*err = pread_all(p->fd, h, RECHEAD, p->logoff + pos)) != 0)
    return REC_INVALID;
  if (memcmp(h, zero, RECHEAD) == 0) return REC_END;
  nranges = get32(h + 4);
  r->seq = get64(h + 8);
  bodylen = get64(h + 16);
  if (get32(h) != RECMAGIC || get32(h + 28) != crc32c(h, 28) ||
      bodylen > p->logcap - pos - RECHEAD || bodylen > SIZE_MAX - 1)
    return REC_INVALID;
  r->headok = 1;
  r->len = RECHEAD + bodylen;
  if ((*err = grow_buf(p, (size_t)bodylen + 1)) != 0 ||
      (*err = pread_all(p->fd, p->rec, (size_t)bodylen,
                        p->logoff + pos + RECHEAD)) != 0)
    return REC_INVALID;
  if (get32(h + 24) != crc32c(p->rec, (size_t)bodylen)) return REC_INVALID;
  /* the ranges must exactly fill the body; whether they lie inside the
  ** data matters only for records still to be replayed */
  for (at = 0, k = 0; k < nranges; k++) {
    uint64_t roff, rlen;
    if (bodylen - at < RANGEHEAD) return REC_INVALID;
    roff = get64(p->rec + at);
    rlen = get64(p->rec + at + 8);
    at += RANGEHEAD;
    if (rlen > bodylen - at || roff > MAXOFF || rlen > MAXOFF - roff)
      return REC_INVALID;
    if (roff + rlen > r->maxend) r->maxend = roff + rlen;
    at += rlen;
  }
  return at == bodylen ? REC_VALID : REC_INVALID;
}

/* Write the ranges of the record in p->rec (body of r) into the data. */
static int apply_record(mo_pool *p, const recinfo *r) {
  uint64_t at = 0, bodylen = r->len - RECHEAD;
  int e;
  while (at < bodylen) {
    uint64_t roff = get64(p->rec + at), rlen = get64(p->rec + at + 8);
    e = pwrite_all(p->fd, p->rec + at + RANGEHEAD, (size_t)rlen,
                   MO_POOL_DATAOFF + roff);
    if (e) return e;
    crashpoint("recover", 1);
    at += RANGEHEAD + rlen;
  }
  return 0;
}

/* ---- Opening ---- */

static int fail(char *msg, size_t n, const char *what) {
  snprintf(msg, n, "%s", what);
  return -1;
}

/* Sync the directory holding path, so a new name survives power loss. */
static void sync_dir(const char *path) {
  char *copy = strdup(path);
  int fd;
  if (copy == NULL) return;
  fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(copy);
}

/* Create a fresh pool under a temporary name and link it into place, so
** no one ever sees a half-made pool. EEXIST is not an error: someone
** made it first, and the caller opens theirs. */
static int create_pool(const char *path, uint64_t size) {
  mo_pool p;
  size_t n = strlen(path);
  char *tmp;
  int e = 0;
  memset(&p, 0, sizeof p);
  p.sync = 1;
  p.datasize = size;
  p.logcap = size / 4 < MINLOG ? MINLOG : size / 4 > MAXLOG ? MAXLOG
                                                            : pageup(size / 4);
  if (size > MAXOFF - 2 * PAGE - MAXLOG) return EFBIG;
  p.logoff = MO_POOL_DATAOFF + pageup(size);
  if ((tmp = (char *)malloc(n + 16)) == NULL) return ENOMEM;
  snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
  p.fd = mkstemp(tmp);  /* mode 0600 */
  if (p.fd < 0) {
    e = errno;
    free(tmp);
    return e;
  }
  if (fchmod(p.fd, 0600) != 0 ||
      ftruncate(p.fd, (off_t)(p.logoff + p.logcap)) != 0)
    e = errno;
  if (!e) e = prealloc(p.fd, p.logoff, p.logcap);
  if (!e) e = write_header(&p, 1);
  close(p.fd);
  if (!e && link(tmp, path) != 0 && errno != EEXIST) e = errno;
  unlink(tmp);
  free(tmp);
  if (!e) sync_dir(path);
  return e;
}

/*
** Walk the log: records with consecutive sequence numbers from the
** start, up to a zero head. Records up to the header's seq are already
** in the data; newer ones (*first: their position) must be replayed.
** After a crash the walk may end at a torn record instead; in a pool
** closed cleanly, or before a later valid record, that is damage.
*/
static int scan_log(mo_pool *p, int clean, uint64_t *first, uint64_t *last,
                    uint64_t *torn, char *msg, size_t msgsize) {
  uint64_t pos = 0, prev = 0;
  int any = 0, e, kind;
  recinfo r;
  *first = *torn = UINT64_MAX;
  *last = p->seq;
  for (;;) {
    kind = read_record(p, pos, &r, &e);
    if (e) return e;
    if (kind == REC_END) return 0;
    if (kind == REC_VALID && (!any || r.seq == prev + 1)) {
      if (r.seq > p->seq) {
        if (clean)
          return fail(msg, msgsize, "damaged pool log (unapplied record in "
                      "a closed pool)");
        if (*first == UINT64_MAX) {
          if (r.seq != p->seq + 1)
            return fail(msg, msgsize, "damaged pool log (out of sequence)");
          *first = pos;
        }
        if (r.maxend > p->datasize)
          return fail(msg, msgsize, "damaged pool log (range beyond data)");
        *last = r.seq;
      }
      any = 1;
      prev = r.seq;
      pos += r.len;
      continue;
    }
    break;  /* not a zero head: a torn record, or damage */
  }
  if (clean) return fail(msg, msgsize, "damaged pool log (bad record)");
  if (kind == REC_INVALID && r.headok) {  /* is a good record behind it? */
    recinfo next;
    uint64_t want = (any ? prev : p->seq) + 2;
    if (read_record(p, pos + r.len, &next, &e) == REC_VALID &&
        next.seq == want)
      return fail(msg, msgsize, "damaged pool log (bad record)");
    if (e) return e;
  }
  *torn = pos;
  return 0;
}

/* Redo the logged commits that may not have reached the data, end the
** log before a torn record (so that a clean close leaves a log that
** checks out to its end), then mark the pool open. Crash-safe: doing it
** again gives the same bytes. */
static int recover(mo_pool *p, uint64_t first, uint64_t last,
                   uint64_t torn) {
  uint64_t pos = first;
  recinfo r;
  int e = 0;
  if (first != UINT64_MAX) {
    while (read_record(p, pos, &r, &e) == REC_VALID && r.seq <= last) {
      if ((e = apply_record(p, &r)) != 0) return e;
      pos += r.len;
      if (r.seq == last) break;
    }
    if (e) return e;
  }
  crashpoint("recover", 2);
  if (torn != UINT64_MAX &&
      (e = zero_range(p->fd, p->logoff + torn, p->logoff + torn + RECHEAD)))
    return e;
  if ((first != UINT64_MAX || torn != UINT64_MAX) && (e = psync(p)) != 0)
    return e;
  crashpoint("recover", 3);
  p->seq = last;
  if ((e = write_header(p, 0)) != 0) return e;
  crashpoint("recover", 4);
  p->tail = 0;  /* every record is applied: the log starts over */
  return 0;
}

static int open_checked(mo_pool *p, char *msg, size_t msgsize) {
  unsigned char b[HDRSIZE];
  struct stat st;
  header h;
  const char *why;
  uint64_t first, last, torn;
  int e;
  if (fstat(p->fd, &st) != 0) return errno;
  if ((uint64_t)st.st_size < HDRSIZE) {
    if (st.st_size >= 8 && pread_all(p->fd, b, 8, 0) == 0 &&
        memcmp(b, magic, 8) == 0)
      return fail(msg, msgsize, "truncated pool file (no complete header)");
    return fail(msg, msgsize, "not a memobj pool (file too short)");
  }
  if ((e = pread_all(p->fd, b, HDRSIZE, 0)) != 0) return e;
  if ((why = decode_header(b, &h)) != NULL) return fail(msg, msgsize, why);
  if ((uint64_t)st.st_size < h.logoff + h.logcap)
    return fail(msg, msgsize, "truncated pool file");
  p->datasize = h.datasize;
  p->logoff = h.logoff;
  p->logcap = h.logcap;
  p->seq = h.seq;
  e = scan_log(p, (h.flags & FLAG_CLEAN) != 0, &first, &last, &torn, msg,
               msgsize);
  if (e) return e;
  return recover(p, first, last, torn);  /* the first write to the file */
}

int mo_pool_open(mo_pool *p, const char *path, uint64_t size, int create,
                 int sync, char *msg, size_t msgsize) {
  int e;
  memset(p, 0, sizeof *p);
  p->sync = sync;
  msg[0] = '\0';
  p->fd = open(path, O_RDWR | O_CLOEXEC);
  if (p->fd < 0 && errno == ENOENT && create) {
    if ((e = create_pool(path, size)) != 0) return e;
    p->fd = open(path, O_RDWR | O_CLOEXEC);
  }
  if (p->fd < 0) return errno;
  if (flock(p->fd, LOCK_EX | LOCK_NB) != 0) {
    e = errno;
    if (e == EWOULDBLOCK)
      snprintf(msg, msgsize, "pool is open in another process or object");
  } else {
    e = open_checked(p, msg, msgsize);
  }
  if (e) {
    close(p->fd);
    free(p->rec);
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

/*
** Write the data changed since the last checkpoint (merged, in file
** order), sync it, then publish in the header that the log is applied.
** Until the header is written the log still redoes everything. The
** memory may also hold changes of an open transaction t: its undo log
** has the committed bytes of every place it changed, written on top.
*/
static int checkpoint(mo_pool *p, int clean, const mo_tx *t) {
  size_t i, j;
  int e;
  if (p->ndirty) {
    qsort(p->dirty, p->ndirty, sizeof(mo_pool_range), cmp_range);
    for (i = 0; i < p->ndirty; i = j) {
      uint64_t off = p->dirty[i].off, end = off + p->dirty[i].len;
      for (j = i + 1; j < p->ndirty && p->dirty[j].off <= end; j++)
        if (p->dirty[j].off + p->dirty[j].len > end)
          end = p->dirty[j].off + p->dirty[j].len;
      e = pwrite_all(p->fd, p->data + off, (size_t)(end - off),
                     MO_POOL_DATAOFF + off);
      if (e) return e;
      crashpoint("ckpt", 1);
    }
    for (i = 0; t && i < t->nents; i++) {
      e = pwrite_all(p->fd, t->undo + t->ents[i].pos, t->ents[i].len,
                     MO_POOL_DATAOFF + t->ents[i].off);
      if (e) return e;
    }
    if ((e = psync(p)) != 0) return e;
  }
  crashpoint("ckpt", 2);
  if ((e = write_header(p, clean)) != 0) return e;
  crashpoint("ckpt", 3);
  p->ndirty = 0;
  p->tail = 0;
  return 0;
}

/* Make the log larger (after a checkpoint: everything in it is old). */
static int grow_log(mo_pool *p, uint64_t need) {
  uint64_t cap = p->logcap;
  int e;
  while (cap < need) {
    if (cap > MAXOFF / 2) return EFBIG;
    cap *= 2;
  }
  if (cap > MAXOFF - p->logoff) return EFBIG;
  if (ftruncate(p->fd, (off_t)(p->logoff + cap)) != 0) return errno;
  if ((e = prealloc(p->fd, p->logoff, cap)) != 0 || (e = psync(p)) != 0)
    return e;
  crashpoint("grow", 1);
  p->logcap = cap;
  if ((e = write_header(p, 0)) != 0) return e;
  crashpoint("grow", 2);
  return 0;
}

/* ---- Commit ---- */

/* Build the record of commit `seq` in p->rec, followed by a zero head
** (the end of the log); returns the record's length. */
static size_t build_record(mo_pool *p, const mo_txent *ents, size_t n,
                           uint64_t seq, size_t body) {
  unsigned char *b = p->rec + RECHEAD;
  size_t i;
  for (i = 0; i < n; i++) {
    put64(b, ents[i].off);
    put64(b + 8, ents[i].len);
    memcpy(b + RANGEHEAD, p->data + ents[i].off, ents[i].len);
    b += RANGEHEAD + ents[i].len;
  }
  memset(b, 0, RECHEAD);
  put32(p->rec, RECMAGIC);
  put32(p->rec + 4, (uint32_t)n);
  put64(p->rec + 8, seq);
  put64(p->rec + 16, body);
  put32(p->rec + 24, crc32c(p->rec + RECHEAD, body));
  put32(p->rec + 28, crc32c(p->rec, 28));
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

int mo_pool_commit(mo_pool *p, const mo_tx *t, int *err) {
  const mo_txent *ents = t->ents;
  size_t n = t->nents, body = 0, len, i;
  uint64_t seq = p->seq + 1, at;
  if ((*err = p->failed) != 0) return MO_TX_NOT_COMMITTED;
  if (n > UINT32_MAX) return (*err = EFBIG), MO_TX_NOT_COMMITTED;
  for (i = 0; i < n; i++) {
    if (ents[i].len > SIZE_MAX - RANGEHEAD - 2 * RECHEAD - body)
      return (*err = EFBIG), MO_TX_NOT_COMMITTED;
    body += RANGEHEAD + ents[i].len;
  }
  len = RECHEAD + body + RECHEAD;  /* with the zero head after it */
  if (len > p->logcap - p->tail) {
    if ((*err = checkpoint(p, 0, t)) != 0 ||
        (len > p->logcap && (*err = grow_log(p, len)) != 0))
      return MO_TX_NOT_COMMITTED;
  }
  if ((*err = grow_buf(p, len)) != 0 || (*err = reserve_dirty(p, n)) != 0)
    return MO_TX_NOT_COMMITTED;
  len = build_record(p, ents, n, seq, body);
  at = p->logoff + p->tail;
  if (crash_now("commit", 1)) {  /* a torn record */
    pwrite_all(p->fd, p->rec, len / 2, at);
    _exit(77);
  }
  *err = pwrite_all(p->fd, p->rec, len + RECHEAD, at);
  if (*err == 0) {
    crashpoint("commit", 2);
    *err = psync(p);
  }
  if (*err) {
    /* the record may be whole on disk: make sure it is never replayed */
    if (zero_range(p->fd, at, at + RECHEAD) != 0 || psync(p) != 0)
      p->failed = *err;
    return MO_TX_NOT_COMMITTED;
  }
  crashpoint("commit", 3);  /* committed */
  p->seq = seq;
  p->tail += len;
  for (i = 0; i < n; i++) {
    p->dirty[p->ndirty].off = ents[i].off;
    p->dirty[p->ndirty].len = ents[i].len;
    p->ndirty++;
  }
  return MO_TX_OK;
}

/* ---- Resize, sync, close ---- */

/*
** Every step leaves a consistent pool: a checkpoint first (the log is
** then not needed); a shrink publishes the smaller size before anything
** beyond it is overwritten; the bytes that become new data or the new
** log are zeroed before the header that uses them.
*/
int mo_pool_resize(mo_pool *p, uint64_t n) {
  uint64_t newlog, total, oldend = p->logoff + p->logcap, cur;
  int e;
  if (p->failed) return p->failed;
  if (n > MAXOFF - 2 * PAGE || (newlog = MO_POOL_DATAOFF + pageup(n)) == 0 ||
      p->logcap > MAXOFF - newlog)
    return EFBIG;
  total = newlog + p->logcap;
  if ((e = checkpoint(p, 0, NULL)) != 0) return e;  /* no transaction */
  crashpoint("resize", 1);
  cur = p->datasize;
  if (n < cur) {
    p->datasize = n;
    if ((e = write_header(p, 0)) != 0) {
      p->datasize = cur;
      return e;
    }
    cur = n;
    crashpoint("resize", 2);
  }
  if (total > oldend && ftruncate(p->fd, (off_t)total) != 0) return errno;
  e = zero_range(p->fd, MO_POOL_DATAOFF + cur, total < oldend ? total : oldend);
  if (!e) e = prealloc(p->fd, newlog, p->logcap);
  if (e || (e = psync(p)) != 0) return e;
  crashpoint("resize", 3);
  p->datasize = n;
  p->logoff = newlog;
  if ((e = write_header(p, 0)) != 0) return e;
  crashpoint("resize", 4);
  if (total < oldend && ftruncate(p->fd, (off_t)total) != 0) return errno;
  return 0;
}

int mo_pool_sync(mo_pool *p, const mo_tx *t) {
  int e;
  if (p->failed) return p->failed;
  if ((e = checkpoint(p, 0, t)) != 0) return e;
  return fdatasync(p->fd) != 0 ? errno : 0;
}

void mo_pool_close(mo_pool *p) {
  if (p->fd < 0) return;
  /* a clean mark promises that every record is applied */
  if (!p->failed) checkpoint(p, 1, NULL);
  close(p->fd);
  free(p->rec);
  free(p->dirty);
  p->fd = -1;
  p->rec = NULL;
  p->dirty = NULL;
  p->reccap = p->dirtycap = p->ndirty = 0;
}

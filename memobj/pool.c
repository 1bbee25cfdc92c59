/*
** pool.c: the pool file of persistent memory (format: doc/format.md).
** A header, the data, and a redo log of two slots that alternate: the
** record of commit N goes to slot N % 2. A commit writes its record,
** syncs it (the commit point), then writes the data; the next commit's
** sync makes that data durable before the slot is used again.
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
#define INITCAP ((uint64_t)64 * 1024)
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
  uint64_t datasize, logoff, slotcap, seq;
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
  put64(b + 40, h->slotcap);
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
  h->slotcap = get64(b + 40);
  h->seq = get64(b + 48);
  h->flags = get32(b + 56);
  if (get32(b + 12) != HDRSIZE || get64(b + 16) != MO_POOL_DATAOFF ||
      (h->flags & ~FLAG_CLEAN) != 0 || h->datasize > MAXOFF ||
      h->logoff < MO_POOL_DATAOFF + pageup(h->datasize) ||
      h->logoff % PAGE != 0 || h->logoff > MAXOFF ||
      h->slotcap < PAGE || h->slotcap % PAGE != 0 ||
      h->slotcap > (MAXOFF - h->logoff) / 2)
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
  h.slotcap = p->slotcap;
  h.seq = p->seq;
  h.flags = clean ? FLAG_CLEAN : 0;
  encode_header(b, &h);
  if ((e = pwrite_all(p->fd, b, HDRSIZE, 0)) != 0) return e;
  return psync(p);
}

/* ---- Log records ---- */

enum { SLOT_EMPTY, SLOT_VALID, SLOT_INVALID };

/* Classify slot i; a valid record's body is left in p->rec. */
static int read_slot(mo_pool *p, int i, uint64_t *seq, uint64_t *blen,
                     uint64_t *maxend, int *err) {
  unsigned char h[RECHEAD];
  uint64_t off = p->logoff + (uint64_t)i * p->slotcap, bodylen, pos;
  uint32_t nranges, k;
  static const unsigned char zero[RECHEAD];
  if ((*err = pread_all(p->fd, h, RECHEAD, off)) != 0) return SLOT_INVALID;
  if (memcmp(h, zero, RECHEAD) == 0) return SLOT_EMPTY;
  nranges = get32(h + 4);
  *seq = get64(h + 8);
  *blen = bodylen = get64(h + 16);
  if (get32(h) != RECMAGIC || get32(h + 28) != crc32c(h, 28) ||
      (*seq & 1) != (uint64_t)i || bodylen > p->slotcap - RECHEAD ||
      bodylen > SIZE_MAX)
    return SLOT_INVALID;
  if ((*err = grow_buf(p, (size_t)bodylen + 1)) != 0 ||
      (*err = pread_all(p->fd, p->rec, (size_t)bodylen, off + RECHEAD)) != 0)
    return SLOT_INVALID;
  if (get32(h + 24) != crc32c(p->rec, (size_t)bodylen)) return SLOT_INVALID;
  /* the ranges must exactly fill the body; whether they lie inside the
  ** data matters only for records still to be replayed */
  *maxend = 0;
  for (pos = 0, k = 0; k < nranges; k++) {
    uint64_t roff, rlen;
    if (bodylen - pos < RANGEHEAD) return SLOT_INVALID;
    roff = get64(p->rec + pos);
    rlen = get64(p->rec + pos + 8);
    pos += RANGEHEAD;
    if (rlen > bodylen - pos || roff > MAXOFF || rlen > MAXOFF - roff)
      return SLOT_INVALID;
    if (roff + rlen > *maxend) *maxend = roff + rlen;
    pos += rlen;
  }
  return pos == bodylen ? SLOT_VALID : SLOT_INVALID;
}

/* Apply the record of slot i (read again: p->rec holds one body). */
static int replay_slot(mo_pool *p, int i) {
  uint64_t seq, pos, bodylen, maxend;
  int e = 0, first = 1;
  if (read_slot(p, i, &seq, &bodylen, &maxend, &e) != SLOT_VALID)
    return e ? e : EIO;
  for (pos = 0; pos < bodylen;) {
    uint64_t roff = get64(p->rec + pos), rlen = get64(p->rec + pos + 8);
    e = pwrite_all(p->fd, p->rec + pos + RANGEHEAD, (size_t)rlen,
                   MO_POOL_DATAOFF + roff);
    if (e) return e;
    if (first) crashpoint("recover", 1);
    first = 0;
    pos += RANGEHEAD + rlen;
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
  p.slotcap = INITCAP;
  if (size > MAXOFF - 2 * PAGE - 2 * INITCAP) return EFBIG;
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
      ftruncate(p.fd, (off_t)(p.logoff + 2 * p.slotcap)) != 0)
    e = errno;
  if (!e) e = write_header(&p, 1);
  close(p.fd);
  if (!e && link(tmp, path) != 0 && errno != EEXIST) e = errno;
  unlink(tmp);
  free(tmp);
  if (!e) sync_dir(path);
  return e;
}

/* Check the two slots against the header and list the records to replay
** (oldest first). Returns -1 with a message for a damaged log. */
static int check_log(mo_pool *p, int clean, int *order, int *nreplay,
                     uint64_t *maxseq, char *msg, size_t msgsize) {
  int kind[2], i, e = 0;
  uint64_t seq[2] = {0, 0}, end[2] = {0, 0}, m = p->seq, blen;
  for (i = 0; i < 2; i++) {
    kind[i] = read_slot(p, i, &seq[i], &blen, &end[i], &e);
    if (e) return e;
    if (kind[i] == SLOT_VALID && seq[i] > m) m = seq[i];
  }
  *nreplay = 0;
  for (i = 0; i < 2; i++) {
    if (kind[i] == SLOT_INVALID && (clean || (uint64_t)i != ((m + 1) & 1)))
      return fail(msg, msgsize, i == 0 ? "damaged pool log (slot 0)"
                                       : "damaged pool log (slot 1)");
    if (kind[i] == SLOT_VALID && seq[i] > p->seq) {
      if (clean || (seq[i] != m && seq[i] != m - 1))
        return fail(msg, msgsize, "damaged pool log (out of sequence)");
      if (end[i] > p->datasize)
        return fail(msg, msgsize, "damaged pool log (range beyond the data)");
      order[(*nreplay)++] = i;
    }
  }
  if (*nreplay == 2 && seq[order[0]] > seq[order[1]]) {
    int t = order[0];
    order[0] = order[1];
    order[1] = t;
  }
  *maxseq = m;
  return 0;
}

/* Redo the logged commits that may not have reached the data, then mark
** the pool open. Crash-safe: replaying again gives the same bytes. */
static int recover(mo_pool *p, const int *order, int nreplay, uint64_t m) {
  int i, e;
  for (i = 0; i < nreplay; i++)
    if ((e = replay_slot(p, order[i])) != 0) return e;
  crashpoint("recover", 2);
  if (nreplay && (e = psync(p)) != 0) return e;
  crashpoint("recover", 3);
  p->seq = m;
  if ((e = write_header(p, 0)) != 0) return e;
  crashpoint("recover", 4);
  return 0;
}

static int open_checked(mo_pool *p, char *msg, size_t msgsize) {
  unsigned char b[HDRSIZE];
  struct stat st;
  header h;
  const char *why;
  int order[2], nreplay, e;
  uint64_t m;
  if (fstat(p->fd, &st) != 0) return errno;
  if ((uint64_t)st.st_size < HDRSIZE) {
    if (st.st_size >= 8 && pread_all(p->fd, b, 8, 0) == 0 &&
        memcmp(b, magic, 8) == 0)
      return fail(msg, msgsize, "truncated pool file (no complete header)");
    return fail(msg, msgsize, "not a memobj pool (file too short)");
  }
  if ((e = pread_all(p->fd, b, HDRSIZE, 0)) != 0) return e;
  if ((why = decode_header(b, &h)) != NULL) return fail(msg, msgsize, why);
  if ((uint64_t)st.st_size < h.logoff + 2 * h.slotcap)
    return fail(msg, msgsize, "truncated pool file");
  p->datasize = h.datasize;
  p->logoff = h.logoff;
  p->slotcap = h.slotcap;
  p->seq = h.seq;
  e = check_log(p, (h.flags & FLAG_CLEAN) != 0, order, &nreplay, &m, msg,
                msgsize);
  if (e) return e;
  return recover(p, order, nreplay, m);  /* the first write to the file */
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

/* ---- Commit ---- */

/* Make the log slots larger. The data written so far is made durable
** first, so the records in the old slots are no longer needed. */
static int grow_slots(mo_pool *p, uint64_t need) {
  uint64_t cap = p->slotcap;
  int e;
  while (cap < need) {
    if (cap > MAXOFF / 4) return EFBIG;
    cap *= 2;
  }
  if (cap > (MAXOFF - p->logoff) / 2) return EFBIG;
  if ((e = psync(p)) != 0) return e;
  crashpoint("grow", 1);
  if ((e = zero_range(p->fd, p->logoff, p->logoff + RECHEAD)) != 0 ||
      (e = zero_range(p->fd, p->logoff + p->slotcap,
                      p->logoff + p->slotcap + RECHEAD)) != 0)
    return e;
  if (ftruncate(p->fd, (off_t)(p->logoff + 2 * cap)) != 0) return errno;
  if ((e = psync(p)) != 0) return e;
  crashpoint("grow", 2);
  p->slotcap = cap;
  if ((e = write_header(p, 0)) != 0) return e;
  crashpoint("grow", 3);
  return 0;
}

/* Build the record of commit `seq` in p->rec; returns its length. */
static size_t build_record(mo_pool *p, const unsigned char *data,
                           const mo_txent *ents, size_t n, uint64_t seq,
                           size_t body) {
  unsigned char *b = p->rec + RECHEAD;
  size_t i;
  for (i = 0; i < n; i++) {
    put64(b, ents[i].off);
    put64(b + 8, ents[i].len);
    memcpy(b + RANGEHEAD, data + ents[i].off, ents[i].len);
    b += RANGEHEAD + ents[i].len;
  }
  put32(p->rec, RECMAGIC);
  put32(p->rec + 4, (uint32_t)n);
  put64(p->rec + 8, seq);
  put64(p->rec + 16, body);
  put32(p->rec + 24, crc32c(p->rec + RECHEAD, body));
  put32(p->rec + 28, crc32c(p->rec, 28));
  return RECHEAD + body;
}

int mo_pool_commit(mo_pool *p, const unsigned char *data,
                   const mo_txent *ents, size_t n, int *err) {
  size_t body = 0, len, i;
  uint64_t seq = p->seq + 1, slot;
  if ((*err = p->failed) != 0) return MO_TX_NOT_COMMITTED;
  if (n > UINT32_MAX) return (*err = EFBIG), MO_TX_NOT_COMMITTED;
  for (i = 0; i < n; i++) {
    if (ents[i].len > SIZE_MAX - RANGEHEAD - RECHEAD - body)
      return (*err = EFBIG), MO_TX_NOT_COMMITTED;
    body += RANGEHEAD + ents[i].len;
  }
  if ((uint64_t)body + RECHEAD > p->slotcap &&
      (*err = grow_slots(p, (uint64_t)body + RECHEAD)) != 0)
    return MO_TX_NOT_COMMITTED;
  if ((*err = grow_buf(p, body + RECHEAD)) != 0) return MO_TX_NOT_COMMITTED;
  len = build_record(p, data, ents, n, seq, body);
  slot = p->logoff + (seq & 1) * p->slotcap;
  if (crash_now("commit", 1)) {  /* a torn record */
    pwrite_all(p->fd, p->rec, len / 2, slot);
    _exit(77);
  }
  *err = pwrite_all(p->fd, p->rec, len, slot);
  if (*err == 0) {
    crashpoint("commit", 2);
    *err = psync(p);
  }
  if (*err) {
    /* the record may be whole on disk: make sure it is never replayed */
    if (zero_range(p->fd, slot, slot + RECHEAD) != 0) p->failed = *err;
    return MO_TX_NOT_COMMITTED;
  }
  crashpoint("commit", 3);  /* committed: recovery redoes the rest */
  p->seq = seq;
  for (i = 0; i < n; i++) {
    *err = pwrite_all(p->fd, data + ents[i].off, ents[i].len,
                      MO_POOL_DATAOFF + ents[i].off);
    if (*err) {
      p->failed = *err;
      return MO_TX_BROKEN;
    }
    if (i == 0) crashpoint("commit", 4);
  }
  crashpoint("commit", 5);
  return MO_TX_OK;
}

/* ---- Resize, sync, close ---- */

/*
** Every step leaves a consistent pool: the data is made durable first
** (so the log is not needed); a shrink publishes the smaller size before
** anything beyond it is overwritten; the bytes that become new data or
** new log slots are zeroed before the header that uses them.
*/
int mo_pool_resize(mo_pool *p, uint64_t n) {
  uint64_t newlog, total, oldend = p->logoff + 2 * p->slotcap, cur;
  int e;
  if (p->failed) return p->failed;
  if (n > MAXOFF - 2 * PAGE || (newlog = MO_POOL_DATAOFF + pageup(n)) == 0 ||
      p->slotcap > (MAXOFF - newlog) / 2)
    return EFBIG;
  total = newlog + 2 * p->slotcap;
  if ((e = psync(p)) != 0) return e;
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
  if (e || (e = psync(p)) != 0) return e;
  crashpoint("resize", 3);
  p->datasize = n;
  p->logoff = newlog;
  if ((e = write_header(p, 0)) != 0) return e;
  crashpoint("resize", 4);
  if (total < oldend && ftruncate(p->fd, (off_t)total) != 0) return errno;
  return 0;
}

int mo_pool_sync(mo_pool *p) {
  return fdatasync(p->fd) != 0 ? errno : 0;
}

void mo_pool_close(mo_pool *p) {
  if (p->fd < 0) return;
  /* a clean mark promises that every record is applied: only when the
  ** data is known to be written */
  if (!p->failed && psync(p) == 0) write_header(p, 1);
  close(p->fd);
  free(p->rec);
  p->fd = -1;
  p->rec = NULL;
  p->reccap = 0;
}

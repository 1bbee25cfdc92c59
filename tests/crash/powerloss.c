/*
** powerloss.c: simulated power loss for persistent pools (issue 17).
**
** A workload (transactions small and large, log wrap and growth, sync
** with and without an open transaction, resize up and down, close and
** reopen) runs on a real pool file with every pwrite, ftruncate,
** fallocate and fdatasync of the pool recorded through the OS layer's
** table of system calls (runtime/core/os.h). Then, for every interval between
** two completed syncs, crash states are built from the synced image plus
** the writes issued since: every prefix (a killed process), every single
** write lost while later ones landed, writes torn (any byte for small
** writes such as headers, 512-byte sectors for larger ones), and random
** subsets of torn writes applied out of order. Each state is written to
** a file and opened: it must open (power loss cannot do more damage
** than this), and hold exactly the state after some commit or resize
** that is no older than the last one acknowledged before the crash and
** not newer than the last one started. For a sample of states the
** recovery is recorded too and crashed in the same way: the result must
** be what the uninterrupted recovery gave. For a sample of states whose
** two header copies are both valid, each header page is also zeroed:
** the state must open just the same.
**
** Creation and the version-1 upgrade are simulated at the level of the
** directory (scenarios below): the files a pool is made from, their
** names (create, link, rename, unlink) and their syncs, the directory's
** included. A crash state keeps each file's synced bytes plus any of its
** later writes, and the names made durable by a directory sync plus any
** prefix of the later name changes. Opening the pool's name in such a
** state must give no pool or a complete new one (creation), or the
** version-1 pool's committed data (upgrade: the old pool or the new).
** The version-1 pools are tests/fixtures/pool-v1-*.pool
** (POWERLOSS_FIXTURES names another directory).
**
** usage: powerloss DIR STATES [SEED]   prints "powerloss: N states, W wrong"
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../memobj/poolint.h"
#include "../../runtime/core/os.h"

#define SECTOR 512u
#define CHUNK 64u

/* ---- Recording ---- */

enum { OP_WRITE, OP_TRUNC, OP_ALLOC, OP_SYNC };

typedef struct op {
  int type;
  uint64_t off, len;     /* write: where; trunc/alloc: new size / range */
  unsigned char *data;
  size_t acked, started; /* events acknowledged / started when issued */
} op;

static struct {
  dev_t dev;             /* the recorded file; ino 0: not recording */
  ino_t ino;
  op *ops;
  size_t n, cap;
  size_t acked, started; /* event counters of the workload */
} rec;

static struct {
  ssize_t (*pwrite)(int, const void *, size_t, off_t);
  int (*ftruncate)(int, off_t);
  int (*fallocate)(int, int, off_t, off_t);
  int (*open)(const char *, int, mode_t);
  int (*fsync)(int);
  int (*rename)(const char *, const char *);
  int (*link)(const char *, const char *);
  int (*unlink)(const char *);
} real;

/* ---- Recording a directory (creation and upgrade scenarios) ---- */

enum { D_WRITE, D_TRUNC, D_ALLOC, D_SYNC, D_CREATE, D_RENAME, D_LINK,
       D_UNLINK, D_DIRSYNC };

typedef struct dop {
  int type;
  ino_t ino;             /* data ops, D_SYNC, D_CREATE */
  uint64_t off, len;
  unsigned char *data;
  char a[64], b[64];     /* names (basenames in the directory) */
} dop;

static struct {
  int on;
  char dir[4096];        /* recorded directory */
  dev_t dev;
  dop *ops;
  size_t n, cap;
} drec;

static dop *dadd(int type) {
  dop *o;
  if (drec.n == drec.cap) {
    drec.cap = drec.cap ? 2 * drec.cap : 256;
    drec.ops = (dop *)realloc(drec.ops, drec.cap * sizeof *o);
    if (!drec.ops) abort();
  }
  o = &drec.ops[drec.n++];
  memset(o, 0, sizeof *o);
  o->type = type;
  return o;
}

/* The inode of fd when it is a regular file of the recorded directory's
** file system (0: not recorded); *isdir for a directory. */
static ino_t dfile(int fd, int *isdir) {
  struct stat st;
  *isdir = 0;
  if (!drec.on || fstat(fd, &st) != 0 || st.st_dev != drec.dev) return 0;
  *isdir = S_ISDIR(st.st_mode);
  return S_ISREG(st.st_mode) ? st.st_ino : 0;
}

/* The name of path inside the recorded directory, or NULL. */
static const char *dname(const char *path) {
  size_t n = strlen(drec.dir);
  if (!drec.on || strncmp(path, drec.dir, n) != 0 || path[n] != '/' ||
      strchr(path + n + 1, '/') || strlen(path + n + 1) >= 64)
    return NULL;
  return path + n + 1;
}

static void ddata(int type, int fd, uint64_t off, uint64_t len,
                  const void *b) {
  int isdir;
  ino_t ino = dfile(fd, &isdir);
  dop *o;
  if (ino == 0) return;
  o = dadd(type);
  o->ino = ino;
  o->off = off;
  o->len = len;
  if (b) {
    o->data = (unsigned char *)malloc((size_t)len + 1);
    if (!o->data) abort();
    memcpy(o->data, b, (size_t)len);
  }
}

static void dnames(int type, const char *from, const char *to) {
  const char *a = dname(from), *b = to ? dname(to) : NULL;
  dop *o;
  if (a == NULL || (to && b == NULL)) return;
  o = dadd(type);
  snprintf(o->a, sizeof o->a, "%s", a);
  if (b) snprintf(o->b, sizeof o->b, "%s", b);
}

static int r_open(const char *path, int flags, mode_t mode) {
  int fd = real.open(path, flags, mode), isdir;
  const char *n = (flags & O_CREAT) && fd >= 0 ? dname(path) : NULL;
  if (n) {
    ino_t ino = dfile(fd, &isdir);
    dop *o = dadd(D_CREATE);
    o->ino = ino;
    snprintf(o->a, sizeof o->a, "%s", n);
  }
  return fd;
}
static int r_fsync(int fd) {
  int isdir;
  ino_t ino = dfile(fd, &isdir);
  if (isdir) dadd(D_DIRSYNC);
  else if (ino) dadd(D_SYNC)->ino = ino;
  return real.fsync(fd);
}
static int r_rename(const char *a, const char *b) {
  int r = real.rename(a, b);
  if (r == 0) dnames(D_RENAME, a, b);
  return r;
}
static int r_link(const char *a, const char *b) {
  int r = real.link(a, b);
  if (r == 0) dnames(D_LINK, a, b);
  return r;
}
static int r_unlink(const char *a) {
  int r = real.unlink(a);
  if (r == 0) dnames(D_UNLINK, a, NULL);
  return r;
}

static int recorded(int fd) {
  struct stat st;
  return rec.ino && fstat(fd, &st) == 0 && st.st_ino == rec.ino &&
         st.st_dev == rec.dev;
}

/* Record the file at path from now on (NULL: stop). */
static void record(const char *path) {
  struct stat st;
  rec.ino = 0;
  if (path && stat(path, &st) == 0) {
    rec.dev = st.st_dev;
    rec.ino = st.st_ino;
  }
}

static op *add_op(int type, uint64_t off, uint64_t len) {
  op *o;
  if (rec.n == rec.cap) {
    rec.cap = rec.cap ? 2 * rec.cap : 1024;
    rec.ops = (op *)realloc(rec.ops, rec.cap * sizeof *o);
    if (!rec.ops) abort();
  }
  o = &rec.ops[rec.n++];
  memset(o, 0, sizeof *o);
  o->type = type;
  o->off = off;
  o->len = len;
  o->acked = rec.acked;
  o->started = rec.started;
  return o;
}

static ssize_t r_pwrite(int fd, const void *b, size_t n, off_t off) {
  ssize_t w = real.pwrite(fd, b, n, off);
  if (w > 0) ddata(D_WRITE, fd, (uint64_t)off, (uint64_t)w, b);
  if (w > 0 && recorded(fd)) {
    op *o = add_op(OP_WRITE, (uint64_t)off, (uint64_t)w);
    o->data = (unsigned char *)malloc((size_t)w);
    if (!o->data) abort();
    memcpy(o->data, b, (size_t)w);
  }
  return w;
}
static int r_ftruncate(int fd, off_t len) {
  int r = real.ftruncate(fd, len);
  if (r == 0) ddata(D_TRUNC, fd, (uint64_t)len, 0, NULL);
  if (r == 0 && recorded(fd)) add_op(OP_TRUNC, (uint64_t)len, 0);
  return r;
}
static int r_fallocate(int fd, int mode, off_t off, off_t len) {
  int r = real.fallocate(fd, mode, off, len);
  if (r == 0) ddata(D_ALLOC, fd, (uint64_t)off, (uint64_t)len, NULL);
  if (r == 0 && recorded(fd)) add_op(OP_ALLOC, (uint64_t)off, (uint64_t)len);
  return r;
}
/* The file is never shared with a real power loss: skip the flush. */
static int r_fdatasync(int fd) {
  int isdir;
  ino_t ino = dfile(fd, &isdir);
  if (ino) dadd(D_SYNC)->ino = ino;
  if (recorded(fd)) add_op(OP_SYNC, 0, 0);
  return 0;
}

static void clear_ops(void) {
  size_t i;
  for (i = 0; i < rec.n; i++) free(rec.ops[i].data);
  rec.n = 0;
}

/* ---- File images ---- */

typedef struct image {
  unsigned char *b;
  size_t len, cap;
} image;

static void img_reserve(image *m, size_t n) {
  if (n <= m->cap) return;
  m->cap = n + n / 2 + 4096;
  m->b = (unsigned char *)realloc(m->b, m->cap);
  if (!m->b) abort();
}
static void img_setlen(image *m, size_t n) {
  img_reserve(m, n);
  if (n > m->len) memset(m->b + m->len, 0, n - m->len);
  m->len = n;
}
static void img_copy(image *d, const image *s) {
  img_reserve(d, s->len);
  if (s->len) memcpy(d->b, s->b, s->len);  /* an empty image has no buffer */
  d->len = s->len;
}
/* Apply bytes [from, to) of write o (offsets inside the write). */
static void img_write(image *m, const op *o, uint64_t from, uint64_t to) {
  if (to <= from) return;
  if (o->off + to > m->len) img_setlen(m, (size_t)(o->off + to));
  memcpy(m->b + o->off + from, o->data + from, (size_t)(to - from));
}
static void img_apply(image *m, const op *o) {
  if (o->type == OP_WRITE) img_write(m, o, 0, o->len);
  else if (o->type == OP_TRUNC) img_setlen(m, (size_t)o->off);
  else if (o->type == OP_ALLOC && o->off + o->len > m->len)
    img_setlen(m, (size_t)(o->off + o->len));
}
static void img_read(image *m, const char *path) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) abort();
  img_setlen(m, (size_t)st.st_size);
  if (pread(fd, m->b, m->len, 0) != (ssize_t)m->len) abort();
  close(fd);
}
static void img_store(const image *m, const char *path) {
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  if (fd < 0 || pwrite(fd, m->b, m->len, 0) != (ssize_t)m->len ||
      ftruncate(fd, (off_t)m->len) != 0)
    abort();
  close(fd);
}

/* ---- Random numbers (xorshift; the seed replays a run) ---- */

static uint64_t rng;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

/* ---- The workload and its committed states ---- */

typedef struct state {
  size_t size;
  unsigned char *b;
} state;

static struct {
  state *ev;             /* ev[k]: the state after event k (0: created) */
  size_t n, cap;
} evs;

static mo_pool P;
static size_t ngrow, nresize, nckpt;  /* what the workloads did */
static unsigned char *mem;  /* the "mapping": current bytes */
static size_t memcap;
static const char *dir;
static char poolpath[4096], statepath[4096];

static void push_state(void) {
  state *s;
  if (evs.n == evs.cap) {
    evs.cap = evs.cap ? 2 * evs.cap : 256;
    evs.ev = (state *)realloc(evs.ev, evs.cap * sizeof *s);
    if (!evs.ev) abort();
  }
  s = &evs.ev[evs.n++];
  s->size = (size_t)P.datasize;
  s->b = (unsigned char *)malloc(s->size + 1);
  if (!s->b) abort();
  if (s->size) memcpy(s->b, mem, s->size);
}

static void mem_fit(size_t n) {
  size_t need = n + 2 * MO_POOL_PAGE;
  if (need > memcap) {
    mem = (unsigned char *)realloc(mem, need);
    if (!mem) abort();
    memset(mem + memcap, 0, need - memcap);
    memcap = need;
  }
  P.data = mem;
}

/* A transaction changing `count` random chunks (or all): its undo log
** holds the old bytes, as runtime/core/tx.c builds it. With sync_inside, a
** checkpoint runs while it is open, before it commits. */
static void transaction(size_t count, int sync_inside) {
  size_t nchunks = (size_t)(P.datasize / CHUNK), i, k = 0;
  mo_tx t;
  int err, r;
  unsigned char *used;
  if (nchunks == 0) return;
  if (count > nchunks) count = nchunks;
  memset(&t, 0, sizeof t);
  t.depth = 1;
  t.ents = (mo_txent *)calloc(count, sizeof *t.ents);
  t.undo = (unsigned char *)malloc(count * CHUNK);
  used = (unsigned char *)calloc(nchunks, 1);
  for (i = 0; i < count; i++) {
    size_t c = count == nchunks ? i : (size_t)below(nchunks), j;
    if (used[c]) continue;
    used[c] = 1;
    t.ents[k].off = c * CHUNK;
    t.ents[k].len = CHUNK;
    t.ents[k].pos = k * CHUNK;
    memcpy(t.undo + k * CHUNK, mem + c * CHUNK, CHUNK);
    for (j = 0; j < CHUNK; j++) mem[c * CHUNK + j] = (unsigned char)rnd();
    k++;
  }
  t.nents = k;
  if (sync_inside && mo_pool_sync(&P, &t) != 0) abort();
  rec.started++;
  {
    uint64_t cap = P.logcap, gen = P.gen;
    r = mo_pool_commit(&P, &t, &err);
    ngrow += P.logcap != cap;
    nckpt += P.gen != gen;
  }
  if (r != MO_TX_OK) {
    fprintf(stderr, "powerloss: commit failed: %s\n", strerror(err));
    abort();
  }
  rec.acked++;
  push_state();
  free(t.ents);
  free(t.undo);
  free(used);
}

static void resize(size_t n) {
  size_t old = (size_t)P.datasize;
  mem_fit(n);
  rec.started++;
  if (mo_pool_resize(&P, n, NULL) != 0) abort();
  nresize += n != old;
  rec.acked++;
  if (n > old) memset(mem + old, 0, n - old);
  push_state();
}

static void reopen(void) {
  char msg[200];
  mo_pool_close(&P);
  if (mo_pool_open(&P, poolpath, 0, 0, 1, 1, msg, sizeof msg) != 0) {
    fprintf(stderr, "powerloss: reopen: %s\n", msg);
    abort();
  }
  P.data = mem;
}

/* One workload; its steps are drawn from the seed. */
static void workload(int w, image *start) {
  static const size_t sizes[] = {24 * 1024 + 100, 3 * 4096, 100,
                                 90 * 1024 + 7, 40 * 1024, 0, 5000};
  size_t steps = 60 + (size_t)below(40), s;
  char msg[200];
  snprintf(poolpath, sizeof poolpath, "%s/pool", dir);
  unlink(poolpath);
  while (evs.n) free(evs.ev[--evs.n].b);
  rec.acked = rec.started = 0;
  mem_fit(sizes[0]);
  memset(mem, 0, memcap);
  /* created unrecorded (creation is atomic: a linked complete file) */
  if (mo_pool_open(&P, poolpath, sizes[0], 1, 1, 1, msg, sizeof msg) != 0)
    abort();
  mo_pool_close(&P);
  img_read(start, poolpath);
  record(poolpath);
  if (mo_pool_open(&P, poolpath, 0, 0, 1, 1, msg, sizeof msg) != 0) abort();
  P.data = mem;
  push_state();
  for (s = 0; s < steps; s++) {
    uint64_t r = below(100);
    if (r < 45) transaction(1 + (size_t)below(4), 0);
    else if (r < 55) transaction(20 + (size_t)below(200), 0);
    else if (r < 60) transaction((size_t)-1, 0);  /* every chunk */
    else if (r < 66) transaction(1 + (size_t)below(3), 1);
    else if (r < 72) {
      if (mo_pool_sync(&P, NULL) != 0) abort();
    } else if (r < 82) resize(sizes[below(sizeof sizes / sizeof *sizes)] +
                              (w % 3) * 64);
    else if (r < 88) reopen();
    else transaction(2, 0);
  }
  mo_pool_close(&P);  /* a clean close is part of the workload */
  record(NULL);
}

/* ---- Crash states and their check ---- */

static size_t nstates, nwrong, nrecovery;

static int matches(const state *s, const unsigned char *b, size_t n) {
  return s->size == n && (n == 0 || memcmp(s->b, b, n) == 0);
}

/* Open the state file; 0 and its data in *out, or -1 (refused). */
static int open_state(const char *path, image *out, char *msg, size_t ms,
                      int record) {
  mo_pool q;
  int e = mo_pool_open(&q, path, 0, 0, record, 1, msg, ms);
  if (e) {
    if (!msg[0]) snprintf(msg, ms, "%s", strerror(e));
    return -1;
  }
  img_setlen(out, (size_t)q.datasize);
  if (q.datasize &&
      pread(q.fd, out->b, out->len, MO_POOL_DATAOFF) != (ssize_t)out->len)
    abort();
  mo_pool_close(&q);
  return 0;
}

static void wrong(int w, const char *what, const char *msg, uint64_t seed) {
  nwrong++;
  if (nwrong <= 10)
    fprintf(stderr, "powerloss: WRONG (seed %llu, workload %d, state %zu): "
            "%s%s%s\n", (unsigned long long)seed, w, nstates, what,
            msg[0] ? ": " : "", msg);
}

static image got, crash;

typedef struct interval interval;
/* Check the state in `crash`: ops [iv->from, lastop] may have landed
** (lastop < iv->from: none of them). */
typedef void (*checker)(void *ctx, const interval *iv, size_t lastop);

struct interval {
  const op *ops;
  size_t nops;
  size_t from, to;       /* pending ops: after one sync, up to the next */
  const image *base;     /* everything before `from` applied */
  checker check;
  void *ctx;
  size_t randoms;        /* random subsets to build */
};

/* Apply write o torn: only part of its sectors (or bytes, when small). */
static void apply_torn(image *m, const op *o) {
  if (o->len <= SECTOR) {
    uint64_t k = 1 + below(o->len > 1 ? o->len - 1 : 1);
    if (below(2)) img_write(m, o, 0, k);
    else img_write(m, o, k, o->len);
  } else {
    uint64_t at = 0;
    while (at < o->len) {
      uint64_t end = ((o->off + at) / SECTOR + 1) * SECTOR - o->off;
      if (end > o->len) end = o->len;
      if (below(2)) img_write(m, o, at, end);
      at = end;
    }
  }
}

/* The base plus the first j pending ops. */
static void prefix(const interval *iv, size_t j) {
  size_t k;
  img_copy(&crash, iv->base);
  for (k = 0; k < j; k++) img_apply(&crash, &iv->ops[iv->from + k]);
}

/* Sample: keep about `cap` of `total` candidates (all when fewer). */
static int take(uint64_t total, uint64_t cap) {
  return total <= cap || below(total) < cap;
}

/* Prefixes with op j written only up to each cut: every byte of a small
** write (a header: all of them for the first headers of a run), every
** sector boundary of a larger one (sampled when many). */
static void tears(const interval *iv, size_t j, uint64_t cap) {
  const op *o = &iv->ops[iv->from + j];
  uint64_t cut, first, total;
  if (o->len <= SECTOR) {
    for (cut = 1; cut < o->len; cut++) {
      if (!take(o->len - 1, cap)) continue;
      prefix(iv, j);
      img_write(&crash, o, 0, cut);
      iv->check(iv->ctx, iv, iv->from + j);
    }
    return;
  }
  first = ((o->off / SECTOR) + 1) * SECTOR - o->off;
  total = first < o->len ? (o->len - first + SECTOR - 1) / SECTOR : 0;
  for (cut = first; cut < o->len; cut += SECTOR) {
    if (!take(total, cap)) continue;
    prefix(iv, j);
    img_write(&crash, o, 0, cut);
    iv->check(iv->ctx, iv, iv->from + j);
  }
}

static size_t headers_torn;

static void states_of(const interval *iv) {
  size_t n = iv->to - iv->from, j, k;
  const op *ops = iv->ops;
  uint64_t cap = iv->randoms;  /* per kind of state */
  /* every prefix (a process killed after op j), and torn writes */
  for (j = 0; j <= n; j++) {
    const op *o = j < n ? &ops[iv->from + j] : NULL;
    int hdr = o && o->type == OP_WRITE && o->len <= SECTOR &&
              o->off % MO_POOL_PAGE == 0 && o->off < 2 * MO_POOL_PAGE;
    if (!take(n + 1, cap)) continue;
    prefix(iv, j);
    iv->check(iv->ctx, iv, iv->from + j - 1);
    if (o && o->type == OP_WRITE)
      tears(iv, j, hdr && headers_torn++ < 6 ? SECTOR : 1 + cap / 4);
  }
  /* every single write lost while all later ones landed */
  for (j = 0; j + 1 < n; j++) {
    if (ops[iv->from + j].type != OP_WRITE || !take(n, cap)) continue;
    img_copy(&crash, iv->base);
    for (k = 0; k < n; k++)
      if (k != j) img_apply(&crash, &ops[iv->from + k]);
    iv->check(iv->ctx, iv, iv->to - 1);
  }
  /* random subsets of torn writes: later writes land while earlier ones
  ** are lost or torn (the out-of-order cases the device can produce;
  ** sizes change in program order, as the file system journals them) */
  for (j = 0; j < iv->randoms && n > 0; j++) {
    size_t last = iv->from - 1;
    img_copy(&crash, iv->base);
    for (k = 0; k < n; k++) {
      const op *o = &ops[iv->from + k];
      uint64_t c = below(4);
      if (c == 0) continue;  /* lost */
      if (c == 1 && o->type == OP_WRITE) apply_torn(&crash, o);
      else img_apply(&crash, o);
      last = iv->from + k;
    }
    iv->check(iv->ctx, iv, last);
  }
}

/* Walk the ops: one interval per completed sync (and the tail). */
static void walk(const op *ops, size_t nops, const image *start,
                 checker check, void *ctx, size_t randoms) {
  image base = {0};
  size_t i, from = 0;
  img_copy(&base, start);
  for (i = 0; i <= nops; i++) {
    interval iv;
    if (i < nops && ops[i].type != OP_SYNC) continue;
    iv.ops = ops;
    iv.nops = nops;
    iv.from = from;
    iv.to = i;
    iv.base = &base;
    iv.check = check;
    iv.ctx = ctx;
    iv.randoms = randoms;
    states_of(&iv);
    for (; from <= i && from < nops; from++) img_apply(&base, &ops[from]);
  }
  free(base.b);
}

/* ---- Checks ---- */

typedef struct wctx {
  int w;
  uint64_t seed;
  size_t sample;         /* every sample-th state also crashes recovery */
} wctx;

typedef struct rctx {
  const image *expect, *s;
  int w;
  uint64_t seed;
} rctx;

/* A state of an interrupted recovery: must give the recovered state. */
static void check_recovery_state(void *ctx, const interval *iv,
                                 size_t lastop) {
  rctx *r = (rctx *)ctx;
  char msg[200] = "";
  image out = {0};
  (void)iv;
  (void)lastop;
  nstates++;
  nrecovery++;
  img_store(&crash, statepath);
  if (open_state(statepath, &out, msg, sizeof msg, 0) != 0) {
    wrong(r->w, "interrupted recovery refused", msg, r->seed);
    if (getenv("POWERLOSS_DUMP") && nwrong == 1) {
      char path[4200];
      snprintf(path, sizeof path, "%s/wrong.img", getenv("POWERLOSS_DUMP"));
      img_store(&crash, path);
      snprintf(path, sizeof path, "%s/wrong-s.img", getenv("POWERLOSS_DUMP"));
      img_store(r->s, path);
    }
  }
  else if (out.len != r->expect->len ||
           (out.len && memcmp(out.b, r->expect->b, out.len) != 0))
    wrong(r->w, "interrupted recovery gave another state", "", r->seed);
  free(out.b);
}

/* Record the recovery (open and close) of state s, which gave expect,
** and crash it in every way too. */
static void crash_recovery(const image *s, const image *expect, int w,
                           uint64_t seed) {
  op *saved = rec.ops;
  size_t savedn = rec.n, savedcap = rec.cap;
  char msg[200] = "";
  mo_pool q;
  rctx r;
  r.expect = expect;
  r.s = s;
  r.w = w;
  r.seed = seed;
  rec.ops = NULL;
  rec.n = rec.cap = 0;
  img_store(s, statepath);
  record(statepath);
  if (mo_pool_open(&q, statepath, 0, 0, 1, 1, msg, sizeof msg) != 0) abort();
  mo_pool_close(&q);
  record(NULL);
  walk(rec.ops, rec.n, s, check_recovery_state, &r, 3);
  clear_ops();
  free(rec.ops);
  rec.ops = saved;
  rec.n = savedn;
  rec.cap = savedcap;
}

/* Open the image in `crash`; it must hold one of events [lo, hi]. */
static int check_range(const wctx *c, size_t lo, size_t hi,
                       const char *what) {
  char msg[200] = "", why[240];
  size_t e;
  int ok = 0;
  nstates++;
  img_store(&crash, statepath);
  if (open_state(statepath, &got, msg, sizeof msg, 0) != 0) {
    snprintf(why, sizeof why, "refused%s", what);
    wrong(c->w, why, msg, c->seed);
    return 0;
  }
  for (e = lo; e <= hi && e < evs.n && !ok; e++)
    ok = matches(&evs.ev[e], got.b, got.len);
  if (!ok) {
    snprintf(msg, sizeof msg, "expected one of events %zu..%zu", lo, hi);
    snprintf(why, sizeof why, "not a committed state%s", what);
    wrong(c->w, why, msg, c->seed);
  }
  return ok;
}

static size_t nzeroed;

/* The state with one header page zeroed (damage beyond power loss, one
** page): when both copies were valid, it must open just the same. */
static void zero_a_header(const wctx *c, size_t lo, size_t hi) {
  static image keep;
  mo_poolhdr h;
  int page;
  if (crash.len < 2 * PAGE || mo_pool_decode_header(crash.b, &h) ||
      mo_pool_decode_header(crash.b + PAGE, &h))
    return;
  img_copy(&keep, &crash);
  for (page = 0; page < 2; page++) {
    img_copy(&crash, &keep);
    memset(crash.b + page * PAGE, 0, PAGE);
    nzeroed++;
    check_range(c, lo, hi, page ? " (header page B zeroed)"
                                : " (header page A zeroed)");
  }
  img_copy(&crash, &keep);
}

static void check_workload_state(void *ctx, const interval *iv,
                                 size_t lastop) {
  wctx *c = (wctx *)ctx;
  size_t lo, hi, after;
  /* no older than what was acknowledged once the sync before the
  ** interval completed (or when the last op in the state was issued);
  ** no newer than what was started by the end of the interval */
  after = lastop + 1 > iv->from ? lastop : iv->from;
  lo = after < iv->nops ? iv->ops[after].acked : rec.acked;
  hi = iv->to < iv->nops ? iv->ops[iv->to].started : rec.started;
  if (!check_range(c, lo, hi, "")) {
    if (getenv("POWERLOSS_DUMP") && nwrong == 1) {
      char path[4200];
      size_t i;
      snprintf(path, sizeof path, "%s/wrong.img", getenv("POWERLOSS_DUMP"));
      img_store(&crash, path);
      snprintf(path, sizeof path, "%s/wrong-base.img",
               getenv("POWERLOSS_DUMP"));
      img_store(iv->base, path);
      for (i = iv->from; i <= iv->to && i < iv->nops; i++)
        fprintf(stderr, "  op %zu: type %d off %llu len %llu%s\n", i,
                iv->ops[i].type, (unsigned long long)iv->ops[i].off,
                (unsigned long long)iv->ops[i].len, i == lastop ? " <" : "");
    }
    return;
  }
  if (c->sample && nstates % c->sample == 0) {
    image s = {0}, expect = {0};
    img_copy(&s, &crash);
    img_copy(&expect, &got);
    crash_recovery(&s, &expect, c->w, c->seed);
    img_copy(&crash, &s);  /* the recovery's states went through it */
    free(s.b);
    free(expect.b);
  }
  if (nstates % 5 == 0) zero_a_header(c, lo, hi);  /* last: changes got */
}

/* ---- Creation and upgrade: crash states of a directory ---- */

typedef struct dent {
  char name[64];
  ino_t ino;
} dent;

typedef struct scenario {
  const char *what;      /* "creation" or "upgrade" */
  int upgrade;
  const image *expect;   /* the data the pool must hold */
  dent init;             /* the file there before (upgrade), ino 0: none */
  const image *initimg;
  uint64_t seed;
  size_t randoms;
} scenario;

static size_t ncreate, nupgrade;
static char cdir[4096], sdir[4096];

/* Remove every entry of directory d (test code: plain libc). */
static void empty_dir(const char *d) {
  DIR *h = opendir(d);
  struct dirent *e;
  char p[8300];
  if (!h) abort();
  while ((e = readdir(h)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(p, sizeof p, "%s/%s", d, e->d_name);
    unlink(p);
  }
  closedir(h);
}

static int is_name(const dop *o) { return o->type >= D_CREATE && o->type <= D_UNLINK; }

/* The names after the ops before j: every name op before the last
** directory sync, then the first k of those after it. */
static size_t names_at(const scenario *sc, size_t j, size_t k, dent *out,
                       size_t cap) {
  size_t i, n = 0, lastdir = 0, taken = 0;
  if (sc->init.ino) out[n++] = sc->init;
  for (i = 0; i < j; i++)
    if (drec.ops[i].type == D_DIRSYNC) lastdir = i + 1;
  for (i = 0; i < j; i++) {
    const dop *o = &drec.ops[i];
    size_t m, at = n;
    ino_t ino = o->ino;
    if (!is_name(o)) continue;
    if (i >= lastdir && taken++ >= k) break;
    if (o->type == D_LINK || o->type == D_RENAME) {
      ino = 0;
      for (m = 0; m < n; m++)
        if (strcmp(out[m].name, o->a) == 0) ino = out[m].ino;
      if (ino == 0) continue;  /* its source never became durable */
    }
    if (o->type == D_RENAME || o->type == D_UNLINK) {
      for (m = 0; m < n; m++)
        if (strcmp(out[m].name, o->a) == 0) out[m] = out[--n];
    }
    if (o->type == D_UNLINK) continue;
    for (m = 0; m < n; m++)
      if (strcmp(out[m].name, o->type == D_CREATE ? o->a : o->b) == 0) at = m;
    if (at == n && n == cap) abort();
    snprintf(out[at].name, sizeof out[at].name, "%s",
             o->type == D_CREATE ? o->a : o->b);
    out[at].ino = ino;
    if (at == n) n++;
  }
  return n;
}

/* The bytes of file ino after the ops before j: its synced writes, then
** of the later ones all (v 0), none (v 1) or a random torn subset. */
static void file_at(const scenario *sc, ino_t ino, size_t j, int v,
                    image *m) {
  size_t i, lastsync = 0;
  m->len = 0;
  if (ino == sc->init.ino) img_copy(m, sc->initimg);
  for (i = 0; i < j; i++)
    if (drec.ops[i].type == D_SYNC && drec.ops[i].ino == ino) lastsync = i + 1;
  for (i = 0; i < j; i++) {
    const dop *o = &drec.ops[i];
    op w;
    if (o->ino != ino || o->type > D_ALLOC) continue;
    if (i >= lastsync && v == 1) continue;
    w.type = o->type == D_WRITE ? OP_WRITE : o->type == D_TRUNC ? OP_TRUNC
                                                                : OP_ALLOC;
    w.off = o->off;
    w.len = o->len;
    w.data = o->data;
    if (i >= lastsync && v >= 2) {
      uint64_t c = below(4);
      if (c == 0) continue;
      if (c == 1 && w.type == OP_WRITE) {
        apply_torn(m, &w);
        continue;
      }
    }
    img_apply(m, &w);
  }
}

/* Build the state (ops before j, k pending name ops, variant v) in sdir
** and open its pool. */
static void check_dir_state(const scenario *sc, size_t j, size_t k, int v) {
  dent names[16];
  size_t n = names_at(sc, j, k, names, 16), i;
  char path[8300], msg[200] = "";
  struct stat st;
  image f = {0};
  int ok;
  empty_dir(sdir);
  for (i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", sdir, names[i].name);
    file_at(sc, names[i].ino, j, v, &f);
    img_store(&f, path);
  }
  free(f.b);
  nstates++;
  if (sc->upgrade) nupgrade++;
  else ncreate++;
  snprintf(path, sizeof path, "%s/pool", sdir);
  if (!sc->upgrade && stat(path, &st) != 0) return;  /* no pool yet: fine */
  ok = open_state(path, &got, msg, sizeof msg, 0) == 0;
  if (ok && !(got.len == sc->expect->len &&
              (got.len == 0 || memcmp(got.b, sc->expect->b, got.len) == 0)))
    ok = 0, snprintf(msg, sizeof msg, "not the expected data");
  if (!ok) {
    char why[300];
    snprintf(why, sizeof why, "%s: state after op %zu of %zu (%zu name ops "
             "pending, variant %d)", sc->what, j, drec.n, k, v);
    wrong(-1, why, msg, sc->seed);
  }
}

/* Every crash state of the recorded ops of a scenario. */
static void dir_states(const scenario *sc) {
  size_t j, i, k;
  int v;
  for (j = 0; j <= drec.n; j++) {
    size_t lastdir = 0, pnames = 0, pdata = 0;
    for (i = 0; i < j; i++)
      if (drec.ops[i].type == D_DIRSYNC) lastdir = i + 1;
    for (i = lastdir; i < j; i++) pnames += is_name(&drec.ops[i]);
    for (i = 0; i < j; i++) pdata += drec.ops[i].type <= D_ALLOC;
    for (k = 0; k <= pnames; k++)
      for (v = 0; v < (pdata ? 2 + (int)sc->randoms : 1); v++)
        check_dir_state(sc, j, k, v);
  }
}

static void clear_dops(void) {
  size_t i;
  for (i = 0; i < drec.n; i++) free(drec.ops[i].data);
  drec.n = 0;
}

static void start_recording(void) {
  struct stat st;
  if (stat(cdir, &st) != 0) abort();
  drec.dev = st.st_dev;
  snprintf(drec.dir, sizeof drec.dir, "%s", cdir);
  clear_dops();
  drec.on = 1;
}

/* The ops must include a new name and a directory sync: else the
** recording missed them and the states would prove nothing. */
static void check_recorded(const char *what, uint64_t seed) {
  size_t i, names = 0, dirsyncs = 0;
  for (i = 0; i < drec.n; i++) {
    names += drec.ops[i].type == D_LINK || drec.ops[i].type == D_RENAME;
    dirsyncs += drec.ops[i].type == D_DIRSYNC;
  }
  if (!names || !dirsyncs) wrong(-1, what, "no name change or directory "
                                 "sync was recorded", seed);
}

static void creation(uint64_t n, uint64_t seed, size_t randoms) {
  char path[8300];
  image zeros = {0};
  scenario sc;
  int e;
  empty_dir(cdir);
  snprintf(path, sizeof path, "%s/pool", cdir);
  start_recording();
  e = mo_pool_create(path, n);
  drec.on = 0;
  if (e) {
    fprintf(stderr, "powerloss: create: %s\n", strerror(e));
    abort();
  }
  check_recorded("creation", seed);
  img_setlen(&zeros, (size_t)n);
  memset(&sc, 0, sizeof sc);
  sc.what = "creation";
  sc.expect = &zeros;
  sc.seed = seed;
  sc.randoms = randoms;
  dir_states(&sc);
  free(zeros.b);
}

static void upgrade(const char *fixture, uint64_t seed, size_t randoms) {
  char path[8300], msg[200] = "";
  image v1 = {0}, expect = {0};
  struct stat st;
  scenario sc;
  mo_pool q;
  img_read(&v1, fixture);
  /* the committed data, from an unrecorded upgrade of a copy */
  empty_dir(cdir);
  snprintf(path, sizeof path, "%s/pool", cdir);
  img_store(&v1, path);
  if (open_state(path, &expect, msg, sizeof msg, 0) != 0) {
    fprintf(stderr, "powerloss: %s: %s\n", fixture, msg);
    abort();
  }
  empty_dir(cdir);
  img_store(&v1, path);
  if (stat(path, &st) != 0) abort();
  start_recording();
  if (mo_pool_open(&q, path, 0, 0, 1, 1, msg, sizeof msg) != 0) abort();
  mo_pool_close(&q);
  drec.on = 0;
  check_recorded("upgrade", seed);
  memset(&sc, 0, sizeof sc);
  sc.what = "upgrade";
  sc.upgrade = 1;
  sc.expect = &expect;
  snprintf(sc.init.name, sizeof sc.init.name, "pool");
  sc.init.ino = st.st_ino;
  sc.initimg = &v1;
  sc.seed = seed;
  sc.randoms = randoms;
  dir_states(&sc);
  free(v1.b);
  free(expect.b);
}

/* The scenarios: pools of several sizes made, the two version-1 fixtures
** upgraded. */
static void scenarios(uint64_t seed, size_t target) {
  static const uint64_t sizes[] = {0, 100, 4096, 5000, 3 * 4096 + 7,
                                   70000, 300000};
  const char *fx = getenv("POWERLOSS_FIXTURES");
  size_t randoms = 2 + target / 20000, i;
  char path[8300];
  snprintf(cdir, sizeof cdir, "%s/made", dir);
  snprintf(sdir, sizeof sdir, "%s/crashed", dir);
  if ((mkdir(cdir, 0700) != 0 && errno != EEXIST) ||
      (mkdir(sdir, 0700) != 0 && errno != EEXIST))
    abort();
  for (i = 0; i < sizeof sizes / sizeof *sizes; i++)
    creation(sizes[i], seed, randoms);
  for (i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/pool-v1-%s.pool", fx ? fx : "tests/fixtures",
             i ? "recover" : "clean");
    if (access(path, R_OK) != 0) {
      fprintf(stderr, "powerloss: %s: not found (run from the top directory "
              "or set POWERLOSS_FIXTURES)\n", path);
      exit(2);
    }
    upgrade(path, seed, randoms);
  }
  clear_dops();
  free(drec.ops);
  empty_dir(cdir);
  empty_dir(sdir);
  rmdir(cdir);
  rmdir(sdir);
}

int main(int argc, char **argv) {
  size_t target, per;
  uint64_t seed;
  int w;
  image start = {0};
  if (argc < 3) {
    fprintf(stderr, "usage: powerloss DIR STATES [SEED]\n");
    return 2;
  }
  dir = argv[1];
  target = (size_t)strtoull(argv[2], NULL, 10);
  seed = argc > 3 ? strtoull(argv[3], NULL, 10) : (uint64_t)getpid() * 2654435761u;
  if (seed == 0) seed = 1;
  printf("powerloss: seed %llu (replay: powerloss DIR %zu %llu)\n",
         (unsigned long long)seed, target, (unsigned long long)seed);
  fflush(stdout);
  /* record through the OS layer's table (runtime/core/os.h) */
  if (mo_os_set("pwrite", (mo_os_fn)r_pwrite, (mo_os_fn *)&real.pwrite) ||
      mo_os_set("ftruncate", (mo_os_fn)r_ftruncate,
                (mo_os_fn *)&real.ftruncate) ||
      mo_os_set("fallocate", (mo_os_fn)r_fallocate,
                (mo_os_fn *)&real.fallocate) ||
      mo_os_set("fdatasync", (mo_os_fn)r_fdatasync, NULL) ||
      mo_os_set("open", (mo_os_fn)r_open, (mo_os_fn *)&real.open) ||
      mo_os_set("fsync", (mo_os_fn)r_fsync, (mo_os_fn *)&real.fsync) ||
      mo_os_set("rename", (mo_os_fn)r_rename, (mo_os_fn *)&real.rename) ||
      mo_os_set("link", (mo_os_fn)r_link, (mo_os_fn *)&real.link) ||
      mo_os_set("unlink", (mo_os_fn)r_unlink, (mo_os_fn *)&real.unlink))
    abort();
  snprintf(statepath, sizeof statepath, "%s/state", dir);
  scenarios(seed, target);
  per = target / 12 + 1;  /* states per workload, roughly */
  for (w = 0; nstates < target; w++) {
    size_t before = nstates, syncs = 0, i;
    wctx c;
    rng = seed * 0x9e3779b97f4a7c15ull + (uint64_t)w + 1;
    clear_ops();
    workload(w, &start);
    for (i = 0; i < rec.n; i++) syncs += rec.ops[i].type == OP_SYNC;
    c.w = w;
    c.seed = seed;
    c.sample = 97;
    walk(rec.ops, rec.n, &start, check_workload_state, &c,
         per / (4 * (syncs + 1)) + 2);
    if (getenv("POWERLOSS_VERBOSE"))
      fprintf(stderr, "workload %d: %zu ops, %zu syncs, %zu states\n", w,
              rec.n, syncs, nstates - before);
    if (nstates == before) break;
  }
  clear_ops();
  free(rec.ops);
  while (evs.n) free(evs.ev[--evs.n].b);
  free(evs.ev);
  free(start.b);
  free(got.b);
  free(crash.b);
  free(mem);
  unlink(statepath);
  unlink(poolpath);
  printf("powerloss: %zu states, %zu wrong (%zu of them in interrupted "
         "recoveries, %zu with a header page zeroed, %zu of pool creation, "
         "%zu of version-1 upgrades; %d workloads: %zu log wraps in commits, "
         "%zu log growths, %zu resizes)\n", nstates, nwrong, nrecovery,
         nzeroed, ncreate, nupgrade, w, nckpt, ngrow, nresize);
  return nwrong != 0;
}

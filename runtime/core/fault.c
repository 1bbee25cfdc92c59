/*
** fault.c: faults on memory we map become Lua errors, raised by the
** access that took them.
**
** A mapped file can lose pages under us: another process truncates it
** (or shrinks shared memory), or a full file system has no block for a
** page of a sparse file. Touching such a page raises SIGBUS. For an
** address inside a registered mapping the handler below
**   - maps an anonymous page over the faulting page, so that the access
**     completes (it reads zeros, or writes into a page nobody sees);
**   - widens the mapping's lost range [lo, hi) to cover that page;
**   - records the fault as pending in the thread that took it.
** Every access checks its own thread's pending flag when it is done (one
** load of a thread-local, the only cost to healthy memory) and raises.
** Raising makes the whole lost range inaccessible (PROT_NONE), so every
** later access to it faults again, now with SIGSEGV, which the handler
** treats the same way. So lost pages raise on every access, first and
** later, reads and writes, and a write never looks done. A resize that
** maps the file again ends the loss (mo_fault_recover). Faults anywhere
** else get whatever action was installed before us.
*/
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "os.h"
#include "../core.h"

MO_TLS volatile sig_atomic_t mo_fault_pending = 0;

/* What the handler knows about the pending fault of this thread (the
** first one since the last check: a bulk access may take many). */
static MO_TLS struct {
  int slot;
  unsigned gen;
  uintptr_t addr;
} taken;

/* ---- Registry of mapped ranges ---- */

/*
** The handler walks a list of slots without locks or allocation. Slots
** are allocated once and never freed (a closed mapping's slot is reused),
** so the list only grows at its head and a slot the handler reads is
** always valid memory. Writers (under `lock`) clear `len` before they
** change `start`, and publish `len` last; the handler reads `len` first,
** so it never pairs a start with another mapping's length in a way that
** would make it patch memory that is not ours.
*/
enum { WHY_NONE, WHY_TRUNCATED, WHY_NOSPACE, WHY_IO };

typedef struct slot {
  _Atomic uintptr_t start;
  _Atomic size_t len;      /* 0 while free or changing */
  _Atomic uintptr_t lo, hi;  /* the lost pages; lo == hi: none */
  _Atomic unsigned gen;    /* changes when the slot maps something else */
  struct slot *next;       /* the handler's list, set before publishing */
  int id;                  /* index in byid, set before publishing */
  _Atomic int fd;          /* the mapped file, -1 if not described */
  _Atomic off_t foff;      /* file offset of `start` */
  _Atomic int shared;      /* pages past the end of the file are all lost */
  /* under `lock` only: */
  int inuse;
  int why;                 /* WHY_*, settled by the first raise */
} slot;

static _Atomic(slot *) head;
static _Atomic int anylost;  /* some page was ever lost: lookups needed */
static slot **byid;        /* slot number -> slot, under `lock` */
static int nslots, capslots;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int installed;
static struct sigaction prev_bus, prev_segv;
static size_t pagesize;

static void handler(int sig, siginfo_t *si, void *uctx);

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  pagesize = mo_page_size();
  if (sigaction(SIGBUS, &sa, &prev_bus) == 0 &&
      sigaction(SIGSEGV, &sa, &prev_segv) == 0)
    installed = 1;
}

/* A free slot, or a new one; NULL when out of memory. Under `lock`. */
static slot *take_slot(void) {
  slot *s;
  int i;
  for (i = 0; i < nslots; i++)
    if (!byid[i]->inuse) return byid[i];
  if (nslots == capslots) {
    int cap = capslots ? 2 * capslots : 64;
    slot **n = (slot **)realloc(byid, (size_t)cap * sizeof *n);
    if (n == NULL) return NULL;
    byid = n;
    capslots = cap;
  }
  s = (slot *)calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->id = nslots;
  byid[nslots++] = s;
  s->next = atomic_load(&head);
  atomic_store(&head, s);  /* published complete */
  return s;
}

/* Point slot s at [addr, addr+len) with nothing lost. Under `lock`. */
static void place(slot *s, void *addr, size_t len) {
  atomic_store(&s->len, 0);
  atomic_store(&s->lo, 0);
  atomic_store(&s->hi, 0);
  atomic_fetch_add(&s->gen, 1);
  atomic_store(&s->start, (uintptr_t)addr);
  s->why = WHY_NONE;
  atomic_store(&s->len, len);
}

int mo_fault_register(void *addr, size_t len) {
  slot *s;
  int id = -1;
  pthread_mutex_lock(&lock);
  if (!installed) install();
  if (installed && (s = take_slot()) != NULL) {
    s->inuse = 1;
    atomic_store(&s->fd, -1);
    place(s, addr, len);
    id = s->id;
  }
  pthread_mutex_unlock(&lock);
  return id;
}

void mo_fault_describe(int id, int fd, off_t foff, int shared) {
  if (id < 0) return;
  pthread_mutex_lock(&lock);
  atomic_store(&byid[id]->fd, -1);  /* the handler reads fd first */
  atomic_store(&byid[id]->foff, foff);
  atomic_store(&byid[id]->shared, shared);
  atomic_store(&byid[id]->fd, fd);
  pthread_mutex_unlock(&lock);
}

void mo_fault_update(int id, void *addr, size_t len) {
  if (id < 0) return;
  pthread_mutex_lock(&lock);
  place(byid[id], addr, len);
  pthread_mutex_unlock(&lock);
}

void mo_fault_unregister(int id) {
  if (id < 0) return;
  pthread_mutex_lock(&lock);
  atomic_store(&byid[id]->len, 0);
  atomic_store(&byid[id]->start, 0);
  atomic_fetch_add(&byid[id]->gen, 1);
  byid[id]->inuse = 0;
  pthread_mutex_unlock(&lock);
}

/* ---- Why pages were lost ---- */

/* Why the page at addr of slot s was lost. The file offset is beyond the
** end: truncated; otherwise a sparse page found no room, or the device
** failed. Under `lock`. */
static int diagnose(const slot *s, uintptr_t addr) {
  struct stat st;
  off_t at;
  int fd = atomic_load(&s->fd);
  if (fd < 0 || mo_os_fstat(fd, &st) != 0) return WHY_TRUNCATED;
  at = atomic_load(&s->foff) + (off_t)(addr - atomic_load(&s->start));
  if (at >= st.st_size) return WHY_TRUNCATED;
  if (mo_os_fsfull(fd)) return WHY_NOSPACE;
  return WHY_IO;
}

static const char *const why_text[] = {
  "access to pages lost by a truncated file",
  "access to pages lost by a truncated file",
  "access to pages lost: no space left on the file system",
  "access to pages lost: the file could not be read or written (I/O error)",
};

/* ---- Lost ranges ---- */

/* Make [lo, hi) of slot s inaccessible, so each access faults. Under
** `lock`. */
static void rearm(slot *s) {
  uintptr_t lo = atomic_load(&s->lo), hi = atomic_load(&s->hi);
  if (hi > lo) mo_os_protect((void *)lo, hi - lo, PROT_NONE);
}

void mo_fault_rearm(int id) {
  if (id < 0) return;
  pthread_mutex_lock(&lock);
  rearm(byid[id]);
  pthread_mutex_unlock(&lock);
}

void mo_fault_recover(int id) {
  if (id < 0) return;
  pthread_mutex_lock(&lock);
  atomic_store(&byid[id]->lo, 0);
  atomic_store(&byid[id]->hi, 0);
  byid[id]->why = WHY_NONE;
  pthread_mutex_unlock(&lock);
}

int mo_fault_lost(int id, size_t off, size_t len) {
  int err = 0;
  if (id < 0) return 0;
  pthread_mutex_lock(&lock);
  {
    slot *s = byid[id];
    uintptr_t lo = atomic_load(&s->lo), hi = atomic_load(&s->hi);
    uintptr_t a = atomic_load(&s->start) + off;
    if (hi > lo && a < hi && (len >= UINTPTR_MAX - a || a + len > lo)) {
      if (s->why == WHY_NONE) s->why = diagnose(s, lo);
      err = s->why == WHY_NOSPACE ? ENOSPC : EIO;
    }
  }
  pthread_mutex_unlock(&lock);
  return err;
}

const char *mo_fault_lost_at(const void *addr, size_t len) {
  uintptr_t a = (uintptr_t)addr, end = len > UINTPTR_MAX - a ? UINTPTR_MAX
                                                              : a + len;
  const char *why = NULL;
  int i;
  if (len == 0 || !atomic_load(&anylost)) return NULL;
  pthread_mutex_lock(&lock);
  for (i = 0; i < nslots && !why; i++) {
    slot *s = byid[i];
    uintptr_t lo = atomic_load(&s->lo), hi = atomic_load(&s->hi);
    if (s->inuse && hi > lo && a < hi && end > lo) {
      if (s->why == WHY_NONE) s->why = diagnose(s, lo);
      why = why_text[s->why];
    }
  }
  pthread_mutex_unlock(&lock);
  return why;
}

void mo_fault_lostrange(int id, size_t *lo, size_t *hi) {
  *lo = *hi = 0;
  if (id < 0) return;
  pthread_mutex_lock(&lock);
  {
    slot *s = byid[id];
    uintptr_t l = atomic_load(&s->lo), h = atomic_load(&s->hi);
    uintptr_t start = atomic_load(&s->start);
    if (h > l) {
      *lo = l - start;
      *hi = h - start;
    }
  }
  pthread_mutex_unlock(&lock);
}

/* ---- Raising ---- */

/* Take this thread's pending fault: settle why its page was lost, and
** make the lost range fault on every access from now on. */
static int settle(void) {
  int id = taken.slot, why = WHY_TRUNCATED;
  mo_fault_pending = 0;
  pthread_mutex_lock(&lock);
  if (id >= 0 && id < nslots && atomic_load(&byid[id]->gen) == taken.gen) {
    slot *s = byid[id];
    if (s->why == WHY_NONE) s->why = diagnose(s, taken.addr);
    why = s->why;
    rearm(s);
  }
  pthread_mutex_unlock(&lock);
  return why;
}

int mo_fault_raise(lua_State *L) {
  return luaL_error(L, "memobj: %s", why_text[settle()]);
}

const char *mo_fault_take(const void *addr, size_t len) {
  if (!mo_fault_pending || taken.addr - (uintptr_t)addr >= len) return NULL;
  return why_text[settle()];
}

/* ---- The handler (async-signal-safe: atomics, mo_os_map, sigaction) ---- */

/* The slot whose range holds a, or NULL. */
static slot *owner(uintptr_t a) {
  slot *s;
  for (s = atomic_load(&head); s; s = s->next) {
    size_t len = atomic_load(&s->len);
    uintptr_t start = atomic_load(&s->start);
    if (len && a - start < len) return s;
  }
  return NULL;
}

/* Widen the lost range of s to cover [from, to). */
static void lose(slot *s, uintptr_t from, uintptr_t to) {
  uintptr_t lo = atomic_load(&s->lo), hi = atomic_load(&s->hi);
  atomic_store(&anylost, 1);
  if (hi <= lo) {  /* the first lost pages: set hi first, lo < hi publishes */
    atomic_store(&s->hi, to);
    atomic_store(&s->lo, from);
    return;
  }
  while (from < lo && !atomic_compare_exchange_weak(&s->lo, &lo, from)) {}
  while (to > hi && !atomic_compare_exchange_weak(&s->hi, &hi, to)) {}
}

/*
** The pages to patch for a fault at page: one page, or more so that a
** bulk access takes one fault instead of one per page. A fault inside a
** lost range (SIGSEGV) patches the whole range. A shared map whose file
** ends before the page has lost everything past that end: its whole
** tail. (A private map's own copies of pages survive a truncation, so it
** loses page by page.)
*/
static void extent(int sig, slot *s, uintptr_t page, uintptr_t *from,
                   uintptr_t *to) {
  uintptr_t start = atomic_load(&s->start);
  size_t len = atomic_load(&s->len);
  int fd = atomic_load(&s->fd);
  struct stat st;
  *from = page;
  *to = page + pagesize;
  if (sig == SIGSEGV) {
    *from = atomic_load(&s->lo);
    *to = atomic_load(&s->hi);
  } else if (fd >= 0 && atomic_load(&s->shared) &&
             mo_os_fstat(fd, &st) == 0) {
    off_t in = st.st_size - atomic_load(&s->foff);  /* bytes in the file */
    if (in <= 0 || page - start >= (size_t)in) *to = start + len;
  }
  if (*from > page || *to <= page || *to - start > len) {  /* changed */
    *from = page;
    *to = page + pagesize;
  }
}

/* A fault of ours: SIGBUS anywhere in a registered mapping, SIGSEGV only
** inside a lost range (elsewhere it is a bug, or a write to a read-only
** map: not ours to hide). */
static int patch(int sig, uintptr_t a) {
  slot *s = owner(a);
  uintptr_t page = a & ~(uintptr_t)(pagesize - 1), from, to;
  void *p;
  if (s == NULL) return 0;
  if (sig == SIGSEGV) {
    uintptr_t lo = atomic_load(&s->lo), hi = atomic_load(&s->hi);
    if (!(hi > lo && a >= lo && a < hi)) return 0;
  }
  extent(sig, s, page, &from, &to);
  if (mo_os_map((void *)from, to - from, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0, &p) != 0)
    return 0;
  lose(s, from, to);
  if (!mo_fault_pending) {
    taken.slot = s->id;
    taken.gen = atomic_load(&s->gen);
    taken.addr = a;
    mo_fault_pending = 1;
  }
  return 1;
}

static void handler(int sig, siginfo_t *si, void *uctx) {
  const struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv;
  int saved = errno;
  if (patch(sig, (uintptr_t)si->si_addr)) {
    errno = saved;
    return;
  }
  /* not ours (or no page to patch it with): what was there before us */
  if (prev->sa_flags & SA_SIGINFO) {
    if (prev->sa_sigaction) {
      prev->sa_sigaction(sig, si, uctx);
      errno = saved;
      return;
    }
  } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
    prev->sa_handler(sig);
    errno = saved;
    return;
  }
  /* the default action: returning re-executes a faulting access, which
  ** faults again and now terminates the process as it would have without
  ** us; a signal that was sent (kill) is sent again */
  {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0) raise(sig);
  }
  errno = saved;
}

/*
** shlock.c: the common header, attach protocol, robust lock, journal
** repair and lock generation of queues and dictionaries (shlock.h,
** doc/structures.md).
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include "shlock.h"
#include "../runtime/core/os.h"

/* ---- The lock generation: which boot initialized the lock ---- */

/* A tag of this boot (a hash of the kernel's boot id), read once; never
** 0 and never with the top bit set (that marks a reset in progress). */
static uint64_t boot_tag(void) {
  static uint64_t tag;
  uint64_t t = __atomic_load_n(&tag, __ATOMIC_RELAXED);
  if (t == 0) {
    char id[36];
    int fd, i;
    t = 1469598103934665603ull;  /* FNV-1a */
    if (mo_os_open("/proc/sys/kernel/random/boot_id", O_RDONLY, 0, &fd) == 0) {
      if (mo_os_pread_all(fd, id, sizeof id, 0) == 0)
        for (i = 0; i < (int)sizeof id; i++)
          t = (t ^ (unsigned char)id[i]) * 1099511628211ull;
      mo_os_close(fd);
    }
    t &= ~MO_SH_RESETTING;
    if (t == 0) t = 1;
    __atomic_store_n(&tag, t, __ATOMIC_RELAXED);
  }
  return t;
}

/* ---- The lock ---- */

/* A robust, process-shared, error-checking mutex: a holder that dies
** hands the next locker EOWNERDEAD; the same thread locking twice gets
** EDEADLK instead of hanging. */
static int init_mutex(pthread_mutex_t *m) {
  pthread_mutexattr_t a;
  int e;
  if ((e = pthread_mutexattr_init(&a)) != 0) return e;
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  e = pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
  /* glibc leaves a robust mutex's count at 1 after its first lock and
  ** unlock, and at 1 ever after. Take that first cycle here, while the
  ** range is being formatted, so the bytes of an unlocked lock never
  ** change after formatting: the lock chunk is never logged, and a pool
  ** whose page no longer matched its last commit (a read after attach)
  ** would not open again ("damaged pool data"). */
  if (e == 0 && (e = pthread_mutex_trylock(m)) == 0) e = pthread_mutex_unlock(m);
  return e;
}

/* The kind word of a mutex made by init_mutex (glibc keeps the type,
** robust and shared flags there): a lock whose word differs is damaged
** bytes, and glibc must not be handed it. */
static int mutex_kind(void) {
  static int kind = -1;
  int k = __atomic_load_n(&kind, __ATOMIC_RELAXED);
  if (k == -1) {
    pthread_mutex_t m;
    memset(&m, 0, sizeof m);
    init_mutex(&m);
    k = m.__data.__kind;
    pthread_mutex_destroy(&m);
    __atomic_store_n(&kind, k, __ATOMIC_RELAXED);
  }
  return k;
}

/* Undo the journal of a call that did not finish: restore each saved
** range, newest first. Entries are checked (the bytes are not trusted):
** only the state chunk and the kind's data may be restored. */
static void undo(mo_shhdr *h, size_t len) {
  uint32_t n = __atomic_load_n(&h->jn, __ATOMIC_ACQUIRE);
  if (n > MO_SH_JMAX) n = 0;  /* damaged: nothing to trust */
  while (n-- > 0) {
    const mo_shjent *e = &h->j[n];
    if (e->len <= MO_SH_JBYTES && e->off >= MO_SH_STATE && e->off <= len &&
        e->len <= len - e->off)
      memcpy((unsigned char *)h + e->off, e->old, e->len);
  }
  mo_sh_done(h);
}

/* The lock is ours after a dead holder: make its call not have happened. */
static int repair(mo_shhdr *h, size_t len) {
  undo(h, len);
  h->repairs++;
  return pthread_mutex_consistent(&h->lock.m);
}

int mo_sh_spin(mo_shspin *s) {
  uint64_t now;
  mo_sh_pause();
  if (++s->n % MO_SH_CLOCK != 0) return 1;
  now = mo_os_now_ns();
  if (s->until == 0) s->until = now + MO_SH_SPIN_NS;
  return now < s->until;
}

int mo_sh_lock(mo_shhdr *h, size_t len, const char **why) {
  pthread_mutex_t *m = &h->lock.m;
  int e;
  if (MO_UNLIKELY(m->__data.__kind != mutex_kind())) {
    *why = "its lock is damaged";
    return EINVAL;
  }
  e = pthread_mutex_trylock(m);
  if (MO_UNLIKELY(e == EBUSY)) {  /* spin a little before sleeping */
    mo_shspin s = MO_SH_SPIN_INIT;
    while (e == EBUSY && mo_sh_spin(&s))
      if (__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0)
        e = pthread_mutex_trylock(m);
  }
  while (e == EBUSY) {
    struct timespec dl;
    unsigned word;
    pid_t owner;
    mo_sh_deadline(&dl, 1.0);
    e = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &dl);
    if (e != ETIMEDOUT) break;
    /* a holder for a second: gone without the kernel's owner-died mark
    ** (a lock from another boot, or damaged bytes)? */
    word = __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED);
    owner = (pid_t)(word & 0x3fffffff);  /* FUTEX_TID_MASK: a held lock
                                            names its owner */
    if (owner == 0 && word != 0) {
      *why = "its lock is damaged (held by no thread)";
      return EINVAL;
    }
    if (owner != 0 && !mo_os_alive(owner)) {
      *why = "its lock is held by a thread that no longer exists";
      return ENOTRECOVERABLE;
    }
    e = EBUSY;
  }
  if (MO_UNLIKELY(e == EOWNERDEAD)) e = repair(h, len);
  if (MO_LIKELY(e == 0)) {
    if (MO_UNLIKELY(h->jn != 0)) undo(h, len);  /* damaged bytes */
    return 0;
  }
  *why = e == EDEADLK ? "called again while this thread is inside a call "
                        "(from a finalizer?)"
       : e == ENOTRECOVERABLE ? "its lock is not recoverable"
                              : "its lock is damaged";
  return e;
}

void mo_sh_unlock(mo_shhdr *h) {
  pthread_mutex_unlock(&h->lock.m);
}

/* ---- The lock generation ---- */

/* Has a wait that began at *since (0: now, set it) lasted 2 s? Timed by
** the clock: short sleeps overshoot a lot on a loaded machine. */
static int waited_too_long(struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (since->tv_sec == 0 && since->tv_nsec == 0) {
    *since = now;
    return 0;
  }
  return now.tv_sec - since->tv_sec > 2 ||
         (now.tv_sec - since->tv_sec == 2 && now.tv_nsec >= since->tv_nsec);
}

/* Make the lock usable in this boot. A lock word in a file (a mapped
** file, a pool) may say "held by thread N" from before a reboot, where
** no kernel will ever mark it owner-died: the first attach in a new boot
** resets it. Processes of this boot reach here only after that reset. */
static void ensure_boot(mo_shhdr *h, size_t len) {
  uint64_t mine = boot_tag();
  struct timespec since = {0, 0};
  for (;;) {
    uint64_t b = __atomic_load_n(&h->boot, __ATOMIC_ACQUIRE);
    uint64_t me = MO_SH_RESETTING | (uint64_t)mo_os_pid();
    struct timespec dl;
    if (b == mine) return;
    if ((b & MO_SH_RESETTING) && mo_os_alive((pid_t)(b & 0x7fffffff)) &&
        !waited_too_long(&since)) {  /* another attach is resetting it (2 s at
                                most: then the mark is taken as stale) */
      mo_sh_deadline(&dl, 0.001);
      mo_sh_wait((uint32_t *)&h->boot, (uint32_t)b, &dl);
      continue;
    }
    if (__atomic_compare_exchange_n(&h->boot, &b, me, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
      undo(h, len);  /* a call cut short by the reboot */
      memset(&h->lock, 0, sizeof h->lock);
      init_mutex(&h->lock.m);
      memset(h->w, 0, sizeof h->w);
      __atomic_store_n(&h->boot, mine, __ATOMIC_RELEASE);
      mo_sh_wake((uint32_t *)&h->boot, INT_MAX);
      return;
    }
  }
}

/* ---- Attaching ---- */

/* Is the whole range zero? (read once, at the first attach) */
static int allzero(const unsigned char *p, size_t n) {
  static const unsigned char zeros[4096];
  while (n > 0) {
    size_t k = n < sizeof zeros ? n : sizeof zeros;
    if (memcmp(p, zeros, k) != 0) return 0;
    p += k;
    n -= k;
  }
  return 1;
}

/* Format the header; the caller won the state word. */
static void format(mo_shhdr *h, const mo_shkind *k, size_t len) {
  uint32_t st = h->state;
  memset(h, 0, sizeof *h);
  h->state = st;
  h->magic = k->magic;
  h->version = k->version;
  h->length = len;
  h->boot = boot_tag();
  init_mutex(&h->lock.m);
  k->format(h, len);
  __atomic_store_n(&h->state, MO_SH_READY, __ATOMIC_RELEASE);
  mo_sh_wake(&h->state, INT_MAX);
}

static int foreign(const mo_shkind *k, const char *why, char *msg,
                   size_t msgsize) {
  snprintf(msg, msgsize, "memobj: %s: %s", k->name, why);
  return EINVAL;
}

int mo_sh_attach(lua_State *L, mo_view *v, const mo_shkind *k, char *msg,
                 size_t msgsize) {
  mo_shhdr *h = (mo_shhdr *)v->ptr;
  size_t len = v->length;
  const char *why;
  struct timespec since = {0, 0};
  (void)L;
  for (;;) {
    uint32_t s = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
    struct timespec dl;
    if (s == MO_SH_READY) {
      if (h->magic != k->magic)
        return foreign(k, "memory holds something else", msg, msgsize);
      if (h->version != k->version)
        return foreign(k, "layout version not supported", msg, msgsize);
      if (h->length != len) {
        snprintf(msg, msgsize, "memobj: %s: memory holds one of %llu bytes, "
                 "not %zu", k->name, (unsigned long long)h->length, len);
        return EINVAL;
      }
      if ((why = k->check(h, len)) != NULL)
        return foreign(k, why, msg, msgsize);
      ensure_boot(h, len);
      return 0;
    }
    if (s == 0 || (s & MO_SH_FORMATTING)) {
      uint32_t me = MO_SH_FORMATTING | (uint32_t)mo_os_pid();
      if (s == 0 && !allzero(v->ptr, len)) {
        if (__atomic_load_n(&h->state, __ATOMIC_ACQUIRE) != 0) continue;
        return foreign(k, "memory holds something else (neither zeroed nor "
                       "a structure of this kind)", msg, msgsize);
      }
      if (s != 0 && mo_os_alive((pid_t)(s & ~MO_SH_FORMATTING))) {
        /* another attach is formatting: a few microseconds. A "formatter"
        ** that takes seconds is foreign bytes naming a live process (or
        ** a stopped one): refuse rather than wait forever */
        if (waited_too_long(&since))
          return foreign(k, "memory is being formatted by another process "
                         "for over 2 s (or holds something else)", msg,
                         msgsize);
        mo_sh_deadline(&dl, 0.001);
        mo_sh_wait(&h->state, s, &dl);
        continue;
      }
      /* ours to format (zeroed, or its formatter died): log it first */
      if ((why = mo_sh_log(v, h, MO_SH_HDR)) != NULL) {
        snprintf(msg, msgsize, "memobj: %s: %s", k->name, why);
        return -1;
      }
      if (!__atomic_compare_exchange_n(&h->state, &s, me, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE))
        continue;
      format(h, k, len);
      return 0;
    }
    return foreign(k, "memory holds something else", msg, msgsize);
  }
}

/* ---- Transactions ---- */

void mo_sh_enter_guarded(lua_State *L, mo_view *v, mo_shcall *c) {
  const char *why;
  if (c->m->tx == NULL) {
    mo_tx_begin(L, c->m);
    c->own = 1;
  }
  if (strcmp(c->m->kind->persistence, "durable") == 0 &&
      (why = mo_tx_trywrite(c->m, v->offset, MO_SH_HDR)) != NULL) {
    mo_sh_fail(c);
    luaL_error(L, "memobj: %s", why);
  }
}

void mo_sh_end_slow(lua_State *L, mo_shcall *c, int failed) {
  if (c != NULL && c->own) {
    if (failed || mo_fault_pending) {
      mo_sh_fail(c);
    } else {
      c->own = 0;
      mo_tx_commit(L, c->m);  /* raises if that fails (rolled back) */
    }
  }
  mo_fault_check(L);
}

void mo_sh_fail(mo_shcall *c) {
  if (c->own && c->m->tx) {
    c->own = 0;
    mo_tx_abort_quiet(c->m, (mo_tx *)c->m->tx);
  }
}

const char *mo_sh_trylog(mo_view *v, const void *p, size_t n) {
  size_t off = (size_t)((const unsigned char *)p - v->ptr);
  return mo_tx_trywrite(v->mem, v->offset + off, n);
}

/* ---- Waiting ---- */

void mo_sh_deadline(struct timespec *ts, double seconds) {
  mo_os_deadline(ts, seconds);
}

int mo_sh_wait(uint32_t *word, uint32_t val, const struct timespec *dl) {
  int e = mo_os_futex_wait(word, val, dl);
  if (e == EAGAIN) return 0;
  if (e == EFAULT) (void)*(volatile uint32_t *)word;  /* a lost page? */
  return e;
}

void mo_sh_wake(uint32_t *word, int n) {
  int e = mo_os_futex_wake(word, n);
  if (e == EFAULT) (void)*(volatile uint32_t *)word;  /* a lost page? */
}

/* ---- Views ---- */

/* Why the view at idx is not a live k (raises). */
static mo_view *notlive(lua_State *L, mo_view *v, const mo_shkind *k) {
  if (v->released) luaL_error(L, "memobj: view is released");
  mo_sh_end(L, NULL, 1);  /* lost pages read as zeros: that fault first */
  luaL_error(L, "memobj: %s: memory no longer holds a %s", k->name, k->name);
  return NULL;
}

mo_view *mo_sh_check(lua_State *L, int idx, const mo_shkind *k) {
  mo_view *v = mo_toview(L, idx, k->view->tag);
  if (MO_UNLIKELY(v == NULL)) luaL_typeerror(L, idx, k->view->tname);
  if (MO_UNLIKELY(v->released ||
                  !mo_sh_live((const mo_shhdr *)v->ptr, k, v->length)))
    return notlive(L, v, k);
  return v;
}

mo_view *mo_sh_self_slow(lua_State *L, const mo_shkind *k) {
  return notlive(L, mo_self(L), k);
}

int mo_sh_new(lua_State *L, const mo_shkind *k) {
  const mo_viewkind *vk = k->view;
  mo_source s;
  mo_view *v;
  mo_shcall c;
  size_t off, len;
  char msg[160];
  int e;
  lua_settop(L, 3);
  mo_checksource(L, 1, &s);
  off = lua_isnil(L, 2) ? 0 : mo_checksize(L, 2);
  luaL_argcheck(L, off <= s.length, 2, "offset beyond the end");
  len = lua_isnil(L, 3) ? s.length - off : mo_checksize(L, 3);
  luaL_argcheck(L, len <= s.length - off, 3, "length beyond the end");
  if (s.readonly)
    return luaL_error(L, "memobj: %s: memory is read-only", k->name);
  if (len < k->minlen)
    return luaL_error(L, "memobj: %s: needs at least %d bytes (got %I)",
                      k->name, (int)k->minlen, (lua_Integer)len);
  if ((uintptr_t)(s.mem->ptr + s.offset + off) % 8 != 0)
    return luaL_argerror(L, 2, "the range must start at an address that is "
                         "a multiple of 8");
  v = mo_view_new(L, vk->size, vk->tag, vk->mtkey, &s, s.offset + off, len, 0,
                  k->name);
  v->count = len;
  mo_sh_enter(L, v, &c);
  e = mo_sh_attach(L, v, k, msg, sizeof msg);
  if (e != 0) mo_view_release(v);
  mo_sh_end(L, &c, e != 0);
  if (e == 0) return 1;
  if (e < 0) return luaL_error(L, "%s", msg);
  luaL_pushfail(L);
  lua_pushstring(L, msg);
  lua_pushinteger(L, e);
  return 3;
}

int mo_sh_newheap(lua_State *L, const mo_shkind *k) {
  size_t n = mo_checksize(L, 1);
  if (n < k->minlen)
    return luaL_error(L, "memobj: %s: needs at least %d bytes (got %I)",
                      k->name, (int)k->minlen, (lua_Integer)n);
  mo_mem_zeroed(L, n);
  lua_replace(L, 1);
  lua_settop(L, 1);
  return mo_sh_new(L, k);
}

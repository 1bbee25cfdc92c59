/*
** shlock.h: what queues and dictionaries share (doc/structures.md): the
** common header at the start of their byte range, the attach protocol
** (zeroed memory is formatted once, even by processes attaching at
** once; anything else is refused), the robust process-shared lock with
** its undo journal (a process killed holding it is repaired by the next
** one), the lock generation that makes a lock left in a file by a
** previous boot harmless, and the per-call transaction of durable
** memory.
**
** Nothing read from the memory is trusted: every offset and count is
** checked before use, since other processes (or random bytes) wrote it.
*/
#ifndef MO_SHLOCK_H
#define MO_SHLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "../runtime/core.h"
#include "../runtime/core/method.h"
#include "../runtime/core/tx.h"

#define MO_SH_HDR 512         /* bytes of the common header */
#define MO_SH_STATE 448       /* offset of the kind's state (one tx chunk) */
#define MO_SH_JMAX 5          /* journal entries */
#define MO_SH_JBYTES 32       /* bytes one entry saves */
#define MO_SH_READY 0x59444552u   /* "REDY": state of a formatted header */
#define MO_SH_FORMATTING 0x80000000u  /* | pid of the formatting process */
#define MO_SH_RESETTING ((uint64_t)1 << 63)  /* | pid: lock being reset */

/* One journal entry: the old bytes of [off, off+len) of the range. */
typedef struct mo_shjent {
  uint64_t off;
  uint32_t len, pad;
  unsigned char old[MO_SH_JBYTES];
} mo_shjent;

/* The common header, 512 bytes (eight 64-byte transaction chunks). */
typedef struct mo_shhdr {
  /* chunk 0: identity, written once when formatting */
  uint64_t magic;       /* 0: "moQUEUE\0" / "moDICT\0\0" */
  uint32_t version;     /* 8 */
  uint32_t state;       /* 12: 0, MO_SH_FORMATTING | pid, MO_SH_READY */
  uint64_t length;      /* 16: bytes of the whole range */
  uint64_t boot;        /* 24: lock generation (boot tag) */
  uint64_t p[4];        /* 32: the kind's geometry */
  /* chunk 1: the lock, alone in its chunk: never undo-logged after
  ** formatting, so a pool file only ever holds it unlocked */
  union {
    pthread_mutex_t m;
    unsigned char pad[64];
  } lock;               /* 64 */
  /* chunk 2: futex words and waiter counts (never logged) */
  uint32_t w[16];       /* 128 */
  /* chunks 3-6: the undo journal of the call holding the lock */
  uint32_t jn;          /* 192: valid entries */
  uint32_t repairs;     /* 196: calls repaired after their process died */
  mo_shjent j[MO_SH_JMAX];  /* 200 */
  unsigned char pad2[MO_SH_STATE - 200 - MO_SH_JMAX * sizeof(mo_shjent)];
  /* chunk 7: the kind's state, journaled and logged */
  uint64_t s[8];        /* 448 */
} mo_shhdr;

_Static_assert(sizeof(mo_shhdr) == MO_SH_HDR, "header is 512 bytes");
_Static_assert(sizeof(pthread_mutex_t) <= 64, "a mutex fits its chunk");

/* What a kind tells the attach protocol. */
typedef struct mo_shkind {
  const char *name;     /* "queue", "dict": messages */
  uint64_t magic;
  uint32_t version;
  size_t minlen;        /* smallest range */
  /* Write the geometry (p[]) and the empty state (s[]) for len bytes. */
  void (*format)(mo_shhdr *h, size_t len);
  /* Check a formatted header's geometry against len (untrusted bytes):
  ** NULL, or why it is not a structure of this kind. */
  const char *(*check)(const mo_shhdr *h, size_t len);
  const mo_viewkind *view;  /* its views: tag, metatable, userdata size */
} mo_shkind;

/* Attach the structure of kind k over the view v (the caller's new
** view, writable, 8-byte aligned, at least k->minlen long): formats
** zeroed memory. Returns 0, or EINVAL with a message in msg (the memory
** holds something else). May raise (a transaction refused the write). */
int mo_sh_attach(lua_State *L, mo_view *v, const mo_shkind *k, char *msg,
                 size_t msgsize);

/* Is the header still a ready k of len bytes? (one load and compares) */
static inline int mo_sh_live(const mo_shhdr *h, const mo_shkind *k,
                             size_t len) {
  return __atomic_load_n(&h->state, __ATOMIC_ACQUIRE) == MO_SH_READY &&
         h->magic == k->magic && h->length == len;
}

/* Take the lock. Returns 0, or an errno value with *why set: the lock
** bytes are damaged, it is held by a thread that is gone without the
** kernel marking it (a lock from another boot that was not reset), or
** the same thread already holds it. A holder that died is repaired
** here: its journal is undone, so its call did not happen. */
int mo_sh_lock(mo_shhdr *h, size_t len, const char **why);
void mo_sh_unlock(mo_shhdr *h);

/* Journal the old bytes of p[0 .. n) (n <= MO_SH_JBYTES, inside the
** state chunk or the kind's data) before the lock holder changes them;
** mo_sh_done forgets the journal once every change is made. */
static inline void mo_sh_save(mo_shhdr *h, const void *p, size_t n) {
  uint32_t i = h->jn;
  mo_shjent *e = &h->j[i];
  e->off = (uint64_t)((const unsigned char *)p - (const unsigned char *)h);
  e->len = (uint32_t)n;
  memcpy(e->old, p, n);
  __atomic_store_n(&h->jn, i + 1, __ATOMIC_RELEASE);  /* entry complete */
}
/* Did this call touch pages lost by a truncated file (they read as
** zeros, writes to them vanish)? Asked under the lock before a change is
** published: a call that touched lost pages does not happen, and
** mo_sh_end raises the fault once the lock is released. */
#define MO_SH_LOST "pages lost by a truncated file"
static inline int mo_sh_lost(void) {
  return MO_UNLIKELY(mo_fault_pending != 0);
}
static inline void mo_sh_done(mo_shhdr *h) {
  __atomic_store_n(&h->jn, 0, __ATOMIC_RELEASE);
}

/* ---- Calls on durable memory ----
** Inside a transaction a call's writes are undo-logged with it; on
** memory that must change inside one (a pool) outside any, a call opens
** its own and commits it before returning. On durable memory every
** changing call also logs the whole common header: the lock and journal
** words change without logging under the lock, and a pool's file must
** get them (unlocked, as they are at commit) whenever it gets the
** header's page, or its page checksum would not match. */
typedef struct mo_shcall {
  memobj_mem *m;
  int own;              /* this call opened the transaction */
} mo_shcall;

void mo_sh_enter_guarded(lua_State *L, mo_view *v, mo_shcall *c);
static inline void mo_sh_enter(lua_State *L, mo_view *v, mo_shcall *c) {
  c->m = v->mem;
  c->own = 0;
  if (MO_UNLIKELY(c->m->guarded)) mo_sh_enter_guarded(L, v, c);
}
/* The one exit of a call on a structure's bytes: roll its own
** transaction back when the call failed (or a fault is pending), commit
** it otherwise, then raise a pending fault (pages of a mapped file lost
** under the call: its bytes were zeros). A method calls it once the lock
** is released and before anything else: before building values from the
** bytes it copied, before sleeping, before reporting why it failed. c is
** NULL for a call that changes nothing (no transaction). */
void mo_sh_end_slow(lua_State *L, mo_shcall *c, int failed);
static inline void mo_sh_end(lua_State *L, mo_shcall *c, int failed) {
  if (MO_UNLIKELY(mo_fault_pending || (c != NULL && c->own)))
    mo_sh_end_slow(L, c, failed);
}
/* Roll the call's own transaction back (before raising). */
void mo_sh_fail(mo_shcall *c);
/* Log [p, p+n) of v's bytes for the transaction before changing them, as
** mo_prewrite, without raising: NULL or why not. */
const char *mo_sh_trylog(mo_view *v, const void *p, size_t n);
static inline const char *mo_sh_log(mo_view *v, const void *p, size_t n) {
  if (MO_LIKELY(!v->mem->guarded)) return NULL;
  return mo_sh_trylog(v, p, n);
}

/* A bounded busy wait before a futex sleep: the other side of a queue
** or a lock holder is usually microseconds from done, less than a sleep
** and wake-up. The bound is time, not a count of pauses: a pause takes
** from about 10 ns (older x86) to 40 ns (recent Intel) and 185 ns where
** the hypervisor traps it (doc/performance.md, "Queues and dictionaries").
**   mo_shspin s = MO_SH_SPIN_INIT;
**   while (!ready() && mo_sh_spin(&s)) {}   -- then sleep if not ready */
static inline void mo_sh_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}
#define MO_SH_SPIN_NS 20000u  /* the bound of a spin */
#define MO_SH_CLOCK 16        /* pauses between clock reads */
typedef struct mo_shspin {
  unsigned n;
  uint64_t until;
} mo_shspin;
#define MO_SH_SPIN_INIT {0, 0}
/* One step of a spin: 1 while the bound is not reached. */
int mo_sh_spin(mo_shspin *s);

/* A deadline `seconds` from now on CLOCK_MONOTONIC (a negative value or
** nil: a far one). */
void mo_sh_deadline(struct timespec *ts, double seconds);
/* Sleep on a futex word until woken, the deadline or a signal: 0 (woken
** or the word changed), ETIMEDOUT, EINTR. */
int mo_sh_wait(uint32_t *word, uint32_t val, const struct timespec *dl);
void mo_sh_wake(uint32_t *word, int n);

/* The view at idx of kind k, live, or raise; checks the header still
** holds a k (raises "memory no longer holds a <name>"). */
mo_view *mo_sh_check(lua_State *L, int idx, const mo_shkind *k);
mo_view *mo_sh_self_slow(lua_State *L, const mo_shkind *k);
/* Self of a declared method (the trampoline checked its kind), checked
** again: it may have been released since (a finalizer run by an
** allocation), or its memory may hold something else now. */
static inline mo_view *mo_sh_self(lua_State *L, const mo_shkind *k) {
  mo_view *v = mo_self(L);
  if (MO_UNLIKELY(v->released ||
                  !mo_sh_live((const mo_shhdr *)v->ptr, k, v->length)))
    return mo_sh_self_slow(L, k);
  return v;
}

/* The constructors (declared: mo_funcs_declare, mo_mem_declare):
** m:queue/m:dict([offset [, length]]) with the source at 1 pushes the
** new view, or nil, message, 22; memobj.queue/dict(size) makes a zeroed
** heap of size bytes first. */
int mo_sh_new(lua_State *L, const mo_shkind *k);
int mo_sh_newheap(lua_State *L, const mo_shkind *k);

#endif

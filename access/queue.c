/*
** queue.c: queues, bounded FIFOs of Lua values inside any writable byte
** range (doc/queue.md): m:queue([offset [, length]]), memobj.queue(size).
**
** After the common header (shlock.h) comes a byte ring. A value is a
** record: a 4-byte payload length, then the stored value (shvalue.h),
** written at the tail and wrapping at the end of the ring. The state
** chunk holds head and tail (byte positions that only grow) and the
** number of records; a push writes its records into free ring bytes
** (invisible until the tail moves) and then journals and moves the tail,
** so a process killed anywhere inside leaves the queue as it was or with
** the whole push done. Every position read from memory is checked.
*/
#include <errno.h>
#include <limits.h>
#include "codec.h"
#include "openers.h"
#include "shlock.h"
#include "shvalue.h"

#define QMAGIC 0x0045554555514f6dull  /* "moQUEUE\0" */
#define QVERSION 1
#define QHEAD(h) ((h)->s[0])
#define QTAIL(h) ((h)->s[1])
#define QCOUNT(h) ((h)->s[2])
#define QCAP(h) ((h)->p[1])
/* futex words: items (bumped by pushes) and space (bumped by pops) */
#define W_ITEMS 0
#define W_GETTERS 1
#define W_SPACE 2
#define W_PUTTERS 3
#define RECHDR 4     /* payload length */
#define SMALL 16384  /* pops of up to this many bytes copy out on the C
                        stack (more: into a scratch userdata) */

static const char queue_mtkey = 0;
static const mo_viewkind queue_vkind = {"queue", MO_TAG_QUEUE, "queue",
                                        &queue_mtkey, NULL, sizeof(mo_view)};

static void q_format(mo_shhdr *h, size_t len) {
  h->p[0] = MO_SH_HDR;
  h->p[1] = len - MO_SH_HDR;
}

static const char *q_check(const mo_shhdr *h, size_t len) {
  if (h->p[0] != MO_SH_HDR || h->p[1] != len - MO_SH_HDR)
    return "damaged header (ring geometry)";
  return NULL;
}

static const mo_shkind queue_kind = {
  "queue", QMAGIC, QVERSION, MO_SH_HDR + 64, q_format, q_check, &queue_vkind
};

/* Self of a declared method, checked again (shlock.h). */
static mo_view *checkq(lua_State *L) {
  return mo_sh_self(L, &queue_kind);
}

/* ---- The ring ---- */

static unsigned char *ring(mo_shhdr *h) {
  return (unsigned char *)h + MO_SH_HDR;
}

/* Log ring bytes [pos, pos+n) for a transaction (two ranges on a wrap). */
static const char *ring_log(mo_view *v, mo_shhdr *h, uint64_t cap, uint64_t pos,
                            size_t n) {
  size_t at = (size_t)(pos % cap), first = n < cap - at ? n : (size_t)(cap - at);
  const char *why = mo_sh_log(v, ring(h) + at, first);
  if (why == NULL && n > first) why = mo_sh_log(v, ring(h), n - first);
  return why;
}

/* The ring's size: from the view, never from the (untrusted) header. */
static uint64_t capof(const mo_view *v) {
  return v->length - MO_SH_HDR;
}

/* Are the geometry, head, tail and count whole? (untrusted bytes) */
static int state_ok(const mo_shhdr *h, uint64_t cap) {
  uint64_t used = QTAIL(h) - QHEAD(h);
  return h->p[0] == MO_SH_HDR && QCAP(h) == cap &&
         QTAIL(h) >= QHEAD(h) && used <= cap &&
         QCOUNT(h) <= used / (RECHDR + 1) && (QCOUNT(h) == 0) == (used == 0);
}

/* Write n bytes at ring offset *at (< cap), wrapping; *at moves on. */
static inline void ring_write(unsigned char *r, size_t cap, size_t *at,
                              const void *src, size_t n) {
  size_t room = cap - *at;
  if (MO_LIKELY(n < room)) {
    memcpy(r + *at, src, n);
    *at += n;
    return;
  }
  memcpy(r + *at, src, room);
  memcpy(r, (const unsigned char *)src + room, n - room);
  *at = n - room;
}

/* ---- Pushing ---- */

/* A value to push, measured once: its tag and payload (numbers in tmp;
** codec ones in the batch's string of encodings, p NULL). */
typedef struct qitem {
  const unsigned char *p;
  size_t n;
  unsigned char tag, tmp[8];
} qitem;

#define QITEMS 512   /* values of a push measured once (more are again) */

/* The values first..last of a push, measured before the lock. */
typedef struct qbatch {
  int first, last;
  size_t need;               /* ring bytes of all their records */
  const unsigned char *cs;   /* codec encodings: u32 length, bytes; in order */
  qitem *it;                 /* the first nit values */
  int nit;
} qbatch;

/* Item i of the batch (values past QITEMS are looked at again: the
** stack has not changed). The codec ones come from *cs, in order. */
static inline void item_of(lua_State *L, const qbatch *qb, int i, qitem *tmp,
                           const qitem **out) {
  const qitem *it;
  if (MO_LIKELY(i - qb->first < qb->nit)) {
    it = &qb->it[i - qb->first];
  } else {
    const void *p;
    tmp->tag = (unsigned char)sv_simple(L, i, tmp->tmp, &p, &tmp->n);
    tmp->p = (const unsigned char *)p;
    if (tmp->tag == 0) tmp->p = NULL;
    it = tmp;
  }
  *out = it;
}

/* Measure the values at first..last into qb, whose it and nit are set
** (codec ones encoded, with their
** lengths, into one string left at the top of the stack: the buffer is
** made only for a first such value). Raises for nil and for what the
** codec refuses. */
static void prepare(lua_State *L, int first, int last, qbatch *qb) {
  luaL_Buffer B;
  int i, coded = 0;
  size_t need = 0;
  qb->first = first;
  qb->last = last;
  qb->cs = NULL;
  for (i = first; i <= last; i++) {
    qitem spare, *it = &spare;
    const void *p;
    size_t n;
    int tag;
    if (MO_LIKELY(i - first < qb->nit)) it = &qb->it[i - first];
    tag = sv_simple(L, i, it->tmp, &p, &n);
    if (MO_UNLIKELY(!tag)) {
      size_t at;
      uint32_t len32;
      if (lua_isnil(L, i)) luaL_argerror(L, i - 1, "nil cannot be queued");
      if (!coded) {
        luaL_buffinit(L, &B);
        coded = 1;
      }
      at = luaL_bufflen(&B);
      luaL_addlstring(&B, "\0\0\0\0", 4);
      mo_codec_encode(L, i, &B);
      n = luaL_bufflen(&B) - at - 4;
      if (n > UINT32_MAX - 1) luaL_error(L, "memobj: queue: value too large");
      len32 = (uint32_t)n;
      memcpy(luaL_buffaddr(&B) + at, &len32, 4);
      p = NULL;
    }
    it->tag = (unsigned char)tag;
    it->p = (const unsigned char *)p;
    it->n = n;
    if (n > UINT32_MAX - 1 || need > SIZE_MAX - RECHDR - 1 - n)
      luaL_error(L, "memobj: queue: value too large");
    need += RECHDR + 1 + n;
  }
  if (coded) {
    luaL_pushresult(&B);
    qb->cs = (const unsigned char *)lua_tostring(L, -1);
  }
  qb->need = need;
}

/* Write the records of the batch at ring offset at. Runs under the
** lock: reads the stack, never allocates. */
static void write_records(lua_State *L, unsigned char *r, size_t cap,
                          size_t at, const qbatch *qb) {
  const unsigned char *cs = qb->cs;
  int i;
  for (i = qb->first; i <= qb->last; i++) {
    qitem spare;
    const qitem *it;
    const unsigned char *p;
    unsigned char hdr[RECHDR + 1];
    uint32_t len32;
    size_t n;
    int tag;
    item_of(L, qb, i, &spare, &it);
    p = it->p;
    n = it->n;
    tag = it->tag;
    if (tag == 0) {  /* the next codec encoding */
      memcpy(&len32, cs, 4);
      p = cs + 4;
      n = len32;
      cs += 4 + n;
      tag = SV_CODEC;
    }
    len32 = (uint32_t)(n + 1);
    memcpy(hdr, &len32, 4);
    hdr[4] = (unsigned char)tag;
    if (MO_LIKELY(cap - at > RECHDR + 1 + n)) {  /* no wrap: the usual */
      memcpy(r + at, hdr, RECHDR + 1);
      memcpy(r + at + RECHDR + 1, p, n);
      at += RECHDR + 1 + n;
    } else {
      ring_write(r, cap, &at, hdr, RECHDR + 1);
      ring_write(r, cap, &at, p, n);
    }
  }
}

enum { DONE, NOROOM, FAILED };

/* Append the batch's values or none. On NOROOM with wait set, the caller
** is registered as a putter and *seq is the space word to sleep on. The
** items word is bumped (and woken) only when a getter waits: a getter
** registers under the lock after finding the queue empty, so a push that
** sees none cannot miss one. */
static int trypush(lua_State *L, mo_view *v, const qbatch *qb, int wait,
                   uint32_t *seq, const char **why) {
  mo_shhdr *h = (mo_shhdr *)v->ptr;
  uint64_t tail, cap = capof(v);
  size_t need = qb->need;
  uint32_t getters;
  if (mo_sh_lock(h, v->length, why) != 0) return FAILED;
  if (!state_ok(h, cap)) {
    mo_sh_unlock(h);
    *why = "damaged (head, tail and count disagree)";
    return FAILED;
  }
  if (need > cap - (QTAIL(h) - QHEAD(h))) {
    if (wait) {
      *seq = __atomic_load_n(&h->w[W_SPACE], __ATOMIC_ACQUIRE);
      __atomic_add_fetch(&h->w[W_PUTTERS], 1, __ATOMIC_ACQ_REL);
    }
    mo_sh_unlock(h);
    return NOROOM;
  }
  tail = QTAIL(h);
  if ((*why = ring_log(v, h, cap, tail, need)) != NULL ||
      (*why = mo_sh_log(v, &QHEAD(h), 24)) != NULL) {
    mo_sh_unlock(h);
    return FAILED;
  }
  write_records(L, ring(h), (size_t)cap, (size_t)(tail % cap), qb);
  if (mo_sh_lost()) {
    mo_sh_unlock(h);
    *why = MO_SH_LOST;
    return FAILED;
  }
  mo_sh_save(h, &QTAIL(h), 16);  /* tail and count */
  QTAIL(h) = tail + need;
  QCOUNT(h) += (uint64_t)(qb->last - qb->first + 1);
  mo_sh_done(h);
  getters = __atomic_load_n(&h->w[W_GETTERS], __ATOMIC_ACQUIRE);
  if (MO_UNLIKELY(getters != 0))
    __atomic_add_fetch(&h->w[W_ITEMS], 1, __ATOMIC_RELEASE);
  mo_sh_unlock(h);
  if (MO_UNLIKELY(getters != 0))
    mo_sh_wake(&h->w[W_ITEMS], qb->last - qb->first + 1);
  return DONE;
}

/* q:push(v1 [, v2, ...]) -> true | false (none pushed: no room) */
static int q_push(lua_State *L) {
  int last = lua_gettop(L), r;
  const char *why = NULL;
  mo_view *v;
  mo_shcall c;
  uint32_t seq;
  qitem items[QITEMS];
  qbatch qb;
  if (last < 2) {
    lua_pushboolean(L, 1);
    return 1;
  }
  qb.it = items;
  qb.nit = QITEMS;
  prepare(L, 2, last, &qb);
  v = checkq(L);  /* again: encoding may have run finalizers */
  mo_sh_enter(L, v, &c);
  r = trypush(L, v, &qb, 0, &seq, &why);
  mo_sh_end(L, &c, r == FAILED);
  if (r == FAILED) return luaL_error(L, "memobj: queue: %s", why);
  lua_pushboolean(L, r == DONE);
  return 1;
}

/* ---- Popping ---- */

typedef struct popped {
  unsigned char *buf;
  size_t cap, len;   /* scratch capacity, bytes copied */
  size_t n;          /* records copied */
} popped;

/* Remove up to max records into out->buf. FAILED, or DONE (out->n may
** be 0: empty, and with wait set the caller is a registered getter and
** *seq the items word), or NOROOM: the records do not fit the scratch,
** out->len then says how many bytes they need. The space word is bumped
** (and woken) only when a putter waits. */
static int trypop(mo_view *v, size_t max, popped *out, int wait,
                  uint32_t *seq, const char **why) {
  mo_shhdr *h = (mo_shhdr *)v->ptr;
  unsigned char *r = ring(h);
  uint64_t pos, end, cap = capof(v);
  size_t n = 0, total = 0, at, start;
  uint32_t putters;
  out->n = out->len = 0;
  if (mo_sh_lock(h, v->length, why) != 0) return FAILED;
  if (!state_ok(h, cap)) {
    mo_sh_unlock(h);
    *why = "damaged (head, tail and count disagree)";
    return FAILED;
  }
  pos = QHEAD(h);
  end = QTAIL(h);
  start = at = (size_t)(pos % cap);
  while (n < max && pos < end) {
    uint32_t len;
    size_t rec;
    if (MO_UNLIKELY(end - pos < RECHDR + 1)) {  /* no whole record left */
      mo_sh_unlock(h);
      *why = "damaged (a record runs past the tail)";
      return FAILED;
    }
    if (MO_LIKELY(cap - at >= RECHDR)) {
      memcpy(&len, r + at, RECHDR);
    } else {
      size_t a2 = at;
      unsigned char b[RECHDR];
      size_t first = cap - a2;
      memcpy(b, r + a2, first);
      memcpy(b + first, r, RECHDR - first);
      memcpy(&len, b, RECHDR);
    }
    if (len == 0 || len > end - pos - RECHDR) {
      mo_sh_unlock(h);
      *why = "damaged (a record runs past the tail)";
      return FAILED;
    }
    rec = RECHDR + (size_t)len;
    total += rec;
    pos += rec;
    at += rec;  /* rec <= cap: one subtraction wraps */
    if (at >= cap) at -= (size_t)cap;
    n++;
  }
  if (total > out->cap) {  /* the caller grows its scratch and comes back */
    mo_sh_unlock(h);
    out->len = total;
    return NOROOM;
  }
  if (n == 0) {
    if (wait) {
      *seq = __atomic_load_n(&h->w[W_ITEMS], __ATOMIC_ACQUIRE);
      __atomic_add_fetch(&h->w[W_GETTERS], 1, __ATOMIC_ACQ_REL);
    }
    mo_sh_unlock(h);
    return DONE;
  }
  if ((*why = mo_sh_log(v, &QHEAD(h), 24)) != NULL) {
    mo_sh_unlock(h);
    return FAILED;
  }
  if (MO_LIKELY(cap - start >= total)) {
    memcpy(out->buf, r + start, total);
  } else {
    memcpy(out->buf, r + start, cap - start);
    memcpy(out->buf + (cap - start), r, total - (cap - start));
  }
  if (mo_sh_lost()) {
    mo_sh_unlock(h);
    *why = MO_SH_LOST;
    return FAILED;
  }
  mo_sh_save(h, &QHEAD(h), 24);
  QHEAD(h) = pos;
  QCOUNT(h) -= n;
  mo_sh_done(h);
  putters = __atomic_load_n(&h->w[W_PUTTERS], __ATOMIC_ACQUIRE);
  if (MO_UNLIKELY(putters != 0))
    __atomic_add_fetch(&h->w[W_SPACE], 1, __ATOMIC_RELEASE);
  mo_sh_unlock(h);
  if (MO_UNLIKELY(putters != 0)) mo_sh_wake(&h->w[W_SPACE], INT_MAX);
  out->n = n;
  out->len = total;
  return DONE;
}

/* Push the values of out (checked: private bytes, but copied from
** untrusted memory; the lengths were checked under the lock and are
** again, since finalizers run by the allocations could reach a kept
** scratch through the debug library). */
static void push_popped(lua_State *L, const popped *out) {
  size_t at = 0, i;
  for (i = 0; i < out->n; i++) {
    uint32_t len;
    const unsigned char *p = out->buf + at + RECHDR;
    if (MO_UNLIKELY(out->len - at < RECHDR + 1))
      luaL_error(L, "memobj: queue: damaged value (record length)");
    memcpy(&len, out->buf + at, 4);
    if (MO_UNLIKELY(len == 0 || len > out->len - at - RECHDR))
      luaL_error(L, "memobj: queue: damaged value (record length)");
    if (MO_LIKELY(p[0] == SV_STR))  /* the usual value, without a call */
      lua_pushlstring(L, (const char *)p + 1, len - 1);
    else
      sv_push(L, p, len, "queue");
    at += RECHDR + len;
  }
}

/* ---- The scratch of large pops ----
** Popped records that do not fit the C stack's scratch go into a
** scratch userdata (mo_scratch) that the state keeps in its registry for
** the next large pop: a fresh one each time is a fresh mapping each
** time, a page fault per 4 KiB copied. It is taken out of the registry
** while in use (anchored on the stack), so a pop run meanwhile by a
** finalizer makes its own, and an error leaves it to the collector. Lua
** code can change the registry (debug.getregistry): what is found there
** is used only if it is the very block this thread put there. */

static const char scratch_key = 0;
static _Thread_local void *scratch_block;   /* the userdata kept */
static _Thread_local unsigned char *scratch_bytes;
static _Thread_local size_t scratch_len, scratch_cap;

/* Push a scratch of at least n bytes (kept for the next large pop by
** keep_scratch) and return its bytes. */
static unsigned char *take_scratch(lua_State *L, size_t n) {
  size_t cap;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &scratch_key) == LUA_TUSERDATA &&
      scratch_block != NULL && lua_touserdata(L, -1) == scratch_block &&
      lua_rawlen(L, -1) == scratch_len && scratch_cap >= n) {
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &scratch_key);  /* in use */
    return scratch_bytes;
  }
  lua_pop(L, 1);
  cap = n < SIZE_MAX / 4 * 3 ? n + n / 4 : n;  /* room to grow a little */
  scratch_bytes = (unsigned char *)mo_scratch(L, cap);
  scratch_block = lua_touserdata(L, -1);
  scratch_len = lua_rawlen(L, -1);
  scratch_cap = cap;
  return scratch_bytes;
}

/* Keep the scratch at idx for the next large pop, unless a pop run
** meanwhile (by a finalizer) made a newer one. */
static void keep_scratch(lua_State *L, int idx) {
  if (lua_touserdata(L, idx) != scratch_block) return;
  lua_pushvalue(L, idx);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &scratch_key);
}

/* Pop up to max values onto the stack (the view at 1); returns how many
** (0: empty). With wait, an empty queue registers a getter: *seq. One
** locked call takes them all (a process killed inside pops all or
** none): into the C stack's scratch, or the kept one when they do not
** fit. */
static size_t popvalues(lua_State *L, size_t max, int wait, uint32_t *seq) {
  unsigned char small[SMALL];
  popped out;
  const char *why = NULL;
  int top = lua_gettop(L), r;
  out.buf = small;
  out.cap = sizeof small;
  for (;;) {
    mo_view *v = checkq(L);  /* again after a scratch's allocation */
    mo_shcall c;
    mo_sh_enter(L, v, &c);
    r = trypop(v, max, &out, wait, seq, &why);
    mo_sh_end(L, &c, r == FAILED);
    if (r == FAILED) luaL_error(L, "memobj: queue: %s", why);
    if (r == DONE) break;
    lua_settop(L, top);  /* larger than the scratch: a larger one */
    out.buf = take_scratch(L, out.len);
    out.cap = out.len;
  }
  push_popped(L, &out);
  if (out.buf != small) {
    keep_scratch(L, top + 1);
    lua_remove(L, top + 1);
  }
  return out.n;
}

/* q:pop([n]) -> up to n values (default 1), or nil when empty */
static int q_pop(lua_State *L) {
  lua_Integer n = luaL_optinteger(L, 2, 1);
  mo_view *v;
  size_t max, est, got;
  uint32_t seq;
  luaL_argcheck(L, n >= 0, 2, "count must be non-negative");
  lua_settop(L, 1);
  v = checkq(L);
  est = (size_t)__atomic_load_n(&QCOUNT((mo_shhdr *)v->ptr), __ATOMIC_RELAXED);
  if (est > v->length / (RECHDR + 1)) est = v->length / (RECHDR + 1);
  max = (uint64_t)n < est ? (size_t)n : est;
  if (max == 0) max = n > 0;  /* a push may have come: look once */
  luaL_checkstack(L, (int)(max < INT_MAX - 10 ? max : INT_MAX - 10) + 2,
                  "too many values to pop");
  if (max == 0) return 0;
  got = popvalues(L, max, 0, &seq);
  if (got == 0) lua_pushnil(L);
  return got ? (int)got : 1;
}

/* ---- Waiting ---- */

static double checktimeout(lua_State *L, int arg) {
  lua_Number t;
  if (lua_isnoneornil(L, arg)) return -1;
  t = luaL_checknumber(L, arg);
  luaL_argcheck(L, t >= 0 && t <= 1e9, arg, "timeout must be 0..1e9 seconds");
  return t;
}

/* Sleep on word until woken, the deadline or a signal (raises), then
** leave the waiters' count. Returns 0 when the deadline passed. */
static int sleep_on(lua_State *L, int wordi, int counti, uint32_t seq,
                    const struct timespec *dl, const char *op) {
  mo_view *v = checkq(L);
  mo_shhdr *h = (mo_shhdr *)v->ptr;
  int e = mo_sh_wait(&h->w[wordi], seq, dl);
  __atomic_sub_fetch(&h->w[counti], 1, __ATOMIC_ACQ_REL);
  mo_sh_end(L, NULL, 0);  /* the word's page lost? */
  if (e == EINTR) luaL_error(L, "memobj: queue: %s: interrupted by a signal", op);
  return e != ETIMEDOUT;
}

/* q:get([timeout]) -> value | nil, "timeout" */
static int q_get(lua_State *L) {
  double t = checktimeout(L, 2);
  struct timespec dl;
  uint32_t seq;
  lua_settop(L, 1);
  checkq(L);
  mo_sh_deadline(&dl, t);
  for (;;) {
    int wait = t != 0;
    if (popvalues(L, 1, 0, &seq) == 1) return 1;
    if (wait) {  /* a producer is often about to push: spin, then sleep */
      const mo_shhdr *h = (const mo_shhdr *)checkq(L)->ptr;
      mo_shspin s = MO_SH_SPIN_INIT;
      while (__atomic_load_n(&QCOUNT(h), __ATOMIC_RELAXED) == 0 &&
             mo_sh_spin(&s)) {
      }
    }
    if (wait && popvalues(L, 1, 1, &seq) == 1) return 1;
    if (!wait || !sleep_on(L, W_ITEMS, W_GETTERS, seq, &dl, "get")) {
      if (wait && popvalues(L, 1, 0, &seq) == 1) return 1;
      luaL_pushfail(L);
      lua_pushliteral(L, "timeout");
      return 2;
    }
  }
}

/* q:put(v [, timeout]) -> true | nil, "timeout" */
static int q_put(lua_State *L) {
  double t = checktimeout(L, 3);
  struct timespec dl;
  qitem item;
  qbatch qb;
  size_t need;
  lua_settop(L, 2);
  qb.it = &item;
  qb.nit = 1;
  prepare(L, 2, 2, &qb);
  need = qb.need;
  if (need > capof(checkq(L)))
    return luaL_error(L, "memobj: queue: put: the value (%I bytes) can "
                      "never fit (capacity %I)", (lua_Integer)need,
                      (lua_Integer)capof(checkq(L)));
  mo_sh_deadline(&dl, t);
  for (;;) {
    mo_view *v = checkq(L);
    const char *why = NULL;
    mo_shcall c;
    uint32_t seq = 0;
    int wait = t != 0, r;
    if (wait) {  /* a consumer is often about to pop: spin first */
      const mo_shhdr *h = (const mo_shhdr *)v->ptr;
      mo_shspin s = MO_SH_SPIN_INIT;
      for (;;) {
        uint64_t used = __atomic_load_n(&QTAIL(h), __ATOMIC_RELAXED) -
                        __atomic_load_n(&QHEAD(h), __ATOMIC_RELAXED);
        if ((used <= capof(v) && need <= capof(v) - used) || !mo_sh_spin(&s))
          break;
      }
    }
    mo_sh_enter(L, v, &c);
    r = trypush(L, v, &qb, wait, &seq, &why);
    mo_sh_end(L, &c, r == FAILED);
    if (r == FAILED) return luaL_error(L, "memobj: queue: %s", why);
    if (r == DONE) {
      lua_pushboolean(L, 1);
      return 1;
    }
    if (!wait || !sleep_on(L, W_SPACE, W_PUTTERS, seq, &dl, "put")) {
      luaL_pushfail(L);
      lua_pushliteral(L, "timeout");
      return 2;
    }
  }
}

/* ---- Fields ---- */

static int q_len(lua_State *L) {  /* declared: a pending fault raises */
  mo_view *v = mo_sh_check(L, 1, &queue_kind);
  lua_pushinteger(L, (lua_Integer)__atomic_load_n(
      &QCOUNT((mo_shhdr *)v->ptr), __ATOMIC_RELAXED));
  return 1;
}

/* Methods first (a declared method checks its self itself), then the
** fields. */
static int q_index(lua_State *L) {
  mo_view *v;
  const char *k;
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if ((v = mo_toview(L, 1, MO_TAG_QUEUE)) == NULL)
    return luaL_typeerror(L, 1, "queue");
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  k = lua_tostring(L, 2);
  if (mo_view_field(L, 1, v, k)) return 1;
  if (strcmp(k, "capacity") == 0 || strcmp(k, "used") == 0) {
    mo_shhdr *h;
    lua_settop(L, 1);
    v = mo_sh_check(L, 1, &queue_kind);
    h = (mo_shhdr *)v->ptr;
    if (k[0] == 'c') lua_pushinteger(L, (lua_Integer)capof(v));
    else lua_pushinteger(L, (lua_Integer)(__atomic_load_n(&QTAIL(h), __ATOMIC_RELAXED) -
                                          __atomic_load_n(&QHEAD(h), __ATOMIC_RELAXED)));
    mo_sh_end(L, NULL, 0);  /* read from lost pages? */
    return 1;
  }
  return 0;
}

static int q_tostring(lua_State *L) {
  mo_view *v = mo_toview(L, 1, MO_TAG_QUEUE);
  if (v == NULL) return luaL_typeerror(L, 1, "queue");
  if (v->released) lua_pushliteral(L, "memobj.queue (released)");
  else lua_pushfstring(L, "memobj.queue (%I bytes, %p)", (lua_Integer)v->length,
                       (void *)v->ptr);
  return 1;
}

/* ---- Opening ---- */

static int l_mem_queue(lua_State *L) {
  return mo_sh_new(L, &queue_kind);
}

static int l_queue(lua_State *L) {
  return mo_sh_newheap(L, &queue_kind);
}

/* Every method changes the queue's bytes (a pop moves the head) and
** raises a pending fault after, as mo_sh_end does inside. */
#define MO_METHOD_KIND queue_vkind
#define QUEUE_METHODS(X)                                         \
  X("push", q_push, MO_NARGS_ANY, MO_M_WRITES | MO_M_BYTES)      \
  X("pop", q_pop, 1, MO_M_WRITES | MO_M_BYTES)                   \
  X("put", q_put, 2, MO_M_WRITES | MO_M_BYTES)                   \
  X("get", q_get, 1, MO_M_WRITES | MO_M_BYTES)
MO_METHODS(static, queue_methods, QUEUE_METHODS);

static const luaL_Reg queue_meta[] = {{"__tostring", q_tostring}, {NULL, NULL}};

static const mo_method queue_declared_meta[] = {
  {"__len", q_len, MO_NARGS_ANY, MO_M_BYTES}, {NULL, NULL, 0, 0}};

static const mo_method mem_methods[] = {   /* m:queue([offset [, length]]) */
  {"queue", l_mem_queue, 3, MO_M_BYTES}, {NULL, NULL, 0, 0}};

static const mo_method lib_funcs[] = {     /* memobj.queue(size) */
  {"queue", l_queue, 1, MO_M_BYTES}, {NULL, NULL, 0, 0}};

void mo_queue_open(lua_State *L) {
  mo_view_newmeta(L, &queue_mtkey, NULL, queue_meta, q_index);
  mo_view_declare(L, &queue_vkind, queue_methods);
  mo_meta_declare(L, &queue_vkind, queue_declared_meta);
  mo_mem_declare(L, mem_methods);
  mo_funcs_declare(L, "memobj", lib_funcs);
}

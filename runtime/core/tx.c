/*
** tx.c: transactions on every writable memory object: m:transaction,
** m:begin, m:commit, m:abort. The undo log lives in memory; durable
** kinds (persistent) add their own commit through mo_txhooks.
*/
#include <stdlib.h>
#include <string.h>
#include "../core.h"
#include "tx.h"
#include "xstate.h"

/* ---- Registered durable kinds ---- */

/* The hooks live in the kind registry (runtime/core/kinds.c), which has no
** size limit. */
int mo_tx_register(const memobj_kind *k, const mo_txhooks *h) {
  return mo_kind_settx(k, h);
}

static const mo_txhooks *hooks_of(const memobj_mem *m) {
  mo_kindnode *n = mo_kind_node(m->kind);
  return n ? __atomic_load_n(&n->tx, __ATOMIC_ACQUIRE) : NULL;
}

/* ---- The undo log ---- */

static inline int isset(const mo_tx *t, size_t c) {
  return (int)((t->bits[c >> 6] >> (c & 63)) & 1);
}

static void setbits(mo_tx *t, size_t c, size_t last) {
  for (; c <= last; c++) t->bits[c >> 6] |= (uint64_t)1 << (c & 63);
}

static void clearbits(mo_tx *t, size_t c, size_t last) {
  for (; c <= last; c++) t->bits[c >> 6] &= ~((uint64_t)1 << (c & 63));
}

/* Grow *buf (of *cap elements of `size` bytes) to hold `need`; 0 when
** out of memory or on overflow. */
static int grow(void **buf, size_t *cap, size_t need, size_t size) {
  size_t n = *cap ? *cap : 16;
  void *p;
  while (n < need) {
    if (n > SIZE_MAX / 2) return 0;
    n *= 2;
  }
  if (n > SIZE_MAX / size) return 0;
  if (n == *cap) return 1;
  p = realloc(*buf, n * size);
  if (p == NULL) return 0;
  *buf = p;
  *cap = n;
  return 1;
}

/* Save chunks c..last (none logged yet) of m. Nothing changes when it
** fails (returns 0: out of memory), so the write that asked does not
** happen either. */
static int save(memobj_mem *m, mo_tx *t, size_t c, size_t last) {
  size_t off = c << MO_TX_SHIFT;
  size_t end = (last + 1) << MO_TX_SHIFT;
  size_t len;
  mo_txent *prev;
  if (end > m->size || end == 0) end = m->size;  /* 0: shift overflowed */
  len = end - off;
  if (len > SIZE_MAX - t->undolen ||
      !grow((void **)&t->undo, &t->undocap, t->undolen + len, 1) ||
      !grow((void **)&t->ents, &t->entcap, t->nents + 1, sizeof(mo_txent)))
    return 0;
  memcpy(t->undo + t->undolen, m->ptr + off, len);
  prev = t->nents ? &t->ents[t->nents - 1] : NULL;
  if (prev && prev->off + prev->len == off &&
      prev->pos + prev->len == t->undolen) {
    prev->len += len;  /* extends the last entry: fewer, longer ranges */
  } else {
    t->ents[t->nents].off = off;
    t->ents[t->nents].len = len;
    t->ents[t->nents].pos = t->undolen;
    t->nents++;
  }
  t->undolen += len;
  setbits(t, c, last);
  return 1;
}

/* Log the chunks of [c, last] that are not logged yet, in runs. */
static int logrange(memobj_mem *m, mo_tx *t, size_t c, size_t last) {
  while (c <= last) {
    size_t e;
    if (isset(t, c)) {
      c++;
      continue;
    }
    for (e = c; e < last && !isset(t, e + 1); e++) {}
    if (!save(m, t, c, e)) return 0;
    c = e + 1;
  }
  return 1;
}

/*
** mo_prewrite calls this before every write to guarded memory. A second
** write to the same chunk costs one bit test.
*/
void mo_tx_write(lua_State *L, memobj_mem *m, size_t off, size_t len) {
  mo_tx *t = (mo_tx *)m->tx;
  size_t c, last;
  if (t == NULL)
    luaL_error(L, "memobj: %s memory can only change inside a transaction",
               m->kind->name);
  if (t->doomed)
    luaL_error(L, "memobj: transaction is aborted (an inner level failed)");
  if (len == 0) return;
  c = off >> MO_TX_SHIFT;
  last = (off + len - 1) >> MO_TX_SHIFT;
  if (MO_LIKELY(c == last) && isset(t, c)) return;
  if (!logrange(m, t, c, last))
    luaL_error(L, "memobj: transaction: not enough memory for the undo log");
}

/* mo_tx_write for callers that hold a lock they must release first:
** returns 0, or a message instead of raising. */
const char *mo_tx_trywrite(memobj_mem *m, size_t off, size_t len) {
  mo_tx *t = (mo_tx *)m->tx;
  size_t c, last;
  if (!m->guarded || len == 0) return NULL;
  if (t == NULL) return "memory can only change inside a transaction";
  if (t->doomed) return "transaction is aborted (an inner level failed)";
  c = off >> MO_TX_SHIFT;
  last = (off + len - 1) >> MO_TX_SHIFT;
  if (MO_LIKELY(c == last) && isset(t, c)) return NULL;
  return logrange(m, t, c, last) ? NULL
                                 : "not enough memory for the undo log";
}

/* Restore every saved byte. Returns why some could not be (pages of a
** mapped file lost under us: runtime/core/fault.c), or NULL. */
static const char *rollback(memobj_mem *m, mo_tx *t) {
  size_t i = t->nents;
  while (i-- > 0)
    memcpy(m->ptr + t->ents[i].off, t->undo + t->ents[i].pos, t->ents[i].len);
  return t->nents ? mo_fault_take(m->ptr, m->size) : NULL;
}

/* Forget the log; only the bits that were set are cleared, so the cost
** follows what the transaction touched, not the size of the memory. */
static void reset(mo_tx *t) {
  size_t i;
  for (i = 0; i < t->nents; i++) {
    size_t off = t->ents[i].off, len = t->ents[i].len;
    clearbits(t, off >> MO_TX_SHIFT, (off + len - 1) >> MO_TX_SHIFT);
  }
  t->nents = 0;
  t->undolen = 0;
  if (t->undocap > ((size_t)1 << 20)) {  /* do not keep a big buffer */
    free(t->undo);
    t->undo = NULL;
    t->undocap = 0;
  }
}

void mo_tx_free(mo_tx *t) {
  free(t->bits);
  free(t->ents);
  free(t->undo);
  t->bits = NULL;
  t->ents = NULL;
  t->undo = NULL;
  t->nwords = t->entcap = t->undocap = t->nents = t->undolen = 0;
}

/* ---- Opening and ending ---- */

static void finish(memobj_mem *m, mo_tx *t) {
  reset(t);
  t->depth = 0;
  t->doomed = 0;
  m->tx = NULL;
  m->guarded = hooks_of(m) != NULL;
  if (m->x) mo_x_txend(m);
  if (!t->owned) {
    mo_tx_free(t);
    free(t);
  }
}

/* A memory object released with a transaction open: its changes were
** never committed, so they must not reach a file either. */
void mo_tx_discard(memobj_mem *m) {
  if (m->tx) {
    rollback(m, (mo_tx *)m->tx);
    finish(m, (mo_tx *)m->tx);
  }
}

static mo_tx *checktx(lua_State *L, memobj_mem *m, const char *op) {
  if (m->tx == NULL)
    luaL_error(L, "memobj: %s: no transaction is open", op);
  return (mo_tx *)m->tx;
}

void mo_tx_begin(lua_State *L, memobj_mem *m) {
  static uint64_t serials;  /* shared by every state and thread: atomic */
  const mo_txhooks *h = hooks_of(m);
  mo_tx *t;
  size_t nchunks, nwords;
  if (m->tx) {
    t = (mo_tx *)m->tx;
    if (t->depth == UINT32_MAX) luaL_error(L, "memobj: begin: nested too deep");
    t->depth++;
    return;
  }
  if (!m->writable) luaL_error(L, "memobj: begin: memory is read-only");
  if (h && h->check) {
    const char *msg = h->check(m);
    if (msg) luaL_error(L, "memobj: begin: %s", msg);
  }
  nchunks = (m->size >> MO_TX_SHIFT) + ((m->size & (MO_TX_CHUNK - 1)) != 0);
  nwords = (nchunks + 63) / 64;
  t = h ? h->state(m) : (mo_tx *)calloc(1, sizeof(mo_tx));
  if (t == NULL) luaL_error(L, "memobj: begin: not enough memory");
  t->owned = h != NULL;
  if (t->nwords < nwords) {  /* sized once: the size cannot change inside */
    uint64_t *b = (uint64_t *)calloc(nwords, sizeof(uint64_t));
    if (b == NULL) {
      if (!t->owned) free(t);
      luaL_error(L, "memobj: begin: not enough memory");
    }
    free(t->bits);
    t->bits = b;
    t->nwords = nwords;
  }
  if (m->x) {  /* exported: refused while another state holds it */
    const char *why = mo_x_txbegin(m);
    if (why) {
      if (!t->owned) {
        mo_tx_free(t);
        free(t);
      }
      luaL_error(L, "memobj: begin: %s", why);
    }
  }
  t->depth = 1;
  t->doomed = 0;
  t->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
  m->tx = t;
  m->guarded = 1;
}

/* Leave one level; the outermost makes the changes durable (if the kind
** has storage) and ends the transaction. */
void mo_tx_commit(lua_State *L, memobj_mem *m) {
  mo_tx *t = checktx(L, m, "commit");
  const mo_txhooks *h;
  int rc, err = 0;
  if (t->depth > 1) {
    t->depth--;
    return;
  }
  if (t->doomed) {
    finish(m, t);
    luaL_error(L, "memobj: commit: transaction was aborted by an inner level");
  }
  h = hooks_of(m);
  rc = h && t->nents ? h->commit(m, t, &err) : MO_TX_OK;
  if (rc == MO_TX_NOT_COMMITTED) rollback(m, t);
  finish(m, t);
  if (rc == MO_TX_NOT_COMMITTED)
    luaL_error(L, "memobj: commit: %s (transaction rolled back)",
               strerror(err));
  if (rc == MO_TX_BROKEN)
    luaL_error(L, "memobj: commit: %s (committed in the log; reopen to "
               "recover)", strerror(err));
}

/* Roll every change back. An inner level leaves the transaction open
** but doomed, so the outer levels cannot commit half of it. */
const char *mo_tx_abort_quiet(memobj_mem *m, mo_tx *t) {
  const char *lost = rollback(m, t);
  reset(t);
  if (t->depth > 1) {
    t->depth--;
    t->doomed = 1;
  } else {
    finish(m, t);
  }
  return lost;
}

/* An abort whose rollback met lost pages raises: it did not restore. */
static void tx_abort(lua_State *L, memobj_mem *m) {
  const char *lost = mo_tx_abort_quiet(m, checktx(L, m, "abort"));
  if (lost) luaL_error(L, "memobj: abort: %s", lost);
}

/* ---- Lua methods ---- */

/* A running call that uses the bytes (a pin) must not see a transaction
** start or end under it: its writes would be half logged, or rolled back
** under its pointers. */
static memobj_mem *checkidle(lua_State *L, const char *op) {
  memobj_mem *m = mo_checkmem(L, 1);
  mo_refuse_if_pinned(L, m, op);
  return m;
}

static int l_begin(lua_State *L) {
  mo_tx_begin(L, checkidle(L, "begin"));
  lua_settop(L, 1);
  return 1;
}

static int l_commit(lua_State *L) {
  mo_tx_commit(L, checkidle(L, "commit"));
  lua_pushboolean(L, 1);
  return 1;
}

static int l_abort(lua_State *L) {
  tx_abort(L, checkidle(L, "abort"));
  lua_pushboolean(L, 1);
  return 1;
}

/* Is the transaction opened at `serial` still open at this depth? */
static int still_ours(memobj_mem *m, uint64_t serial, unsigned depth) {
  mo_tx *t = (mo_tx *)m->tx;
  return !m->closed && t && t->serial == serial && t->depth == depth;
}

/*
** m:transaction(fn, ...): run fn(...) inside a transaction level.
** Returns fn's results after the commit; an error rolls back and is
** raised again unchanged.
*/
static int l_transaction(lua_State *L) {
  memobj_mem *m = checkidle(L, "transaction");
  mo_tx *t;
  uint64_t serial;
  unsigned depth;
  int status;
  if (!lua_isfunction(L, 2)) {  /* a callable table or userdata will do */
    if (luaL_getmetafield(L, 2, "__call") == LUA_TNIL)
      return luaL_typeerror(L, 2, "function");
    lua_pop(L, 1);
  }
  mo_tx_begin(L, m);
  t = (mo_tx *)m->tx;
  serial = t->serial;
  depth = t->depth;
  status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  if (status != LUA_OK) {
    /* the error is raised unchanged; pages the rollback found lost keep
    ** raising on every access */
    if (still_ours(m, serial, depth)) mo_tx_abort_quiet(m, (mo_tx *)m->tx);
    return lua_error(L);
  }
  if (!still_ours(m, serial, depth))
    return luaL_error(L, "memobj: transaction: the function ended the "
                      "transaction itself (commit/abort without begin)");
  mo_tx_commit(L, m);
  return lua_gettop(L) - 1;
}

/* m:intransaction() -> depth of the open transaction (0 if none). */
static int l_txdepth(lua_State *L) {
  memobj_mem *m = mo_checkmem(L, 1);
  lua_pushinteger(L, m->tx ? ((mo_tx *)m->tx)->depth : 0);
  return 1;
}

static const luaL_Reg tx_methods[] = {
  {"transaction", l_transaction}, {"begin", l_begin},
  {"commit", l_commit},           {"abort", l_abort},
  {"txdepth", l_txdepth},         {NULL, NULL}};

void mo_tx_open(lua_State *L) {
  mo_mem_addmethods(L, tx_methods);
}

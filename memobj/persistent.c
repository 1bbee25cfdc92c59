/*
** persistent.c: the "persistent" memory kind: a pool file (pool.c)
** mapped copy-on-write. Views write to private pages; the file changes
** only through the pool's log and checkpoints, so an abort or a crash
** never leaves half a transaction in it. Writes outside a transaction
** raise.
*/
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include "../runtime/core/tx.h"
#include "openers.h"
#include "pool.h"
#include "../runtime/core/os.h"

typedef struct pmem {
  memobj_mem base;
  mo_pool pool;
  mo_tx tx;              /* reused by every transaction */
  unsigned char *map;    /* the mapping starts at file offset 0 */
  size_t maplen;
  int faultslot;         /* SIGBUS registry (file truncated by others) */
} pmem;

/* Map the header page and the data copy-on-write; mapping from offset 0
** keeps the data offset valid for any page size. */
static int map_data(pmem *pm) {
  size_t len;
  void *p;
  if (pm->pool.datasize > SIZE_MAX - MO_POOL_DATAOFF) return ENOMEM;
  len = MO_POOL_DATAOFF + (size_t)pm->pool.datasize;
  int e = mo_os_map(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE,
                    pm->pool.fd, 0, &p);
  if (e) return e;
  if (pm->map) mo_os_unmap(pm->map, pm->maplen);
  pm->map = (unsigned char *)p;
  pm->maplen = len;
  if (pm->faultslot < 0) {
    pm->faultslot = mo_fault_register(p, len);
    /* a lost page is then explained: truncated, or no space for a page
    ** of the sparse file (a full file system) */
    mo_fault_describe(pm->faultslot, pm->pool.fd, 0, 0);
  } else {
    mo_fault_update(pm->faultslot, p, len);
  }
  pm->base.ptr = pm->map + MO_POOL_DATAOFF;
  pm->pool.data = pm->base.ptr;
  pm->base.size = (size_t)pm->pool.datasize;
  return 0;
}

/* ---- kind operations ---- */

/* A forked child's use of the pool is refused by intent (misuse, raises:
** the negated errno of object.h), not left to the EPERM the pool answers,
** which the core would take for a failure of the system. */
static int p_resize(memobj_mem *m, size_t n) {
  pmem *pm = (pmem *)m;
  int e;
  if (mo_pool_forked(&pm->pool)) return -EPERM;
  e = mo_pool_resize(&pm->pool, n, (const mo_tx *)m->tx);
  /* a resize that failed half way may have published the smaller size */
  if (e == 0 || pm->pool.datasize != m->size) {
    int e2 = map_data(pm);
    if (e == 0) e = e2;
  }
  return e;
}

static void p_release(memobj_mem *m) {
  pmem *pm = (pmem *)m;
  mo_pool_close(&pm->pool);  /* its checkpoint reads the mapping */
  mo_fault_unregister(pm->faultslot);
  pm->faultslot = -1;
  if (pm->map) mo_os_unmap(pm->map, pm->maplen);
  pm->map = NULL;
  mo_tx_free(&pm->tx);
}

/* Committed changes are in the log; sync writes them into the data
** (a checkpoint) and makes them durable also with "process". */
static int p_sync(memobj_mem *m, size_t off, size_t len) {
  (void)off;
  (void)len;
  if (mo_pool_forked(&((pmem *)m)->pool)) return -EPERM;  /* see p_resize */
  return mo_pool_sync(&((pmem *)m)->pool, (const mo_tx *)m->tx);
}

static int p_protect(memobj_mem *m, int writable) {
  pmem *pm = (pmem *)m;
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  int e = pm->maplen ? mo_os_protect(pm->map, pm->maplen, prot) : 0;
  if (e == 0 && pm->faultslot >= 0)
    mo_fault_rearm(pm->faultslot);  /* lost pages stay inaccessible */
  return e;
}

static int p_advise(memobj_mem *m, int hint) {
  pmem *pm = (pmem *)m;
  /* the copy-on-write pages hold uncommitted changes: DONTNEED is no hint
  ** here (the OS layer then gives it no effect) */
  return mo_os_advise(pm->map, pm->maplen, hint, 0);
}

static const memobj_kind persistent_kind = {
  "persistent", "durable", "path", p_resize, p_release,
  p_sync, p_protect, p_advise
};

/* ---- transaction hooks ---- */

static mo_tx *h_state(memobj_mem *m) {
  return &((pmem *)m)->tx;
}

static int h_commit(memobj_mem *m, mo_tx *t, int *err) {
  return mo_pool_commit(&((pmem *)m)->pool, t, err);
}

static const char *h_check(memobj_mem *m) {
  if (((pmem *)m)->pool.failed)
    return "a write to the pool failed after a commit; reopen it to recover";
  if (mo_pool_forked(&((pmem *)m)->pool))
    return "the pool belongs to the process that opened it, not to this "
           "forked child (its commits would be lost); open it again here "
           "after the parent closes it";
  return NULL;
}

static const mo_txhooks persistent_hooks = {h_state, h_commit, h_check};

/* ---- Lua constructor ---- */

typedef struct popts {
  int sync, verify;
} popts;

/* opts: durability = "sync" (default) | "process"; verify = true. */
static popts checkopts(lua_State *L, int arg) {
  static const char *const names[] = {"sync", "process", NULL};
  popts o = {1, 1};
  int d = 0;
  static const char *const options[] = {"durability", "verify", NULL};
  if (lua_isnoneornil(L, arg)) return o;
  mo_checkoptions(L, arg, options);
  lua_getfield(L, arg, "durability");
  if (!lua_isnil(L, -1)) {
    const char *s = lua_tostring(L, -1);
    for (d = 0; names[d] && (s == NULL || strcmp(s, names[d]) != 0); d++) {}
    if (names[d] == NULL)
      luaL_argerror(L, arg, "durability must be \"sync\" or \"process\"");
  }
  lua_pop(L, 1);
  o.sync = d == 0;
  lua_getfield(L, arg, "verify");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    luaL_argerror(L, arg, "verify must be a boolean");
  o.verify = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_pop(L, 1);
  return o;
}

/* memobj.persistent(path [, size [, {durability =, verify =}]]) */
static int l_persistent(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int create = !lua_isnoneornil(L, 2);
  size_t size = create ? mo_checksize(L, 2) : 0;
  popts o = checkopts(L, 3);
  char msg[160];
  pmem *pm;
  int e;
  /* closed until published: __gc does nothing to a pool not open */
  pm = (pmem *)mo_mem_new(L, &persistent_kind, sizeof(pmem));
  pm->pool.fd = -1;
  pm->faultslot = -1;
  e = mo_pool_open(&pm->pool, path, size, create, o.sync, o.verify, msg,
                   sizeof msg);
  if (e == -1) e = EINVAL;  /* the file's contents: not a pool, damaged */
  if (e > 0 && msg[0]) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", path, msg);
    lua_pushinteger(L, e);
    return 3;
  }
  if (e > 0) return mo_failresult(L, path, e);
  if ((e = map_data(pm)) != 0) {
    mo_pool_close(&pm->pool);
    return mo_failresult(L, path, e);
  }
  pm->tx.owned = 1;
  pm->base.guarded = 1;  /* writes outside a transaction raise */
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  mo_mem_publish(L, &pm->base, pm->base.ptr, pm->base.size);  /* map_data's */
  return 1;
}

/* Name the data pages of the mapping's lost range [lo, hi) (offsets from
** the start of the mapping, header pages included) and why they were
** lost. */
static int lost_report(lua_State *L, pmem *pm, const char *why) {
  size_t lo, hi, end = pm->maplen - MO_POOL_DATAOFF;
  mo_fault_lostrange(pm->faultslot, &lo, &hi);
  lo = lo > MO_POOL_DATAOFF ? lo - MO_POOL_DATAOFF : 0;
  hi = hi > MO_POOL_DATAOFF ? hi - MO_POOL_DATAOFF : 0;
  if (hi > end) hi = end;
  luaL_pushfail(L);
  if (hi <= lo)
    lua_pushfstring(L, "damaged pool data: %s", why);
  else if ((hi - 1) / MO_POOL_PAGE == lo / MO_POOL_PAGE)
    lua_pushfstring(L, "damaged pool data: page %I (bytes %I-%I): %s",
                    (lua_Integer)(lo / MO_POOL_PAGE), (lua_Integer)lo,
                    (lua_Integer)hi - 1, why);
  else
    lua_pushfstring(L, "damaged pool data: pages %I-%I (bytes %I-%I): %s",
                    (lua_Integer)(lo / MO_POOL_PAGE),
                    (lua_Integer)((hi - 1) / MO_POOL_PAGE), (lua_Integer)lo,
                    (lua_Integer)hi - 1, why);
  return 2;
}

/* m:verify(): true, or nil and a report naming each damaged page. It
** checks the committed state, so not inside a transaction. Pages the
** mapping lost (the file truncated by another process, no space for a
** page) are reported as such: their zeros are not the pool's data. */
static int l_verify(lua_State *L) {
  memobj_mem *m = mo_checkmem(L, 1);
  pmem *pm = (pmem *)m;
  char report[400];
  const char *why;
  uint64_t nbad;
  if (m->kind != &persistent_kind)
    return luaL_error(L, "memobj: verify: only persistent memory has "
                      "page checksums");
  if (m->tx && ((const mo_tx *)m->tx)->depth)
    return luaL_error(L, "memobj: verify: a transaction is open");
  if ((why = mo_fault_lost_at(pm->map, pm->maplen)) != NULL)
    return lost_report(L, pm, why);
  nbad = mo_pool_verify(&pm->pool, report, sizeof report);
  /* the walk itself may have met lost pages: take the fault here, so
  ** that it is not left pending for the next call to raise */
  if ((why = mo_fault_take(pm->map, pm->maplen)) != NULL ||
      (why = mo_fault_lost_at(pm->map, pm->maplen)) != NULL)
    return lost_report(L, pm, why);
  if (nbad == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  luaL_pushfail(L);
  lua_pushfstring(L, "damaged pool data: %I page%s: %s", (lua_Integer)nbad,
                  nbad > 1 ? "s" : "", report);
  return 2;
}

void mo_persistent_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"verify", l_verify}, {NULL, NULL}};
  if (mo_tx_register(&persistent_kind, &persistent_hooks) != 0)
    luaL_error(L, "memobj: out of memory");
  mo_mem_addmethods(L, methods);
  lua_pushcfunction(L, l_persistent);
  lua_setfield(L, -2, "persistent");
}

/*
** dict.c: dictionaries, hash tables of Lua values inside any writable
** byte range (doc/dict.md): m:dict([offset [, length]]), memobj.dict(size).
**
** After the common header (shlock.h): a bucket array (4-byte block
** numbers) and 64-byte blocks. An entry is a chain of blocks (4-byte
** "next" then 60 payload bytes each) holding a 16-byte entry header
** (next entry of the bucket, hash, key and value lengths), the key and
** the value (shvalue.h). Free blocks form a list through the same next
** words; blocks never handed out lie above a high-water mark. A change
** writes new entries into free blocks (invisible), journals the few
** words that publish it (bucket link, free list, counts) and then
** writes them, so a process killed inside a call leaves the call
** undone (the next locker restores the journal) or whole. Deleting
** frees every block of the entry at once: the space is reusable at once
** and nothing ever needs compacting. Every block number read from the
** memory is checked.
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include "codec.h"
#include "openers.h"
#include "shlock.h"
#include "shvalue.h"

#define DMAGIC 0x0000544349446f6dull  /* "moDICT\0\0" */
#define DVERSION 1
#define BLOCK 64
#define PAYLOAD (BLOCK - 4)
#define EHDR 16          /* entry header: bnext, hash, klen, vlen */
#define KEYMAX 64        /* key bytes kept on the C stack */
#define SMALL 1024       /* values up to this many bytes copy out on the stack */

/* What a call works with: the header and its geometry, copied and
** checked once under the lock (another process cannot move what this
** call addresses by changing the header meanwhile). */
typedef struct dctx {
  mo_shhdr *hdr;
  uint64_t nbk, nbl, boff, bloff;
} dctx;

#define NBUCKETS(h) ((h)->nbk)
#define NBLOCKS(h) ((h)->nbl)
#define BUCKOFF(h) ((h)->boff)
#define BLOCKOFF(h) ((h)->bloff)
#define DCOUNT(h) ((h)->hdr->s[0])
#define DUSED(h) ((h)->hdr->s[1])
#define DFREE(h) ((h)->hdr->s[2])
#define DHW(h) ((h)->hdr->s[3])

static const char dict_mtkey = 0;
static const mo_viewkind dict_vkind = {"dict", MO_TAG_DICT, "dict", &dict_mtkey,
                                       NULL, sizeof(mo_view)};

/* ---- Geometry ---- */

/* One bucket per two blocks, a power of two; blocks fill the rest. */
static void d_format(mo_shhdr *h, size_t len) {
  size_t avail = len - MO_SH_HDR, nb = 1, boff;
  while (nb * 2 <= avail / (2 * BLOCK + 8)) nb *= 2;
  boff = MO_SH_HDR + ((nb * 4 + BLOCK - 1) / BLOCK) * BLOCK;
  h->p[0] = nb;
  h->p[1] = (len - boff) / BLOCK;
  h->p[2] = MO_SH_HDR;
  h->p[3] = boff;
}

static const char *d_check(const mo_shhdr *h, size_t len) {
  uint64_t nb = h->p[0], nbl = h->p[1], boff = h->p[2], bloff = h->p[3];
  if (nb == 0 || (nb & (nb - 1)) != 0 || nb > len / 4 ||
      boff != MO_SH_HDR || bloff < MO_SH_HDR + nb * 4 ||
      bloff > len || nbl == 0 || nbl > UINT32_MAX - 1 ||
      nbl > (len - bloff) / BLOCK)
    return "damaged header (table geometry)";
  return NULL;
}

static const char *d_checkgeo(const dctx *h, size_t len) {
  mo_shhdr t;
  t.p[0] = h->nbk;
  t.p[1] = h->nbl;
  t.p[2] = h->boff;
  t.p[3] = h->bloff;
  return d_check(&t, len);
}

static const mo_shkind dict_kind = {
  "dict", DMAGIC, DVERSION, MO_SH_HDR + 3 * BLOCK, d_format, d_check,
  &dict_vkind
};

/* The dict at idx (any value: checked whole). */
static mo_view *checkd(lua_State *L, int idx) {
  return mo_sh_check(L, idx, &dict_kind);
}

/* The dict at 1, whose kind is checked already (a declared method, or
** checkd before): checked again for release and contents. */
static mo_view *selfd(lua_State *L) {
  return mo_sh_self(L, &dict_kind);
}

static uint32_t *bucket(dctx *h, uint64_t i) {
  return (uint32_t *)((unsigned char *)h->hdr + BUCKOFF(h)) + i;
}

static unsigned char *block(dctx *h, uint32_t i) {  /* 1..NBLOCKS */
  return (unsigned char *)h->hdr + BLOCKOFF(h) + (size_t)(i - 1) * BLOCK;
}

static uint32_t next_of(dctx *h, uint32_t i) {
  uint32_t n;
  memcpy(&n, block(h, i), 4);
  return n;
}

/* Is i a block number in use range (handed out at some time)? */
static int valid(const dctx *h, uint32_t i) {
  return i >= 1 && i <= DHW(h) && DHW(h) <= NBLOCKS(h);
}

static int state_ok(const dctx *h) {
  return DHW(h) <= NBLOCKS(h) && DUSED(h) <= DHW(h) && DCOUNT(h) <= DUSED(h) &&
         (DFREE(h) == 0 ? DUSED(h) == DHW(h) : valid(h, (uint32_t)DFREE(h)));
}

/* ---- Keys ---- */

typedef struct dkey {
  unsigned char tag;
  const unsigned char *p;   /* payload */
  size_t n;
  uint32_t hash;
  unsigned char tmp[8];
} dkey;

static uint32_t hash_bytes(unsigned tag, const unsigned char *p, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)tag << 56) ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
  }
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return (uint32_t)h;
}

/* The key at idx: strings, integers, floats (an integral float is that
** integer, as in Lua tables), booleans; anything else raises. */
static void checkkey(lua_State *L, int idx, dkey *k) {
  const void *p = NULL;
  int t = lua_type(L, idx);
  if (t == LUA_TNUMBER && !lua_isinteger(L, idx)) {
    lua_Number d = lua_tonumber(L, idx);
    lua_Integer i;
    if (d != d) luaL_argerror(L, idx, "key is NaN");
    if (lua_numbertointeger(d, &i) && (lua_Number)i == d) {
      k->tag = SV_INT;
      sv_put64(k->tmp, (uint64_t)i);
      k->p = k->tmp;
      k->n = 8;
      k->hash = hash_bytes(k->tag, k->p, k->n);
      return;
    }
  }
  if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN)
    luaL_argerror(L, idx, lua_pushfstring(L, "a dict key is a string, number "
                  "or boolean, not %s", luaL_typename(L, idx)));
  k->tag = (unsigned char)sv_simple(L, idx, k->tmp, &p, &k->n);
  k->p = (const unsigned char *)p;
  if (k->n > UINT32_MAX - 1) luaL_argerror(L, idx, "key too long");
  k->hash = hash_bytes(k->tag, k->p, k->n);
}

/* ---- Entries ---- */

typedef struct dent {
  uint32_t first;     /* first block */
  uint32_t *link;     /* the word that points to it (bucket or bnext) */
  uint32_t bnext;     /* next entry of the bucket */
  uint32_t klen, vlen;
  uint32_t nblocks;
} dent;

static uint32_t blocks_for(uint64_t bytes) {
  return (uint32_t)((bytes + PAYLOAD - 1) / PAYLOAD);
}

/* Copy (or compare, cmp set) n bytes at offset off of the entry stream
** of the chain at first. Returns 1, 0 on a mismatch, -1 on a damaged
** chain. */
static int stream(dctx *h, uint32_t first, uint64_t off, void *buf,
                  size_t n, int cmp) {
  uint32_t b = first;
  unsigned char *q = (unsigned char *)buf;
  uint64_t steps = NBLOCKS(h);
  if (off + n <= PAYLOAD && !cmp) {  /* all in the first block */
    memcpy(buf, block(h, b) + 4 + off, n);
    return 1;
  }
  while (off >= PAYLOAD) {
    b = next_of(h, b);
    if (!valid(h, b) || steps-- == 0) return -1;
    off -= PAYLOAD;
  }
  while (n > 0) {
    size_t k = PAYLOAD - (size_t)off < n ? PAYLOAD - (size_t)off : n;
    unsigned char *src = block(h, b) + 4 + off;
    if (cmp) {
      if (memcmp(src, q, k) != 0) return 0;
    } else {
      memcpy(q, src, k);
    }
    q += k;
    n -= k;
    off = 0;
    if (n > 0) {
      b = next_of(h, b);
      if (!valid(h, b) || steps-- == 0) return -1;
    }
  }
  return 1;
}

/* Read the header of the entry at first into e; -1 when damaged. */
static int readent(dctx *h, uint32_t first, dent *e, uint32_t *hash) {
  uint32_t w[4];
  uint64_t total;
  memcpy(w, block(h, first) + 4, EHDR);
  e->first = first;
  e->bnext = w[0];
  *hash = w[1];
  e->klen = w[2];
  e->vlen = w[3];
  total = (uint64_t)EHDR + e->klen + e->vlen;
  if (e->klen == 0 || e->vlen == 0 || total > (uint64_t)NBLOCKS(h) * PAYLOAD)
    return -1;
  e->nblocks = blocks_for(total);
  return 0;
}

/* Find key k: 1 found (e filled), 0 absent (e->link: the bucket), -1
** damaged. */
static int find(dctx *h, const dkey *k, dent *e) {
  uint32_t *link = bucket(h, k->hash & (NBUCKETS(h) - 1));
  uint32_t cur = *link;
  uint64_t steps = NBLOCKS(h);
  e->link = link;
  while (cur != 0) {
    uint32_t hash;
    if (!valid(h, cur) || steps-- == 0 || readent(h, cur, e, &hash) != 0)
      return -1;
    e->link = link;
    if (hash == k->hash && e->klen == k->n + 1 &&
        EHDR + (size_t)e->klen <= PAYLOAD) {  /* the key in the first block */
      const unsigned char *kp = block(h, cur) + 4 + EHDR;
      if (kp[0] == k->tag && memcmp(kp + 1, k->p, k->n) == 0) return 1;
    } else if (hash == k->hash && e->klen == k->n + 1) {
      unsigned char tag;
      int r = stream(h, cur, EHDR, &tag, 1, 0);
      if (r < 0) return -1;
      if (tag == k->tag) {
        r = stream(h, cur, EHDR + 1, (void *)k->p, k->n, 1);
        if (r < 0) return -1;
        if (r == 1) return 1;
      }
    }
    link = (uint32_t *)(block(h, cur) + 4);  /* its bnext word */
    cur = e->bnext;
  }
  e->link = link;
  return 0;
}

/* The last block of the entry e. */
static int lastblock(dctx *h, const dent *e, uint32_t *out) {
  uint32_t b = e->first, i;
  for (i = 1; i < e->nblocks; i++) {
    b = next_of(h, b);
    if (!valid(h, b)) return -1;
  }
  *out = b;
  return 0;
}

/* ---- Changing (under the lock) ---- */

enum { D_OK, D_ABSENT, D_PRESENT, D_FULL, D_NOTNUM, D_FAIL };

/* A value to store: tag and payload. */
typedef struct dval {
  int tag;
  const unsigned char *p;
  size_t n;
  unsigned char tmp[8];
} dval;

/* The blocks a new entry of nb blocks takes: from the free list first,
** then above the high-water mark. list gets their numbers. *fix is the
** free block whose next word must be changed to chain into the fresh
** ones (0: none). -1 damaged. */
static int pick(dctx *h, uint32_t nb, uint32_t *list, uint32_t *fix,
                uint32_t *fixnext, uint32_t *newfree, uint64_t *newhw) {
  uint64_t freelen = DHW(h) - DUSED(h);
  uint32_t take = nb < freelen ? nb : (uint32_t)freelen, i;
  uint32_t b = (uint32_t)DFREE(h);
  for (i = 0; i < take; i++) {
    if (!valid(h, b)) return -1;
    list[i] = b;
    b = next_of(h, b);
  }
  *newfree = take == nb ? b : 0;
  if (take == nb && b != 0 && !valid(h, b)) return -1;
  *fix = take > 0 && take < nb ? list[take - 1] : 0;
  for (i = take; i < nb; i++) list[i] = (uint32_t)(DHW(h) + 1 + (i - take));
  *fixnext = *fix ? list[take] : 0;
  *newhw = DHW(h) + (nb - take);
  return 0;
}

/* Write the entry stream (header, key, value) into the listed blocks;
** fresh blocks get their next words (the free ones already chain). */
static void fill(dctx *h, const uint32_t *list, uint32_t nb,
                 const unsigned char *ehdr, const dkey *k, const dval *v,
                 uint64_t oldhw) {
  const unsigned char *src[4];
  size_t len[4];
  unsigned char tag = k->tag, vtag = (unsigned char)v->tag;
  int part = 0;
  size_t at = 0;
  uint32_t i;
  src[0] = ehdr; len[0] = EHDR;
  src[1] = &tag; len[1] = 1;
  src[2] = k->p; len[2] = k->n;
  src[3] = NULL; len[3] = 0;
  (void)src[3];
  for (i = 0; i < nb; i++) {
    unsigned char *q = block(h, list[i]);
    size_t room = PAYLOAD, off = 4;
    if (list[i] > oldhw && i + 1 < nb) memcpy(q, &list[i + 1], 4);
    while (room > 0 && part < 5) {
      const unsigned char *s;
      size_t n;
      if (part < 3) { s = src[part]; n = len[part]; }
      else if (part == 3) { s = &vtag; n = 1; }
      else { s = v->p; n = v->n; }
      n -= at;
      if (n > room) n = room;
      memcpy(q + off, s + at, n);
      off += n;
      room -= n;
      at += n;
      if (at == (part < 3 ? len[part] : part == 3 ? 1 : v->n)) {
        part++;
        at = 0;
      }
    }
  }
}

/* Log every range a change will write, before writing any. */
typedef struct plan {
  uint32_t *list;
  uint32_t nb, fix, fixnext, newfree, oldlast;
  uint64_t newhw;
} plan;

static const char *log_plan(mo_view *v, dctx *h, const plan *pl,
                            const uint32_t *link) {
  const char *why;
  uint32_t i;
  if (!v->mem->guarded) return NULL;
  if ((why = mo_sh_log(v, &DCOUNT(h), 32)) != NULL) return why;
  if (link && (why = mo_sh_log(v, link, 4)) != NULL) return why;
  for (i = 0; pl && i < pl->nb; i++)
    if ((why = mo_sh_log(v, block(h, pl->list[i]), BLOCK)) != NULL) return why;
  if (pl && pl->fix && (why = mo_sh_log(v, block(h, pl->fix), 4)) != NULL)
    return why;
  if (pl && pl->oldlast &&
      (why = mo_sh_log(v, block(h, pl->oldlast), 4)) != NULL)
    return why;
  return NULL;
}

/* Store k = val (mode 'a': only if absent). Replaces an entry by a new
** one, so a kill never leaves half a value. */
static int store(mo_view *v, dctx *h, const dkey *k, const dval *val,
                 int mode, const char **why, uint32_t *stackl, uint32_t nstack) {
  dent e;
  plan pl;
  uint64_t total = (uint64_t)EHDR + 1 + k->n + 1 + val->n;
  uint32_t ehdr[4], nb;
  int r = find(h, k, &e), rc = D_OK;
  if (r < 0) goto damaged;
  if (r == 1 && mode == 'a') return D_PRESENT;
  memset(&pl, 0, sizeof pl);
  if (total > (uint64_t)NBLOCKS(h) * PAYLOAD) return D_FULL;
  nb = blocks_for(total);
  if (nb > NBLOCKS(h) - DUSED(h)) return D_FULL;
  pl.nb = nb;
  pl.list = nb <= nstack ? stackl : (uint32_t *)malloc(nb * sizeof(uint32_t));
  if (pl.list == NULL) {
    *why = "not enough memory";
    return D_FAIL;
  }
  if (pick(h, nb, pl.list, &pl.fix, &pl.fixnext, &pl.newfree, &pl.newhw) != 0)
    goto damaged_free;
  if (r == 1 && lastblock(h, &e, &pl.oldlast) != 0) goto damaged_free;
  if ((*why = log_plan(v, h, &pl, r == 1 ? e.link
                      : bucket(h, k->hash & (NBUCKETS(h) - 1)))) != NULL) {
    rc = D_FAIL;
    goto out;
  }
  /* a new key goes first in its bucket; a replacement takes the place
  ** of the old entry in the chain */
  if (r == 0) e.link = bucket(h, k->hash & (NBUCKETS(h) - 1));
  ehdr[0] = r == 1 ? e.bnext : *e.link;
  ehdr[1] = k->hash;
  ehdr[2] = (uint32_t)(k->n + 1);
  ehdr[3] = (uint32_t)(val->n + 1);
  fill(h, pl.list, nb, (const unsigned char *)ehdr, k, val, DHW(h));
  if (mo_sh_lost()) {
    *why = MO_SH_LOST;
    rc = D_FAIL;
    goto out;
  }
  /* publish: journal first, then the words */
  {
    uint32_t *link = e.link;
    uint64_t st[4];
    st[0] = DCOUNT(h) + (r == 1 ? 0 : 1);
    st[1] = DUSED(h) + nb - (r == 1 ? e.nblocks : 0);
    st[2] = pl.newfree;
    st[3] = pl.newhw;
    mo_sh_save(h->hdr, &DCOUNT(h), 32);
    mo_sh_save(h->hdr, link, 4);
    if (pl.fix) {
      mo_sh_save(h->hdr, block(h, pl.fix), 4);
      memcpy(block(h, pl.fix), &pl.fixnext, 4);
    }
    if (r == 1) {  /* the old entry's blocks go to the free list */
      mo_sh_save(h->hdr, block(h, pl.oldlast), 4);
      memcpy(block(h, pl.oldlast), &st[2], 4);
      st[2] = e.first;
    }
    *link = pl.list[0];
    memcpy(&DCOUNT(h), st, 32);
    mo_sh_done(h->hdr);
  }
out:
  if (pl.list != stackl) free(pl.list);
  return rc;
damaged_free:
  if (pl.list != stackl) free(pl.list);
damaged:
  *why = "damaged (a chain or the free list points outside)";
  return D_FAIL;
}

/* Remove k. */
static int removekey(mo_view *v, dctx *h, const dkey *k, const char **why) {
  dent e;
  plan pl;
  uint64_t st[4];
  int r = find(h, k, &e);
  if (r < 0) goto damaged;
  if (r == 0) return D_ABSENT;
  memset(&pl, 0, sizeof pl);
  if (lastblock(h, &e, &pl.oldlast) != 0) goto damaged;
  if ((*why = log_plan(v, h, &pl, e.link)) != NULL) return D_FAIL;
  if (mo_sh_lost()) {
    *why = MO_SH_LOST;
    return D_FAIL;
  }
  st[0] = DCOUNT(h) - 1;
  st[1] = DUSED(h) - e.nblocks;
  st[2] = e.first;
  st[3] = DHW(h);
  mo_sh_save(h->hdr, &DCOUNT(h), 32);
  mo_sh_save(h->hdr, e.link, 4);
  mo_sh_save(h->hdr, block(h, pl.oldlast), 4);
  memcpy(block(h, pl.oldlast), &DFREE(h), 4);
  *e.link = e.bnext;
  memcpy(&DCOUNT(h), st, 32);
  mo_sh_done(h->hdr);
  return D_OK;
damaged:
  *why = "damaged (a chain points outside)";
  return D_FAIL;
}

/* ---- Calls: lock, run, unlock ---- */

/* Lock the dict of v and fill h (geometry checked). */
static int lockd(mo_view *v, dctx *h, const char **why) {
  mo_shhdr *hdr = (mo_shhdr *)v->ptr;
  if (mo_sh_lock(hdr, v->length, why) != 0) return -1;
  h->hdr = hdr;
  h->nbk = hdr->p[0];
  h->nbl = hdr->p[1];
  h->boff = hdr->p[2];
  h->bloff = hdr->p[3];
  if (hdr->p[0] != h->nbk || hdr->p[1] != h->nbl || hdr->p[2] != h->boff ||
      hdr->p[3] != h->bloff || d_checkgeo(h, v->length) != NULL) {
    mo_sh_unlock(hdr);
    *why = "damaged header (table geometry)";
    return -1;
  }
  if (!state_ok(h)) {
    mo_sh_unlock(hdr);
    *why = "damaged (counts and free list disagree)";
    return -1;
  }
  return 0;
}

/* Raise why a call failed (after mo_sh_end: a fault raised first). */
static int raise_why(lua_State *L, const char *why) {
  return luaL_error(L, "memobj: dict: %s", why);
}

/* The value at idx, for storing: codec ones are encoded first (the
** string stays at the top of the stack). */
static void checkval(lua_State *L, int idx, dval *val) {
  const void *p;
  val->tag = sv_simple(L, idx, val->tmp, &p, &val->n);
  if (!val->tag) {
    luaL_Buffer B;
    luaL_buffinit(L, &B);
    mo_codec_encode(L, idx, &B);
    luaL_pushresult(&B);
    p = lua_tolstring(L, -1, &val->n);
    val->tag = SV_CODEC;
  }
  val->p = (const unsigned char *)p;
  if (val->n > UINT32_MAX - 2) luaL_argerror(L, idx, "value too large");
}

/* set/add/delete with the dict at 1 (its kind checked), key at 2,
** value at 3. */
static int change(lua_State *L, int mode, const char **why) {
  dkey k;
  dval val;
  mo_view *v;
  mo_shcall c;
  uint32_t stackl[64];
  dctx h;
  int r;
  checkkey(L, 2, &k);
  if (mode != 'd') checkval(L, 3, &val);
  v = selfd(L);  /* after encoding, which may have run finalizers */
  mo_sh_enter(L, v, &c);
  if (lockd(v, &h, why) != 0) {
    r = D_FAIL;
  } else {
    r = mode == 'd' ? removekey(v, &h, &k, why)
                    : store(v, &h, &k, &val, mode, why, stackl, 64);
    mo_sh_unlock(h.hdr);
  }
  mo_sh_end(L, &c, r == D_FAIL);
  return r;
}

/* d:set(k, v) -> true | nil, "full" (v nil: delete) */
static int d_set(lua_State *L) {
  const char *why = NULL;
  int r;
  lua_settop(L, 3);
  r = change(L, lua_isnil(L, 3) ? 'd' : 's', &why);
  if (r == D_FAIL) return raise_why(L, why);
  if (r == D_FULL) {
    luaL_pushfail(L);
    lua_pushliteral(L, "full");
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* d[k] = v: raises when full, having written nothing */
static int d_newindex(lua_State *L) {
  const char *why = NULL;
  int r;
  checkd(L, 1);
  lua_settop(L, 3);
  r = change(L, lua_isnil(L, 3) ? 'd' : 's', &why);
  if (r == D_FAIL) return raise_why(L, why);
  if (r == D_FULL) return luaL_error(L, "memobj: dict: full");
  return 0;
}

/* d:add(k, v) -> true | false (present) | nil, "full" */
static int d_add(lua_State *L) {
  const char *why = NULL;
  int r;
  lua_settop(L, 3);
  luaL_argcheck(L, !lua_isnil(L, 3), 3, "value expected");
  r = change(L, 'a', &why);
  if (r == D_FAIL) return raise_why(L, why);
  if (r == D_FULL) {
    luaL_pushfail(L);
    lua_pushliteral(L, "full");
    return 2;
  }
  lua_pushboolean(L, r == D_OK);
  return 1;
}

/* d:delete(k) -> true (removed) | false (absent) */
static int d_delete(lua_State *L) {
  const char *why = NULL;
  int r;
  lua_settop(L, 2);
  r = change(L, 'd', &why);
  if (r == D_FAIL) return raise_why(L, why);
  lua_pushboolean(L, r == D_OK);
  return 1;
}

/* ---- Reading ---- */

/* Copy the value of k into buf (cap bytes): 1 found (*n its length; if
** *n > cap nothing was copied), 0 absent, -1 (why). */
static int fetch(mo_view *v, const dkey *k, unsigned char *buf, size_t cap,
                 size_t *n, const char **why) {
  dctx ctx, *h = &ctx;
  dent e;
  int r;
  if (lockd(v, h, why) != 0) return -1;
  r = find(h, k, &e);
  if (r == 1) {
    *n = e.vlen;
    if (e.vlen <= cap && stream(h, e.first, EHDR + e.klen, buf, e.vlen, 0) < 0)
      r = -1;
  }
  mo_sh_unlock(h->hdr);
  if (r < 0) *why = "damaged (a chain points outside)";
  return r;
}

/* Push the value of the key at idx (dict at 1, its kind checked), or
** nil. */
static int getvalue(lua_State *L, int idx) {
  unsigned char small[SMALL], *buf = small;
  size_t cap = sizeof small, n = 0;
  const char *why = NULL;
  int top = lua_gettop(L);
  dkey k;
  checkkey(L, idx, &k);
  for (;;) {
    mo_view *v = selfd(L);
    int r = fetch(v, &k, buf, cap, &n, &why);
    mo_sh_end(L, NULL, r < 0);
    if (r < 0) return raise_why(L, why);
    if (r == 0) {
      lua_pushnil(L);
      return 1;
    }
    if (n <= cap) break;
    lua_settop(L, top);  /* larger than the scratch: grow, look again */
    cap = n;
    buf = (unsigned char *)mo_scratch(L, cap);
  }
  sv_push(L, buf, n, "dict");
  return 1;
}

static int d_get(lua_State *L) {
  lua_settop(L, 2);
  return getvalue(L, 2);
}

/* d:incr(k, n [, init]) -> new value | nil, "not found" | nil, "not a number" */
static int incr_locked(mo_view *v, dctx *h, const dkey *k, lua_State *L,
                       int hasinit, dval *out, const char **why) {
  dent e;
  unsigned char cur[9];
  int r = find(h, k, &e);
  if (r < 0) {
    *why = "damaged (a chain points outside)";
    return D_FAIL;
  }
  if (r == 0) {
    uint32_t stackl[8];
    if (!hasinit) return D_ABSENT;
    r = store(v, h, k, out, 's', why, stackl, 8);
    return r == D_OK ? D_ABSENT : r;  /* D_ABSENT: inserted init + n */
  }
  if (e.vlen != 9 || stream(h, e.first, EHDR + e.klen, cur, 9, 0) != 1 ||
      (cur[0] != SV_INT && cur[0] != SV_FLT))
    return D_NOTNUM;
  {
    /* new value = cur + n, in place (9 bytes, at most two blocks) */
    lua_Number dn = lua_tonumber(L, 3);
    unsigned char nv[9];
    uint64_t off = EHDR + e.klen, u;
    uint32_t b = e.first;
    size_t done = 0;
    if (cur[0] == SV_INT && lua_isinteger(L, 3)) {
      nv[0] = SV_INT;
      sv_put64(nv + 1, sv_get64(cur + 1) + (uint64_t)lua_tointeger(L, 3));
    } else {
      double d;
      if (cur[0] == SV_INT) {
        d = (double)(lua_Integer)sv_get64(cur + 1);
      } else {
        u = sv_get64(cur + 1);
        memcpy(&d, &u, 8);
      }
      d += dn;
      memcpy(&u, &d, 8);
      nv[0] = SV_FLT;
      sv_put64(nv + 1, u);
    }
    while (off >= PAYLOAD) {  /* checked by stream above */
      b = next_of(h, b);
      off -= PAYLOAD;
    }
    while (done < 9) {
      size_t k2 = PAYLOAD - (size_t)off < 9 - done ? PAYLOAD - (size_t)off : 9 - done;
      unsigned char *q = block(h, b) + 4 + off;
      if ((*why = mo_sh_log(v, q, k2)) != NULL) {
        mo_sh_done(h->hdr);
        return D_FAIL;
      }
      mo_sh_save(h->hdr, q, k2);
      done += k2;
      off = 0;
      if (done < 9) b = next_of(h, b);
    }
    if (mo_sh_lost()) {
      mo_sh_done(h->hdr);
      *why = MO_SH_LOST;
      return D_FAIL;
    }
    /* every piece journaled: write them */
    off = EHDR + e.klen;
    b = e.first;
    while (off >= PAYLOAD) {
      b = next_of(h, b);
      off -= PAYLOAD;
    }
    done = 0;
    while (done < 9) {
      size_t k2 = PAYLOAD - (size_t)off < 9 - done ? PAYLOAD - (size_t)off : 9 - done;
      memcpy(block(h, b) + 4 + off, nv + done, k2);
      done += k2;
      off = 0;
      if (done < 9) b = next_of(h, b);
    }
    mo_sh_done(h->hdr);
    memcpy(out->tmp, nv + 1, 8);
    out->tag = nv[0];
  }
  return D_OK;
}

static int d_incr(lua_State *L) {
  dkey k;
  dval val;
  mo_view *v;
  mo_shcall c;
  const char *why = NULL;
  dctx h;
  int hasinit, r;
  lua_settop(L, 4);
  v = selfd(L);
  checkkey(L, 2, &k);
  luaL_checknumber(L, 3);
  hasinit = !lua_isnil(L, 4);
  memset(&val, 0, sizeof val);
  if (hasinit) {  /* the value an absent key takes: init + n */
    luaL_checknumber(L, 4);
    if (lua_isinteger(L, 3) && lua_isinteger(L, 4)) {
      val.tag = SV_INT;
      sv_put64(val.tmp, (uint64_t)lua_tointeger(L, 4) + (uint64_t)lua_tointeger(L, 3));
    } else {
      double d = lua_tonumber(L, 4) + lua_tonumber(L, 3);
      uint64_t u;
      memcpy(&u, &d, 8);
      val.tag = SV_FLT;
      sv_put64(val.tmp, u);
    }
    val.p = val.tmp;
    val.n = 8;
  }
  mo_sh_enter(L, v, &c);
  if (lockd(v, &h, &why) != 0) {
    r = D_FAIL;
  } else {
    r = incr_locked(v, &h, &k, L, hasinit, &val, &why);
    mo_sh_unlock(h.hdr);
  }
  mo_sh_end(L, &c, r == D_FAIL);
  if (r == D_FAIL) return raise_why(L, why);
  if (r == D_FULL || r == D_NOTNUM || (r == D_ABSENT && !hasinit)) {
    luaL_pushfail(L);
    if (r == D_FULL) lua_pushliteral(L, "full");
    else if (r == D_NOTNUM) lua_pushliteral(L, "not a number");
    else lua_pushliteral(L, "not found");
    return 2;
  }
  {
    unsigned char rec[9];
    rec[0] = (unsigned char)val.tag;
    memcpy(rec + 1, val.tmp, 8);
    sv_push(L, rec, 9, "dict");
  }
  return 1;
}

/* ---- Walking: pairs and keys ---- */

/* Copy the entries of whole buckets from *b on into buf as [u32 klen]
** [u32 vlen][key][value] (values only with withval), until at least one
** entry is copied and the next bucket would not fit, or the end.
** Returns bytes used, or (size_t)-1 damaged; *need: the bytes of a
** bucket that did not fit into an empty buf. */
static size_t walk(dctx *h, uint64_t *b, unsigned char *buf, size_t cap,
                   int withval, size_t *need, size_t *count) {
  size_t used = 0, scanned = 0;
  *need = 0;
  *count = 0;
  while (*b < NBUCKETS(h) && scanned < 65536) {
    uint32_t cur = *bucket(h, *b);
    size_t bytes = 0, n = 0;
    uint64_t steps = NBLOCKS(h);
    dent e;
    uint32_t hash;
    /* measure the bucket first */
    while (cur != 0) {
      if (!valid(h, cur) || steps-- == 0 || readent(h, cur, &e, &hash) != 0)
        return (size_t)-1;
      bytes += 8 + e.klen + (withval ? e.vlen : 0);
      cur = e.bnext;
    }
    if (bytes > cap - used) {
      if (used == 0) *need = bytes;
      return used;
    }
    for (cur = *bucket(h, *b); cur != 0; cur = e.bnext) {
      uint32_t vl;
      if (!valid(h, cur) || readent(h, cur, &e, &hash) != 0) return (size_t)-1;
      vl = withval ? e.vlen : 0;
      if ((uint64_t)8 + e.klen + vl > cap - used) return (size_t)-1;
      memcpy(buf + used, &e.klen, 4);
      memcpy(buf + used + 4, &vl, 4);
      if (stream(h, cur, EHDR, buf + used + 8, e.klen + (size_t)vl, 0) != 1)
        return (size_t)-1;
      used += 8 + e.klen + vl;
      n++;
    }
    *count += n;
    (*b)++;
    scanned++;
    if (*count > 0 && used > cap / 2) break;
  }
  return used;
}

/* Push key (and value) of the copied entry at *at; advances *at. */
static void push_entry(lua_State *L, const unsigned char *buf, size_t *at,
                       int withval) {
  uint32_t kl, vl;
  memcpy(&kl, buf + *at, 4);
  memcpy(&vl, buf + *at + 4, 4);
  sv_push(L, buf + *at + 8, kl, "dict");
  if (withval) sv_push(L, buf + *at + 8 + kl, vl, "dict");
  *at += 8 + kl + vl;
}

/* Copy a batch of entries from bucket *b on; pushes the scratch (a
** userdata or nothing: then *buf is small). Returns bytes, entries. */
static size_t batch(lua_State *L, int didx, uint64_t *b, unsigned char *small,
                    size_t smallcap, unsigned char **buf, int withval,
                    size_t *count) {
  size_t cap = smallcap, need, used;
  int pushed = 0;
  *buf = small;
  for (;;) {
    mo_view *v = checkd(L, didx);
    dctx h;
    const char *why = NULL;
    need = 0;
    if (lockd(v, &h, &why) != 0) {
      used = (size_t)-1;
    } else {
      used = walk(&h, b, *buf, cap, withval, &need, count);
      mo_sh_unlock(h.hdr);
      if (used == (size_t)-1) why = "damaged (a chain points outside)";
    }
    mo_sh_end(L, NULL, used == (size_t)-1);
    if (used == (size_t)-1) raise_why(L, why);
    if (need == 0) break;
    if (pushed) lua_pop(L, 1);
    cap = need;
    *buf = (unsigned char *)mo_scratch(L, cap);
    pushed = 1;
  }
  if (!pushed) lua_pushnil(L);  /* always one slot */
  return used;
}

/* The iterator of pairs(d): upvalues dict, next bucket, pending table,
** position in it. */
static int d_next(lua_State *L) {
  lua_Integer pos = lua_tointeger(L, lua_upvalueindex(4));
  lua_settop(L, 0);
  for (;;) {
    if (lua_rawgeti(L, lua_upvalueindex(3), pos) != LUA_TNIL) {
      lua_rawgeti(L, lua_upvalueindex(3), pos + 1);
      lua_pushinteger(L, pos + 2);
      lua_replace(L, lua_upvalueindex(4));
      return 2;
    }
    lua_pop(L, 1);
    {
      unsigned char small[4096], *buf;
      uint64_t b = (uint64_t)lua_tointeger(L, lua_upvalueindex(2));
      size_t count, used, at = 0, i;
      int base;
      lua_pushvalue(L, lua_upvalueindex(1));
      base = lua_gettop(L);
      if (b >= ((mo_shhdr *)checkd(L, base)->ptr)->p[0]) return 0;
      used = batch(L, base, &b, small, sizeof small, &buf, 1, &count);
      lua_createtable(L, (int)(count < 100000 ? count * 2 : 200000), 0);
      for (i = 0; i < count && at < used; i++) {
        push_entry(L, buf, &at, 1);
        lua_rawseti(L, -3, (lua_Integer)(2 * i + 2));
        lua_rawseti(L, -2, (lua_Integer)(2 * i + 1));
      }
      lua_replace(L, lua_upvalueindex(3));
      lua_pushinteger(L, (lua_Integer)b);
      lua_replace(L, lua_upvalueindex(2));
      pos = 1;
      lua_settop(L, 0);
    }
  }
}

static int d_pairs(lua_State *L) {
  checkd(L, 1);
  lua_settop(L, 1);
  lua_pushinteger(L, 0);
  lua_newtable(L);
  lua_pushinteger(L, 1);
  lua_pushcclosure(L, d_next, 4);
  return 1;
}

/* d:keys([max]) -> array of keys */
static int d_keys(lua_State *L) {
  lua_Integer max = luaL_optinteger(L, 2, LUA_MAXINTEGER);
  uint64_t b = 0;
  lua_Integer n = 0;
  luaL_argcheck(L, max >= 0, 2, "max must be non-negative");
  lua_settop(L, 1);
  lua_newtable(L);  /* 2 */
  while (n < max && b < ((mo_shhdr *)selfd(L)->ptr)->p[0]) {
    unsigned char small[4096], *buf;
    size_t count, used, at = 0, i;
    used = batch(L, 1, &b, small, sizeof small, &buf, 0, &count);
    for (i = 0; i < count && at < used && n < max; i++) {
      push_entry(L, buf, &at, 0);
      lua_rawseti(L, 2, ++n);
    }
    lua_settop(L, 2);
  }
  return 1;
}

/* ---- Fields ---- */

static int d_len(lua_State *L) {  /* declared: a pending fault raises */
  mo_view *v = checkd(L, 1);
  lua_pushinteger(L, (lua_Integer)__atomic_load_n(&((mo_shhdr *)v->ptr)->s[0],
                                                  __ATOMIC_RELAXED));
  return 1;
}

/* Methods and fields first (a key named like one is read with d:get;
** a declared method checks its self itself), then the dictionary. */
static int d_index(lua_State *L) {
  mo_view *v;
  lua_settop(L, 2);
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
  }
  if ((v = mo_toview(L, 1, MO_TAG_DICT)) == NULL)
    return luaL_typeerror(L, 1, "dict");
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    /* fields: released memory offset length readonly capacity used */
    if (strchr("rmolcu", k[0]) == NULL || k[0] == '\0') {
      /* not a field name: a key */
    } else if (mo_view_field(L, 1, v, k)) {
      return 1;
    } else if (strcmp(k, "capacity") == 0 || strcmp(k, "used") == 0) {
      mo_shhdr *h = (mo_shhdr *)selfd(L)->ptr;
      lua_pushinteger(L, (lua_Integer)(BLOCK * (k[0] == 'c' ? h->p[1]
          : __atomic_load_n(&h->s[1], __ATOMIC_RELAXED))));
      mo_sh_end(L, NULL, 0);  /* read from lost pages? */
      return 1;
    }
  }
  if (lua_isnil(L, 2)) return 0;
  return getvalue(L, 2);
}

static int d_tostring(lua_State *L) {
  mo_view *v = mo_toview(L, 1, MO_TAG_DICT);
  if (v == NULL) return luaL_typeerror(L, 1, "dict");
  if (v->released) lua_pushliteral(L, "memobj.dict (released)");
  else lua_pushfstring(L, "memobj.dict (%I bytes, %p)", (lua_Integer)v->length,
                       (void *)v->ptr);
  return 1;
}

/* ---- Opening ---- */

static int l_mem_dict(lua_State *L) {
  return mo_sh_new(L, &dict_kind);
}

static int l_dict(lua_State *L) {
  return mo_sh_newheap(L, &dict_kind);
}

/* Every method raises a pending fault after (as mo_sh_end does inside);
** those that change the dict say so. */
#define MO_METHOD_KIND dict_vkind
#define DICT_METHODS(X)                                  \
  X("get", d_get, 1, MO_M_BYTES)                         \
  X("set", d_set, 2, MO_M_WRITES | MO_M_BYTES)           \
  X("add", d_add, 2, MO_M_WRITES | MO_M_BYTES)           \
  X("incr", d_incr, 3, MO_M_WRITES | MO_M_BYTES)         \
  X("delete", d_delete, 1, MO_M_WRITES | MO_M_BYTES)     \
  X("keys", d_keys, 1, MO_M_BYTES)
MO_METHODS(static, dict_methods, DICT_METHODS);

/* d[k] = v and pairs(d) check their dict themselves (hand-written:
** __newindex is a hot path; pairs' iterator is a closure) */
static const luaL_Reg dict_meta[] = {
  {"__newindex", d_newindex}, {"__pairs", d_pairs},
  {"__tostring", d_tostring}, {NULL, NULL}};

static const mo_method dict_declared_meta[] = {
  {"__len", d_len, MO_NARGS_ANY, MO_M_BYTES}, {NULL, NULL, 0, 0}};

static const mo_method mem_methods[] = {   /* m:dict([offset [, length]]) */
  {"dict", l_mem_dict, 3, MO_M_BYTES}, {NULL, NULL, 0, 0}};

static const mo_method lib_funcs[] = {     /* memobj.dict(size) */
  {"dict", l_dict, 1, MO_M_BYTES}, {NULL, NULL, 0, 0}};

void mo_dict_open(lua_State *L) {
  mo_view_newmeta(L, &dict_mtkey, NULL, dict_meta, d_index);
  mo_view_declare(L, &dict_vkind, dict_methods);
  mo_meta_declare(L, &dict_vkind, dict_declared_meta);
  mo_mem_declare(L, mem_methods);
  mo_funcs_declare(L, "memobj", lib_funcs);
}

/*
** codec_decode.c: the value codec's decoder (mo_codec_decode; format in
** doc/values.md and codec_format.h). It trusts nothing it reads: every
** read is checked against the end first, every count against the bytes
** left (each value takes at least one byte, so a table of n values needs
** n bytes and nothing is allocated for a count the input cannot hold),
** and nesting stops at MO_CODEC_MAXDEPTH so hostile input cannot exhaust
** the C stack.
*/
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "array.h"
#include "codec.h"
#include "codec_format.h"

/* The first REFSLOTS remembered strings live in stack slots reserved
** at the start (a reference is one lua_pushvalue); any later ones in a
** table in the slot below them. The input bounds what is reserved: a
** definition takes two bytes at least. */
#define REFSLOTS 256

/* Each table being decoded holds three stack slots at most (itself, a
** key, a value): room is made STACKSTEP levels at a time. */
#define STACKSTEP 16

typedef struct dec {
  lua_State *L;
  const unsigned char *p0;   /* the start: positions count from here */
  const unsigned char *p, *end;
  size_t base;
  int depth;
  int stackdepth;         /* depth up to which the stack has room */
  int refs;               /* stack slot of the table of later references;
                             the slots after it hold the first ones */
  int nslots;             /* slots reserved after refs */
  lua_Integer nrefs;
} dec;

void mo_codec_check_lost(lua_State *L, const unsigned char *p, size_t n) {
  const char *lost = mo_fault_lost_at(p, n);
  if (lost) {
    mo_fault_check(L);  /* a fault taken again since: raise (and settle) it */
    luaL_error(L, "memobj: %s", lost);
  }
}

/* Raise "memobj: decode: <why> at byte N" for the byte at `at`. A lost
** page of a mapped file reads as zeros: say that instead of what the
** zeros look like. This check stays by hand: a decode error raises, so
** a declaration's check after the call never runs. */
static void fail(dec *d, const unsigned char *at, const char *why) {
  mo_fault_check(d->L);
  mo_codec_check_lost(d->L, d->p0, (size_t)(d->end - d->p0));
  luaL_error(d->L, "memobj: decode: %s at byte %I", why,
             (lua_Integer)(d->base + (size_t)(at - d->p0) + 1));
}

static void truncated(dec *d) {
  fail(d, d->end, "unexpected end of input");
}

static inline size_t left(const dec *d) {
  return (size_t)(d->end - d->p);
}

/* ---- Little-endian loads ---- */

static inline uint16_t get16(const unsigned char *q) {
  uint16_t x;
  memcpy(&x, q, 2);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap16(x);
#endif
  return x;
}
static inline uint32_t get32(const unsigned char *q) {
  uint32_t x;
  memcpy(&x, q, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap32(x);
#endif
  return x;
}
static inline uint64_t get64(const unsigned char *q) {
  uint64_t x;
  memcpy(&x, q, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x);
#endif
  return x;
}

/* n fixed bytes: a pointer to them, or raise. */
static inline const unsigned char *take(dec *d, size_t n) {
  const unsigned char *q = d->p;
  if (MO_UNLIKELY(left(d) < n)) truncated(d);
  d->p += n;
  return q;
}

/* Unsigned LEB128, at most 64 bits. */
static uint64_t getvarint(dec *d) {
  const unsigned char *at = d->p;
  uint64_t v = 0;
  int shift = 0;
  for (;;) {
    unsigned c;
    if (d->p >= d->end) truncated(d);
    c = *d->p++;
    if (shift == 63 && c > 1) fail(d, at, "malformed length");
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) return v;
    shift += 7;
  }
}

/* A count or length that claims more than the bytes left: raise. */
static void toolong(dec *d, const unsigned char *at, const char *what,
                    uint64_t n) {
  char why[96];
  snprintf(why, sizeof why, "%s %llu exceeds the input", what,
           (unsigned long long)n);
  fail(d, at, why);
}

static unsigned dec_value(dec *d);

static void dec_string(dec *d, const unsigned char *at, uint64_t len) {
  if (len > left(d)) toolong(d, at, "length", len);
  lua_pushlstring(d->L, (const char *)d->p, (size_t)len);
  d->p += len;
}

/* A string remembered as the next reference (MO_CT_STRDEF). */
static void dec_strdef(dec *d, const unsigned char *at, uint64_t len) {
  lua_State *L = d->L;
  dec_string(d, at, len);
  if (d->nrefs < d->nslots) {
    lua_copy(L, -1, d->refs + 1 + (int)d->nrefs++);
    return;
  }
  if (d->nrefs == d->nslots) {  /* the table of later ones, when needed */
    lua_createtable(L, 16, 0);
    lua_replace(L, d->refs);
  }
  d->nrefs++;
  lua_pushvalue(L, -1);
  lua_rawseti(L, d->refs, d->nrefs - d->nslots);
}

static void dec_strref(dec *d, const unsigned char *at, uint64_t k) {
  if (MO_LIKELY(k < (uint64_t)d->nslots && k < (uint64_t)d->nrefs)) {
    lua_pushvalue(d->L, d->refs + 1 + (int)k);
    return;
  }
  if (k >= (uint64_t)d->nrefs) {
    char why[64];
    snprintf(why, sizeof why, "unknown string reference %llu",
             (unsigned long long)k);
    fail(d, at, why);
  }
  lua_rawgeti(d->L, d->refs, (lua_Integer)k - d->nslots + 1);
}

static void dec_table(dec *d, const unsigned char *at, uint64_t narr,
                      uint64_t npairs) {
  lua_State *L = d->L;
  size_t rem = left(d);
  uint64_t k;
  int t;
  /* each value takes a byte at least, each pair two */
  if (narr > rem) toolong(d, at, "count", narr);
  if (npairs > (rem - narr) / 2) toolong(d, at, "count", npairs);
  if (d->depth >= MO_CODEC_MAXDEPTH) {
    char why[48];
    snprintf(why, sizeof why, "nesting deeper than %d", MO_CODEC_MAXDEPTH);
    fail(d, at, why);
  }
  if (d->depth >= d->stackdepth) {
    luaL_checkstack(L, 3 * STACKSTEP + 2, "memobj: decode");
    d->stackdepth = d->depth + STACKSTEP;
  }
  d->depth++;
  lua_createtable(L, narr > INT_MAX ? INT_MAX : (int)narr,
                  npairs > INT_MAX ? INT_MAX : (int)npairs);
  t = lua_gettop(L);
  for (k = 1; k <= narr; k++) {
    dec_value(d);
    lua_rawseti(L, t, (lua_Integer)k);
  }
  for (k = 0; k < npairs; k++) {
    const unsigned char *kat = d->p;
    /* the key's tag says whether it can be nil or NaN */
    unsigned kt = dec_value(d);
    if (MO_UNLIKELY(kt == MO_CT_NIL)) fail(d, kat, "table key is nil");
    if (MO_UNLIKELY(kt == MO_CT_FLOAT) && isnan(lua_tonumber(L, -1)))
      fail(d, kat, "table key is NaN");
    dec_value(d);
    lua_rawset(L, t);
  }
  d->depth--;
}

/* A typed array: a new heap array of the element type the type byte
** names, in the byte order it names. */
static void dec_array(dec *d, const unsigned char *at) {
  lua_State *L = d->L;
  unsigned type = *take(d, 1);
  uint64_t count;
  size_t size, nbytes;
  int base, et, big;
  mo_source s;
  mo_array *a;
  base = (int)(type & 0x0f);
  /* one-byte types have no byte order: their flag is never set */
  if ((type & ~(unsigned)(0x0f | MO_CT_BIGENDIAN)) || base >= MO_NBASE ||
      ((type & MO_CT_BIGENDIAN) && mo_base_size[base] == 1)) {
    char why[48];
    snprintf(why, sizeof why, "unknown array type 0x%02x", type);
    fail(d, at + 1, why);
  }
  count = getvarint(d);
  size = mo_base_size[base];
  if (count > left(d) / size) toolong(d, at, "array length", count);
  nbytes = (size_t)count * size;
  big = (type & MO_CT_BIGENDIAN) != 0;
  et = base + (big != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) ? MO_NBASE : 0);
  s.mem = mo_mem_zeroed(L, nbytes);
  s.memidx = lua_gettop(L);
  s.offset = 0;
  s.length = nbytes;
  s.readonly = 0;
  a = mo_array_new_strided(L, &s, 0, (size_t)count, (ptrdiff_t)size, et, 0);
  if (nbytes) memcpy(a->v.ptr, d->p, nbytes);
  d->p += nbytes;
  lua_remove(L, -2);  /* the memory object: the array keeps it alive */
}

/* Push one value; returns its tag byte. */
static unsigned dec_value(dec *d) {
  lua_State *L = d->L;
  const unsigned char *at = d->p;
  unsigned t;
  if (MO_UNLIKELY(at >= d->end)) truncated(d);
  t = *d->p++;
  if (t < MO_CT_FIXSTR) {
    lua_pushinteger(L, (lua_Integer)t);
  } else if (t < MO_CT_FIXLIST) {
    dec_string(d, at, t - MO_CT_FIXSTR);
  } else if (t < MO_CT_FIXMAP) {
    dec_table(d, at, t - MO_CT_FIXLIST, 0);
  } else if (t < MO_CT_NIL) {
    dec_table(d, at, 0, t - MO_CT_FIXMAP);
  } else if (t >= MO_CT_NEGINT) {
    lua_pushinteger(L, (lua_Integer)t - 256);
  } else {
    switch (t) {
      case MO_CT_NIL: lua_pushnil(L); break;
      case MO_CT_FALSE: lua_pushboolean(L, 0); break;
      case MO_CT_TRUE: lua_pushboolean(L, 1); break;
      case MO_CT_INT8: lua_pushinteger(L, (int8_t)*take(d, 1)); break;
      case MO_CT_INT16: lua_pushinteger(L, (int16_t)get16(take(d, 2))); break;
      case MO_CT_INT32: lua_pushinteger(L, (int32_t)get32(take(d, 4))); break;
      case MO_CT_INT64:
        lua_pushinteger(L, (lua_Integer)get64(take(d, 8)));
        break;
      case MO_CT_FLOAT: {
        uint64_t bits = get64(take(d, 8));
        double x;
        memcpy(&x, &bits, 8);
        lua_pushnumber(L, x);
        break;
      }
      case MO_CT_STR: {
        uint64_t len = getvarint(d);
        dec_string(d, at, len);
        break;
      }
      case MO_CT_TABLE: {
        uint64_t narr = getvarint(d);
        uint64_t npairs = getvarint(d);
        dec_table(d, at, narr, npairs);
        break;
      }
      case MO_CT_ARRAY: dec_array(d, at); break;
      case MO_CT_STRDEF: {
        uint64_t len = getvarint(d);
        dec_strdef(d, at, len);
        break;
      }
      case MO_CT_STRREF: {
        uint64_t k = getvarint(d);
        dec_strref(d, at, k);
        break;
      }
      default: {
        char why[32];
        snprintf(why, sizeof why, "unknown tag 0x%02x", t);
        fail(d, at, why);
      }
    }
  }
  return t;
}

size_t mo_codec_decode(lua_State *L, const unsigned char *p, size_t len,
                       size_t base) {
  dec d;
  if (p == NULL) p = (const unsigned char *)"";  /* only with len 0 */
  d.L = L;
  d.p0 = d.p = p;
  d.end = p + len;
  d.base = base;
  d.depth = 0;
  d.stackdepth = 0;
  d.nrefs = 0;
  d.nslots = len / 2 < REFSLOTS ? (int)(len / 2) : REFSLOTS;
  luaL_checkstack(L, d.nslots + 5, "memobj: decode");
  lua_pushnil(L);  /* the slot for the table of later references */
  d.refs = lua_gettop(L);
  lua_settop(L, d.refs + d.nslots);
  if (len == 0) truncated(&d);
  if (p[0] != MO_CODEC_VERSION) {
    char why[40];
    snprintf(why, sizeof why, "unknown format version %u", p[0]);
    fail(&d, p, why);
  }
  d.p++;
  dec_value(&d);
  lua_replace(L, d.refs);
  lua_settop(L, d.refs);
  return (size_t)(d.p - p);
}

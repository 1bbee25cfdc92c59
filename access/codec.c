/*
** codec.c: the value codec's encoder (mo_codec_encode) and its Lua face:
** memobj.encode, memobj.decode, b:encode, b:decode. The format is
** doc/values.md (tags in codec_format.h); the decoder is codec_decode.c.
**
** The encoder writes into a buffer of its own, not into a luaL_Buffer:
** walking a table keeps keys on the Lua stack, above where a luaL_Buffer
** wants its box. Small encodings stay in a buffer on the C stack; a
** bigger one moves to malloc'd memory owned by a userdata in a stack slot
** reserved at the start (its __gc frees it), so an error anywhere leaks
** nothing and a finalizer run by that one allocation finds every pointer
** it could touch checked again afterwards.
*/
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "bytes.h"
#include "codec.h"
#include "codec_format.h"
#include "openers.h"

#define STACKBUF 1024  /* most queue and dictionary values fit here */

/* The owner of a heap buffer: only ever in an encoder's stack slot. */
typedef struct scratch {
  unsigned char *buf;
  size_t cap;
} scratch;

static const char scratch_mtkey = 0;

/* Short strings met while encoding, by address (Lua interns them: one
** address per content), in a direct-mapped cache: one probe per string.
** The second time one is met it is written as a definition
** (MO_CT_STRDEF), from the third on as a reference. A string whose slot
** holds another is written in full; a slot that holds a string met once
** goes to the newer one, a slot that holds a defined string keeps it (so
** at most STRSLOTS references are defined, each once). */
#define STRSLOTS 256          /* a power of 2 */
typedef struct strslot {
  const char *s;
  uint32_t ref;  /* 0: met once; else its reference number + 1 */
} strslot;

typedef struct enc {
  lua_State *L;
  unsigned char *p;   /* the C-stack buffer, or heap->buf */
  size_t n, cap;
  scratch *heap;      /* NULL while p is the C-stack buffer */
  int slot;           /* stack slot reserved for heap's userdata */
  int depth;
  int stackdepth;     /* depth up to which the Lua stack has room */
  const void *path[MO_CODEC_MAXDEPTH];  /* the tables being encoded */
  uint32_t nrefs;         /* references defined */
  strslot *strs;          /* NULL until the first short string */
  strslot strbuf[STRSLOTS];
} enc;

static int scratch_gc(lua_State *L) {
  scratch *s = (scratch *)lua_touserdata(L, 1);
  free(s->buf);
  s->buf = NULL;
  s->cap = 0;
  return 0;
}

/* Make room for k more bytes (the slow path of reserve). */
static void grow(enc *e, size_t k) {
  lua_State *L = e->L;
  size_t need = e->n + k, ncap = e->cap;
  unsigned char *nb;
  if (need < k) luaL_error(L, "memobj: encode: value too large");
  while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
  if (e->heap == NULL) {
    /* the only Lua allocation of an encoding: it may run a finalizer */
    scratch *s = (scratch *)lua_newuserdatauv(L, sizeof *s, 0);
    s->buf = NULL;
    s->cap = 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &scratch_mtkey);
    lua_setmetatable(L, -2);
    lua_replace(L, e->slot);
    if ((nb = (unsigned char *)malloc(ncap)) == NULL)
      luaL_error(L, "memobj: encode: not enough memory");
    memcpy(nb, e->p, e->n);
    e->heap = s;
  } else if ((nb = (unsigned char *)realloc(e->heap->buf, ncap)) == NULL) {
    luaL_error(L, "memobj: encode: not enough memory");
  }
  e->heap->buf = e->p = nb;
  e->heap->cap = e->cap = ncap;
}

static inline unsigned char *reserve(enc *e, size_t k) {
  if (MO_UNLIKELY(e->cap - e->n < k)) grow(e, k);
  return e->p + e->n;
}

/* ---- Little-endian stores ---- */

static inline void put16(unsigned char *q, uint16_t x) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap16(x);
#endif
  memcpy(q, &x, 2);
}
static inline void put32(unsigned char *q, uint32_t x) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap32(x);
#endif
  memcpy(q, &x, 4);
}
static inline void put64(unsigned char *q, uint64_t x) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x);
#endif
  memcpy(q, &x, 8);
}

/* Unsigned LEB128; returns the bytes written (at most 10). */
static inline size_t putvarint(unsigned char *q, uint64_t x) {
  size_t k = 0;
  while (x >= 0x80) {
    q[k++] = (unsigned char)(x | 0x80);
    x >>= 7;
  }
  q[k++] = (unsigned char)x;
  return k;
}

/* ---- Values ---- */

static void enc_value(enc *e, int idx, int type);

static void enc_int(enc *e, lua_Integer i) {
  unsigned char *q = reserve(e, 9);
  if ((lua_Unsigned)i < 0x80) {
    q[0] = (unsigned char)i;
    e->n += 1;
  } else if (i >= -32 && i < 0) {
    q[0] = (unsigned char)(MO_CT_NEGINT + (i + 32));
    e->n += 1;
  } else if (i >= INT8_MIN && i <= INT8_MAX) {
    q[0] = MO_CT_INT8;
    q[1] = (unsigned char)i;
    e->n += 2;
  } else if (i >= INT16_MIN && i <= INT16_MAX) {
    q[0] = MO_CT_INT16;
    put16(q + 1, (uint16_t)i);
    e->n += 3;
  } else if (i >= INT32_MIN && i <= INT32_MAX) {
    q[0] = MO_CT_INT32;
    put32(q + 1, (uint32_t)i);
    e->n += 5;
  } else {
    q[0] = MO_CT_INT64;
    put64(q + 1, (uint64_t)i);
    e->n += 9;
  }
}

static void enc_float(enc *e, lua_Number d) {
  unsigned char *q = reserve(e, 9);
  uint64_t bits;
  memcpy(&bits, &d, 8);  /* the exact bits: -0.0, infinities, NaN payloads */
  q[0] = MO_CT_FLOAT;
  put64(q + 1, bits);
  e->n += 9;
}

/* A string header (tag and length), then s[0 .. len). */
static void enc_str(enc *e, const void *s, size_t len) {
  unsigned char *q = reserve(e, 11 + len);
  if (len < MO_CT_SHORTSTR) {
    *q++ = (unsigned char)(MO_CT_FIXSTR + len);
  } else {
    *q++ = MO_CT_STR;
    q += putvarint(q, len);
  }
  if (len) memcpy(q, s, len);
  e->n = (size_t)(q - e->p) + len;
}

/* A varint after a tag. */
static void enc_tagvarint(enc *e, unsigned tag, uint64_t x) {
  unsigned char *q = reserve(e, 11);
  q[0] = (unsigned char)tag;
  e->n += 1 + putvarint(q + 1, x);
}

/* A Lua string: the second and later times a short one is met it is a
** definition, then references (see strslot). */
static void enc_luastr(enc *e, const char *s, size_t len) {
  if (len >= 2 && len <= MO_CT_REFMAXLEN) {
    uint64_t h = (uint64_t)(uintptr_t)s * 0x9e3779b97f4a7c15ull;
    strslot *slot;
    if (MO_UNLIKELY(e->strs == NULL)) {
      memset(e->strbuf, 0, sizeof e->strbuf);
      e->strs = e->strbuf;
    }
    slot = &e->strs[(size_t)(h >> 56) & (STRSLOTS - 1)];
    if (slot->s == s) {
      unsigned char *q;
      if (slot->ref) {
        enc_tagvarint(e, MO_CT_STRREF, slot->ref - 1);
        return;
      }
      slot->ref = ++e->nrefs;
      q = reserve(e, 2 + len);  /* len <= 40: a one-byte varint */
      q[0] = MO_CT_STRDEF;
      q[1] = (unsigned char)len;
      memcpy(q + 2, s, len);
      e->n += 2 + len;
      return;
    }
    if (slot->ref == 0) slot->s = s;  /* empty, or met once: the newer */
  }
  enc_str(e, s, len);
}

/* A byte view or a memory object: its bytes, as a string. Reserving may
** run a finalizer (core.h): resolve the bytes again after it. */
static void enc_bytes(enc *e, int idx) {
  lua_State *L = e->L;
  mo_bytesrc b;
  for (;;) {
    if (mo_tobytes(L, idx, &b) < 0) luaL_error(L, "memobj: encode: %s", b.dead);
    if (b.length > SIZE_MAX - 11) luaL_error(L, "memobj: encode: value too large");
    reserve(e, 11 + b.length);
    if (mo_tobytes(L, idx, &b) < 0) luaL_error(L, "memobj: encode: %s", b.dead);
    if (e->cap - e->n >= 11 + b.length) break;  /* still fits */
  }
  enc_str(e, b.ptr, b.length);
  mo_fault_check(L);  /* here, not only by a declaration: see enc_array */
}

/* A typed array: its type byte, its count, its elements in its own byte
** order (which the type byte names). */
static void enc_array(enc *e, int idx, mo_array *a) {
  lua_State *L = e->L;
  size_t count, size, k;
  unsigned char *q;
  int big;
  if (a->v.released) luaL_error(L, "memobj: encode: view is released");
  count = a->v.count;
  size = a->itemsize;
  reserve(e, 12 + count * size);  /* the view's span: no overflow */
  a = (mo_array *)mo_toview(L, idx, MO_TAG_ARRAY);
  if (a->v.released) luaL_error(L, "memobj: encode: view is released");
  /* the order of the element bytes; one-byte types have none */
  big = size > 1 &&
        (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) != MO_SWAPPED(a->etype);
  q = e->p + e->n;
  *q++ = MO_CT_ARRAY;
  *q++ = (unsigned char)(MO_BASE(a->etype) | (big ? MO_CT_BIGENDIAN : 0));
  q += putvarint(q, count);
  if (mo_array_contiguous(a)) {
    if (count) memcpy(q, a->v.ptr + a->first, count * size);
  } else {
    for (k = 0; k < count; k++) memcpy(q + k * size, MO_AELEM(a, k), size);
  }
  e->n = (size_t)(q - e->p) + count * size;
  /* Right after the copy, not only by the declarations' check when
  ** memobj.encode returns: the next allocation may run a finalizer whose
  ** own memobj access takes this thread's pending fault (and clears it),
  ** and the C callers (a queue's push, a dict's set, b:encode) copy the
  ** encoding out before any check at their end. */
  mo_fault_check(L);
}

static void enc_userdata(enc *e, int idx) {
  lua_State *L = e->L;
  mo_array *a = (mo_array *)mo_toview(L, idx, MO_TAG_ARRAY);
  if (a != NULL) enc_array(e, idx, a);
  else if (mo_toview(L, idx, MO_TAG_BYTES) != NULL || mo_tomem(L, idx) != NULL)
    enc_bytes(e, idx);
  else if (mo_toview(L, idx, 0) != NULL)
    luaL_error(L, "memobj: encode: cannot encode this kind of view (only "
                  "byte views, typed arrays and memory objects)");
  else
    luaL_error(L, "memobj: encode: cannot encode a userdata");
}

/* The header of a table with narr array values and npairs pairs, written
** over the byte reserved at `at` (moving what follows when it needs more). */
static void table_header(enc *e, size_t at, size_t narr, size_t npairs) {
  unsigned char h[21];
  size_t hl = 0;
  if (npairs == 0 && narr < MO_CT_SMALL) {
    e->p[at] = (unsigned char)(MO_CT_FIXLIST + narr);
    return;
  }
  if (narr == 0 && npairs < MO_CT_SMALL) {
    e->p[at] = (unsigned char)(MO_CT_FIXMAP + npairs);
    return;
  }
  h[hl++] = MO_CT_TABLE;
  hl += putvarint(h + hl, narr);
  hl += putvarint(h + hl, npairs);
  reserve(e, hl - 1);
  memmove(e->p + at + hl, e->p + at + 1, e->n - at - 1);
  memcpy(e->p + at, h, hl);
  e->n += hl - 1;
}

/* Each table being encoded holds two stack slots (a key and a value):
** room is made STACKSTEP levels at a time, not once per table. */
#define STACKSTEP 16

/* One walk with lua_next: keys 1, 2, 3... met in that order from the
** start go to the array part (Lua walks its array part first, in order);
** everything from the first other key on is a key/value pair. The counts
** are known at the end, so the header is patched in then. */
static void enc_table(enc *e, int idx) {
  lua_State *L = e->L;
  const void *t = lua_topointer(L, idx);
  size_t at, narr = 0, npairs = 0;
  int d, inarr = 1, kidx;
  if (e->depth >= MO_CODEC_MAXDEPTH)
    luaL_error(L, "memobj: encode: nesting deeper than %d", MO_CODEC_MAXDEPTH);
  for (d = 0; d < e->depth; d++)
    if (e->path[d] == t)
      luaL_error(L, "memobj: encode: cycle (a table contains itself)");
  if (e->depth >= e->stackdepth) {
    luaL_checkstack(L, 2 * STACKSTEP + 2, "memobj: encode");
    e->stackdepth = e->depth + STACKSTEP;
  }
  e->path[e->depth++] = t;
  reserve(e, 1);
  at = e->n++;
  lua_pushnil(L);
  kidx = lua_gettop(L);
  while (lua_next(L, idx)) {
    int kt = lua_type(L, kidx);
    if (inarr) {
      /* a key from next is never a float with an integer value (tables
      ** store those as integers): tointegerx succeeds for integers only */
      int isint = 0;
      if (kt == LUA_TNUMBER && lua_tointegerx(L, kidx, &isint) ==
                                   (lua_Integer)narr + 1 && isint) {
        narr++;
        enc_value(e, kidx + 1, lua_type(L, kidx + 1));
        lua_settop(L, kidx);
        continue;
      }
      inarr = 0;
    }
    enc_value(e, kidx, kt);
    npairs++;
    enc_value(e, kidx + 1, lua_type(L, kidx + 1));
    lua_settop(L, kidx);
  }
  e->depth--;
  table_header(e, at, narr, npairs);
}

static void enc_value(enc *e, int idx, int type) {
  lua_State *L = e->L;
  switch (type) {
    case LUA_TNIL:
      *reserve(e, 1) = MO_CT_NIL;
      e->n++;
      break;
    case LUA_TBOOLEAN:
      *reserve(e, 1) = lua_toboolean(L, idx) ? MO_CT_TRUE : MO_CT_FALSE;
      e->n++;
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) enc_int(e, lua_tointeger(L, idx));
      else enc_float(e, lua_tonumber(L, idx));
      break;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      enc_luastr(e, s, len);
      break;
    }
    case LUA_TTABLE:
      enc_table(e, idx);
      break;
    case LUA_TUSERDATA:
      enc_userdata(e, idx);
      break;
    default:  /* function, thread (coroutine), light userdata */
      luaL_error(L, "memobj: encode: cannot encode a %s",
                 type == LUA_TTHREAD ? "coroutine" : lua_typename(L, type));
  }
}

/* Start an encoding in the C-stack buffer sb: reserves one stack slot. */
static void enc_begin(lua_State *L, enc *e, unsigned char *sb, size_t cap) {
  e->L = L;
  e->p = sb;
  e->n = 0;
  e->cap = cap;
  e->heap = NULL;
  e->depth = 0;
  e->stackdepth = 0;
  e->nrefs = 0;
  e->strs = NULL;
  lua_pushnil(L);
  e->slot = lua_gettop(L);
}

/* The whole encoding of the value at idx (absolute). */
static void enc_run(enc *e, int idx) {
  *reserve(e, 1) = MO_CODEC_VERSION;
  e->n++;
  enc_value(e, idx, lua_type(e->L, idx));
}

/* Free the heap buffer now rather than at the next collection. */
static void enc_end(enc *e) {
  if (e->heap) {
    free(e->heap->buf);
    e->heap->buf = NULL;
    e->heap->cap = 0;
    e->heap = NULL;
  }
}

void mo_codec_encode(lua_State *L, int idx, luaL_Buffer *B) {
  unsigned char sb[STACKBUF];
  enc e;
  idx = lua_absindex(L, idx);
  enc_begin(L, &e, sb, sizeof sb);
  enc_run(&e, idx);
  if (e.heap == NULL) {
    lua_pop(L, 1);  /* the buffer's box is at the top again */
    luaL_addlstring(B, (const char *)e.p, e.n);
  } else {
    /* the heap buffer must stay anchored while it is copied: as a string
    ** above the box, which luaL_addvalue takes */
    lua_pushlstring(L, (const char *)e.p, e.n);
    enc_end(&e);
    lua_remove(L, e.slot);
    luaL_addvalue(B);
  }
}

/* ---- The Lua face ---- */

/* memobj.encode(v) -> string */
static int l_encode(lua_State *L) {
  unsigned char sb[STACKBUF];
  enc e;
  luaL_checkany(L, 1);  /* no more: the declaration checked */
  lua_settop(L, 1);
  enc_begin(L, &e, sb, sizeof sb);
  enc_run(&e, 1);
  lua_pushlstring(L, (const char *)e.p, e.n);
  enc_end(&e);
  return 1;
}

/* The 0-based start of 1-based index i (negative: from the end) in n
** bytes, for decoding: string.unpack's rule. */
static size_t decode_start(lua_State *L, lua_Integer i, size_t n, int arg) {
  size_t pos = mo_bytes_posrelat(i, n) - 1;
  luaL_argcheck(L, pos <= n, arg, "initial position out of string");
  return pos;
}

/* The value decoded from p[pos .. pos+used) is on the stack (p: the
** memory decoded from, NULL for a Lua string). The declarations check
** the pending fault when the function returns (nothing between here and
** there allocates), but a finalizer run by the decoding may have taken
** it (codec.h). */
static int decode_result(lua_State *L, const unsigned char *p, size_t pos,
                         size_t used) {
  if (p) mo_codec_check_lost(L, p + pos, used);
  lua_pushinteger(L, (lua_Integer)(pos + used) + 1);
  return 2;
}

/* memobj.decode(src [, i]) -> value, next index */
static int l_decode(lua_State *L) {
  const unsigned char *p;
  size_t len, pos;
  int mem = lua_type(L, 1) != LUA_TSTRING;
  lua_Integer i = luaL_optinteger(L, 2, 1);  /* no more: the declaration */
  lua_settop(L, 2);
  if (!mem) {
    p = (const unsigned char *)lua_tolstring(L, 1, &len);
  } else {
    mo_bytesrc b;
    if (mo_tomem(L, 1) == NULL && mo_bytes_to(L, 1) == NULL)
      return luaL_typeerror(L, 1, "string, byte view or memory object");
    mo_checkbytes(L, 1, &b);
    /* decoding allocates, so it may run finalizers: the bytes stay
    ** pinned (core.h) */
    mo_pinarg(L, 1);
    mo_checkbytes(L, 1, &b);
    p = b.ptr;
    len = b.length;
  }
  pos = decode_start(L, i, len, 2);
  return decode_result(L, mem ? p : NULL, pos,
                       mo_codec_decode(L, p ? p + pos : p, len - pos, pos));
}

/* b:encode(v [, i]) -> next index | nil, "no space", needed */
static int bytes_encode(lua_State *L) {
  unsigned char sb[STACKBUF];
  enc e;
  mo_view *v = mo_self(L);  /* writable: the declaration checked it */
  lua_Integer i;
  size_t off, len;
  luaL_checkany(L, 2);
  i = luaL_optinteger(L, 3, 1);
  lua_settop(L, 3);
  enc_begin(L, &e, sb, sizeof sb);
  enc_run(&e, 2);
  mo_view_rptr(L, v, 0, 0);  /* raises if the encoding's finalizers released v */
  len = v->length;
  if (i < 0) i += (lua_Integer)len + 1;
  if (i < 1 || (lua_Unsigned)i > (lua_Unsigned)len + 1)
    return luaL_error(L, "memobj: index %I out of range (1..%I)", i,
                      (lua_Integer)len + 1);
  off = (size_t)i - 1;
  if (e.n > len - off) {
    enc_end(&e);
    lua_pushnil(L);
    lua_pushliteral(L, "no space");
    lua_pushinteger(L, (lua_Integer)e.n);
    return 3;
  }
  memcpy(mo_view_wptr(L, v, off, e.n), e.p, e.n);
  lua_pushinteger(L, (lua_Integer)(off + e.n) + 1);
  enc_end(&e);
  return 1;
}

/* b:decode([i]) -> value, next index */
static int bytes_decode(lua_State *L) {
  mo_view *v = mo_bytes_check(L, 1);
  lua_Integer i;
  size_t pos;
  i = luaL_optinteger(L, 2, 1);
  v = mo_pinview(L, 1, 2, MO_TAG_BYTES, "byte view");
  pos = decode_start(L, i, v->length, 2);
  return decode_result(L, v->ptr, pos,
                       mo_codec_decode(L, v->ptr ? v->ptr + pos : NULL,
                                       v->length - pos, pos));
}

/* Declared (runtime/core/method.h): b:encode writes, both touch bytes. */
#define MO_METHOD_KIND mo_bytes_kind
#define CODEC_METHODS(X)                                     \
  X("encode", bytes_encode, 2, MO_M_WRITES | MO_M_BYTES)     \
  X("decode", bytes_decode, 1, MO_M_BYTES)
MO_METHODS(static, codec_methods, CODEC_METHODS);

static const mo_method codec_funcs[] = {  /* memobj.encode, memobj.decode */
  {"encode", l_encode, 1, MO_M_BYTES},
  {"decode", l_decode, 2, MO_M_BYTES},
  {NULL, NULL, 0, 0}};

void mo_codec_open(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, scratch_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &scratch_mtkey);
  mo_funcs_declare(L, "memobj", codec_funcs);
  mo_view_declare(L, &mo_bytes_kind, codec_methods);
}

/*
** cmodule.c: a C module built separately from memobj that uses only
** memobj.h. It shows the buffer-locking protocol from the outside:
** cmodule.checksum(x) locks any memory object, view or Lua string for the
** length of the call; cmodule.hold(x) keeps a lock until the returned
** handle is released, so memobj refuses to resize or close under it.
** cmodule.sum(x) adds up the items of a typed array of any element type
** (or bytes) from the buffer's format, honouring its stride, without
** looking at a.type; cmodule.describe(x) returns what the buffer says.
** cmodule.block(n) is memory of a kind this module defines ("cblock").
*/
#include <stdlib.h>
#include <string.h>
#include <memobj.h>

/* Sum of all bytes, a stand-in for real work on the buffer. */
static int checksum(lua_State *L) {
  memobj_buffer b;
  lua_Integer sum = 0;
  size_t i;
  memobj_getbuffer(L, 1, &b, MEMOBJ_READ, "cmodule.checksum");
  for (i = 0; i < b.len; i++) sum += b.ptr[i];
  memobj_releasebuffer(L, &b);
  lua_pushinteger(L, sum);
  return 1;
}

/* Item i of b as a number, read as b.format says. */
static lua_Number item(const memobj_buffer *b, size_t i) {
  const unsigned char *p = b->ptr + (ptrdiff_t)i * b->stride;
  const char *f = b->format;
  unsigned char x[8];
  size_t k;
  int little = 1;
  if (*f == '<' || *f == '>') {
    unsigned one = 1;
    int native_little = *(unsigned char *)&one == 1;
    little = *f++ == '<';
    if (little != native_little) {  /* bytes in the other order: reverse */
      for (k = 0; k < b->itemsize; k++) x[k] = p[b->itemsize - 1 - k];
      p = x;
    }
  }
  switch (*f) {
#define AS(T) { T v; memcpy(&v, p, sizeof v); return (lua_Number)v; }
    case 'b': AS(int8_t)
    case 'B': AS(uint8_t)
    case 'h': AS(int16_t)
    case 'H': AS(uint16_t)
    case 'i': AS(int32_t)
    case 'I': AS(uint32_t)
    case 'q': AS(int64_t)
    case 'Q': AS(uint64_t)
    case 'f': AS(float)
    case 'd': AS(double)
#undef AS
    default: return 0;  /* checked by sum before the loop */
  }
}

/* Sum of the items of any typed array, view, memory or string. The
** buffer is asked with MEMOBJ_STRIDED: item i is at ptr + i * stride. */
static int sum(lua_State *L) {
  memobj_buffer b;
  lua_Number total = 0;
  size_t i;
  memobj_getbuffer(L, 1, &b, MEMOBJ_READ | MEMOBJ_STRIDED, "cmodule.sum");
  if (strchr("bBhHiIqQfd", b.format[strspn(b.format, "<>")]) == NULL) {
    memobj_releasebuffer(L, &b);  /* release before raising */
    return luaL_error(L, "cmodule.sum: unknown format '%s'", b.format);
  }
  for (i = 0; i < b.count; i++) total += item(&b, i);
  memobj_releasebuffer(L, &b);
  lua_pushnumber(L, total);
  return 1;
}

/* format, itemsize, count, stride of the buffer of x. */
static int describe(lua_State *L) {
  memobj_buffer b;
  memobj_getbuffer(L, 1, &b, MEMOBJ_READ | MEMOBJ_STRIDED, "cmodule.describe");
  lua_pushstring(L, b.format);
  lua_pushinteger(L, (lua_Integer)b.itemsize);
  lua_pushinteger(L, (lua_Integer)b.count);
  lua_pushinteger(L, (lua_Integer)b.stride);
  memobj_releasebuffer(L, &b);
  return 4;
}

/* A lock held by a userdata: released by :release(), <close> or __gc. */
typedef struct hold { memobj_buffer b; int held; } hold;

static int hold_release(lua_State *L) {
  hold *h = (hold *)luaL_checkudata(L, 1, "cmodule.hold");
  if (h->held) memobj_releasebuffer(L, &h->b);
  h->held = 0;
  return 0;
}

/* Write `byte` over the whole held buffer. */
static int hold_fill(lua_State *L) {
  hold *h = (hold *)luaL_checkudata(L, 1, "cmodule.hold");
  int byte = (int)luaL_checkinteger(L, 2);
  size_t i;
  luaL_argcheck(L, h->held && h->b.writable, 1, "not a writable held buffer");
  memobj_tx_add(L, &h->b, 0, h->b.len);
  for (i = 0; i < h->b.len; i++) h->b.ptr[i] = (unsigned char)byte;
  return 0;
}

static int hold_new(lua_State *L) {
  int write = lua_toboolean(L, 2);
  hold *h = (hold *)lua_newuserdatauv(L, sizeof(hold), 1);
  h->held = 0;
  luaL_setmetatable(L, "cmodule.hold");
  lua_pushvalue(L, 1);          /* keep the object alive with the lock */
  lua_setiuservalue(L, -2, 1);
  memobj_getbuffer(L, 1, &h->b, write ? MEMOBJ_WRITE : MEMOBJ_READ,
                   "cmodule.hold");
  h->held = 1;
  return 1;
}

/*
** A memory kind of this module (memobj_kind_info): cmodule.block(n) is a
** memory object of kind "cblock" over n bytes that this module mallocs.
** memobj makes and checks the object, locks it for views and refuses
** close while they are attached; the module only owns the bytes.
*/
typedef struct block {
  size_t n;
  unsigned char bytes[];
} block;

static int released[2];  /* release calls: by close, by the collector */

static void block_release(void *ctx, int collected) {
  free(ctx);
  released[collected != 0]++;
}

static const memobj_kind_info block_kind;

/* m:cblock_size(): the size this module recorded (a method of the kind:
** every memory object has it, and it checks its object) */
static int block_size(lua_State *L) {
  block *b = (block *)memobj_checkmemory(L, 1, &block_kind);
  lua_pushinteger(L, (lua_Integer)b->n);
  return 1;
}

static const luaL_Reg block_methods[] = {{"cblock_size", block_size},
                                         {NULL, NULL}};
static const memobj_kind_info block_kind = {"cblock", "volatile",
                                            block_release, block_methods};

/* cmodule.block(n): register the kind in this state once, push a closed
** object, get the bytes, publish */
static int block_new(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  block *b;
  luaL_argcheck(L, n >= 0 && n < ((lua_Integer)1 << 40), 1, "bad size");
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &block_kind) == LUA_TNIL)
    memobj_newkind(L, &block_kind);
  lua_pushboolean(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &block_kind);
  memobj_newmemory(L, &block_kind);
  if ((b = (block *)calloc(1, sizeof *b + (size_t)n)) == NULL)
    return luaL_error(L, "cmodule.block: not enough memory");
  b->n = (size_t)n;
  memobj_openmemory(L, -1, b->bytes, b->n, 1, b);
  return 1;
}

/* cmodule.released() -> release calls by close, by the collector */
static int block_released(lua_State *L) {
  lua_pushinteger(L, released[0]);
  lua_pushinteger(L, released[1]);
  return 2;
}

/* cmodule.newkind(name): register a kind of this name (to see a taken
** name refused) */
static int newkind_named(lua_State *L) {
  static memobj_kind_info k = {NULL, "volatile", block_release, NULL};
  k.name = "heap";
  luaL_argcheck(L, strcmp(luaL_checkstring(L, 1), "heap") == 0, 1, "only 'heap'");
  memobj_newkind(L, &k);
  return 0;
}

int luaopen_cmodule(lua_State *L);  /* what require calls */

int luaopen_cmodule(lua_State *L) {
  static const luaL_Reg hold_methods[] = {
    {"release", hold_release}, {"fill", hold_fill}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {
    {"checksum", checksum}, {"hold", hold_new}, {"sum", sum},
    {"describe", describe}, {"block", block_new}, {"released", block_released},
    {"newkind", newkind_named}, {NULL, NULL}};
  luaL_newmetatable(L, "cmodule.hold");
  luaL_newlib(L, hold_methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, hold_release);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, hold_release);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}

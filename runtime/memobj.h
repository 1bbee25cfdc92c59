/*
** memobj.h: the public C API of memobj (memory objects for Lua 5.4).
** A C module built separately includes only this header: the API is a
** versioned table of function pointers that require("memobj") publishes in
** the Lua registry (the capsule pattern), so there is no link-time
** dependency on memobj.so.
**
** Nothing here shows memobj's internal layout: a buffer refers to the
** runtime's lock record through an opaque handle, so memobj may change its
** memory objects and locks without breaking compiled modules.
*/
#ifndef MEMOBJ_H
#define MEMOBJ_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>

#define MEMOBJ_VERSION "0.3.0"
/* Changes only when a compiled module must be rebuilt (2: opaque lock
** handle, element format). */
#define MEMOBJ_API_VERSION 2
#define MEMOBJ_API_KEY "memobj.api"  /* registry field: light userdata */

/* getbuffer flags */
#define MEMOBJ_READ 0
#define MEMOBJ_WRITE 1    /* the buffer will be written */
#define MEMOBJ_STRIDED 2  /* the module honours `stride`; without it a
                             view whose items are not contiguous is refused */

/*
** A locked buffer: what memobj_getbuffer fills in, as PEP 3118's Py_buffer.
** Item i (0 <= i < count) starts at ptr + i * stride and has itemsize
** bytes, in the layout `format` names in the notation of Python's struct
** module (PEP 3118): a byte order ('<' little, '>' big endian)
** then one letter: b B (int8, uint8), h H (16 bit), i I (32 bit), q Q
** (64 bit), f (float), d (double). Single bytes have no order: "B" is the
** format of a memory object, a byte view, a file view or a Lua string.
** The module only reads the fields; all belong to memobj.
*/
typedef struct memobj_buffer {
  unsigned char *ptr;   /* item 0 (NULL when count is 0) */
  size_t len;           /* bytes the items span: from ptr up, or for a
                           negative stride down to ptr + (count-1) * stride */
  int writable;         /* taken with MEMOBJ_WRITE */
  const char *format;   /* "B", "<d", ">i"...: a static string */
  size_t itemsize;      /* bytes per item */
  size_t count;         /* items */
  ptrdiff_t stride;     /* bytes from one item to the next (== itemsize
                           when contiguous) */
  void *handle;         /* the runtime's lock (opaque; NULL: Lua string) */
  void *reserved[4];    /* room for later members: the layout keeps its size */
} memobj_buffer;

/*
** The function table. New members are only ever added at the end; `size`
** tells a module which ones exist.
*/
struct memobj_kind_info;

typedef struct memobj_api {
  int version;
  size_t size;
  /* Lock the bytes of the memory object, view or Lua string at idx.
  ** flags: MEMOBJ_READ or MEMOBJ_WRITE, plus MEMOBJ_STRIDED. `what` names
  ** the holder in refusal messages. Raises a Lua error when it cannot. The
  ** buffer must be released on every path, before any Lua error unwinds
  ** past it. */
  void (*getbuffer)(lua_State *L, int idx, memobj_buffer *b, int flags,
                    const char *what);
  void (*releasebuffer)(memobj_buffer *b);
  /* Declare that C code is about to write b->ptr[off .. off+len): inside
  ** a transaction the range is undo-logged first. Raises on error. */
  void (*tx_add)(lua_State *L, memobj_buffer *b, size_t off, size_t len);
  /* releasebuffer, then, once this thread holds no other buffer, raise if
  ** the C code touched pages of a mapped file that were lost under it
  ** (truncated by another process, or no space on a full disk): what it
  ** read there was zeros, and what it wrote never reached the file. */
  void (*release)(lua_State *L, memobj_buffer *b);
  /* ---- Memory kinds of C modules (present when size says so) ---- */
  /* Register kind k in this Lua state (once per state; k is static). */
  void (*newkind)(lua_State *L, const struct memobj_kind_info *k);
  /* Push a closed memory object of kind k (raises only when out of
  ** memory); openmemory then publishes it over ptr[0 .. size) with ctx,
  ** which k->release receives once. */
  void (*newmemory)(lua_State *L, const struct memobj_kind_info *k);
  void (*openmemory)(lua_State *L, int idx, void *ptr, size_t size,
                     int writable, void *ctx);
  /* The ctx of the open memory object of kind k at idx; raises when idx
  ** holds none or it is closed. */
  void *(*checkmemory)(lua_State *L, int idx,
                       const struct memobj_kind_info *k);
} memobj_api;

/*
** A memory kind defined by a C module (memobj.mpi's windows are one):
** memobj makes and checks its objects, locks their bytes for views and
** refuses close while views are attached; the module only owns the bytes.
*/
typedef struct memobj_kind_info {
  const char *name;         /* m.kind, unique: a static string */
  const char *persistence;  /* m.persistence: "volatile", "kernel"... */
  /* Free the bytes, once. collected is 0 for m:close() (no view is
  ** attached) and 1 when the garbage collector or the closing Lua state
  ** frees an object that nobody closed. */
  void (*release)(void *ctx, int collected);
  /* Added to the methods of every memory object, as a built-in kind's
  ** are (m:unlink): each checks its object with memobj_checkmemory. */
  const luaL_Reg *methods;
} memobj_kind_info;

/* Fetch the API table; raises if memobj is not loaded or not this version. */
static inline const memobj_api *memobj_getapi(lua_State *L) {
  const memobj_api *api;
  lua_getfield(L, LUA_REGISTRYINDEX, MEMOBJ_API_KEY);
  api = (const memobj_api *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (api == NULL || api->version != MEMOBJ_API_VERSION)
    luaL_error(L, "memobj: C API version %d not available "
                  "(call require('memobj') first)", MEMOBJ_API_VERSION);
  return api;
}

static inline void memobj_getbuffer(lua_State *L, int idx, memobj_buffer *b,
                                    int flags, const char *what) {
  memobj_getapi(L)->getbuffer(L, idx, b, flags, what);
}

static inline void memobj_releasebuffer(lua_State *L, memobj_buffer *b) {
  const memobj_api *api = memobj_getapi(L);
  if (api->size > offsetof(memobj_api, release)) api->release(L, b);
  else api->releasebuffer(b);
}

/* The kind functions of the table, or a Lua error from a memobj that
** predates them. */
static inline const memobj_api *memobj_getkindapi(lua_State *L) {
  const memobj_api *api = memobj_getapi(L);
  if (api->size <= offsetof(memobj_api, checkmemory))
    luaL_error(L, "memobj: this memobj has no memory kinds for C modules "
                  "(needs 0.3)");
  return api;
}

static inline void memobj_newkind(lua_State *L, const memobj_kind_info *k) {
  memobj_getkindapi(L)->newkind(L, k);
}

static inline void memobj_newmemory(lua_State *L, const memobj_kind_info *k) {
  memobj_getkindapi(L)->newmemory(L, k);
}

static inline void memobj_openmemory(lua_State *L, int idx, void *ptr,
                                     size_t size, int writable, void *ctx) {
  memobj_getkindapi(L)->openmemory(L, idx, ptr, size, writable, ctx);
}

static inline void *memobj_checkmemory(lua_State *L, int idx,
                                       const memobj_kind_info *k) {
  return memobj_getkindapi(L)->checkmemory(L, idx, k);
}

static inline void memobj_tx_add(lua_State *L, memobj_buffer *b, size_t off,
                                 size_t len) {
  memobj_getapi(L)->tx_add(L, b, off, len);
}

#endif

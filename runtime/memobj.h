/*
** memobj.h: the public C API of memobj (memory objects for Lua 5.4).
** A C module built separately includes only this header: the API is a
** versioned table of function pointers that require("memobj") publishes in
** the Lua registry (the capsule pattern), so there is no link-time
** dependency on memobj.so.
*/
#ifndef MEMOBJ_H
#define MEMOBJ_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>

#define MEMOBJ_VERSION "0.1.0"
#define MEMOBJ_API_VERSION 1
#define MEMOBJ_API_KEY "memobj.api"  /* registry field: light userdata */

/* lock intent */
#define MEMOBJ_READ 0
#define MEMOBJ_WRITE 1

typedef struct memobj_mem memobj_mem;
typedef struct memobj_kind memobj_kind;

/*
** A lock: one per view or locked C buffer, linked into its memory
** object's list so that a refused resize/close/protect can name every
** holder and check every locked range.
*/
typedef struct memobj_lock {
  struct memobj_lock *prev, *next;
  memobj_mem *mem;
  size_t offset, length;  /* locked byte range */
  int write;              /* taken with write intent */
  const char *what;       /* holder kind, a static string ("array view") */
  char where[80];         /* Lua source:line that took the lock */
} memobj_lock;

/*
** A memory kind is a table of operations. Each returns 0 or an errno
** value; the core validates arguments and locks before calling them, so
** an operation only talks to the operating system or the allocator.
*/
struct memobj_kind {
  const char *name;         /* m.kind */
  const char *persistence;  /* m.persistence */
  const char *label;        /* "path", "name" or NULL: field for uservalue 1 */
  int (*resize)(memobj_mem *m, size_t n);            /* NULL: fixed size */
  void (*release)(memobj_mem *m);                    /* free the bytes, once */
  int (*sync)(memobj_mem *m, size_t off, size_t len);         /* NULL: no-op */
  int (*protect)(memobj_mem *m, int writable);       /* NULL: unsupported */
  int (*advise)(memobj_mem *m, int hint);            /* NULL: no-op */
};

/* Links of the list of a state's live memory objects (runtime). */
typedef struct mo_objlink {
  struct mo_objlink *prev, *next;
} mo_objlink;

/*
** The memory object base. Kinds embed it as the first member of their
** own userdata.
*/
struct memobj_mem {
  uint32_t tag;              /* MO_TAG_MEM, checked before every use */
  uint8_t writable;          /* permission "rw" */
  uint8_t closed;
  uint8_t guarded;           /* writes must call the write hook first */
  uint8_t stat;              /* memobj.stats() state, owned by the runtime */
  unsigned char *ptr;
  size_t size;
  size_t max;                /* reserved capacity for in-place growth, 0: none */
  const memobj_kind *kind;
  unsigned nlocks, nwlocks;  /* views attached, writable ones */
  memobj_lock *locks;        /* list of holders */
  void *tx;                  /* transaction state, owned by the runtime */
  size_t stat_bytes;         /* bytes counted in memobj.stats() */
  mo_objlink link;           /* memobj.objects(), owned by the runtime */
  struct mo_site *site;      /* the Lua line that made it (runtime) */
};

/* A locked buffer: what memobj_getbuffer fills in. */
typedef struct memobj_buffer {
  unsigned char *ptr;
  size_t len;
  int writable;
  memobj_lock lock;          /* lock.mem is NULL for a Lua string */
} memobj_buffer;

/*
** The function table. New members are only ever added at the end; `size`
** tells a module which ones exist.
*/
typedef struct memobj_api {
  int version;
  size_t size;
  /* Lock the bytes of the memory object, view or Lua string at idx.
  ** flags: MEMOBJ_READ or MEMOBJ_WRITE. `what` names the holder in
  ** refusal messages. Raises a Lua error when it cannot. The buffer must
  ** be released on every path, before any Lua error unwinds past it. */
  void (*getbuffer)(lua_State *L, int idx, memobj_buffer *b, int flags,
                    const char *what);
  void (*releasebuffer)(memobj_buffer *b);
  /* Declare that C code is about to write b->ptr[off .. off+len): inside
  ** a transaction the range is undo-logged first. Raises on error. */
  void (*tx_add)(lua_State *L, memobj_buffer *b, size_t off, size_t len);
} memobj_api;

/* Fetch the API table; raises if memobj is not loaded or too old. */
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
  memobj_getapi(L)->releasebuffer(b);
}

static inline void memobj_tx_add(lua_State *L, memobj_buffer *b, size_t off,
                                 size_t len) {
  memobj_getapi(L)->tx_add(L, b, off, len);
}

#endif

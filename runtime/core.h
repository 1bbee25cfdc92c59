/*
** core.h: memobj's internal core shared by memory kinds and access
** objects: object tags, the view base, locking, and the write guard.
*/
#ifndef MO_CORE_H
#define MO_CORE_H

#include <signal.h>
#include <sys/types.h>
#include <lua.h>
#include <lauxlib.h>
#include "object.h"

#define MO_LIKELY(x) __builtin_expect(!!(x), 1)
#define MO_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Tags: the first word of every memobj userdata. Lua code cannot forge
** them, so a tag plus the userdata size identifies an object cheaply.
** The values in use are kept together here so that they never collide;
** which tags are views the runtime learns from mo_view_new (view.c). */
#define MO_TAG_MEM 0x4d454d4fu
#define MO_TAG_ARRAY 0x41525259u
#define MO_TAG_BYTES 0x42595453u
#define MO_TAG_FILE 0x46494c45u
#define MO_TAG_RECORDS 0x52454353u

/* ---- Memory objects (runtime/memory.c) ---- */

/* Push a new memory object of kind k; udsize >= sizeof(memobj_mem). The
** object has one user value (kind-specific Lua value: string, path...). */
memobj_mem *mo_mem_new(lua_State *L, const memobj_kind *k, size_t udsize);
memobj_mem *mo_tomem(lua_State *L, int idx);            /* NULL if not one */
memobj_mem *mo_checkmem(lua_State *L, int idx);         /* open one, or raise */
/* Add methods (bytes, array, file...) to every memory object. */
void mo_mem_addmethods(lua_State *L, const luaL_Reg *l);
/* Raise "memobj: <op>: <strerror(err)>". */
int mo_oserror(lua_State *L, const char *op, int err);
/* Return nil, message, errno as io.open does; `what` prefixes the message. */
int mo_failresult(lua_State *L, const char *what, int err);
/* Read an optional size option field from table at idx (0 if absent). */
size_t mo_optsize_field(lua_State *L, int idx, const char *field, size_t def);
int mo_optbool_field(lua_State *L, int idx, const char *field, int def);
/* Raise unless the options at idx are nil or a table of known keys only. */
void mo_checkoptions(lua_State *L, int idx, const char *const known[]);
/* The option `mode` of the table at idx: its index in the NULL-terminated
** list modes, or def when absent; anything else raises the one message
** "unknown mode 'x' (expected "r" or "rw")" against argument idx. */
int mo_optmode_field(lua_State *L, int idx, const char *const modes[],
                     int def);
/* Check an integer argument that is a size or offset in bytes. */
size_t mo_checksize(lua_State *L, int arg);

/* ---- Locks (runtime/lock.c) ---- */
void mo_lock(lua_State *L, memobj_mem *m, memobj_lock *lk, size_t off,
             size_t len, int write, const char *what);
void mo_unlock(memobj_lock *lk);
/* Raise, naming every holder, if m is locked for operation `op`. With
** newsize != SIZE_MAX, holders whose ranges fit in newsize are allowed
** when the memory has reserved space (`max`). Before refusing it runs a
** full collection (garbage views hold locks), so a finalizer may have
** closed m when it returns: callers check. */
void mo_refuse_if_locked(lua_State *L, memobj_mem *m, const char *op,
                         int writers_only, size_t newsize);

/* ---- Views (runtime/view.c) ---- */
typedef struct mo_view {
  uint32_t tag;
  uint8_t released;
  uint8_t readonly;
  uint8_t strided;     /* elements not contiguous: not a byte range source */
  unsigned char *ptr;  /* mem->ptr + offset: memory cannot move while locked */
  size_t offset;       /* from the start of the memory object */
  size_t length;       /* bytes */
  size_t count;        /* items (elements, bytes); 0 once released, so
                          the bounds check of the hot path also catches
                          released views */
  memobj_mem *mem;
  memobj_lock lock;
} mo_view;

/* What a view constructor was given, resolved to a memory object. */
typedef struct mo_source {
  memobj_mem *mem;
  int memidx;          /* stack index of the memory object */
  size_t offset;       /* start of the source range within mem */
  size_t length;
  int readonly;        /* the source view or memory is read-only */
} mo_source;

/*
** The bytes of the memory object, view or Lua string at idx: the one
** resolver every argument that takes bytes goes through. Pushes nothing
** and creates nothing. Returns 1, or 0 if idx holds none of these, or -1
** for a closed memory object or a released view (`dead` says which, for
** the caller's message; mo_checkbytes raises it).
*/
typedef struct mo_bytesrc {
  memobj_mem *mem;            /* NULL for a Lua string */
  mo_view *view;              /* the view at idx, or NULL */
  const unsigned char *ptr;   /* NULL only when length is 0 */
  size_t offset, length;      /* the range within mem */
  int readonly;               /* a string, read-only view or memory */
  const char *dead;           /* "memory object is closed", "view is released" */
} mo_bytesrc;
int mo_tobytes(lua_State *L, int idx, mo_bytesrc *b);
/* mo_tobytes, raising "memobj: <dead>" for a closed or released one;
** returns 0 if idx holds none of these. */
int mo_checkbytes(lua_State *L, int idx, mo_bytesrc *b);

/* How a view describes its items to the C API (memobj_buffer's format,
** itemsize, count, stride). A view whose items are not bytes puts a light
** userdata pointing to a static mo_bufdesc in its metatable under
** MO_BUFDESC_FIELD; without one the items are bytes ("B"). */
typedef struct mo_bufinfo {
  const char *format;
  size_t itemsize, count;
  ptrdiff_t stride;
  size_t first;        /* bytes from the view's start to item 0 (a
                          negative stride puts item 0 at the end) */
} mo_bufinfo;
typedef struct mo_bufdesc {
  void (*describe)(const mo_view *v, mo_bufinfo *out);
} mo_bufdesc;
#define MO_BUFDESC_FIELD "__memobj_buffer"
/* Put d into the view metatable registered at mtkey. */
void mo_view_setbufdesc(lua_State *L, const void *mtkey, const mo_bufdesc *d);

/* Resolve the memory object, view or Lua string at idx. Always pushes one
** value: the memory object (a string memory for a Lua string). Returns 0
** if idx holds none of these. */
int mo_tosource(lua_State *L, int idx, mo_source *s);
void mo_checksource(lua_State *L, int idx, mo_source *s);
/* Parse an optional view mode ("r" / "rw") at arg; returns readonly. */
int mo_checkviewmode(lua_State *L, int arg, const mo_source *s);
/* Create a view userdata of udsize bytes with the metatable in the
** registry at mtkey, attach it to s->mem over [off, off+len), lock it. */
mo_view *mo_view_new(lua_State *L, size_t udsize, uint32_t tag,
                     const void *mtkey, const mo_source *s, size_t off,
                     size_t len, int readonly, const char *what);
/* The view at idx with this tag, or NULL. */
mo_view *mo_toview(lua_State *L, int idx, uint32_t tag);
/* The live view at idx, or raise. */
mo_view *mo_checkview(lua_State *L, int idx, uint32_t tag, const char *tname);
void mo_view_release(mo_view *v);
/* Push a common view field (memory, offset, length, readonly, released)
** named k; returns 0 if k is not one. */
int mo_view_field(lua_State *L, int idx, mo_view *v, const char *k);
void mo_checkwritable(lua_State *L, mo_view *v);
/* Build and register a view metatable: methods (plus release) are upvalue 1
** of `index`; meta adds metamethods; __gc and __close release. */
void mo_view_newmeta(lua_State *L, const void *mtkey, const luaL_Reg *methods,
                     const luaL_Reg *meta, lua_CFunction index);
/* Add methods to the view metatable registered at mtkey. */
void mo_view_addmethods(lua_State *L, const void *mtkey, const luaL_Reg *l);
/* Raise "bad argument #k to 'f' (no value expected)" for a non-nil
** argument after `last`: no function ignores an argument it was given. */
void mo_noextra(lua_State *L, int last);
/* 1-based inclusive range i..j over n items, clamped like string.sub. */
void mo_range(lua_Integer i, lua_Integer j, size_t n, size_t *from,
              size_t *to);

/* ---- Call-scope pins (runtime/pin.c) ----
** The rule: a memobj C function never uses a pointer into a memory
** object (v->ptr, m->ptr, a length) across anything that can run Lua code
** (an allocation can run the collector and so any finalizer; a callback
** runs Lua code), unless something guarantees it:
** - a live view guarantees its own bytes (its lock: close and resize
**   refuse, writers refuse protect("r")). So after an allocation, check the
**   view again (mo_checkview, or v->released) and read v->ptr again; a
**   memory object used directly has no lock: fetch its pointer again. This
**   costs nothing, and is what the short methods do.
** - a pin guarantees the memory while Lua code runs or a loop allocates
**   with pointers held (b:gsub): close, resize, protect, begin, commit and
**   abort refuse pinned memory, and a view released meanwhile leaves its
**   bytes in place. A pin is a to-be-closed stack slot (about 200 ns), so
**   it ends when the C function returns or an error unwinds it. Each call
**   pushes one slot: take pins after reading varargs counts (lua_gettop),
**   and never move or remove that slot. */
void mo_pin(lua_State *L, int memidx);       /* the memory object at memidx */
/* The live view at idx with this tag (0: any view), its memory pinned;
** raises as mo_checkview does. top > 0: lua_settop(L, top) first, so
** that absent optional arguments stay none/nil below the pin's slot. */
mo_view *mo_pinview(lua_State *L, int idx, int top, uint32_t tag,
                    const char *tname);
/* Pin the memory of the memory object or live view at idx, if it is one
** (pushes nil otherwise: always one slot). */
void mo_pinarg(lua_State *L, int idx);
/* Raise "memobj: <op>: memory is in use by a running call" if pinned. */
void mo_refuse_if_pinned(lua_State *L, memobj_mem *m, const char *op);
void mo_pin_open(lua_State *L);

/* ---- Write guard: transactions and persistent memory ---- */
/* Called before a write to m->ptr[off .. off+len) when m->guarded is set
** (runtime/tx.c: it undo-logs the range, or raises). A plain function, not
** a settable hook: no process-wide state that two Lua states could fight
** over, and other memory pays one branch. */
void mo_tx_write(lua_State *L, memobj_mem *m, size_t off, size_t len);
static inline void mo_prewrite(lua_State *L, memobj_mem *m, size_t off,
                               size_t len) {
  if (MO_UNLIKELY(m->guarded)) mo_tx_write(L, m, off, len);
}

/* ---- Faults (runtime/fault.c) ---- */
/* Set by the fault handler in the thread whose access touched lost pages
** of a mapped file (truncated by another process, or no space for a
** sparse page); every access checks it afterwards (one load) and raises.
** Thread-local, so a fault is raised by the access that took it. */
extern _Thread_local __attribute__((tls_model("initial-exec")))
volatile sig_atomic_t mo_fault_pending;
int mo_fault_raise(lua_State *L);
static inline void mo_fault_check(lua_State *L) {
#ifndef MO_NO_FAULT_CHECK  /* defined only by bench/mmap_scan.lua, which
                              measures what this check costs */
  if (MO_UNLIKELY(mo_fault_pending)) mo_fault_raise(L);
#else
  (void)L;
#endif
}
/* Take this thread's pending fault if it lies in [addr, addr+len), for a
** path that raises its own error or cannot raise (a finalizer): what
** happened ("access to pages lost by ..."), or NULL if nothing did. The
** lost pages keep raising for later accesses either way. */
const char *mo_fault_take(const void *addr, size_t len);
/* Why [addr, addr+len) has lost pages ("access to pages lost by ..."),
** or NULL: for C code about to read them without the handler's help. */
const char *mo_fault_lost_at(const void *addr, size_t len);
/*
** The ranges the fault handler may patch (file and shared mappings).
** register returns a slot number, or -1 only when out of memory (the
** registry has no fixed size; it installs the handler on first use);
** the others take that number and ignore -1. describe names the file
** behind the range (fd and the file offset of addr; shared: a MAP_SHARED
** map, which loses every page past the end of its file at once) so that
** a fault can say why the page was lost. After an
** mprotect of the range, rearm makes the lost pages inaccessible again;
** after mapping the file anew over the range, recover forgets them.
** lost returns 0 when [off, off+len) of the range has no lost page
** (len SIZE_MAX: to the end), else ENOSPC or EIO (what a sync should
** say); lostrange gives the lost pages as offsets [*lo, *hi) from the
** start (0 and 0: none).
*/
int mo_fault_register(void *addr, size_t len);
void mo_fault_describe(int slot, int fd, off_t foff, int shared);
void mo_fault_update(int slot, void *addr, size_t len);
void mo_fault_unregister(int slot);
void mo_fault_rearm(int slot);
void mo_fault_recover(int slot);
int mo_fault_lost(int slot, size_t off, size_t len);
void mo_fault_lostrange(int slot, size_t *lo, size_t *hi);

/* ---- Module openers, called by luaopen_memobj ---- */
void mo_memory_open(lua_State *L);       /* runtime/memory.c */
void mo_capi_open(lua_State *L);         /* runtime/capi.c */
/* runtime/capi_kind.c: memory kinds of C modules (memobj.h) */
struct memobj_kind_info;
void mo_capi_newkind(lua_State *L, const struct memobj_kind_info *k);
void mo_capi_newmemory(lua_State *L, const struct memobj_kind_info *k);
void mo_capi_openmemory(lua_State *L, int idx, void *ptr, size_t size,
                        int writable, void *ctx);
void *mo_capi_checkmemory(lua_State *L, int idx,
                          const struct memobj_kind_info *k);
void mo_runtime_open(lua_State *L);      /* runtime/rtlib.c: stats, debug,
                                            set_allocator, trace */

/* ---- Kind registry (runtime/kinds.c) ---- */

/* What the core may ask of some kind without naming it. */
enum {
  MO_ROLE_NONE,
  MO_ROLE_STRING,  /* make(L, idx): read-only, zero-copy memory over the
                      Lua string at idx */
  MO_ROLE_ZEROED   /* make(L, idx): n zeroed writable bytes, n the integer
                      at idx (what memobj.array(type, n) allocates) */
};

/* flags */
#define MO_KIND_NOT_OURS 1u  /* the bytes are not obtained by memobj (a Lua
                                string's, C code's): stats().lua.outside
                                leaves them out */

/* A kind's registration. Everything but kind may be NULL or 0. */
typedef struct mo_kinddesc {
  const memobj_kind *kind;      /* name, persistence, operations */
  lua_CFunction ctor;           /* becomes memobj.<name> */
  const luaL_Reg *methods;      /* added to every memory object */
  int role;                     /* MO_ROLE_* */
  memobj_mem *(*make)(lua_State *L, int idx);  /* for the role; pushes */
  void (*pushstats)(lua_State *L);  /* adds fields to stats().<name> (the
                                       table is at the top) */
  unsigned flags;               /* MO_KIND_* */
  /* A field of the kind's objects (m.fd): push it and return 1, or
  ** return 0 if k is not one. Called on open objects only. */
  int (*field)(lua_State *L, memobj_mem *m, const char *k);
} mo_kinddesc;

/* Register a kind: the module table is at the top of the stack (ctor is
** set there). Raises only when out of memory. */
void mo_kind_register(lua_State *L, const mo_kinddesc *d);
/* A kind known by name before it registers or makes its first object
** (bindings list their kinds, so stats() shows each from the start). */
void mo_kind_declare(lua_State *L, const char *name);
/* The descriptor of kind k, or NULL if it did not register one. */
const mo_kinddesc *mo_kind_desc(const memobj_kind *k);
/* Push memory over the Lua string at idx / n zeroed bytes, made by the
** kind registered for that role; raise if none is or it fails. */
memobj_mem *mo_mem_from_string(lua_State *L, int idx);
memobj_mem *mo_mem_zeroed(lua_State *L, size_t n);

/* The C function behind a callable Lua value (memobj.ffi registers the
** resolver): its address, *onepointer set when it takes exactly one
** pointer argument; NULL when idx holds no such value. */
typedef void *(*mo_cfunc_resolver)(lua_State *L, int idx, int *onepointer);
void mo_set_cfunc_resolver(mo_cfunc_resolver r);
void *mo_cfunc_addr(lua_State *L, int idx, int *onepointer);

/* Record "source:line" of the running Lua code into buf. */
void mo_where(lua_State *L, char *buf, size_t size);

#endif

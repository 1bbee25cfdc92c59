/*
** kinds.h: the kind registry (kinds.c) and the C-API table (capi.c): a
** core that names no kind
*/
#ifndef MO_KINDS_H
#define MO_KINDS_H

#include "base.h"

/* ---- Kind registry (runtime/core/kinds.c) ---- */

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

/* ---- The kind registry's nodes (runtime/core/kinds.c) ---- */

struct mo_txhooks;
/* One per kind, in registration order; never freed. Fields other than
** name are read with acquire loads (set once, under the registry lock). */
typedef struct mo_kindnode {
  const char *name;
  const memobj_kind *kind;          /* NULL until registered or first used */
  const mo_kinddesc *desc;          /* NULL: the kind registered none */
  const struct mo_txhooks *tx;      /* durable commit hooks (tx.c) */
  size_t count, bytes, peak;        /* stats (MO_COUNT_ADD) */
  struct mo_kindnode *next;
} mo_kindnode;

mo_kindnode *mo_kind_first(void);
mo_kindnode *mo_kind_next(const mo_kindnode *n);
/* The node of k, added if new; NULL only when out of memory. */
mo_kindnode *mo_kind_node(const memobj_kind *k);
/* Set k's transaction hooks; -1 when out of memory. */
int mo_kind_settx(const memobj_kind *k, const struct mo_txhooks *h);

void mo_capi_open(lua_State *L);         /* runtime/core/capi.c */
/* runtime/core/capi_kind.c: memory kinds of C modules (memobj.h) */
struct memobj_kind_info;
void mo_capi_newkind(lua_State *L, const struct memobj_kind_info *k);
void mo_capi_newmemory(lua_State *L, const struct memobj_kind_info *k);
void mo_capi_openmemory(lua_State *L, int idx, void *ptr, size_t size,
                        int writable, void *ctx);
void *mo_capi_checkmemory(lua_State *L, int idx,
                          const struct memobj_kind_info *k);

#endif

/*
** mpi.h: the parts of memobj.mpi (build/memobj/mpi.so). The module is
** built apart from memobj.so, which never depends on libmpi: it reaches
** memobj only through the public C API (runtime/memobj.h), as any
** third-party module would: views are locked with memobj_getbuffer and
** windows are memory objects of a kind registered with memobj_newkind.
*/
#ifndef MO_MPI_H
#define MO_MPI_H

#include <mpi.h>
#include "../../runtime/memobj.h"

/* The communicator of every call (errors return: MPI_ERRORS_RETURN). */
#define MP_COMM MPI_COMM_WORLD
/* mpi.ANY: any source in recv, any tag */
#define MP_ANY (-1)

/* The API table of memobj, fetched once at luaopen (static data of
** memobj.so: the same for every Lua state of the process). */
extern const memobj_api *mp_api;

/*
** A view as an MPI message: its locked buffer, the datatype and count to
** give MPI, and the element type for the other side of a window
** operation (contiguous items).
*/
typedef struct mp_msg {
  memobj_buffer b;
  MPI_Datatype type;   /* what MPI is given with ptr */
  int count;
  MPI_Datatype elem;   /* one item (MPI_BYTE for bytes, records and
                          items in the other byte order) */
  int ecount;          /* items of elem the message holds */
  int arith;           /* elem is a native number: arithmetic reductions */
  int derived;         /* type was made here: freed with the message */
} mp_msg;

/* flags for mp_getmsg, beside MEMOBJ_READ / MEMOBJ_WRITE */
#define MP_NOSTRING 0x100  /* the lock outlives the call: a Lua string
                              cannot be locked, so it is refused */

/* Lock the view at idx (or nil when nilok) and describe it. Raises. */
void mp_getmsg(lua_State *L, int idx, mp_msg *m, int flags, const char *what);
/* Unlock and free what mp_getmsg made; no Lua (safe in finalizers). */
void mp_dropmsg(mp_msg *m);
/* mp_dropmsg, then raise a fault on lost mapped pages (memobj_release). */
void mp_releasemsg(lua_State *L, mp_msg *m);
/* Raise "memobj.mpi: <op>: <MPI's error string>" after the caller has
** released what it holds. */
int mp_error(lua_State *L, const char *op, int err);
/* op name ("sum"...) at arg to an MPI_Op; arith: whether it needs numbers */
MPI_Op mp_checkop(lua_State *L, int arg, int *arith);
/* A rank argument (mpi.ANY allowed when any) */
int mp_checkrank(lua_State *L, int arg, int any);
/* Requests the collector dropped before they completed, kept (with
** their locks) in this state's list until MPI is done with them: test
** them (wait = 0) or wait for them (at the state's close). */
void mp_requests_sweep(lua_State *L, int wait);
/* Declare a write to the whole buffer of m (undo-logged inside a
** transaction); on error m and other (if not NULL) are released and the
** error raised. */
void mp_prewrite(lua_State *L, mp_msg *m, mp_msg *other);
/*
** Two messages (a collective's source and destination) held in a
** to-be-closed userdata: whatever raises between taking the first and
** releasing both, the slot's __close unlocks what is held.
*/
/* The userdata at idx if it is the module's own of this tag and size,
** else NULL: its identity is in bytes only C writes, which Lua code
** (debug.setmetatable, a finalizer called by hand) cannot forge. */
static inline void *mp_toud(lua_State *L, int idx, uint32_t tag, size_t size) {
  void *p = lua_touserdata(L, idx);
  if (p == NULL || lua_type(L, idx) != LUA_TUSERDATA ||
      lua_rawlen(L, idx) != size || *(const uint32_t *)p != tag)
    return NULL;
  return p;
}

#define MP_TAG_PAIR 0x4d504150u  /* "MPAP" */
#define MP_TAG_REQ 0x4d505251u   /* "MPRQ" */
#define MP_TAG_DROP 0x4d504452u  /* "MPDR" */

typedef struct mp_pair {
  uint32_t tag;        /* MP_TAG_PAIR */
  mp_msg m[2];
  int held[2];
} mp_pair;
mp_pair *mp_newpair(lua_State *L);                  /* pushes it */
void mp_pairget(lua_State *L, mp_pair *p, int k, int idx, int flags,
                const char *what);                  /* lock into m[k] */
void mp_pairrelease(lua_State *L, mp_pair *p);      /* both, fault check */
/* MPI is up (between init and finalize); raise otherwise */
void mp_checklive(lua_State *L);
int mp_islive(void);

/* openers: each adds its functions to the module table at the top */
void mp_p2p_open(lua_State *L);
void mp_coll_open(lua_State *L);
void mp_window_open(lua_State *L);
/* Free the windows still allocated (at finalize), in creation order. */
void mp_windows_free(void);

#endif

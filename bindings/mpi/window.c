/*
** window.c: MPI windows as memory objects of kind "mpi", registered
** through memobj's C API like any kind (one file, one registration:
** memobj_newkind), so every view works on them and the buffer-locking
** protocol holds: close is refused while views are attached.
**
** mpi.window(size [, {shared = true}]) is collective (MPI_Win_allocate,
** MPI_Win_allocate_shared). put, get and accumulate lock their origin
** view until the operation is complete: the next fence, or unlock or
** flush of that rank. w:peer(rank) of a shared window is a memory object
** over that rank's part; it locks the window, so the window cannot be
** freed under it. w:close() is collective (MPI_Win_free); a window the
** collector finds open is freed when MPI finalizes, in the order the
** windows were made, since every rank must free it at the same point.
*/
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "mpi.h"

/* An origin buffer MPI may still read or write. */
typedef struct pend {
  mp_msg m;
  int rank;
  struct pend *next;
} pend;

typedef struct mp_win {
  int peer;                /* a peer part (w:peer), not a window */
  /* a window */
  MPI_Win win;
  int shared, nranks, freed;
  MPI_Aint *sizes;         /* bytes of every rank's part */
  pend *pending;
  struct mp_win *next;     /* windows in the order they were made */
  /* a peer part */
  memobj_buffer hold;      /* its lock on the window's memory */
} mp_win;

static mp_win *windows;
static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;

static void drop_pending(mp_win *w, int rank) {
  pend **p = &w->pending, *x;
  while ((x = *p) != NULL) {
    if (rank < 0 || x->rank == rank) {
      *p = x->next;
      mp_dropmsg(&x->m);
      free(x);
    } else {
      p = &x->next;
    }
  }
}

/* MPI_Win_free, the buffers it used, the list entry. */
static void win_free(mp_win *w) {
  mp_win **p;
  if (!w->freed && mp_islive()) MPI_Win_free(&w->win);
  w->freed = 1;
  drop_pending(w, -1);
  pthread_mutex_lock(&list_lock);
  for (p = &windows; *p && *p != w; p = &(*p)->next) {}
  if (*p) *p = w->next;
  pthread_mutex_unlock(&list_lock);
  free(w->sizes);
  free(w);
}

static void win_release(void *ctx, int collected) {
  mp_win *w = (mp_win *)ctx;
  if (w->peer) {
    mp_api->releasebuffer(&w->hold);
    free(w);
  } else if (!collected) {
    win_free(w);  /* m:close(), collective */
  }
  /* collected: MPI_Win_free is collective, the collector is not; the
  ** window stays in the list for mp_windows_free */
}

void mp_windows_free(void) {
  for (;;) {
    mp_win *w;
    pthread_mutex_lock(&list_lock);
    w = windows;
    pthread_mutex_unlock(&list_lock);
    if (w == NULL) break;
    win_free(w);
  }
}

/* ---- Methods ---- */

static const memobj_kind_info kind;

static mp_win *checkwin(lua_State *L) {
  mp_win *w = (mp_win *)memobj_checkmemory(L, 1, &kind);
  if (w->peer)
    luaL_error(L, "memobj.mpi: a peer's part is plain memory, not a window");
  mp_checklive(L);
  return w;
}

static void noextra(lua_State *L, int last) {
  if (lua_gettop(L) > last) luaL_argerror(L, last + 1, "no value expected");
}

static int checkwinrank(lua_State *L, mp_win *w, int arg) {
  int r = mp_checkrank(L, arg, 0);
  luaL_argcheck(L, r < w->nranks, arg, "no such rank");
  return r;
}

/* put, get, accumulate: the view at 2 and its target range, checked
** against the size of rank's part before MPI sees it. The view's lock
** moves to the window's pending list when MPI has the operation. */
typedef struct rma {
  mp_win *w;
  int rank;
  MPI_Aint off;
  mp_msg m;
  pend *p;
} rma;

static void rma_begin(lua_State *L, rma *a, int flags, const char *what) {
  lua_Integer off;
  size_t bytes, room;
  a->w = checkwin(L);
  a->rank = checkwinrank(L, a->w, 3);
  off = luaL_checkinteger(L, 4);
  luaL_argcheck(L, off >= 0, 4, "must be a non-negative integer");
  a->off = (MPI_Aint)off;
  mp_getmsg(L, 2, &a->m, flags | MP_NOSTRING, what);
  bytes = a->m.b.count * a->m.b.itemsize;
  room = (size_t)a->w->sizes[a->rank];
  if ((lua_Unsigned)off > room || bytes > room - (size_t)off) {
    mp_dropmsg(&a->m);
    luaL_error(L, "memobj.mpi: %s: %I bytes at offset %I are beyond rank %d's "
                  "%I bytes", what, (lua_Integer)bytes, off, a->rank,
               (lua_Integer)room);
  }
  if (flags & MEMOBJ_WRITE) mp_prewrite(L, &a->m, NULL);
  if ((a->p = (pend *)malloc(sizeof *a->p)) == NULL) {
    mp_dropmsg(&a->m);
    luaL_error(L, "memobj.mpi: %s: not enough memory", what);
  }
}

/* MPI has it (err == MPI_SUCCESS): keep the lock until the operation
** completes; else unlock and raise. */
static int rma_end(lua_State *L, rma *a, int err, const char *what) {
  if (err != MPI_SUCCESS) {
    mp_dropmsg(&a->m);
    free(a->p);
    return mp_error(L, what, err);
  }
  a->p->m = a->m;
  a->p->rank = a->rank;
  a->p->next = a->w->pending;
  a->w->pending = a->p;
  return 0;
}

/* w:put(v, rank, offset) */
static int w_put(lua_State *L) {
  rma a;
  noextra(L, 4);
  rma_begin(L, &a, MEMOBJ_READ, "put");
  return rma_end(L, &a, MPI_Put(a.m.b.ptr, a.m.count, a.m.type, a.rank, a.off,
                                a.m.ecount, a.m.elem, a.w->win), "put");
}

/* w:get(v, rank, offset) */
static int w_get(lua_State *L) {
  rma a;
  noextra(L, 4);
  rma_begin(L, &a, MEMOBJ_WRITE, "get");
  return rma_end(L, &a, MPI_Get(a.m.b.ptr, a.m.count, a.m.type, a.rank, a.off,
                                a.m.ecount, a.m.elem, a.w->win), "get");
}

/* w:accumulate(v, rank, offset, op) */
static int w_accumulate(lua_State *L) {
  rma a;
  int arith;
  MPI_Op op = mp_checkop(L, 5, &arith);
  noextra(L, 5);
  rma_begin(L, &a, MEMOBJ_READ, "accumulate");
  if (arith && !a.m.arith) {
    mp_dropmsg(&a.m);
    free(a.p);
    return luaL_error(L, "memobj.mpi: accumulate: arithmetic needs a typed "
                         "array of numbers in this machine's byte order");
  }
  return rma_end(L, &a, MPI_Accumulate(a.m.b.ptr, a.m.count, a.m.type, a.rank,
                                       a.off, a.m.ecount, a.m.elem, op,
                                       a.w->win), "accumulate");
}

/* w:fence(): ends the epoch everywhere; every origin view is free */
static int w_fence(lua_State *L) {
  mp_win *w = checkwin(L);
  int err;
  noextra(L, 1);
  if ((err = MPI_Win_fence(0, w->win)) != MPI_SUCCESS)
    return mp_error(L, "fence", err);
  drop_pending(w, -1);
  return 0;
}

/* w:lock(rank [, "shared" | "exclusive"]) */
static int w_lock(lua_State *L) {
  static const char *const types[] = {"shared", "exclusive", NULL};
  mp_win *w = checkwin(L);
  int rank = checkwinrank(L, w, 2);
  int excl = luaL_checkoption(L, 3, "shared", types);
  int err;
  noextra(L, 3);
  err = MPI_Win_lock(excl ? MPI_LOCK_EXCLUSIVE : MPI_LOCK_SHARED, rank, 0, w->win);
  if (err != MPI_SUCCESS) return mp_error(L, "lock", err);
  return 0;
}

/* w:unlock(rank): the operations to rank are complete here and there */
static int w_unlock(lua_State *L) {
  mp_win *w = checkwin(L);
  int rank = checkwinrank(L, w, 2);
  int err;
  noextra(L, 2);
  if ((err = MPI_Win_unlock(rank, w->win)) != MPI_SUCCESS)
    return mp_error(L, "unlock", err);
  drop_pending(w, rank);
  return 0;
}

/* w:flush([rank]): complete the operations to rank (all ranks: none) */
static int w_flush(lua_State *L) {
  mp_win *w = checkwin(L);
  int rank = lua_isnoneornil(L, 2) ? -1 : checkwinrank(L, w, 2);
  int err;
  noextra(L, 2);
  err = rank < 0 ? MPI_Win_flush_all(w->win) : MPI_Win_flush(rank, w->win);
  if (err != MPI_SUCCESS) return mp_error(L, "flush", err);
  drop_pending(w, rank);
  return 0;
}

/* w:peer(rank): the part of rank in a shared window, as memory */
static int w_peer(lua_State *L) {
  mp_win *w = checkwin(L), *p;
  int rank = checkwinrank(L, w, 2), err, unit = 0;
  MPI_Aint size = 0;
  void *base = NULL;
  memobj_buffer hold;
  noextra(L, 2);
  if (!w->shared)
    return luaL_error(L, "memobj.mpi: peer: the window was not made with shared = true");
  if ((err = MPI_Win_shared_query(w->win, rank, &size, &unit, &base)) != MPI_SUCCESS)
    return mp_error(L, "peer", err);
  memobj_newmemory(L, &kind);  /* closed until opened below */
  mp_api->getbuffer(L, 1, &hold, MEMOBJ_READ, "mpi peer");  /* w stays */
  if ((p = (mp_win *)calloc(1, sizeof *p)) == NULL) {
    mp_api->releasebuffer(&hold);
    return luaL_error(L, "memobj.mpi: peer: not enough memory");
  }
  p->peer = 1;
  p->hold = hold;
  memobj_openmemory(L, -1, size ? base : NULL, (size_t)size, 1, p);
  return 1;
}

/* ---- mpi.window ---- */

/* mpi.window(size [, {shared = true}]): collective */
static int l_window(lua_State *L) {
  lua_Integer size = luaL_checkinteger(L, 1);
  int shared = 0, err, n = 1;
  mp_win *w, **tail;
  MPI_Aint mine;
  void *base = NULL;
  mp_checklive(L);
  luaL_argcheck(L, size >= 0 && (lua_Unsigned)size <= (lua_Unsigned)INT64_MAX / 2,
                1, "must be a non-negative integer");
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "shared") != 0)
        return luaL_argerror(L, 2, lua_pushfstring(L, "unknown option '%s'",
                                                   luaL_tolstring(L, -1, NULL)));
    }
    lua_getfield(L, 2, "shared");
    shared = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  noextra(L, 2);
  MPI_Comm_size(MP_COMM, &n);
  memobj_newmemory(L, &kind);  /* closed until MPI made the window */
  if ((w = (mp_win *)calloc(1, sizeof *w)) == NULL ||
      (w->sizes = (MPI_Aint *)calloc((size_t)n, sizeof *w->sizes)) == NULL) {
    free(w);
    return luaL_error(L, "memobj.mpi: window: not enough memory");
  }
  w->shared = shared;
  w->nranks = n;
  mine = (MPI_Aint)size;
  err = shared ? MPI_Win_allocate_shared(mine, 1, MPI_INFO_NULL, MP_COMM, &base, &w->win)
               : MPI_Win_allocate(mine, 1, MPI_INFO_NULL, MP_COMM, &base, &w->win);
  if (err == MPI_SUCCESS) {
    MPI_Win_set_errhandler(w->win, MPI_ERRORS_RETURN);
    err = MPI_Allgather(&mine, 1, MPI_AINT, w->sizes, 1, MPI_AINT, MP_COMM);
    if (err != MPI_SUCCESS) MPI_Win_free(&w->win);
  }
  if (err != MPI_SUCCESS) {
    free(w->sizes);
    free(w);
    return mp_error(L, "window", err);
  }
  pthread_mutex_lock(&list_lock);
  for (tail = &windows; *tail; tail = &(*tail)->next) {}
  *tail = w;
  pthread_mutex_unlock(&list_lock);
  memobj_openmemory(L, -1, size ? base : NULL, (size_t)size, 1, w);
  return 1;
}

static const luaL_Reg methods[] = {
  {"put", w_put}, {"get", w_get}, {"accumulate", w_accumulate},
  {"fence", w_fence}, {"lock", w_lock}, {"unlock", w_unlock},
  {"flush", w_flush}, {"peer", w_peer}, {NULL, NULL}};

static const memobj_kind_info kind = {"mpi", "volatile", win_release, methods};

void mp_window_open(lua_State *L) {
  memobj_newkind(L, &kind);
  lua_pushcfunction(L, l_window);
  lua_setfield(L, -2, "window");
}

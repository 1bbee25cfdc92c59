/*
** coll.c: collectives: bcast, reduce, allreduce, gather, allgather,
** scatter. Every rank calls them in the same order (MPI's rule). Types
** come from the views: the items of both buffers must have the same
** format, and the sizes are checked here, so a short buffer is an error,
** not a truncated or overrun message. Arithmetic reductions need numbers
** in this machine's byte order; band, bor and bxor also take bytes. The
** buffers are held in a to-be-closed pair (mp_pair), so every error
** unlocks them.
*/
#include <string.h>
#include "mpi.h"

static int nranks(void) {
  int n = 1;
  MPI_Comm_size(MP_COMM, &n);
  return n;
}

static int myrank(void) {
  int r = 0;
  MPI_Comm_rank(MP_COMM, &r);
  return r;
}

static void noextra(lua_State *L, int last) {
  if (lua_gettop(L) > last) luaL_argerror(L, last + 1, "no value expected");
}

static int fail(lua_State *L, const char *what, const char *why) {
  return luaL_error(L, "memobj.mpi: %s: %s", what, why);
}

static void checkop(lua_State *L, const mp_msg *a, int arith, const char *what) {
  if (arith && !a->arith)
    fail(L, what, "arithmetic needs a typed array of numbers in this "
                  "machine's byte order");
  /* MPI's predefined operations take predefined datatypes only */
  if (a->derived)
    fail(L, what, "reductions need contiguous views (copy a strided one first)");
}

static void sametype(lua_State *L, const mp_msg *a, const mp_msg *b,
                     const char *what) {
  if (strcmp(a->b.format, b->b.format) != 0)
    fail(L, what, "source and destination have different element types");
}

/* Refuse b if its bytes overlap a's (MPI forbids aliased buffers). */
static void nooverlap(lua_State *L, const mp_msg *a, const mp_msg *b,
                      const char *what) {
  const unsigned char *a0 = a->b.ptr, *b0 = b->b.ptr;
  if (a0 == NULL || b0 == NULL) return;
  if (a->b.stride < 0) a0 += (ptrdiff_t)(a->b.count - 1) * a->b.stride;
  if (b->b.stride < 0) b0 += (ptrdiff_t)(b->b.count - 1) * b->b.stride;
  if (a0 < b0 + b->b.len && b0 < a0 + a->b.len)
    fail(L, what, "source and destination overlap (pass the same view "
                  "twice to work in place)");
}

/* mpi.bcast(v, root) */
static int l_bcast(lua_State *L) {
  mp_pair *p;
  int root, err, me = myrank();
  mp_checklive(L);
  root = mp_checkrank(L, 2, 0);
  noextra(L, 2);
  p = mp_newpair(L);
  mp_pairget(L, p, 0, 1, me == root ? MEMOBJ_READ : MEMOBJ_WRITE, "bcast");
  err = MPI_Bcast(p->m[0].b.ptr, p->m[0].count, p->m[0].type, root, MP_COMM);
  if (err != MPI_SUCCESS) return mp_error(L, "bcast", err);
  mp_pairrelease(L, p);
  return 0;
}

/* reduce (root >= 0) or allreduce (root < 0) of the view at 1 into the
** one at 2; op at 3. Off the root the destination is not used (it may
** be nil). The same view twice works in place. */
static int reduce(lua_State *L, int root, const char *what) {
  mp_pair *p;
  mp_msg *s, *d;
  const void *sbuf;
  int arith, err;
  int here = root < 0 || myrank() == root;  /* the result lands here */
  MPI_Op op = mp_checkop(L, 3, &arith);
  p = mp_newpair(L);
  s = &p->m[0];
  d = &p->m[1];
  if (here && lua_rawequal(L, 1, 2)) {
    mp_pairget(L, p, 1, 2, MEMOBJ_WRITE, what);
    checkop(L, d, arith, what);
    sbuf = MPI_IN_PLACE;
    s = d;
  } else {
    mp_pairget(L, p, 0, 1, MEMOBJ_READ, what);
    checkop(L, s, arith, what);
    if (here) {
      mp_pairget(L, p, 1, 2, MEMOBJ_WRITE, what);
      sametype(L, s, d, what);
      checkop(L, d, arith, what);
      if (s->ecount != d->ecount)
        fail(L, what, "source and destination have different lengths");
      nooverlap(L, s, d, what);
    }
    sbuf = s->b.ptr;
  }
  if (root < 0)
    err = MPI_Allreduce(sbuf, d->b.ptr, s->count, s->type, op, MP_COMM);
  else
    err = MPI_Reduce(sbuf, here ? d->b.ptr : NULL, s->count, s->type, op,
                     root, MP_COMM);
  if (err != MPI_SUCCESS) return mp_error(L, what, err);
  mp_pairrelease(L, p);
  return 0;
}

/* mpi.reduce(src, dst, op, root) */
static int l_reduce(lua_State *L) {
  int root;
  mp_checklive(L);
  root = mp_checkrank(L, 4, 0);
  noextra(L, 4);
  return reduce(L, root, "reduce");
}

/* mpi.allreduce(src, dst, op) */
static int l_allreduce(lua_State *L) {
  mp_checklive(L);
  noextra(L, 3);
  return reduce(L, -1, "allreduce");
}

/* The gathered side (all ranks' parts) of gather or scatter: contiguous,
** size times the items of one part. */
static void checkwhole(lua_State *L, const mp_msg *whole, const mp_msg *part,
                       const char *what) {
  sametype(L, part, whole, what);
  if (whole->derived) fail(L, what, "the gathered view must be contiguous");
  if ((long long)whole->ecount != (long long)part->ecount * nranks())
    fail(L, what, "the gathered view must hold size times the items of one part");
  nooverlap(L, part, whole, what);
}

/* gather (root >= 0) or allgather (root < 0): rank r's src (1) lands in
** dst (2) at r * #src. Off the root dst is not used (may be nil). */
static int gather(lua_State *L, int root, const char *what) {
  mp_pair *p = mp_newpair(L);
  mp_msg *s = &p->m[0], *d = &p->m[1];
  int err, here = root < 0 || myrank() == root;
  mp_pairget(L, p, 0, 1, MEMOBJ_READ, what);
  if (here) {
    mp_pairget(L, p, 1, 2, MEMOBJ_WRITE, what);
    checkwhole(L, d, s, what);
  }
  if (root < 0)
    err = MPI_Allgather(s->b.ptr, s->count, s->type, d->b.ptr, s->ecount,
                        d->elem, MP_COMM);
  else
    err = MPI_Gather(s->b.ptr, s->count, s->type, here ? d->b.ptr : NULL,
                     s->ecount, here ? d->elem : s->elem, root, MP_COMM);
  if (err != MPI_SUCCESS) return mp_error(L, what, err);
  mp_pairrelease(L, p);
  return 0;
}

/* mpi.gather(src, dst, root) */
static int l_gather(lua_State *L) {
  int root;
  mp_checklive(L);
  root = mp_checkrank(L, 3, 0);
  noextra(L, 3);
  return gather(L, root, "gather");
}

/* mpi.allgather(src, dst) */
static int l_allgather(lua_State *L) {
  mp_checklive(L);
  noextra(L, 2);
  return gather(L, -1, "allgather");
}

/* mpi.scatter(src, dst, root): the root's src holds size times dst's
** items; rank r gets the r-th part. Off the root src is not used (may be
** nil). */
static int l_scatter(lua_State *L) {
  mp_pair *p;
  mp_msg *s, *d;
  int root, err, here;
  mp_checklive(L);
  root = mp_checkrank(L, 3, 0);
  noextra(L, 3);
  here = myrank() == root;
  p = mp_newpair(L);
  s = &p->m[1];
  d = &p->m[0];
  mp_pairget(L, p, 0, 2, MEMOBJ_WRITE, "scatter");
  if (here) {
    mp_pairget(L, p, 1, 1, MEMOBJ_READ, "scatter");
    checkwhole(L, s, d, "scatter");
  }
  err = MPI_Scatter(here ? s->b.ptr : NULL, d->ecount, here ? s->elem : d->elem,
                    d->b.ptr, d->count, d->type, root, MP_COMM);
  if (err != MPI_SUCCESS) return mp_error(L, "scatter", err);
  mp_pairrelease(L, p);
  return 0;
}

static const luaL_Reg funcs[] = {
  {"bcast", l_bcast}, {"reduce", l_reduce}, {"allreduce", l_allreduce},
  {"gather", l_gather}, {"allgather", l_allgather}, {"scatter", l_scatter},
  {NULL, NULL}};

void mp_coll_open(lua_State *L) {
  luaL_setfuncs(L, funcs, 0);
}

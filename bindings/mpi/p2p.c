/*
** p2p.c: point to point: mpi.send, mpi.recv, mpi.isend, mpi.irecv and
** their requests. A request holds its view's lock until MPI is done with
** the bytes, so the memory cannot be closed or resized under a transfer;
** a request the collector finds unfinished is cancelled (receives) or
** left to finish, its lock kept in a list of the Lua state that is
** swept by later calls and waited for when the state closes.
*/
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "mpi.h"

typedef struct mp_req {
  uint32_t id;              /* MP_TAG_REQ */
  MPI_Request req;
  mp_msg m;
  int active;               /* MPI may still use the bytes */
  int recv;
  int source, tag, bytes;   /* of a finished receive */
} mp_req;

/* A dropped request: what MPI still uses. */
typedef struct dropped {
  MPI_Request req;
  mp_msg m;
  struct dropped *next;
} dropped;

static const char drop_key = 0;     /* registry: this state's list head */

typedef struct droproot {
  uint32_t tag;             /* MP_TAG_DROP */
  dropped *head;
} droproot;

/* ---- Arguments ---- */

static int opttag(lua_State *L, int arg, int any) {
  lua_Integer t;
  if (lua_isnoneornil(L, arg)) return any ? MPI_ANY_TAG : 0;
  t = luaL_checkinteger(L, arg);
  if (any && t == MP_ANY) return MPI_ANY_TAG;
  luaL_argcheck(L, t >= 0 && t <= INT_MAX, arg, "tag must be a non-negative integer");
  return (int)t;
}

static void noextra(lua_State *L, int last) {
  if (lua_gettop(L) > last)
    luaL_argerror(L, last + 1, "no value expected");
}

/* The message txadd logs, handed over in C and taken once: Lua code
** that reaches txadd (debug.getinfo) finds nothing to log. */
static _Thread_local mp_msg *txadd_msg;

static int txadd(lua_State *L) {
  mp_msg *m = txadd_msg;
  txadd_msg = NULL;
  if (m == NULL) return luaL_error(L, "memobj.mpi: nothing to log");
  mp_api->tx_add(L, &m->b, 0, m->b.len);
  return 0;
}

void mp_prewrite(lua_State *L, mp_msg *m, mp_msg *other) {
  int st;
  if (m->b.handle == NULL || m->b.len == 0) return;
  lua_pushcfunction(L, txadd);
  txadd_msg = m;
  st = lua_pcall(L, 0, 0, 0);
  txadd_msg = NULL;
  if (st != LUA_OK) {
    mp_dropmsg(m);
    if (other) mp_dropmsg(other);
    lua_error(L);
  }
}

static const char pair_mtkey = 0;  /* registry: the pair metatable */

static int pair_close(lua_State *L) {
  mp_pair *p = (mp_pair *)mp_toud(L, 1, MP_TAG_PAIR, sizeof(mp_pair));
  int k;
  if (p == NULL) return 0;
  for (k = 0; k < 2; k++)
    if (p->held[k]) {
      p->held[k] = 0;
      mp_dropmsg(&p->m[k]);
    }
  return 0;
}

mp_pair *mp_newpair(lua_State *L) {
  mp_pair *p = (mp_pair *)lua_newuserdatauv(L, sizeof *p, 0);
  p->tag = MP_TAG_PAIR;
  p->held[0] = p->held[1] = 0;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &pair_mtkey) != LUA_TTABLE)
    luaL_error(L, "memobj.mpi: an entry of the Lua registry was replaced");
  lua_setmetatable(L, -2);
  lua_toclose(L, -1);
  return p;
}

void mp_pairget(lua_State *L, mp_pair *p, int k, int idx, int flags,
                const char *what) {
  mp_getmsg(L, idx, &p->m[k], flags, what);
  p->held[k] = 1;
  if ((flags & MEMOBJ_WRITE) && p->m[k].b.len)  /* may raise: the pair
                                                  unlocks what it holds */
    mp_api->tx_add(L, &p->m[k].b, 0, p->m[k].b.len);
}

void mp_pairrelease(lua_State *L, mp_pair *p) {
  if (p->held[1]) {
    p->held[1] = 0;
    mp_dropmsg(&p->m[1]);
  }
  if (p->held[0]) {
    p->held[0] = 0;
    mp_releasemsg(L, &p->m[0]);
  }
}

/* source, tag, bytes of a finished receive */
static int pushstatus(lua_State *L, const MPI_Status *st) {
  int bytes = 0;
  MPI_Get_count(st, MPI_BYTE, &bytes);
  lua_pushinteger(L, st->MPI_SOURCE);
  lua_pushinteger(L, st->MPI_TAG);
  lua_pushinteger(L, bytes);
  return 3;
}

/* ---- Blocking ---- */

/* mpi.send(v, dest [, tag]) */
static int l_send(lua_State *L) {
  mp_msg m;
  int dest, tag, err;
  mp_checklive(L);
  dest = mp_checkrank(L, 2, 0);
  tag = opttag(L, 3, 0);
  noextra(L, 3);
  mp_getmsg(L, 1, &m, MEMOBJ_READ, "send");
  err = MPI_Send(m.b.ptr, m.count, m.type, dest, tag, MP_COMM);
  if (err != MPI_SUCCESS) {
    mp_dropmsg(&m);
    return mp_error(L, "send", err);
  }
  mp_releasemsg(L, &m);
  return 0;
}

/* mpi.recv(v, src [, tag]) -> source, tag, bytes */
static int l_recv(lua_State *L) {
  mp_msg m;
  MPI_Status st;
  int src, tag, err;
  mp_checklive(L);
  src = mp_checkrank(L, 2, 1);
  tag = opttag(L, 3, 1);
  noextra(L, 3);
  mp_getmsg(L, 1, &m, MEMOBJ_WRITE, "recv");
  mp_prewrite(L, &m, NULL);
  err = MPI_Recv(m.b.ptr, m.count, m.type, src, tag, MP_COMM, &st);
  if (err != MPI_SUCCESS) {
    mp_dropmsg(&m);
    return mp_error(L, "recv", err);
  }
  mp_releasemsg(L, &m);
  return pushstatus(L, &st);
}

/* ---- Requests ---- */

static dropped **droplist(lua_State *L) {
  droproot *root;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &drop_key);
  root = (droproot *)mp_toud(L, -1, MP_TAG_DROP, sizeof(droproot));
  lua_pop(L, 1);
  return root ? &root->head : NULL;
}

void mp_requests_sweep(lua_State *L, int wait) {
  dropped **p = droplist(L), *d;
  if (p == NULL) return;
  /* cppcheck-suppress uninitvar ; the list head lives in a userdata */
  while ((d = *p) != NULL) {
    int done = 0;
    MPI_Status st;
    if (wait) {
      MPI_Wait(&d->req, &st);  /* an error finishes it too */
      done = 1;
    } else if (MPI_Test(&d->req, &done, &st) != MPI_SUCCESS) done = 1;
    if (done) {
      *p = d->next;
      mp_dropmsg(&d->m);
      free(d);
    } else {
      p = &d->next;
    }
  }
}

static mp_req *checkreq(lua_State *L) {
  mp_req *r = (mp_req *)luaL_checkudata(L, 1, "memobj.mpi.request");
  if (mp_toud(L, 1, MP_TAG_REQ, sizeof(mp_req)) == NULL)
    luaL_typeerror(L, 1, "memobj.mpi.request");
  return r;
}

/* The request finished (st filled): unlock, note the status. */
static void finish(lua_State *L, mp_req *r, const MPI_Status *st) {
  r->active = 0;
  if (r->recv) {
    MPI_Get_count(st, MPI_BYTE, &r->bytes);
    r->source = st->MPI_SOURCE;
    r->tag = st->MPI_TAG;
  }
  mp_releasemsg(L, &r->m);
}

static int results(lua_State *L, mp_req *r) {
  if (!r->recv) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushinteger(L, r->source);
  lua_pushinteger(L, r->tag);
  lua_pushinteger(L, r->bytes);
  return 3;
}

/* r:wait() -> source, tag, bytes (irecv) or true (isend) */
static int req_wait(lua_State *L) {
  mp_req *r = checkreq(L);
  MPI_Status st;
  int err;
  noextra(L, 1);
  if (r->active) {
    mp_checklive(L);
    err = MPI_Wait(&r->req, &st);
    if (err != MPI_SUCCESS) {
      r->active = 0;
      mp_dropmsg(&r->m);
      return mp_error(L, "wait", err);
    }
    finish(L, r, &st);
  }
  return results(L, r);
}

/* r:test() -> false while running, else what wait returns */
static int req_test(lua_State *L) {
  mp_req *r = checkreq(L);
  MPI_Status st;
  int err, flag = 0;
  noextra(L, 1);
  if (r->active) {
    mp_checklive(L);
    err = MPI_Test(&r->req, &flag, &st);
    if (err != MPI_SUCCESS) {
      r->active = 0;
      mp_dropmsg(&r->m);
      return mp_error(L, "test", err);
    }
    if (!flag) {
      lua_pushboolean(L, 0);
      return 1;
    }
    finish(L, r, &st);
  }
  return results(L, r);
}

/* __gc: a request nobody waited for. MPI may still write into (irecv)
** or read from (isend) the bytes, so they stay locked: a receive is
** cancelled, and whatever is not finished goes to the state's list. */
static int req_gc(lua_State *L) {
  mp_req *r = (mp_req *)mp_toud(L, 1, MP_TAG_REQ, sizeof(mp_req));
  dropped **head, *d;
  MPI_Status st;
  int flag = 0;
  if (r == NULL || !r->active) return 0;
  r->active = 0;
  if (!mp_islive()) return 0;  /* finalized: MPI used nothing any more */
  if (r->recv) MPI_Cancel(&r->req);
  if (MPI_Test(&r->req, &flag, &st) == MPI_SUCCESS && flag) {
    mp_dropmsg(&r->m);
    return 0;
  }
  head = droplist(L);
  if (head == NULL || (d = (dropped *)malloc(sizeof *d)) == NULL) {
    MPI_Wait(&r->req, &st);  /* no room to keep it: the only safe way */
    mp_dropmsg(&r->m);
    return 0;
  }
  d->req = r->req;
  d->m = r->m;
  d->next = *head;
  *head = d;
  return 0;
}

/* __close: leaving the scope waits for the transfer */
static int req_close(lua_State *L) {
  lua_settop(L, 1);
  return req_wait(L);
}

static int req_tostring(lua_State *L) {
  mp_req *r = checkreq(L);
  lua_pushfstring(L, "memobj.mpi.request (%s, %s)", r->recv ? "irecv" : "isend",
                  r->active ? "running" : "done");
  return 1;
}

/* Push a request for view idx, its lock taken; the caller starts it. */
static mp_req *newreq(lua_State *L, int idx, int recv) {
  mp_req *r;
  mp_requests_sweep(L, 0);
  r = (mp_req *)lua_newuserdatauv(L, sizeof *r, 1);
  r->id = MP_TAG_REQ;
  r->active = 0;
  r->recv = recv;
  r->source = r->tag = r->bytes = 0;
  luaL_setmetatable(L, "memobj.mpi.request");
  lua_pushvalue(L, idx);  /* the view stays reachable while MPI uses it */
  lua_setiuservalue(L, -2, 1);
  mp_getmsg(L, idx, &r->m, (recv ? MEMOBJ_WRITE : MEMOBJ_READ) | MP_NOSTRING,
            recv ? "irecv" : "isend");
  if (recv) mp_prewrite(L, &r->m, NULL);
  return r;
}

/* mpi.isend(v, dest [, tag]) -> request */
static int l_isend(lua_State *L) {
  mp_req *r;
  int dest, tag, err;
  mp_checklive(L);
  dest = mp_checkrank(L, 2, 0);
  tag = opttag(L, 3, 0);
  noextra(L, 3);
  r = newreq(L, 1, 0);
  err = MPI_Isend(r->m.b.ptr, r->m.count, r->m.type, dest, tag, MP_COMM, &r->req);
  if (err != MPI_SUCCESS) {
    mp_dropmsg(&r->m);
    return mp_error(L, "isend", err);
  }
  r->active = 1;
  return 1;
}

/* mpi.irecv(v, src [, tag]) -> request */
static int l_irecv(lua_State *L) {
  mp_req *r;
  int src, tag, err;
  mp_checklive(L);
  src = mp_checkrank(L, 2, 1);
  tag = opttag(L, 3, 1);
  noextra(L, 3);
  r = newreq(L, 1, 1);
  err = MPI_Irecv(r->m.b.ptr, r->m.count, r->m.type, src, tag, MP_COMM, &r->req);
  if (err != MPI_SUCCESS) {
    mp_dropmsg(&r->m);
    return mp_error(L, "irecv", err);
  }
  r->active = 1;
  return 1;
}

static const luaL_Reg req_methods[] = {
  {"wait", req_wait}, {"test", req_test}, {NULL, NULL}};
static const luaL_Reg req_meta[] = {
  {"__gc", req_gc}, {"__close", req_close}, {"__tostring", req_tostring},
  {NULL, NULL}};
static const luaL_Reg funcs[] = {
  {"send", l_send}, {"recv", l_recv}, {"isend", l_isend}, {"irecv", l_irecv},
  {NULL, NULL}};

void mp_p2p_open(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, pair_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, pair_close);
  lua_setfield(L, -2, "__gc");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &pair_mtkey);
  droproot *root = (droproot *)lua_newuserdatauv(L, sizeof *root, 0);
  root->tag = MP_TAG_DROP;
  root->head = NULL;
  lua_rawsetp(L, LUA_REGISTRYINDEX, &drop_key);
  luaL_newmetatable(L, "memobj.mpi.request");
  luaL_setfuncs(L, req_meta, 0);
  luaL_newlib(L, req_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}

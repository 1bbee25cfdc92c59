/*
** mpi.c: luaopen_memobj_mpi: MPI's life (MPI_Init_thread on the first
** require, MPI_Finalize when the last Lua state using it closes, or at
** exit), errors (MPI_ERRORS_RETURN, raised with MPI_Error_string), and
** views as MPI messages (datatype from the buffer's item format).
*/
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "mpi.h"

const memobj_api *mp_api;

static pthread_mutex_t life = PTHREAD_MUTEX_INITIALIZER;
static int states;     /* Lua states holding the module */
static int owned;      /* we called MPI_Init_thread, so we finalize */
static int live;       /* MPI usable: initialised and not finalised */
static int provided;   /* the thread level MPI gave */

/* ---- Errors ---- */

int mp_error(lua_State *L, const char *op, int err) {
  char s[MPI_MAX_ERROR_STRING + 1];
  int len = 0;
  if (MPI_Error_string(err, s, &len) != MPI_SUCCESS || len <= 0)
    len = snprintf(s, sizeof s, "MPI error %d", err);
  s[len < (int)sizeof s ? len : (int)sizeof s - 1] = '\0';
  return luaL_error(L, "memobj.mpi: %s: %s", op, s);
}

int mp_islive(void) {
  return __atomic_load_n(&live, __ATOMIC_ACQUIRE);
}

void mp_checklive(lua_State *L) {
  if (!__atomic_load_n(&live, __ATOMIC_ACQUIRE))
    luaL_error(L, "memobj.mpi: MPI is finalized");
}

MPI_Op mp_checkop(lua_State *L, int arg, int *arith) {
  static const char *const names[] = {"sum", "prod", "min", "max", "band",
                                      "bor", "bxor", NULL};
  int i = luaL_checkoption(L, arg, NULL, names);
  *arith = i < 4;
  switch (i) {  /* MPI_Op constants are not lvalues in every MPI */
    case 0: return MPI_SUM;
    case 1: return MPI_PROD;
    case 2: return MPI_MIN;
    case 3: return MPI_MAX;
    case 4: return MPI_BAND;
    case 5: return MPI_BOR;
    default: return MPI_BXOR;
  }
}

int mp_checkrank(lua_State *L, int arg, int any) {
  lua_Integer r = luaL_checkinteger(L, arg);
  if (any && r == MP_ANY) return MPI_ANY_SOURCE;
  luaL_argcheck(L, r >= 0 && r <= INT_MAX, arg, "not a rank");
  return (int)r;
}

/* ---- Views as messages ---- */

/* The MPI type of one item in format f (PEP 3118 notation, memobj.h);
** sets *arith for numbers in this machine's byte order. */
static MPI_Datatype elemtype(const char *f, int *arith) {
  static const unsigned one = 1;
  char native = *(const unsigned char *)&one ? '<' : '>';
  *arith = 0;
  if (*f == '<' || *f == '>') {
    if (*f != native) return MPI_BYTE;  /* swapped: bytes, no arithmetic */
    f++;
  }
  if (f[0] == '\0' || f[1] != '\0') return MPI_BYTE;  /* records: "T{...}" */
  *arith = 1;
  switch (*f) {
    case 'b': return MPI_INT8_T;
    case 'h': return MPI_INT16_T;
    case 'H': return MPI_UINT16_T;
    case 'i': return MPI_INT32_T;
    case 'I': return MPI_UINT32_T;
    case 'q': return MPI_INT64_T;
    case 'Q': return MPI_UINT64_T;
    case 'f': return MPI_FLOAT;
    case 'd': return MPI_DOUBLE;
    default: *arith = 0; return MPI_BYTE;  /* "B": bytes (or uint8, below) */
  }
}

/* A "B" buffer is a uint8 array or bytes (a byte view, a memory object, a
** file view, a string): only the array has numbers. */
static int is_uint8_array(lua_State *L, int idx) {
  int yes;
  if (lua_type(L, idx) != LUA_TUSERDATA) return 0;
  lua_getfield(L, idx, "type");
  yes = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "uint8") == 0;
  lua_pop(L, 1);
  return yes;
}

static void refuse(lua_State *L, mp_msg *m, const char *what, const char *why) {
  mp_dropmsg(m);
  luaL_error(L, "memobj.mpi: %s: %s", what, why);
}

void mp_getmsg(lua_State *L, int idx, mp_msg *m, int flags, const char *what) {
  size_t per;
  int err;
  m->derived = 0;
  m->type = MPI_DATATYPE_NULL;
  mp_api->getbuffer(L, idx, &m->b, (flags & MEMOBJ_WRITE) | MEMOBJ_STRIDED,
                    what);
  if ((flags & MP_NOSTRING) && m->b.handle == NULL)
    refuse(L, m, what, "a Lua string cannot stay locked until MPI is done "
                       "with it (pass memobj.string(s))");
  m->elem = elemtype(m->b.format, &m->arith);
  if (m->b.format[0] == 'B' && is_uint8_array(L, idx)) {
    m->elem = MPI_UINT8_T;
    m->arith = 1;
  }
  per = m->elem == MPI_BYTE ? m->b.itemsize : 1;  /* elems per item */
  if (m->b.count > (size_t)INT_MAX / per)
    refuse(L, m, what, "more than 2^31-1 items in one message (split the view)");
  m->ecount = (int)(m->b.count * per);
  if (m->b.stride == (ptrdiff_t)m->b.itemsize || m->b.count <= 1) {
    m->type = m->elem;
    m->count = m->ecount;
    return;
  }
  /* a strided array: one vector of count blocks, stride bytes apart */
  err = MPI_Type_create_hvector((int)m->b.count, (int)per,
                                (MPI_Aint)m->b.stride, m->elem, &m->type);
  if (err == MPI_SUCCESS && (err = MPI_Type_commit(&m->type)) != MPI_SUCCESS)
    MPI_Type_free(&m->type);
  if (err != MPI_SUCCESS) {
    mp_api->releasebuffer(&m->b);
    mp_error(L, what, err);
  }
  m->derived = 1;
  m->count = 1;
}

void mp_dropmsg(mp_msg *m) {
  if (m->derived) {
    MPI_Type_free(&m->type);
    m->derived = 0;
  }
  mp_api->releasebuffer(&m->b);
}

void mp_releasemsg(lua_State *L, mp_msg *m) {
  if (m->derived) {
    MPI_Type_free(&m->type);
    m->derived = 0;
  }
  mp_api->release(L, &m->b);
}

/* ---- Module functions ---- */

static int l_barrier(lua_State *L) {
  int err;
  mp_checklive(L);
  luaL_argcheck(L, lua_gettop(L) == 0, 1, "no value expected");
  mp_requests_sweep(L, 0);
  if ((err = MPI_Barrier(MP_COMM)) != MPI_SUCCESS) return mp_error(L, "barrier", err);
  mp_requests_sweep(L, 0);  /* what finished while we waited */
  return 0;
}

static int l_wtime(lua_State *L) {
  luaL_argcheck(L, lua_gettop(L) == 0, 1, "no value expected");
  lua_pushnumber(L, MPI_Wtime());
  return 1;
}

/* ---- Life ---- */

/* Last user gone: wait for what the collector left running, free the
** windows nobody closed (in the order all ranks made them), finalize. */
static void finalize(void) {
  if (!__atomic_load_n(&live, __ATOMIC_ACQUIRE)) return;
  mp_windows_free();
  __atomic_store_n(&live, 0, __ATOMIC_RELEASE);
  if (owned) MPI_Finalize();
}

/* os.exit without closing the state: MPI must still be finalized, or
** mpirun reports the job as failed. */
static void at_exit(void) {
  pthread_mutex_lock(&life);
  finalize();
  pthread_mutex_unlock(&life);
}

/* __gc of the sentinel: this Lua state is closing (its finalizers ran
** before, as the sentinel is older than every window and request). */
static int sentinel_gc(lua_State *L) {
  if (mp_islive()) mp_requests_sweep(L, 1);
  pthread_mutex_lock(&life);
  if (--states == 0) finalize();
  pthread_mutex_unlock(&life);
  return 0;
}

static const char *start(void) {
  int flag = 0;
  if (MPI_Finalized(&flag) == MPI_SUCCESS && flag) return "MPI is finalized";
  if (MPI_Initialized(&flag) != MPI_SUCCESS) return "MPI_Initialized failed";
  if (!flag) {
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
      return "MPI_Init_thread failed";
    owned = 1;
    atexit(at_exit);
  } else if (MPI_Query_thread(&provided) != MPI_SUCCESS) {
    return "MPI_Query_thread failed";
  }
  if (MPI_Comm_set_errhandler(MP_COMM, MPI_ERRORS_RETURN) != MPI_SUCCESS)
    return "MPI_Comm_set_errhandler failed";
  __atomic_store_n(&live, 1, __ATOMIC_RELEASE);
  return NULL;
}

static const luaL_Reg funcs[] = {
  {"barrier", l_barrier}, {"wtime", l_wtime}, {NULL, NULL}};

int luaopen_memobj_mpi(lua_State *L);
int luaopen_memobj_mpi(lua_State *L) {
  static const char *const levels[] = {"single", "funneled", "serialized",
                                       "multiple"};
  const char *why;
  int rank = 0, size = 0;
  lua_getglobal(L, "require");  /* memobj publishes the C API */
  lua_pushliteral(L, "memobj");
  lua_call(L, 1, 0);
  mp_api = memobj_getkindapi(L);
  pthread_mutex_lock(&life);
  why = __atomic_load_n(&live, __ATOMIC_ACQUIRE) ? NULL : start();
  if (why == NULL) states++;
  pthread_mutex_unlock(&life);
  if (why) return luaL_error(L, "memobj.mpi: %s", why);
  /* the sentinel first: a failure below still finalizes through it */
  lua_newuserdatauv(L, 1, 0);
  lua_newtable(L);
  lua_pushcfunction(L, sentinel_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, (void *)&states);
  MPI_Comm_rank(MP_COMM, &rank);
  MPI_Comm_size(MP_COMM, &size);
  luaL_newlib(L, funcs);
  lua_pushinteger(L, rank);
  lua_setfield(L, -2, "rank");
  lua_pushinteger(L, size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, MP_ANY);
  lua_setfield(L, -2, "ANY");
  lua_pushstring(L, levels[provided >= 0 && provided <= 3 ? provided : 0]);
  lua_setfield(L, -2, "thread");
  mp_p2p_open(L);
  mp_coll_open(L);
  mp_window_open(L);
  return 1;
}

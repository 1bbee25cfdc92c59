/*
** xstate.c: m:export() and memobj.import(token) between Lua states in
** threads of one process (see xstate.h and doc/threads.md).
**
** Export copies the kind's object (its userdata block: the kind's fields
** that its release operation needs) into a core owned by the process;
** from then on no memory object frees the bytes itself: each one,
** exporter and importers alike, holds one reference, and the release of
** the last runs the kind's release on that copy. One registry lock
** guards the list of cores and every reference count, so an import
** racing with the last release either finds the core and takes its
** reference first, or does not find it at all (nil, message). Ids are
** never reused (64 bits), so a stale token never names other memory.
**
** What would let one state pull the bytes from under another is refused
** on exported memory: resize and protect (for good: the size and the
** permission are fixed at export), and transactions while more than one
** state holds the memory (another state's writes would escape the undo
** log); an import is refused while a transaction is open. close is
** refused while views of other states are attached, as it is for views
** of its own state.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core.h"
#include "os.h"
#include "xstate.h"

typedef struct mo_xcore {
  struct mo_xcore *next;
  unsigned long long id;
  unsigned refs;          /* memory objects over the bytes (reg_mu) */
  int tx;                 /* a transaction is open (reg_mu) */
  unsigned nlocks;        /* views in every state (atomic) */
  size_t udsize;          /* size of the kind's object */
  memobj_mem *owner;      /* the kind's object as exported: frees the bytes */
  char *label;            /* user value 1 (path or name), or NULL */
  size_t labellen;
} mo_xcore;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static mo_xcore *reg_head;
static unsigned long long reg_lastid;

/* ---- Locks and references ---- */

void mo_x_lockdelta(memobj_mem *m, int write, int delta) {
  (void)write;
  __atomic_add_fetch(&m->x->nlocks, (unsigned)delta, __ATOMIC_ACQ_REL);
}

unsigned mo_x_total(const memobj_mem *m) {
  return __atomic_load_n(&m->x->nlocks, __ATOMIC_ACQUIRE);
}

unsigned mo_x_others(const memobj_mem *m) {
  unsigned all = mo_x_total(m);
  return all > m->nlocks ? all - m->nlocks : 0;
}

static mo_xcore *find(unsigned long long id) {
  mo_xcore *x;
  for (x = reg_head; x && x->id != id; x = x->next) {}
  return x;
}

static void unlink_core(mo_xcore *x) {
  mo_xcore **p;
  for (p = &reg_head; *p && *p != x; p = &(*p)->next) {}
  if (*p) *p = x->next;
}

void mo_x_release(memobj_mem *m) {
  mo_xcore *x = m->x;
  int last;
  m->x = NULL;
  pthread_mutex_lock(&reg_mu);
  last = --x->refs == 0;
  if (last) unlink_core(x);  /* no import can find it from here on */
  pthread_mutex_unlock(&reg_mu);
  if (!last) return;
  x->owner->kind->release(x->owner);
  free(x->owner);
  free(x->label);
  free(x);
}

const char *mo_x_txbegin(memobj_mem *m) {
  const char *why = NULL;
  pthread_mutex_lock(&reg_mu);
  if (m->x->refs > 1)
    why = "the memory is held by other Lua states (export/import): a "
          "transaction needs it in one state";
  else
    m->x->tx = 1;
  pthread_mutex_unlock(&reg_mu);
  return why;
}

void mo_x_txend(memobj_mem *m) {
  pthread_mutex_lock(&reg_mu);
  m->x->tx = 0;
  pthread_mutex_unlock(&reg_mu);
}

/* ---- Which kinds may go ---- */

#define MAXKINDS 16
static struct {
  const memobj_kind *kind;
  const char *(*why)(memobj_mem *m);
} exportable[MAXKINDS];

/* Openers run in every state that loads memobj, maybe at once: each
** slot is claimed with a compare-and-swap, and a kind is listed once. */
void mo_x_exportable(const memobj_kind *k, const char *(*why)(memobj_mem *m)) {
  int i;
  for (i = 0; i < MAXKINDS; i++) {
    const memobj_kind *cur = NULL;
    if (__atomic_compare_exchange_n(&exportable[i].kind, &cur, k, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      __atomic_store_n(&exportable[i].why, why, __ATOMIC_RELEASE);
      return;
    }
    if (cur == k) return;
  }
}

/* NULL if m's kind may be exported (why: the kind's answer), else the
** refusal. */
static const char *kind_refuses(memobj_mem *m, const char **why) {
  int i;
  *why = NULL;
  for (i = 0; i < MAXKINDS; i++) {
    if (__atomic_load_n(&exportable[i].kind, __ATOMIC_ACQUIRE) != m->kind)
      continue;
    {
      const char *(*fn)(memobj_mem *);
      /* a state opening memobj at the same time claimed the slot and
      ** stores the function next (every kind gives one) */
      while ((fn = __atomic_load_n(&exportable[i].why, __ATOMIC_ACQUIRE)) == NULL) {}
      *why = fn(m);
      return NULL;
    }
  }
  return "cannot be shared between Lua states (kinds heap, shared, memfd, "
         "mapped, foreign can)";
}

/* ---- m:export() ---- */

static void push_token(lua_State *L, const mo_xcore *x) {
  char buf[64];
  snprintf(buf, sizeof buf, "memobj:%d:%llu", (int)mo_os_pid(), x->id);
  lua_pushstring(L, buf);
}

/* The core of m, made now if m was never exported. */
static mo_xcore *export_core(lua_State *L, memobj_mem *m) {
  size_t udsize = lua_rawlen(L, 1);
  mo_xcore *x;
  const char *why;
  const char *no = kind_refuses(m, &why);
  if (no) luaL_error(L, "memobj: export: %s memory %s", m->kind->name, no);
  if (why) luaL_error(L, "memobj: export: %s", why);
  if (m->tx) luaL_error(L, "memobj: export: refused inside a transaction");
  x = (mo_xcore *)calloc(1, sizeof *x);
  if (x) x->owner = (memobj_mem *)malloc(udsize);
  if (x && m->kind->label && lua_getiuservalue(L, 1, 1) == LUA_TSTRING) {
    const char *s = lua_tolstring(L, -1, &x->labellen);
    x->label = (char *)malloc(x->labellen + 1);
    if (x->label) memcpy(x->label, s, x->labellen + 1);
    else x->owner = (free(x->owner), NULL);
  }
  if (x == NULL || x->owner == NULL) {
    free(x);
    return (mo_xcore *)(luaL_error(L, "memobj: export: not enough memory"),
                        NULL);
  }
  memcpy(x->owner, m, udsize);
  x->udsize = udsize;
  x->refs = 1;
  x->nlocks = m->nlocks;
  pthread_mutex_lock(&reg_mu);
  x->id = ++reg_lastid;
  x->next = reg_head;
  reg_head = x;
  pthread_mutex_unlock(&reg_mu);
  m->x = x;
  return x;
}

static int l_export(lua_State *L) {
  memobj_mem *m = mo_checkmem(L, 1);
  mo_noextra(L, 1);
  lua_settop(L, 1);
  push_token(L, m->x ? m->x : export_core(L, m));
  return 1;
}

/* ---- memobj.import(token) ---- */

static int import_fail(lua_State *L, const char *why) {
  luaL_pushfail(L);
  lua_pushfstring(L, "memobj: import: %s", why);
  return 2;
}

/* What an import needs to know before it takes a reference (read under
** the lock, used after it). */
typedef struct peek {
  const memobj_kind *kind;
  size_t udsize;
  char *label;  /* malloc'ed copy, or NULL */
  size_t labellen;
  int found, nomem;
} peek;

static void peek_core(unsigned long long id, peek *pk) {
  mo_xcore *x;
  memset(pk, 0, sizeof *pk);
  pthread_mutex_lock(&reg_mu);
  if ((x = find(id)) != NULL) {
    pk->found = 1;
    pk->kind = x->owner->kind;
    pk->udsize = x->udsize;
    if (x->label) {
      pk->label = (char *)malloc(x->labellen + 1);
      if (pk->label) memcpy(pk->label, x->label, x->labellen + 1);
      else pk->nomem = 1;
      pk->labellen = x->labellen;
    }
  }
  pthread_mutex_unlock(&reg_mu);
}

/* Take a reference and fill m from the core: NULL, or why not. */
static const char *attach(unsigned long long id, memobj_mem *m) {
  const char *why = NULL;
  mo_xcore *x;
  pthread_mutex_lock(&reg_mu);
  x = find(id);
  if (x == NULL) {
    why = "the memory of this token is gone (every state let go of it)";
  } else if (x->tx) {
    why = "a transaction is open on this memory";
  } else {
    x->refs++;
    /* the kind's fields, after the base: the owner lives while refs > 0 */
    memcpy((char *)m + sizeof(memobj_mem), (char *)x->owner + sizeof(memobj_mem),
           x->udsize - sizeof(memobj_mem));
    m->ptr = x->owner->ptr;
    m->size = x->owner->size;
    m->writable = x->owner->writable;
    m->x = x;
  }
  pthread_mutex_unlock(&reg_mu);
  return why;
}

static int l_import(lua_State *L) {
  const char *tok = luaL_checkstring(L, 1);
  unsigned long long id;
  int pid, used = 0;
  peek pk;
  memobj_mem *m;
  const char *why;
  mo_noextra(L, 1);
  if (sscanf(tok, "memobj:%d:%llu%n", &pid, &id, &used) != 2 ||
      tok[used] != '\0')
    return luaL_argerror(L, 1, "not a token from m:export()");
  if (pid != (int)mo_os_pid())
    return import_fail(L, "the token is from another process (share memory "
                       "between processes with memobj.shared or memfd)");
  peek_core(id, &pk);
  if (!pk.found) return import_fail(L, "the memory of this token is gone "
                                    "(every state let go of it)");
  if (pk.nomem) return luaL_error(L, "memobj: import: not enough memory");
  if (pk.label) {  /* pushed first: nothing raises once we hold a reference */
    lua_pushlstring(L, pk.label, pk.labellen);
    free(pk.label);
  } else {
    lua_pushnil(L);
  }
  m = mo_mem_new(L, pk.kind, pk.udsize);
  m->closed = 1;  /* until attached: a failed import frees nothing */
  if ((why = attach(id, m)) != NULL) return import_fail(L, why);
  mo_mem_publish(L, m, m->ptr, m->size);  /* counted, listed, open */
  lua_insert(L, -2);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

static const luaL_Reg mem_methods[] = {{"export", l_export}, {NULL, NULL}};

void mo_xstate_open(lua_State *L) {
  mo_mem_addmethods(L, mem_methods);
  lua_pushcfunction(L, l_import);
  lua_setfield(L, -2, "import");
}

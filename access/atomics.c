/*
** atomics.c: atomic operations and futex wait/notify on typed arrays of
** native-order, aligned 32- and 64-bit integers. They work across
** processes on shared and mapped memory: every operation is a hardware
** atomic on the shared bytes, and wait/notify use process-shared futexes
** (no FUTEX_PRIVATE_FLAG), which the kernel keys by the page's backing
** object, not by our address space.
*/
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include "../runtime/core/os.h"
#include "array.h"
#include "openers.h"

/* ---- Checking ---- */

/* The methods run through the trampoline (runtime/core/method.h): self is a
** live typed array, checked writable for the writing ones. */
#define SELF(L) ((mo_array *)mo_self(L))

/* The element i (1-based, at arg) of an array fit for atomics, or raise. */
static unsigned char *checkatomic(lua_State *L, mo_array *a, const char *op,
                                  int arg) {
  int b = a->etype;
  size_t i;
  if (b != MO_I32 && b != MO_U32 && b != MO_I64 && b != MO_U64)
    luaL_error(L, "memobj: %s: needs a native-order 32- or 64-bit integer "
               "array, not %s", op, mo_etype_name(a->etype));
  i = mo_array_checkindex(L, a, arg);
  if ((uintptr_t)MO_AELEM(a, i) % a->itemsize != 0)
    luaL_error(L, "memobj: %s: element %I is not aligned to %d bytes", op,
               (lua_Integer)i + 1, (int)a->itemsize);
  return MO_AELEM(a, i);
}


/* A 32-bit operand of atomic_add wraps: accept both the signed and the
** unsigned range, so that adding -1 to a uint32 counter works. */
static lua_Integer checkaddend(lua_State *L, mo_array *a, int arg) {
  lua_Integer n = luaL_checkinteger(L, arg);
  if (a->itemsize == 4)
    luaL_argcheck(L, n >= -(lua_Integer)0x80000000 && n <= (lua_Integer)0xffffffff,
                  arg, "integer overflow");
  return n;
}

/* Push the stored bits of an element as its type reads them. */
static void pushbits(lua_State *L, mo_array *a, uint64_t bits) {
  switch (a->etype) {
    case MO_I32: lua_pushinteger(L, (int32_t)(uint32_t)bits); break;
    case MO_U32: lua_pushinteger(L, (uint32_t)bits); break;
    default: lua_pushinteger(L, (lua_Integer)bits); break;
  }
}

/* The element at p, about to be written (runtime/core/method.h). */
static void prewrite(lua_State *L, mo_array *a, unsigned char *p) {
  mo_view_wptr(L, &a->v, (size_t)(p - a->v.ptr), a->itemsize);
}

/* ---- Load, store, add, compare-and-swap ---- */

static int array_atomic_load(lua_State *L) {
  mo_array *a = SELF(L);
  unsigned char *p = checkatomic(L, a, "atomic_load", 2);
  uint64_t v = a->itemsize == 4
                   ? __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST)
                   : __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST);
  pushbits(L, a, v);
  return 1;
}

static int array_atomic_store(lua_State *L) {
  mo_array *a = SELF(L);
  unsigned char *p = checkatomic(L, a, "atomic_store", 2);
  mo_value v = mo_value_check(L, a->etype, 3);
  prewrite(L, a, p);
  if (a->itemsize == 4)
    __atomic_store_n((uint32_t *)p, (uint32_t)v.u, __ATOMIC_SEQ_CST);
  else
    __atomic_store_n((uint64_t *)p, v.u, __ATOMIC_SEQ_CST);
  return 0;
}

/* a:atomic_add(i, v): adds (wrapping) and returns the old value. */
static int array_atomic_add(lua_State *L) {
  mo_array *a = SELF(L);
  unsigned char *p = checkatomic(L, a, "atomic_add", 2);
  uint64_t n = (uint64_t)checkaddend(L, a, 3), old;
  prewrite(L, a, p);
  if (a->itemsize == 4)
    old = __atomic_fetch_add((uint32_t *)p, (uint32_t)n, __ATOMIC_SEQ_CST);
  else
    old = __atomic_fetch_add((uint64_t *)p, n, __ATOMIC_SEQ_CST);
  pushbits(L, a, old);
  return 1;
}

/* a:atomic_cas(i, expected, new): stores new if the element equals
** expected; returns the old value either way (equal to expected when it
** succeeded). */
static int array_atomic_cas(lua_State *L) {
  mo_array *a = SELF(L);
  unsigned char *p = checkatomic(L, a, "atomic_cas", 2);
  mo_value e = mo_value_check(L, a->etype, 3);
  mo_value n = mo_value_check(L, a->etype, 4);
  uint64_t old;
  prewrite(L, a, p);
  if (a->itemsize == 4) {
    uint32_t x = (uint32_t)e.u;
    __atomic_compare_exchange_n((uint32_t *)p, &x, (uint32_t)n.u, 0,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    old = x;
  } else {
    uint64_t x = e.u;
    __atomic_compare_exchange_n((uint64_t *)p, &x, n.u, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    old = x;
  }
  pushbits(L, a, old);
  return 1;
}

/* ---- Wait and notify ---- */

/* Raise for a failed futex call. EFAULT: the kernel could not read the
** word, a lost page of a mapped file? Touching it lets the fault handler
** say so, and the fault is what is raised. */
static int futex_error(lua_State *L, const char *op, int err, uint32_t *word) {
  if (err == EFAULT) (void)*(volatile uint32_t *)word;
  mo_fault_check(L);
  return mo_oserror(L, op, err);
}

/* The 32-bit word a futex watches: the element itself, or for 64-bit
** elements the half that holds the low bits. */
static uint32_t *futex_word(mo_array *a, unsigned char *p) {
  if (a->itemsize == 4) return (uint32_t *)p;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return (uint32_t *)(p + 4);
#else
  return (uint32_t *)p;
#endif
}

/*
** a:wait(i, expected [, timeout_s]) -> "ok" | "not-equal" | "timed-out".
** Sleeps while element i equals expected, until a:notify(i) (in any
** process) or the timeout. A signal that interrupts the sleep ends the
** wait ("ok", a wake-up the caller's loop re-checks): lua.c's SIGINT
** handler sets a hook that raises "interrupted!" as this returns, so
** Ctrl-C stops a waiting script as it stops a busy loop. For a 64-bit
** element the whole value is compared first; the kernel then compares
** the low 32 bits when it goes to sleep.
*/
static int array_wait(lua_State *L) {
  static const char *const results[] = {"ok", "not-equal", "timed-out"};
  mo_array *a = SELF(L);
  unsigned char *p = checkatomic(L, a, "wait", 2);
  mo_value e = mo_value_check(L, a->etype, 3);
  struct timespec deadline, *dl = NULL;
  uint32_t *word = futex_word(a, p);
  int r = 0, err;
  if (!lua_isnoneornil(L, 4)) {
    lua_Number t = luaL_checknumber(L, 4);
    luaL_argcheck(L, t >= 0 && t < 1e9, 4, "timeout must be 0..1e9 seconds");
    mo_os_deadline(&deadline, t);
    dl = &deadline;
  }
  if (a->itemsize == 8 &&
      __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST) != e.u) {
    r = 1;
  } else if ((err = mo_os_futex_wait(word, (uint32_t)e.u, dl)) != 0) {
    if (err == EAGAIN) r = 1;
    else if (err == ETIMEDOUT) r = 2;
    else if (err != EINTR) return futex_error(L, "wait", err, word);
  }
  lua_pushstring(L, results[r]);
  return 1;
}

/* a:notify(i [, count]) -> number of waiters woken (default: all). */
static int array_notify(lua_State *L) {
  mo_array *a = SELF(L);
  unsigned char *p = checkatomic(L, a, "notify", 2);
  lua_Integer count = luaL_optinteger(L, 3, INT_MAX);
  long n = 0;
  int err;
  luaL_argcheck(L, count >= 0, 3, "count must be non-negative");
  if (count > INT_MAX) count = INT_MAX;
  err = mo_os_futex_wake_count(futex_word(a, p), (int)count, &n);
  if (err != 0) return futex_error(L, "notify", err, futex_word(a, p));
  lua_pushinteger(L, n);
  return 1;
}

#define MO_METHOD_KIND mo_array_kind
#define ATOMIC_METHODS(X)                                            \
  X("atomic_load", array_atomic_load, 1, MO_M_BYTES)                 \
  X("atomic_store", array_atomic_store, 2, MO_M_WRITES | MO_M_BYTES) \
  X("atomic_add", array_atomic_add, 2, MO_M_WRITES | MO_M_BYTES)     \
  X("atomic_cas", array_atomic_cas, 3, MO_M_WRITES | MO_M_BYTES)     \
  X("wait", array_wait, 3, MO_M_BYTES)                               \
  X("notify", array_notify, 2, MO_M_BYTES)
MO_METHODS(static, atomic_methods, ATOMIC_METHODS);

void mo_atomics_open(lua_State *L) {
  mo_array_declare(L, atomic_methods);
}

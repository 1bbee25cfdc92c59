/*
** fault.c: turning faults on memory we map into Lua errors. A file we
** mapped can be truncated by another process; touching its lost pages
** raises SIGBUS. The handler below, for an address inside one of our
** mappings, maps an anonymous zero page over the faulting page, sets a
** flag and returns, so the access completes (reading zeros); accesses
** check the flag afterwards (one load) and raise the Lua error. Faults
** anywhere else get whatever action was installed before us.
*/
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "core.h"

volatile sig_atomic_t mo_fault_pending = 0;

int mo_fault_raise(lua_State *L) {
  mo_fault_pending = 0;
  return luaL_error(L, "memobj: access to pages lost by a truncated file");
}

/* ---- Registry of mapped ranges ---- */

/*
** A fixed table, so that the handler reads it without locks or
** allocation. Writers (under `lock`) clear `len` before they change
** `start`, and publish `len` last; the handler reads `len` first, so it
** never pairs a start with another mapping's length in a way that would
** make it patch memory that is not ours.
*/
#define NSLOTS 4096

static struct {
  _Atomic uintptr_t start;
  _Atomic size_t len;
} slots[NSLOTS];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int installed;
static struct sigaction previous;
static size_t pagesize;

static void handler(int sig, siginfo_t *si, void *uctx);

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  pagesize = (size_t)sysconf(_SC_PAGESIZE);
  if (sigaction(SIGBUS, &sa, &previous) == 0) installed = 1;
}

int mo_fault_register(void *addr, size_t len) {
  int i, slot = -1;
  pthread_mutex_lock(&lock);
  if (!installed) install();
  for (i = 0; i < NSLOTS; i++) {
    if (atomic_load(&slots[i].start) == 0) {
      slot = i;
      atomic_store(&slots[i].start, (uintptr_t)addr);
      atomic_store(&slots[i].len, len);
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  return slot;
}

void mo_fault_update(int slot, void *addr, size_t len) {
  if (slot < 0) return;
  pthread_mutex_lock(&lock);
  atomic_store(&slots[slot].len, 0);
  atomic_store(&slots[slot].start, (uintptr_t)addr);
  atomic_store(&slots[slot].len, len);
  pthread_mutex_unlock(&lock);
}

void mo_fault_unregister(int slot) {
  if (slot < 0) return;
  pthread_mutex_lock(&lock);
  atomic_store(&slots[slot].len, 0);
  atomic_store(&slots[slot].start, 0);
  pthread_mutex_unlock(&lock);
}

/* ---- The handler (async-signal-safe: loads, mmap, sigaction) ---- */

static int ours(uintptr_t a) {
  int i;
  for (i = 0; i < NSLOTS; i++) {
    size_t len = atomic_load(&slots[i].len);
    uintptr_t start = atomic_load(&slots[i].start);
    if (len && a - start < len) return 1;
  }
  return 0;
}

static void handler(int sig, siginfo_t *si, void *uctx) {
  uintptr_t a = (uintptr_t)si->si_addr;
  int saved = errno;
  if (ours(a)) {
    void *page = (void *)(a & ~(uintptr_t)(pagesize - 1));
    if (mmap(page, pagesize, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
      mo_fault_pending = 1;
      errno = saved;
      return;
    }
  }
  /* not ours (or no page to patch it with): what was there before us */
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) {
      previous.sa_sigaction(sig, si, uctx);
      errno = saved;
      return;
    }
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    errno = saved;
    return;
  }
  /* the default action: returning re-executes a faulting access, which
  ** faults again and now terminates the process as it would have without
  ** us; a signal that was sent (kill) is sent again */
  {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0) raise(sig);
  }
  errno = saved;
}

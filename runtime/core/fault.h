/*
** fault.h: lost pages of mapped files become Lua errors (fault.c)
*/
#ifndef MO_FAULT_H
#define MO_FAULT_H

#include "base.h"

/* ---- Faults (runtime/core/fault.c) ---- */
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

#endif

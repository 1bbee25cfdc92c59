/*
** os.h: the operating-system layer. Every memory system call of memobj
** (the mmap family, file sizes and syncs, shared memory and memfd
** names, whole-buffer reads and writes of pool files, renames) goes
** through the functions below, and they call the OS through one table of
** replaceable entries (as SQLite's aSyscall[]): a test swaps an entry to
** inject ENOSPC, EINTR, short writes, EIO from fdatasync or a crash at a
** chosen call, without any test code in release paths.
**
** The contract, for every mo_os_* function that returns int: 0 on
** success, else a positive errno value (never -1, errno is not needed).
** EINTR is retried inside the layer where a retry is safe (ftruncate,
** fallocate, syncs, open, pread/pwrite, write); close is never retried.
** Sizes are in bytes; functions taking an address and length for the
** mmap family need a page-aligned address (mo_page_size) and round
** the length up to whole pages, as the OS does.
**
** This header and os.c include no Lua header: the layer sits below the
** runtime and may be used from a signal handler (the table is read with
** one atomic load per call; mo_os_map is async-signal-safe).
*/
#ifndef MO_OS_H
#define MO_OS_H

#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- Page size: the one source ---- */

/* The page size of the system (sysconf, read once). */
size_t mo_page_size(void);
/* Round n up to a multiple of the page size; SIZE_MAX on overflow. */
size_t mo_page_up(size_t n);

/* ---- Address space ---- */

/* mmap(addr, len, prot, flags, fd, off) -> *out. prot and flags are the
** POSIX PROT_* and MAP_* values. */
int mo_os_map(void *addr, size_t len, int prot, int flags, int fd, off_t off,
              void **out);
/* Reserve len bytes of inaccessible address space (PROT_NONE, anonymous,
** MAP_NORESERVE: costs no memory until committed with mo_os_protect). */
int mo_os_reserve(size_t len, void **out);
int mo_os_unmap(void *addr, size_t len);
/* mremap(addr, oldlen, newlen, flags[, newaddr]) -> *out. */
int mo_os_remap(void *addr, size_t oldlen, size_t newlen, int flags,
                void *newaddr, void **out);
int mo_os_protect(void *addr, size_t len, int prot);
/* msync(MS_SYNC): write the changed pages of a shared file mapping. */
int mo_os_msync(void *addr, size_t len);

/* Access hints, the values of m:advise (runtime/core/memory.c). */
enum { MO_ADV_NORMAL, MO_ADV_SEQUENTIAL, MO_ADV_RANDOM, MO_ADV_WILLNEED,
       MO_ADV_DONTNEED };
/*
** The one madvise mapping. A hint never changes the bytes a program
** sees, so MO_ADV_DONTNEED reaches the OS only when `refetchable` says
** the pages can be read back as they are (a shared file mapping: they
** are in the file). On anonymous or private memory DONTNEED would zero
** the pages, so there it is accepted and does nothing. len 0 is a no-op.
*/
int mo_os_advise(void *addr, size_t len, int hint, int refetchable);
/* Give pages back to the OS: their contents are no longer wanted
** (anonymous memory reads as zeros afterwards). Not a hint. */
int mo_os_discard(void *addr, size_t len);

/* ---- Files and names ---- */

/* open(path, flags, mode) -> *fd. */
int mo_os_open(const char *path, int flags, mode_t mode, int *fd);
/* close(fd); a negative fd is a no-op. The descriptor is gone even when
** this reports an error (Linux), so it is never retried. */
int mo_os_close(int fd);
int mo_os_fstat(int fd, struct stat *st);
int mo_os_truncate(int fd, off_t len);
/* fallocate(fd, 0, off, len): EOPNOTSUPP where the file system cannot. */
int mo_os_allocate(int fd, off_t off, off_t len);
int mo_os_datasync(int fd);
int mo_os_fsync(int fd);
/* Write or read exactly n bytes at off. A short transfer continues; a
** read that meets the end of the file returns EIO; a write that makes no
** progress returns EIO. */
int mo_os_pwrite_all(int fd, const void *buf, size_t n, off_t off);
int mo_os_pread_all(int fd, void *buf, size_t n, off_t off);
int mo_os_write_all(int fd, const void *buf, size_t n);
int mo_os_rename(const char *from, const char *to);
int mo_os_link(const char *from, const char *to);
int mo_os_unlink(const char *path);

/* POSIX shared memory names. */
int mo_os_shm_open(const char *name, int flags, mode_t mode, int *fd);
int mo_os_shm_unlink(const char *name);
/* memfd_create(name, flags) -> *fd (MFD_* flags). */
int mo_os_memfd(const char *name, unsigned flags, int *fd);
/* File seals (F_ADD_SEALS / F_GET_SEALS, F_SEAL_* bits). */
int mo_os_add_seals(int fd, int seals);
int mo_os_get_seals(int fd, int *seals);

/* ---- The table of system calls ---- */

/*
** Each entry has a name and the signature of the call it stands for
** (open and fcntl take their optional argument as a plain int/mode_t,
** mremap its new address, so that no entry is variadic):
**   "mmap"  void *(void *, size_t, int, int, int, off_t)
**   "munmap" "mprotect" "madvise" "msync"   int (void *, size_t[, int])
**   "mremap" void *(void *, size_t, size_t, int, void *)
**   "open" int (const char *, int, mode_t)   "close" int (int)
**   "fstat" int (int, struct stat *)   "ftruncate" int (int, off_t)
**   "fallocate" int (int, int, off_t, off_t)
**   "fdatasync" "fsync" int (int)
**   "pwrite" ssize_t (int, const void *, size_t, off_t)   "pread" likewise
**   "write" ssize_t (int, const void *, size_t)
**   "rename" "link" int (const char *, const char *)   "unlink" int (const char *)
**   "shm_open" int (const char *, int, mode_t)   "shm_unlink" int (const char *)
**   "memfd_create" int (const char *, unsigned)   "fcntl" int (int, int, int)
** A replacement behaves like the call: -1 and errno on failure.
*/
typedef void (*mo_os_fn)(void);

/* Replace entry `name` with fn (NULL puts the system call back); *prev
** (may be NULL) receives the entry it replaces, so a replacement can
** call through. Returns 0, or ENOENT for an unknown name. */
int mo_os_set(const char *name, mo_os_fn fn, mo_os_fn *prev);
/* The current entry (NULL for an unknown name). */
mo_os_fn mo_os_get(const char *name);
/* The name after `name` (NULL: the first); NULL after the last. */
const char *mo_os_next(const char *name);

/* What luaopen_memobj publishes for test modules, as a light userdata in
** the Lua registry at MO_OS_SEAM_KEY: only C code can call it, so no
** script can reach the table. */
#define MO_OS_SEAM_KEY "memobj.os_seam"
#define MO_OS_SEAM_VERSION 1
typedef struct mo_os_seam {
  int version;
  int (*set)(const char *name, mo_os_fn fn, mo_os_fn *prev);
  mo_os_fn (*get)(const char *name);
  const char *(*next)(const char *name);
} mo_os_seam;
extern const mo_os_seam mo_os_seam_table;

#endif

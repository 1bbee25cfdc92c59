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
#include <stdint.h>
#include <pthread.h>
#include <time.h>
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
/* Ask for transparent huge pages (MADV_HUGEPAGE) on the whole 2 MiB
** units inside [addr, addr+len): fewer page faults and TLB misses on a
** big buffer, as numpy asks for every array of 4 MiB or more. A hint: 0
** where the system has no such advice. */
int mo_os_hugepages(void *addr, size_t len);
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
/* Streams (pipes, sockets, terminals, files). One read of at most n
** bytes, EINTR retried: *got is 0 at the end of the stream. */
int mo_os_read(int fd, void *buf, size_t n, size_t *got);
/* Write all n bytes, retrying EINTR and short writes; *done counts the
** bytes written, also when it fails (EAGAIN on a non-blocking fd). */
int mo_os_write_count(int fd, const void *buf, size_t n, size_t *done);
/* Wait until fd is readable (write 0) or writable (write 1), with no
** time limit (poll; EINTR retried). An error or hang-up also ends it. */
int mo_os_wait_fd(int fd, int write);
int mo_os_rename(const char *from, const char *to);
int mo_os_link(const char *from, const char *to);
/* Give the unnamed file open on fd (O_TMPFILE) the name `to`: linkat
** through /proc/self/fd with AT_SYMLINK_FOLLOW, the unprivileged way
** (plain link() would not follow the /proc link). EEXIST if taken. */
int mo_os_link_fd(int fd, const char *to);
int mo_os_unlink(const char *path);
int mo_os_stat(const char *path, struct stat *st);
int mo_os_lstat(const char *path, struct stat *st);
int mo_os_fchmod(int fd, mode_t mode);
/* flock(fd, LOCK_EX | LOCK_NB): EWOULDBLOCK when another holds it. */
int mo_os_trylock(int fd);
/* posix_fadvise(fd, off, len, POSIX_FADV_WILLNEED): a hint. */
int mo_os_willneed(int fd, off_t off, off_t len);
/* fsync the directory that holds path, so that a new name in it
** survives power loss. */
int mo_os_syncdir(const char *path);
/* The process id (getpid: not cached, so a forked child sees its own). */
long mo_os_pid(void);
/* 1 when the file system holding fd has no block left for a user (a
** page of a sparse file could not be given), else 0. */
int mo_os_fsfull(int fd);

/* ---- A file that takes a name whole (temporary file and rename) ---- */

/*
** The one way memobj writes a file that must appear whole or not at all
** (npy.save, a new pool, a version-1 pool's upgrade): write it under a
** temporary name next to its final place, then rename or link it there.
** Symbolic links in path are followed to the final name (a dangling
** link: its target is created, as open(O_CREAT) does), so a link stays
** a link. A file that is replaced keeps its permission bits (not its
** owner); a new one gets `mode` less the umask.
*/
typedef struct mo_os_newfile {
  int fd;          /* the temporary file, open for reading and writing */
  char *target;    /* the final name, links followed (malloc'd) */
  char *tmp;       /* the temporary name, NULL once it is gone */
} mo_os_newfile;

/* Create the temporary file for path. An existing target that is not a
** regular file is refused (EISDIR for a directory, else EINVAL); ELOOP
** after 40 links. On failure nothing is left and f needs no end. */
int mo_os_newfile_begin(mo_os_newfile *f, const char *path, mode_t mode);
enum { MO_OS_REPLACE, MO_OS_CREATE };
/*
** Give the file its final name: MO_OS_REPLACE renames it over the target;
** MO_OS_CREATE links it there only if no file has that name (EEXIST
** otherwise) and removes the temporary name. With sync, the file is
** synced first (its bytes are durable before the name points at them)
** and the directory after (the name is durable). The descriptor stays
** open.
*/
int mo_os_newfile_commit(mo_os_newfile *f, int how, int sync);
/* Close the descriptor (unless the caller took it: fd = -1), remove the
** temporary name if it is still there, free the names. */
void mo_os_newfile_end(mo_os_newfile *f);

/* POSIX shared memory names. */
int mo_os_shm_open(const char *name, int flags, mode_t mode, int *fd);
int mo_os_shm_unlink(const char *name);
/* memfd_create(name, flags) -> *fd (MFD_* flags). */
int mo_os_memfd(const char *name, unsigned flags, int *fd);
/* File seals (F_ADD_SEALS / F_GET_SEALS, F_SEAL_* bits). */
int mo_os_add_seals(int fd, int seals);
int mo_os_get_seals(int fd, int *seals);

/* ---- Futexes and processes ---- */

/* Sleep while *word == val (a process-shared futex: no PRIVATE flag)
** until a wake, a signal (EINTR: a deadline is always given, so the
** kernel never restarts the wait behind a handler's back) or the
** absolute CLOCK_MONOTONIC deadline (ETIMEDOUT); EAGAIN: *word != val. */
int mo_os_futex_wait(uint32_t *word, uint32_t val,
                     const struct timespec *deadline);
/* Wake up to n sleepers on word. */
int mo_os_futex_wake(uint32_t *word, int n);
/* The same, telling how many woke. */
int mo_os_futex_wake_count(uint32_t *word, int n, long *woken);
/* Worker threads (memobj.expr {threads = n}). A worker takes no
** asynchronous signal (Ctrl-C goes to the Lua thread); the synchronous
** ones (SIGBUS of a lost page) stay its own. 0 or an errno. */
typedef pthread_t mo_os_thread;
int mo_os_thread_start(mo_os_thread *t, void *(*fn)(void *), void *arg);
void mo_os_thread_join(mo_os_thread t);
/* The CLOCK_MONOTONIC time `seconds` from now (futex deadlines); a
** negative, NaN or huge `seconds` is 1e9 (no limit). */
void mo_os_deadline(struct timespec *ts, double seconds);
/* CLOCK_MONOTONIC in nanoseconds (bounded spins). */
uint64_t mo_os_now_ns(void);
/* Does process pid exist (kill(pid, 0))? 0 only when it surely does not. */
int mo_os_alive(pid_t pid);

/* ---- The table of system calls ---- */

/*
** Each entry has a name and the signature of the call it stands for
** (open and fcntl take their optional argument as a plain int/mode_t, so
** that no entry is variadic):
**   "mmap"  void *(void *, size_t, int, int, int, off_t)
**   "munmap" "mprotect" "madvise" "msync"   int (void *, size_t[, int])
**   "open" int (const char *, int, mode_t)   "close" int (int)
**   "fstat" int (int, struct stat *)   "ftruncate" int (int, off_t)
**   "fallocate" int (int, int, off_t, off_t)
**   "fdatasync" "fsync" int (int)
**   "pwrite" ssize_t (int, const void *, size_t, off_t)   "pread" likewise
**   "write" ssize_t (int, const void *, size_t)   "read" ssize_t (int, void *, size_t)
**   "poll" int (struct pollfd *, nfds_t, int)
**   "rename" "link" int (const char *, const char *)   "unlink" int (const char *)
**   "shm_open" int (const char *, int, mode_t)   "shm_unlink" int (const char *)
**   "memfd_create" int (const char *, unsigned)   "fcntl" int (int, int, int)
**   "stat" "lstat" int (const char *, struct stat *)
**   "fchmod" int (int, mode_t)   "flock" int (int, int)
**   "fadvise" int (int, off_t, off_t, int) (-1 and errno, unlike
**     posix_fadvise)   "readlink" ssize_t (const char *, char *, size_t)
**   "getpid" pid_t (void)   "fstatvfs" int (int, struct statvfs *)
**   "linkat" int (int, const char *, int, const char *, int)
**   "futex" long (uint32_t *, int, uint32_t, const struct timespec *,
**           uint32_t)   "kill" int (pid_t, int)
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

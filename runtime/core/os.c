/*
** os.c: the operating-system layer (see os.h). Each function takes its
** system call from the table `sys`, so tests can replace any entry at run
** time; the defaults are the C library's calls, or small wrappers where
** the call is variadic.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include "os.h"

/* ---- Defaults that need a fixed signature ---- */

static int sys_open(const char *path, int flags, mode_t mode) {
  return open(path, flags, mode);
}

static int sys_fcntl(int fd, int cmd, int arg) {
  return fcntl(fd, cmd, arg);
}

static long sys_futex(uint32_t *addr, int op, uint32_t val,
                      const struct timespec *ts, uint32_t val3) {
  return syscall(SYS_futex, addr, op, val, ts, NULL, val3);
}

/* posix_fadvise returns its error; the table's entries set errno */
static int sys_fadvise(int fd, off_t off, off_t len, int advice) {
  int e = posix_fadvise(fd, off, len, advice);
  if (e == 0) return 0;
  errno = e;
  return -1;
}

/* ---- The table ---- */

enum {
  S_MMAP, S_MUNMAP, S_MPROTECT, S_MADVISE, S_MSYNC,
  S_OPEN, S_CLOSE, S_FSTAT, S_FTRUNCATE, S_FALLOCATE, S_FDATASYNC, S_FSYNC,
  S_PWRITE, S_PREAD, S_WRITE, S_RENAME, S_LINK, S_UNLINK,
  S_SHM_OPEN, S_SHM_UNLINK, S_MEMFD_CREATE, S_FCNTL, S_STAT, S_LSTAT,
  S_FCHMOD, S_FLOCK, S_FADVISE, S_READLINK, S_GETPID, S_FSTATVFS, S_LINKAT,
  S_READ, S_POLL, S_FUTEX, S_KILL, S_COUNT
};

typedef struct entry {
  const char *name;
  mo_os_fn def;       /* the system call */
  mo_os_fn cur;       /* what the layer calls (atomic loads and stores) */
} entry;

#define E(name, fn) {name, (mo_os_fn)(fn), (mo_os_fn)(fn)}
static entry sys[S_COUNT] = {
  E("mmap", mmap),           E("munmap", munmap),
  E("mprotect", mprotect),
  E("madvise", madvise),     E("msync", msync),
  E("open", sys_open),       E("close", close),
  E("fstat", fstat),         E("ftruncate", ftruncate),
  E("fallocate", fallocate), E("fdatasync", fdatasync),
  E("fsync", fsync),         E("pwrite", pwrite),
  E("pread", pread),         E("write", write),
  E("rename", rename),       E("link", link),
  E("unlink", unlink),       E("shm_open", shm_open),
  E("shm_unlink", shm_unlink), E("memfd_create", memfd_create),
  E("fcntl", sys_fcntl),     E("stat", stat),
  E("lstat", lstat),         E("fchmod", fchmod),
  E("flock", flock),         E("fadvise", sys_fadvise),
  E("readlink", readlink),   E("getpid", getpid),
  E("fstatvfs", fstatvfs),   E("linkat", linkat),
  E("read", read),           E("poll", poll),
  E("futex", sys_futex),     E("kill", kill),
};
#undef E

/* The current entry i, cast back to its own type. */
#define SYS(i, type) ((type)__atomic_load_n(&sys[i].cur, __ATOMIC_ACQUIRE))

static entry *find(const char *name) {
  int i;
  for (i = 0; i < S_COUNT; i++)
    if (strcmp(sys[i].name, name) == 0) return &sys[i];
  return NULL;
}

int mo_os_set(const char *name, mo_os_fn fn, mo_os_fn *prev) {
  entry *e = name ? find(name) : NULL;
  mo_os_fn old;
  if (e == NULL) return ENOENT;
  old = __atomic_exchange_n(&e->cur, fn ? fn : e->def, __ATOMIC_ACQ_REL);
  if (prev) *prev = old;
  return 0;
}

mo_os_fn mo_os_get(const char *name) {
  entry *e = name ? find(name) : NULL;
  return e ? __atomic_load_n(&e->cur, __ATOMIC_ACQUIRE) : NULL;
}

const char *mo_os_next(const char *name) {
  entry *e;
  if (name == NULL) return sys[0].name;
  e = find(name);
  return e && e + 1 < sys + S_COUNT ? e[1].name : NULL;
}

const mo_os_seam mo_os_seam_table = {MO_OS_SEAM_VERSION, mo_os_set,
                                     mo_os_get, mo_os_next};

/* ---- Page size ---- */

size_t mo_page_size(void) {
  static size_t ps;  /* racing first calls store the same value */
  size_t v = __atomic_load_n(&ps, __ATOMIC_RELAXED);
  if (v == 0) {
    long r = sysconf(_SC_PAGESIZE);
    v = r > 0 ? (size_t)r : 4096;
    __atomic_store_n(&ps, v, __ATOMIC_RELAXED);
  }
  return v;
}

size_t mo_page_up(size_t n) {
  size_t ps = mo_page_size();
  if (n > SIZE_MAX - (ps - 1)) return SIZE_MAX;
  return (n + ps - 1) & ~(ps - 1);
}

/* ---- Address space ---- */

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*range_fn)(void *, size_t);
typedef int (*range3_fn)(void *, size_t, int);

/* errno of a failed call; EIO if a replacement forgot to set it */
static int err_now(void) {
  return errno > 0 ? errno : EIO;
}

int mo_os_map(void *addr, size_t len, int prot, int flags, int fd, off_t off,
              void **out) {
  void *p = SYS(S_MMAP, mmap_fn)(addr, len, prot, flags, fd, off);
  if (p == MAP_FAILED) return err_now();
  *out = p;
  return 0;
}

int mo_os_reserve(size_t len, void **out) {
  return mo_os_map(NULL, len, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0, out);
}

int mo_os_unmap(void *addr, size_t len) {
  return SYS(S_MUNMAP, range_fn)(addr, len) != 0 ? err_now() : 0;
}

int mo_os_protect(void *addr, size_t len, int prot) {
  return SYS(S_MPROTECT, range3_fn)(addr, len, prot) != 0 ? err_now() : 0;
}

int mo_os_msync(void *addr, size_t len) {
  return SYS(S_MSYNC, range3_fn)(addr, len, MS_SYNC) != 0 ? err_now() : 0;
}

int mo_os_advise(void *addr, size_t len, int hint, int refetchable) {
  static const int advice[] = {MADV_NORMAL, MADV_SEQUENTIAL, MADV_RANDOM,
                               MADV_WILLNEED, MADV_DONTNEED};
  if (hint < 0 || hint > MO_ADV_DONTNEED) return EINVAL;
  if (len == 0 || (hint == MO_ADV_DONTNEED && !refetchable)) return 0;
  return SYS(S_MADVISE, range3_fn)(addr, len, advice[hint]) != 0 ? err_now()
                                                                 : 0;
}

int mo_os_hugepages(void *addr, size_t len) {
#ifdef MADV_HUGEPAGE
  const uintptr_t unit = (uintptr_t)2 << 20;
  uintptr_t lo = ((uintptr_t)addr + unit - 1) & ~(unit - 1);
  uintptr_t hi = ((uintptr_t)addr + len) & ~(unit - 1);
  if (len > UINTPTR_MAX - (uintptr_t)addr || hi <= lo) return 0;
  return SYS(S_MADVISE, range3_fn)((void *)lo, hi - lo, MADV_HUGEPAGE) != 0
             ? err_now() : 0;
#else
  (void)addr;
  (void)len;
  return 0;
#endif
}

int mo_os_discard(void *addr, size_t len) {
  if (len == 0) return 0;
  return SYS(S_MADVISE, range3_fn)(addr, len, MADV_DONTNEED) != 0 ? err_now()
                                                                  : 0;
}

/* ---- Files ---- */

typedef int (*open_fn)(const char *, int, mode_t);
typedef int (*fd_fn)(int);
typedef int (*fstat_fn)(int, struct stat *);
typedef int (*ftruncate_fn)(int, off_t);
typedef int (*fallocate_fn)(int, int, off_t, off_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*path2_fn)(const char *, const char *);
typedef int (*path_fn)(const char *);
typedef int (*memfd_fn)(const char *, unsigned);
typedef int (*fcntl_fn)(int, int, int);
typedef int (*stat_fn)(const char *, struct stat *);
typedef int (*fchmod_fn)(int, mode_t);
typedef int (*flock_fn)(int, int);
typedef int (*fadvise_fn)(int, off_t, off_t, int);
typedef ssize_t (*readlink_fn)(const char *, char *, size_t);
typedef pid_t (*getpid_fn)(void);
typedef int (*fstatvfs_fn)(int, struct statvfs *);
typedef int (*linkat_fn)(int, const char *, int, const char *, int);

/* 0, or the errno value of a call that returned -1 */
static int result(int rc) {
  return rc == -1 ? err_now() : 0;
}

static int open_with(int which, const char *path, int flags, mode_t mode,
                     int *fd) {
  int f;
  while ((f = SYS(which, open_fn)(path, flags, mode)) == -1 && errno == EINTR) {}
  if (f < 0) return err_now();
  *fd = f;
  return 0;
}

int mo_os_open(const char *path, int flags, mode_t mode, int *fd) {
  return open_with(S_OPEN, path, flags, mode, fd);
}

int mo_os_close(int fd) {
  if (fd < 0) return 0;
  return SYS(S_CLOSE, fd_fn)(fd) != 0 && errno != EINTR ? err_now() : 0;
}

int mo_os_fstat(int fd, struct stat *st) {
  return SYS(S_FSTAT, fstat_fn)(fd, st) != 0 ? err_now() : 0;
}

int mo_os_truncate(int fd, off_t len) {
  int rc;
  do rc = SYS(S_FTRUNCATE, ftruncate_fn)(fd, len);
  while (rc == -1 && errno == EINTR);  /* interrupted: try again */
  return result(rc);
}

int mo_os_allocate(int fd, off_t off, off_t len) {
  int rc;
  do rc = SYS(S_FALLOCATE, fallocate_fn)(fd, 0, off, len);
  while (rc == -1 && errno == EINTR);  /* interrupted: try again */
  return result(rc);
}

int mo_os_datasync(int fd) {
  int rc;
  do rc = SYS(S_FDATASYNC, fd_fn)(fd);
  while (rc == -1 && errno == EINTR);  /* interrupted: try again */
  return result(rc);
}

int mo_os_fsync(int fd) {
  int rc;
  do rc = SYS(S_FSYNC, fd_fn)(fd);
  while (rc == -1 && errno == EINTR);  /* interrupted: try again */
  return result(rc);
}

int mo_os_pwrite_all(int fd, const void *buf, size_t n, off_t off) {
  const char *p = (const char *)buf;
  while (n > 0) {
    ssize_t w = SYS(S_PWRITE, pwrite_fn)(fd, p, n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return err_now();
    }
    if (w == 0) return EIO;  /* no progress: do not spin */
    p += w;
    n -= (size_t)w;
    off += (off_t)w;
  }
  return 0;
}

int mo_os_pread_all(int fd, void *buf, size_t n, off_t off) {
  char *p = (char *)buf;
  while (n > 0) {
    ssize_t r = SYS(S_PREAD, pread_fn)(fd, p, n, off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return err_now();
    }
    if (r == 0) return EIO;  /* the file ends before the bytes asked for */
    p += r;
    n -= (size_t)r;
    off += (off_t)r;
  }
  return 0;
}

int mo_os_write_all(int fd, const void *buf, size_t n) {
  size_t done;
  return mo_os_write_count(fd, buf, n, &done);
}

int mo_os_rename(const char *from, const char *to) {
  return SYS(S_RENAME, path2_fn)(from, to) != 0 ? err_now() : 0;
}

int mo_os_link(const char *from, const char *to) {
  return SYS(S_LINK, path2_fn)(from, to) != 0 ? err_now() : 0;
}

int mo_os_link_fd(int fd, const char *to) {
  char from[64];
  snprintf(from, sizeof from, "/proc/self/fd/%d", fd);
  return SYS(S_LINKAT, linkat_fn)(AT_FDCWD, from, AT_FDCWD, to,
                                  AT_SYMLINK_FOLLOW) != 0 ? err_now() : 0;
}

int mo_os_unlink(const char *path) {
  return SYS(S_UNLINK, path_fn)(path) != 0 ? err_now() : 0;
}

int mo_os_stat(const char *path, struct stat *st) {
  return SYS(S_STAT, stat_fn)(path, st) != 0 ? err_now() : 0;
}

int mo_os_lstat(const char *path, struct stat *st) {
  return SYS(S_LSTAT, stat_fn)(path, st) != 0 ? err_now() : 0;
}

int mo_os_fchmod(int fd, mode_t mode) {
  return SYS(S_FCHMOD, fchmod_fn)(fd, mode) != 0 ? err_now() : 0;
}

int mo_os_trylock(int fd) {
  int rc;
  do rc = SYS(S_FLOCK, flock_fn)(fd, LOCK_EX | LOCK_NB);
  while (rc == -1 && errno == EINTR);  /* interrupted: try again */
  return result(rc);
}

int mo_os_willneed(int fd, off_t off, off_t len) {
  return result(SYS(S_FADVISE, fadvise_fn)(fd, off, len, POSIX_FADV_WILLNEED));
}

long mo_os_pid(void) {
  return (long)SYS(S_GETPID, getpid_fn)();
}

int mo_os_fsfull(int fd) {
  struct statvfs vfs;
  return SYS(S_FSTATVFS, fstatvfs_fn)(fd, &vfs) == 0 && vfs.f_bavail == 0;
}

/* The directory part of path ("." for a bare name) into out. */
static int dir_of(const char *path, char *out, size_t size) {
  const char *slash = strrchr(path, '/');
  size_t n = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
  if (n >= size) return ENAMETOOLONG;
  memcpy(out, slash == NULL ? "." : path, n);
  out[n] = '\0';
  return 0;
}

int mo_os_syncdir(const char *path) {
  char dir[PATH_MAX];
  int fd, e = dir_of(path, dir, sizeof dir);
  if (e || (e = mo_os_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &fd)))
    return e;
  e = mo_os_fsync(fd);
  mo_os_close(fd);
  return e;
}

/* ---- A file that takes a name whole ---- */

/* Follow the symbolic links of path's last component (up to 40, as the
** kernel does) into out: the name a file at path really has. A missing
** name ends the walk (a dangling link: its target). */
static int resolve(const char *path, char *out, size_t size) {
  char link[PATH_MAX];
  struct stat st;
  int hops;
  if (strlen(path) >= size) return ENAMETOOLONG;
  strcpy(out, path);
  for (hops = 0; hops <= 40; hops++) {
    ssize_t n;
    size_t keep;
    int e = mo_os_lstat(out, &st);
    if (e == ENOENT) return 0;
    if (e) return e;
    if (!S_ISLNK(st.st_mode)) return 0;
    n = SYS(S_READLINK, readlink_fn)(out, link, sizeof link - 1);
    if (n < 0) return err_now();
    link[n] = '\0';
    /* a relative target is relative to the link's directory */
    keep = link[0] == '/' || strrchr(out, '/') == NULL
               ? 0 : (size_t)(strrchr(out, '/') - out) + 1;
    if (keep + (size_t)n >= size) return ENAMETOOLONG;
    memcpy(out + keep, link, (size_t)n + 1);
  }
  return ELOOP;
}

/* Open a fresh temporary name next to the target (O_EXCL: never someone
** else's file). */
static int open_tmp(mo_os_newfile *f, mode_t mode) {
  static unsigned long counter;  /* atomic: threads make names too */
  size_t len = strlen(f->target) + 64;
  struct timespec ts;
  int k, e = EEXIST;
  if ((f->tmp = (char *)malloc(len)) == NULL) return ENOMEM;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  for (k = 0; k < 100 && e == EEXIST; k++) {
    unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    snprintf(f->tmp, len, "%s.%ld-%lx.tmp", f->target, mo_os_pid(),
             (unsigned long)ts.tv_nsec ^ (n * 7919u));
    e = mo_os_open(f->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode,
                   &f->fd);
  }
  if (e) {
    free(f->tmp);
    f->tmp = NULL;
  }
  return e;
}

int mo_os_newfile_begin(mo_os_newfile *f, const char *path, mode_t mode) {
  char target[PATH_MAX];
  struct stat st;
  int e, exists;
  f->fd = -1;
  f->target = f->tmp = NULL;
  if ((e = resolve(path, target, sizeof target)) != 0) return e;
  e = mo_os_stat(target, &st);
  if (e && e != ENOENT) return e;
  exists = e == 0;
  if (exists && !S_ISREG(st.st_mode))
    return S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
  if ((f->target = strdup(target)) == NULL) return ENOMEM;
  if ((e = open_tmp(f, mode)) == 0 && exists)
    e = mo_os_fchmod(f->fd, st.st_mode & 07777);
  if (e) mo_os_newfile_end(f);
  return e;
}

int mo_os_newfile_commit(mo_os_newfile *f, int how, int sync) {
  int e = sync ? mo_os_fsync(f->fd) : 0;
  if (e) return e;
  if (how == MO_OS_REPLACE) {
    if ((e = mo_os_rename(f->tmp, f->target)) != 0) return e;
  } else {
    if ((e = mo_os_link(f->tmp, f->target)) != 0) return e;
    mo_os_unlink(f->tmp);
  }
  free(f->tmp);
  f->tmp = NULL;
  return sync ? mo_os_syncdir(f->target) : 0;
}

void mo_os_newfile_end(mo_os_newfile *f) {
  mo_os_close(f->fd);
  f->fd = -1;
  if (f->tmp) mo_os_unlink(f->tmp);
  free(f->tmp);
  free(f->target);
  f->tmp = f->target = NULL;
}

/* ---- Shared memory names and memfd ---- */

int mo_os_shm_open(const char *name, int flags, mode_t mode, int *fd) {
  return open_with(S_SHM_OPEN, name, flags, mode, fd);
}

int mo_os_shm_unlink(const char *name) {
  return SYS(S_SHM_UNLINK, path_fn)(name) != 0 ? err_now() : 0;
}

int mo_os_memfd(const char *name, unsigned flags, int *fd) {
  int f = SYS(S_MEMFD_CREATE, memfd_fn)(name, flags);
  if (f < 0) return err_now();
  *fd = f;
  return 0;
}

int mo_os_add_seals(int fd, int seals) {
  return SYS(S_FCNTL, fcntl_fn)(fd, F_ADD_SEALS, seals) != 0 ? err_now() : 0;
}

int mo_os_get_seals(int fd, int *seals) {
  int s = SYS(S_FCNTL, fcntl_fn)(fd, F_GET_SEALS, 0);
  if (s < 0) return err_now();
  *seals = s;
  return 0;
}

/* ---- Futexes and processes (queues and dictionaries) ---- */

typedef long (*futex_fn)(uint32_t *, int, uint32_t, const struct timespec *,
                         uint32_t);
typedef int (*kill_fn)(pid_t, int);

int mo_os_futex_wait(uint32_t *word, uint32_t val,
                     const struct timespec *deadline) {
  long r = SYS(S_FUTEX, futex_fn)(word, FUTEX_WAIT_BITSET, val, deadline,
                                  FUTEX_BITSET_MATCH_ANY);
  return r == 0 ? 0 : err_now();
}

int mo_os_futex_wake_count(uint32_t *word, int n, long *woken) {
  long r = SYS(S_FUTEX, futex_fn)(word, FUTEX_WAKE, (uint32_t)n, NULL, 0);
  if (r < 0) return err_now();
  if (woken) *woken = r;
  return 0;
}

int mo_os_futex_wake(uint32_t *word, int n) {
  return mo_os_futex_wake_count(word, n, NULL);
}

int mo_os_thread_start(mo_os_thread *t, void *(*fn)(void *), void *arg) {
  sigset_t all, old;
  int e;
  sigfillset(&all);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  pthread_sigmask(SIG_SETMASK, &all, &old);  /* the new thread inherits it */
  e = pthread_create(t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return e;
}

void mo_os_thread_join(mo_os_thread t) {
  pthread_join(t, NULL);
}

void mo_os_deadline(struct timespec *ts, double seconds) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  if (!(seconds >= 0) || seconds > 1e9) seconds = 1e9;  /* no limit */
  ts->tv_sec += (time_t)seconds;  /* seconds >= 0: truncation is floor */
  ts->tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

uint64_t mo_os_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int mo_os_alive(pid_t pid) {
  if (pid <= 0) return 0;
  if (SYS(S_KILL, kill_fn)(pid, 0) == 0) return 1;
  return errno != ESRCH;  /* EPERM: it lives, as someone else's */
}

/* ---- Streams: pipes, sockets, files (b:readfrom, b:writeto) ---- */

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef int (*poll_fn)(struct pollfd *, nfds_t, int);

int mo_os_read(int fd, void *buf, size_t n, size_t *got) {
  ssize_t r;
  *got = 0;
  do {
    r = SYS(S_READ, read_fn)(fd, buf, n);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return err_now();
  *got = (size_t)r;
  return 0;
}

int mo_os_write_count(int fd, const void *buf, size_t n, size_t *done) {
  const char *p = (const char *)buf;
  *done = 0;
  while (n > 0) {
    ssize_t w = SYS(S_WRITE, write_fn)(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return err_now();
    }
    if (w == 0) return EIO;
    p += w;
    n -= (size_t)w;
    *done += (size_t)w;
  }
  return 0;
}

int mo_os_wait_fd(int fd, int write) {
  struct pollfd pfd;
  int r;
  pfd.fd = fd;
  pfd.events = write ? POLLOUT : POLLIN;
  pfd.revents = 0;
  do {
    r = SYS(S_POLL, poll_fn)(&pfd, 1, -1);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? err_now() : 0;
}

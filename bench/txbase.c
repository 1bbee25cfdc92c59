/*
** txbase.c: baselines for bench/tx.lua, as a standalone program.
**   txbase append FILE SECONDS RECLEN AT  durable appends/s: RECLEN
**       bytes written at the end (from AT) of a preallocated log file,
**       fdatasync after each (the I/O of one durable commit, nothing
**       else); also prints the offset where the next call goes on
**   txbase lmdb DIR SECONDS N         LMDB transactions/s: 8 random puts
**       (get, add 1, put) of int64 values among N keys, durable commit
**   txbase read PATH                  seconds to read PATH from storage
**       (its cached pages are dropped first)
**   txbase drop PATH                  drop PATH's cached pages
** Each prints one number.
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_LMDB
#include <lmdb.h>
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Appends from offset `at` of `path` (created and preallocated once,
** kept between calls, so that no call pays for another's allocation or
** unlink); prints the rate and the offset to continue from. */
static int append(const char *path, double seconds, size_t reclen,
                  off_t at) {
  const off_t cap = (off_t)256 << 20;
  char *rec = malloc(reclen);
  long n = 0;
  double t0;
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  struct stat st;
  int rc = 1;
  if (fd < 0 || rec == NULL || fstat(fd, &st) != 0) goto out;
  if (st.st_size < cap && (fallocate(fd, 0, 0, cap) != 0 || fdatasync(fd)))
    goto out;
  memset(rec, 0x5a, reclen);
  t0 = now();
  do {
    if (at + (off_t)reclen > cap) at = 0;
    if (pwrite(fd, rec, reclen, at) != (ssize_t)reclen || fdatasync(fd) != 0)
      goto out;
    at += (off_t)reclen;
    n++;
  } while (now() - t0 < seconds);
  printf("%.1f %lld\n", n / (now() - t0), (long long)at);
  rc = 0;
out:
  if (fd >= 0) close(fd);
  free(rec);
  return rc;
}

#ifdef HAVE_LMDB
static int lmdb(const char *dir, double seconds, uint64_t nkeys) {
  MDB_env *env;
  MDB_dbi dbi;
  MDB_txn *txn;
  char path[4096];
  uint64_t k, rng = 88172645463325252ull;
  long n = 0;
  double t0;
  snprintf(path, sizeof path, "%s/lmdb", dir);
  if (mdb_env_create(&env) || mdb_env_set_mapsize(env, (size_t)1 << 30) ||
      mdb_env_open(env, dir, MDB_NOSUBDIR, 0600) != 0)
    return 1;
  (void)path;
  mdb_txn_begin(env, NULL, 0, &txn);
  mdb_dbi_open(txn, NULL, 0, &dbi);
  for (k = 0; k < nkeys; k++) {
    uint64_t v = 0;
    MDB_val key = {8, &k}, val = {8, &v};
    if (mdb_put(txn, dbi, &key, &val, 0)) return 1;
  }
  if (mdb_txn_commit(txn)) return 1;
  t0 = now();
  do {
    int i;
    mdb_txn_begin(env, NULL, 0, &txn);
    for (i = 0; i < 8; i++) {
      uint64_t key_n, v;
      MDB_val key = {8, &key_n}, val;
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      key_n = rng % nkeys;
      if (mdb_get(txn, dbi, &key, &val)) return 1;
      memcpy(&v, val.mv_data, 8);
      v++;
      val.mv_size = 8;
      val.mv_data = &v;
      if (mdb_put(txn, dbi, &key, &val, 0)) return 1;
    }
    if (mdb_txn_commit(txn)) return 1;
    n++;
  } while (now() - t0 < seconds);
  printf("%.1f\n", n / (now() - t0));
  mdb_env_close(env);
  return 0;
}
#endif

static int drop(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 1;
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
  return 0;
}

static int readall(const char *path) {
  enum { BUF = 1 << 20 };
  char *b = malloc(BUF);
  double t0;
  int fd;
  if (drop(path) || b == NULL || (fd = open(path, O_RDONLY)) < 0) return 1;
  t0 = now();
  while (read(fd, b, BUF) > 0) {}
  printf("%.4f\n", now() - t0);
  close(fd);
  free(b);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "append") == 0)
    return append(argv[2], atof(argv[3]), (size_t)atol(argv[4]),
                  (off_t)atoll(argv[5]));
#ifdef HAVE_LMDB
  if (argc == 5 && strcmp(argv[1], "lmdb") == 0)
    return lmdb(argv[2], atof(argv[3]), (uint64_t)atoll(argv[4]));
#endif
  if (argc == 3 && strcmp(argv[1], "read") == 0) return readall(argv[2]);
  if (argc == 3 && strcmp(argv[1], "drop") == 0) {
    if (drop(argv[2])) return 1;
    printf("0\n");
    return 0;
  }
  fprintf(stderr, "usage: see bench/txbase.c\n");
  return 2;
}

/*
** npy_format.h: numpy's .npy file format (versions 1.0, 2.0 and 3.0):
** the header is a magic string, a version, a length, and a Python
** literal dict {'descr': ..., 'fortran_order': ..., 'shape': (...)}.
** Reading and writing the header here uses no Lua, so that a libFuzzer
** target can drive the parser directly (tests/fuzz/fuzz_npy.c).
*/
#ifndef MO_NPY_FORMAT_H
#define MO_NPY_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define MO_NPY_MAXDIM 64                 /* numpy 2 allows 64 dimensions */
#define MO_NPY_MAXHEADER ((size_t)1 << 24) /* bigger headers are refused */
#define MO_NPY_PRELUDE 12                /* enough bytes to find the length */

/* One field of a structured dtype, or the one element of a plain dtype. */
typedef struct mo_npy_field {
  size_t name, namelen;  /* UTF-8 name: namelen bytes at names + name */
  char kind;             /* 'i', 'u', 'f' (numbers), 'b' (bool) or 'S' (bytes) */
  char order;            /* '<', '>' or '|' (one byte, no order) */
  size_t size;           /* bytes */
  size_t offset;         /* within the item */
} mo_npy_field;

typedef struct mo_npy {
  unsigned major, minor;        /* format version */
  size_t dataoff;               /* where the data part starts */
  int ndim;
  uint64_t shape[MO_NPY_MAXDIM];
  uint64_t count;               /* product of the shape */
  size_t itemsize;
  int structured;               /* descr is a list of fields */
  size_t nfields;
  mo_npy_field *fields;         /* malloc'd (parser) or the caller's */
  char *names;                  /* malloc'd (parser) or the caller's */
  uint64_t databytes;           /* count * itemsize */
} mo_npy;

/* From the first n bytes of a file (n >= MO_NPY_PRELUDE, or the whole
** file), the length of its header: magic, version, length field and dict.
** 0 and a message in err when it is not a .npy file we read. */
size_t mo_npy_headerlen(const unsigned char *p, size_t n, char *err,
                        size_t errlen);
/* Parse the header at p (n bytes, at least mo_npy_headerlen of them) of
** a file of filesize bytes into h. 0 on success; -1 and a message in err otherwise
** (h then holds nothing to free). */
int mo_npy_parse(mo_npy *h, const unsigned char *p, size_t n,
                 uint64_t filesize, char *err, size_t errlen);
/* Free what mo_npy_parse allocated. */
void mo_npy_free(mo_npy *h);

/* Write the header for h (fields, names, nfields, structured, itemsize,
** ndim and shape are read) into out[0 .. cap): version 1.0 when it fits,
** 2.0 when it is longer, 3.0 when a name is not ASCII. Returns its length
** (with cap too small, nothing or part is written: call again), or 0 and
** a message in err. */
size_t mo_npy_header(const mo_npy *h, char *out, size_t cap, char *err,
                     size_t errlen);

#endif

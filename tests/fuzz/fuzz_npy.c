/*
** fuzz_npy.c: libFuzzer target for the .npy header parser
** (access/npy_format.c), driven directly with no Lua. Each input is a
** whole file: the parser must accept it or give a message, never read
** outside the input (ASan), and what it accepts must be consistent: the
** data part inside the file, fields inside the item. An accepted header
** is written again and must parse to the same description. Built by
** `make fuzz`; the seeds are files numpy wrote.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../access/npy_format.h"

static void check(int cond, const char *what) {
  if (!cond) {
    fprintf(stderr, "npy fuzz: %s\n", what);
    abort();
  }
}

/* The header again from h, parsed: the same fields and shape. */
static void rewrite(const mo_npy *h) {
  char err[256];
  mo_npy g;
  size_t n = mo_npy_header(h, NULL, 0, err, sizeof err), k;
  char *buf;
  int d;
  if (n == 0) return;  /* e.g. names that are not UTF-8 cannot be written */
  buf = malloc(n);
  check(buf != NULL, "out of memory");
  check(mo_npy_header(h, buf, n, err, sizeof err) == n, "header length changed");
  check(mo_npy_parse(&g, (const unsigned char *)buf, n, n + h->databytes, err,
                     sizeof err) == 0, err);
  check(g.dataoff == n && g.ndim == h->ndim && g.itemsize == h->itemsize &&
        g.nfields == h->nfields && g.structured == h->structured, "rewritten header differs");
  for (d = 0; d < h->ndim; d++) check(g.shape[d] == h->shape[d], "shape differs");
  for (k = 0; k < h->nfields; k++) {
    const mo_npy_field *a = &h->fields[k], *b = &g.fields[k];
    check(a->kind == b->kind && a->order == b->order && a->size == b->size &&
          a->offset == b->offset && a->namelen == b->namelen &&
          (a->namelen == 0 ||
           memcmp(h->names + a->name, g.names + b->name, a->namelen) == 0),
          "field differs");
  }
  mo_npy_free(&g);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  mo_npy h;
  size_t hl = mo_npy_headerlen(data, size, err, sizeof err), k;
  if (hl == 0 || hl > size) return 0;
  /* a copy of exactly the header: ASan sees any read beyond it */
  {
    unsigned char *hdr = malloc(hl);
    int rc;
    check(hdr != NULL, "out of memory");
    memcpy(hdr, data, hl);
    rc = mo_npy_parse(&h, hdr, hl, size, err, sizeof err);
    free(hdr);
    if (rc != 0) {
      check(err[0] != 0, "refused without a message");
      return 0;
    }
  }
  check(h.dataoff == hl && h.databytes <= size - hl, "data part beyond the file");
  check(h.nfields >= 1 && h.itemsize >= 1, "no fields");
  for (k = 0; k < h.nfields; k++)
    check(h.fields[k].size >= 1 && h.fields[k].offset + h.fields[k].size <= h.itemsize,
          "field beyond the item");
  rewrite(&h);
  mo_npy_free(&h);
  return 0;
}

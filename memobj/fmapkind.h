/*
** fmapkind.h: the kind operations that "mapped" and "shared" memory
** share. Both kinds' objects begin with a memobj_mem and then the
** mo_fmap that holds their bytes (the layout of mo_fmapped below).
*/
#ifndef MO_FMAPKIND_H
#define MO_FMAPKIND_H

#include "../runtime/core/object.h"
#include "osmap.h"

typedef struct mo_fmapped {
  memobj_mem base;
  mo_fmap f;
} mo_fmapped;

/* Resize the mapping (mo_fmap_resize) and, when it worked, show the new
** address and size in the memory object. */
static inline int mo_fmapped_resize(memobj_mem *m, size_t n, off_t filelen,
                                    mo_fmap_step step, void *ctx) {
  mo_fmap *f = &((mo_fmapped *)m)->f;
  int err = mo_fmap_resize(f, m->size, n, filelen, step, ctx);
  if (err) return err;
  m->ptr = mo_fmap_data(f);
  m->size = n;
  return 0;
}

static void mo_fmapped_release(memobj_mem *m) {
  mo_fmap_close(&((mo_fmapped *)m)->f);
}

static int mo_fmapped_sync(memobj_mem *m, size_t off, size_t len) {
  return mo_fmap_sync(&((mo_fmapped *)m)->f, off, len);
}

static int mo_fmapped_protect(memobj_mem *m, int writable) {
  return mo_fmap_protect(&((mo_fmapped *)m)->f, writable);
}

static int mo_fmapped_advise(memobj_mem *m, int hint) {
  return mo_fmap_advise(&((mo_fmapped *)m)->f, hint);
}

/* A mapping belongs to the process: any thread may use and unmap it. */
static const char *mo_fmapped_exportable(memobj_mem *m) {
  (void)m;
  return NULL;
}

#endif

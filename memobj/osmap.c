/*
** osmap.c: file mappings for the "mapped", "shared" and "memfd" memory
** kinds (see osmap.h), over the OS layer (runtime/core/os.h: every call goes
** through its replaceable table). A mapping owns a region of address
** space: its first maplen bytes map the file, the rest is inaccessible
** and kept for growth. Every region is registered with the fault handler
** (runtime/core/fault.c), so pages lost under us cost Lua errors, not the
** process.
*/
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include "../runtime/core.h"
#include "../runtime/core/os.h"
#include "osmap.h"

size_t mo_os_pagesize(void) {
  return mo_page_size();
}

size_t mo_os_pageup(size_t n) {
  return mo_page_up(n);
}

static int prot_of(const mo_fmap *f) {
  return PROT_READ | (f->writable ? PROT_WRITE : 0);
}

/* ---- Regions ---- */

static int reserve(size_t len, unsigned char **out) {
  void *p;
  int err = mo_os_reserve(len, &p);
  if (err == 0) *out = (unsigned char *)p;
  return err;
}

/* Give region bytes [a, b) back to inaccessible reserved space. */
static int unmap_pages(mo_fmap *f, size_t a, size_t b) {
  void *p;
  if (b <= a) return 0;
  return mo_os_map(f->region + a, b - a, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                   -1, 0, &p);
}

/*
** Map region bytes [a, b) (page multiples) to the file. A private map
** gets anonymous zero pages where the file has no bytes, because file
** pages beyond the end of the file would fault; a shared map always maps
** the file (its length is the caller's business).
*/
static int map_pages(mo_fmap *f, size_t a, size_t b, off_t filelen) {
  size_t filepart = b;
  void *p;
  int err = 0;
  if (b <= a) return 0;
  if (f->private) {
    size_t avail = filelen > f->foff
                       ? mo_os_pageup((size_t)(filelen - f->foff)) : 0;
    if (avail < filepart) filepart = avail < a ? a : avail;
  }
  if (filepart > a)
    err = mo_os_map(f->region + a, filepart - a, prot_of(f),
                    MAP_FIXED | (f->private ? MAP_PRIVATE : MAP_SHARED),
                    f->fd, f->foff + (off_t)a, &p);
  if (!err && b > filepart)
    err = mo_os_map(f->region + filepart, b - filepart, prot_of(f),
                    MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &p);
  if (err) unmap_pages(f, a, b);
  return err;
}

/* ---- Opening and closing ---- */

int mo_fmap_open(mo_fmap *f, int fd, off_t off, size_t size, size_t max,
                 int writable, int private) {
  size_t ps = mo_os_pagesize(), need, cap;
  int err;
  memset(f, 0, sizeof *f);
  f->fd = fd;
  f->slot = -1;
  f->writable = writable;
  f->private = private;
  f->reserved = max > 0;
  f->foff = off & ~(off_t)(ps - 1);
  f->delta = (size_t)(off - f->foff);
  if (size > SIZE_MAX - f->delta || max > SIZE_MAX - f->delta) return ENOMEM;
  need = mo_os_pageup(f->delta + size);
  cap = max ? mo_os_pageup(f->delta + max) : need;
  if (need == SIZE_MAX || cap == SIZE_MAX) return ENOMEM;
  if (cap < ps) cap = ps;  /* even an empty object has an address */
  if ((err = reserve(cap, &f->region)) != 0) return err;
  f->reglen = cap;
  if ((err = map_pages(f, 0, need, off + (off_t)size)) != 0) goto fail;
  f->maplen = need;
  f->slot = mo_fault_register(f->region, f->reglen);
  if (f->slot < 0) {
    err = ENOMEM;  /* no memory for the fault registry */
    goto fail;
  }
  mo_fault_describe(f->slot, fd, f->foff, !private);
  return 0;
fail:
  mo_os_unmap(f->region, f->reglen);
  f->region = NULL;
  return err;
}

unsigned char *mo_fmap_data(const mo_fmap *f) {
  return f->region + f->delta;
}

void mo_fmap_close(mo_fmap *f) {
  if (f->region) {
    mo_fault_unregister(f->slot);
    mo_os_unmap(f->region, f->reglen);
    f->region = NULL;
  }
  mo_os_close(f->fd);
  f->fd = -1;
}

/* ---- Resizing ---- */

/*
** Growth beyond the region without a reservation: build the new mapping
** in a fresh region, run the caller's step, then drop the old region.
** Shared pages live in the file, so mapping them again is enough; a
** private map's copied pages live only in memory, so its data is copied
** over. Until the step succeeds the old mapping is untouched.
*/
static int move_grow(mo_fmap *f, size_t oldsize, size_t need, off_t filelen,
                     mo_fmap_step step, void *ctx) {
  mo_fmap g = *f;
  int err;
  if ((err = reserve(need, &g.region)) != 0) return err;
  g.reglen = need;
  g.writable = f->writable || f->private;  /* a private copy is written */
  if ((err = map_pages(&g, 0, need, filelen)) != 0 ||
      (step && (err = step(ctx)) != 0)) {
    mo_os_unmap(g.region, g.reglen);
    return err;
  }
  g.maplen = need;
  if (f->private) {
    memcpy(g.region + g.delta, f->region + f->delta, oldsize);
    /* pages the file lost under us were copied as zeros: keep the old
    ** mapping, whose lost pages raise from now on */
    err = mo_fault_take(f->region, f->reglen) ? ENOTRECOVERABLE : 0;
    /* then the protection the map had (protect("r")) */
    if (!err && !f->writable)
      err = mo_os_protect(g.region, g.maplen, PROT_READ);
    if (err) {
      mo_os_unmap(g.region, g.reglen);
      return err;
    }
    g.writable = f->writable;
  }
  mo_fault_update(f->slot, g.region, g.reglen);
  mo_os_unmap(f->region, f->reglen);
  *f = g;
  return 0;
}

/*
** Lost pages (runtime/core/fault.c) of the part that stays mapped are mapped
** from the file again, now that the caller's step has given the file its
** new length. If that fails they stay lost (inaccessible), never wrong.
*/
static int recover(mo_fmap *f, size_t upto, off_t filelen) {
  size_t lo, hi;
  int err;
  mo_fault_lostrange(f->slot, &lo, &hi);
  if (hi > upto) hi = upto;
  if (hi > lo && (err = map_pages(f, lo, hi, filelen)) != 0) return err;
  mo_fault_recover(f->slot);
  return 0;
}

int mo_fmap_resize(mo_fmap *f, size_t oldsize, size_t newsize, off_t filelen,
                   mo_fmap_step step, void *ctx) {
  size_t need, have = f->maplen;
  int err = 0, lost = mo_fault_lost(f->slot, 0, SIZE_MAX) != 0;
  /* a private map's changed pages live only here: the ones in the lost
  ** range may be gone, and mapping the file again would hide that */
  if (lost && f->private) return ENOTRECOVERABLE;
  if (newsize > SIZE_MAX - f->delta) return ENOMEM;
  need = mo_os_pageup(f->delta + newsize);
  if (need == SIZE_MAX) return ENOMEM;
  if (need > f->reglen) {
    if (f->reserved) return ENOMEM;
    return move_grow(f, oldsize, need, filelen, step, ctx);
  }
  if (need > have) {
    if ((err = map_pages(f, have, need, filelen)) != 0) return err;
    if (step && (err = step(ctx)) != 0) unmap_pages(f, have, need);
  } else if (need < have) {
    if ((err = unmap_pages(f, need, have)) != 0) return err;
    /* the step failed, so the file still has these pages */
    if (step && (err = step(ctx)) != 0) map_pages(f, need, have, filelen);
  } else if (step) {
    err = step(ctx);
  }
  if (err) return err;
  f->maplen = need;
  return lost ? recover(f, need < have ? need : have, filelen) : 0;
}

/* ---- Sync, protect, advise ---- */

int mo_fmap_sync(mo_fmap *f, size_t off, size_t len) {
  size_t ps = mo_os_pagesize(), start, end;
  int err;
  /* writes to lost pages never reached the file: never report success */
  if ((err = mo_fault_lost(f->slot, 0, SIZE_MAX)) != 0) return err;
  if (f->private || !f->writable || len == 0) return 0;
  start = (f->delta + off) & ~(ps - 1);
  end = mo_os_pageup(f->delta + off + len);
  if (end > f->maplen) end = f->maplen;
  if (end <= start) return 0;
  return mo_os_msync(f->region + start, end - start);
}

int mo_fmap_protect(mo_fmap *f, int writable) {
  int old = f->writable, err;
  f->writable = writable;
  err = f->maplen ? mo_os_protect(f->region, f->maplen, prot_of(f)) : 0;
  if (err) {
    f->writable = old;
    return err;
  }
  mo_fault_rearm(f->slot);  /* lost pages stay inaccessible */
  return 0;
}

int mo_fmap_advise(mo_fmap *f, int hint) {
  /* on a private map DONTNEED would throw away its changes: not a hint */
  return mo_os_advise(f->region, f->maplen, hint, !f->private);
}

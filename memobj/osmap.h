/*
** osmap.h: the thin operating-system layer under the "mapped" and
** "shared" memory kinds: a file mapped into address space that we own,
** which can grow in place (reserved with `max`) or move, be synced,
** protected and advised. Every mmap, mremap, msync, mprotect and
** madvise call of these kinds lives in osmap.c. Functions return 0 or
** an errno value.
*/
#ifndef MO_OSMAP_H
#define MO_OSMAP_H

#include <stddef.h>
#include <sys/types.h>

/*
** A mapping of the file range [foff, ...) at `region`. The data the
** memory object shows starts at region + delta (delta < page size: the
** user's offset need not be page aligned). The first `maplen` bytes of
** the region map the file; the rest of the region, up to `reglen`, is
** inaccessible address space kept for growth.
*/
typedef struct mo_fmap {
  int fd;
  int writable;          /* PROT_WRITE wanted (current protection) */
  int private;           /* MAP_PRIVATE: copy-on-write, the file never changes */
  int reserved;          /* reglen is fixed: grow in place (`max`) */
  int slot;              /* fault registry slot, -1 if none */
  off_t foff;            /* page-aligned file offset of the region */
  size_t delta;          /* data = region + delta */
  unsigned char *region;
  size_t reglen;         /* address space owned */
  size_t maplen;         /* bytes of it that map the file */
} mo_fmap;

size_t mo_os_pagesize(void);
/* Round n up to a multiple of the page size; SIZE_MAX on overflow. */
size_t mo_os_pageup(size_t n);

/* Map `size` bytes of fd from byte offset `off`, with room for `max`
** bytes (0: no reservation, growth may move the mapping). The mapping is
** registered with the fault handler (runtime/core/fault.c). */
int mo_fmap_open(mo_fmap *f, int fd, off_t off, size_t size, size_t max,
                 int writable, int private);
/* The data address. */
unsigned char *mo_fmap_data(const mo_fmap *f);
/* Change the mapped size from oldsize to newsize bytes of data. For
** private maps, pages wholly beyond `filelen` are mapped as anonymous
** zero pages (the file has no bytes there). `step` (may be NULL) is the
** caller's change to the file: it runs once the new mapping is in place
** and before the old one is dropped; if it fails (returns an errno
** value) the mapping is put back as it was. On failure nothing changed;
** on success the data may have moved unless reserved. Pages lost under
** a shared map (runtime/core/fault.c) are mapped from the file again, which
** makes them usable; a private map with lost pages refuses
** (ENOTRECOVERABLE: its own changes to them may be gone). */
typedef int (*mo_fmap_step)(void *ctx);
int mo_fmap_resize(mo_fmap *f, size_t oldsize, size_t newsize, off_t filelen,
                   mo_fmap_step step, void *ctx);
/* Unmap and close the file descriptor; idempotent. */
void mo_fmap_close(mo_fmap *f);
/* msync the data range [off, off+len), page rounding inside. Fails (EIO,
** or ENOSPC when the file system was full) while pages are lost: their
** writes never reached the file. */
int mo_fmap_sync(mo_fmap *f, size_t off, size_t len);
int mo_fmap_protect(mo_fmap *f, int writable);
/* hint: 0 normal, 1 sequential, 2 random, 3 willneed, 4 dontneed. */
int mo_fmap_advise(mo_fmap *f, int hint);

#endif

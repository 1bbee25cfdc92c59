/*
** object.h: the memory object base, its kind operations and the lock
** record: memobj's internal layout, not part of the public C API
** (memobj.h), so it may change without breaking compiled modules.
*/
#ifndef MO_OBJECT_H
#define MO_OBJECT_H

#include <stddef.h>
#include <stdint.h>

typedef struct memobj_mem memobj_mem;
typedef struct memobj_kind memobj_kind;

/*
** A lock: one per view or locked C buffer, linked into its memory
** object's list so that a refused resize/close/protect can name every
** holder and check every locked range.
*/
typedef struct memobj_lock {
  struct memobj_lock *prev, *next;
  memobj_mem *mem;
  size_t offset, length;  /* locked byte range */
  int write;              /* taken with write intent */
  const char *what;       /* holder kind, a static string ("array view") */
  char where[80];         /* Lua source:line that took the lock */
} memobj_lock;

/*
** A memory kind is a table of operations. Each returns 0, an errno value
** when the system failed (returned as nil, message, errno), or a negated
** errno value (-EACCES) when the object refuses the operation by its
** nature (misuse: raises). The core validates arguments and locks before
** calling them, so an operation only talks to the operating system or the
** allocator.
*/
struct memobj_kind {
  const char *name;         /* m.kind */
  const char *persistence;  /* m.persistence */
  const char *label;        /* "path", "name" or NULL: field for uservalue 1 */
  int (*resize)(memobj_mem *m, size_t n);            /* NULL: fixed size */
  void (*release)(memobj_mem *m);                    /* free the bytes, once */
  int (*sync)(memobj_mem *m, size_t off, size_t len);         /* NULL: no-op */
  int (*protect)(memobj_mem *m, int writable);       /* NULL: unsupported */
  int (*advise)(memobj_mem *m, int hint);            /* NULL: no-op */
};

/* Links of the list of a state's live memory objects. */
typedef struct mo_objlink {
  struct mo_objlink *prev, *next;
} mo_objlink;

/*
** The memory object base. Kinds embed it as the first member of their
** own userdata.
*/
struct memobj_mem {
  uint32_t tag;              /* MO_TAG_MEM, checked before every use */
  uint8_t writable;          /* permission "rw" */
  uint8_t closed;
  uint8_t guarded;           /* writes must call the write hook first */
  uint8_t stat;              /* memobj.stats() state, owned by the runtime */
  uint8_t collected;         /* released by the collector, not by close */
  unsigned char *ptr;
  size_t size;
  size_t max;                /* reserved capacity for in-place growth, 0: none */
  const memobj_kind *kind;
  unsigned nlocks, nwlocks;  /* views attached, writable ones */
  memobj_lock *locks;        /* list of holders */
  void *tx;                  /* transaction state, owned by the runtime */
  size_t stat_bytes;         /* bytes counted in memobj.stats() */
  unsigned npins;            /* running calls using the bytes (runtime/core/pin.c) */
  mo_objlink link;           /* memobj.objects() (runtime/tools/objects.c) */
  struct mo_site *site;      /* the Lua line that made it (runtime/tools/objects.c) */
  struct mo_xcore *x;        /* exported: shared with other states (xstate.c) */
};

#endif

/*
** arena.h: memobj's small-object allocator (after pymalloc and mimalloc).
** Blocks of up to MO_ARENA_SMALL bytes come from size classes in 16-byte
** steps; each class carves pages of one size from arenas of MO_ARENA_SIZE
** bytes mapped from the OS and aligned to their size; larger blocks go to
** libc's malloc. No Lua header here: the allocator is below the runtime.
**
** A heap (mo_arena) has no lock: one thread uses it at a time (a Lua
** state's allocator), so several states in several threads each use their
** own. Whether a pointer is the heap's is decided from its address alone
** (the arena base is in the heap's table: pymalloc's address-in-range
** test), so blocks carry no header, and a pointer from any other
** allocator can be asked about safely.
*/
#ifndef MO_ARENA_H
#define MO_ARENA_H

#include <stddef.h>

#define MO_ARENA_SMALL 512          /* largest size served from pages */
#define MO_ARENA_SHIFT 20
#define MO_ARENA_SIZE ((size_t)1 << MO_ARENA_SHIFT)   /* 1 MiB */

typedef struct mo_arena mo_arena;

/* Calls inside memobj.so go straight to these, not through the PLT. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* A new empty heap; NULL when out of memory. */
mo_arena *mo_arena_new(void);
/* Free the heap: its arenas go back to the OS. Blocks it made for large
** sizes (libc's) are not tracked and must be freed before. */
void mo_arena_delete(mo_arena *h);

/* n > 0 bytes aligned to 16; NULL when out of memory. Sizes up to
** MO_ARENA_SMALL come from pages, others from libc malloc. */
void *mo_arena_malloc(mo_arena *h, size_t n);
/* Free p (NULL: no-op): a block of this heap, or one of libc's. */
void mo_arena_free(mo_arena *h, void *p);
/* Resize p (NULL: malloc) to n > 0 bytes; NULL (p untouched) when out of
** memory. */
void *mo_arena_realloc(mo_arena *h, void *p, size_t n);

/* The small-block calls, for callers that know the size class applies:
** 0 < n <= MO_ARENA_SMALL, and p a block that mo_arena_owns. */
void *mo_arena_small(mo_arena *h, size_t n);
void mo_arena_free_small(mo_arena *h, void *p);
/* Usable bytes of the owned block p (its size class). */
size_t mo_arena_usable(const void *p);

/* Whether p lies in one of h's arenas (any address may be asked). */
int mo_arena_owns(const mo_arena *h, const void *p);

/* Counters of a heap: bytes of arenas mapped now and at most, arenas
** mapped now (the spare included). */
typedef struct mo_arena_stats {
  size_t mapped, peak_mapped, arenas;
} mo_arena_stats;
void mo_arena_getstats(const mo_arena *h, mo_arena_stats *s);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif

/*
** array.h: the typed array view, shared with the files that add methods
** to it (bulk operations, kernels, atomics) and with other access kinds
** that build typed arrays (records' fields).
*/
#ifndef MO_ARRAY_H
#define MO_ARRAY_H

#include <stddef.h>
#include <stdint.h>
#include "../runtime/core.h"
#include "elemtype.h"

/*
** Elements are at v.ptr + first + k * stride (k 0-based). A contiguous
** array has stride == itemsize and first == 0, and its a[i] path never
** reads stride (it has its own metatable). v.offset and v.length are the
** bytes the elements span, which the view locks; first is nonzero only
** for a negative stride (element 1 is then at the end of the span).
*/
typedef struct mo_array {
  mo_view v;         /* v.count is the number of elements */
  uint8_t etype;     /* mo_etype: base type, + MO_NBASE if byte-swapped */
  uint8_t itemsize;
  ptrdiff_t stride;  /* bytes from one element to the next, never 0 */
  size_t first;      /* bytes from v.ptr to element 1 */
} mo_array;

#define MO_AELEM(a, k) \
  ((a)->v.ptr + (a)->first + (ptrdiff_t)(k) * (a)->stride)

static inline int mo_array_contiguous(const mo_array *a) {
  return a->stride == (ptrdiff_t)a->itemsize;
}

/* The live array at idx, or raise. */
mo_array *mo_checkarray(lua_State *L, int idx);
/* Check a 1-based element index i of a (negative not allowed) for a
** write or read that must exist; raises "index out of range". Returns
** the 0-based index. */
size_t mo_array_checkindex(lua_State *L, mo_array *a, int arg);
/* Declare methods of every typed array, contiguous and strided (called
** from openers after mo_array_open; runtime/core/method.h). */
void mo_array_declare(lua_State *L, const mo_method *list);
/* The kind of typed arrays, for MO_METHOD_KIND (array.c). */
extern const mo_viewkind mo_array_kind;

/*
** Push a typed array of `count` elements of type et over s->mem: element
** 1 at byte `off` of the memory object, element k+1 at off + k * stride
** (stride in bytes, negative walks backwards, |stride| >= the item size).
** Every element must lie inside the source range [s->offset, s->offset +
** s->length); raises otherwise. The array is strided (non-contiguous)
** unless stride is the item size or count <= 1. For C code in other
** files (records' r:field(name)); et comes from mo_etype_parse.
*/
mo_array *mo_array_new_strided(lua_State *L, const mo_source *s, size_t off,
                               size_t count, ptrdiff_t stride, int et,
                               int readonly);
/* The memory object of array a (at idx) as a source: pushes it. */
void mo_array_source(lua_State *L, int idx, mo_array *a, mo_source *s);
/* Byte offset in the memory object of element k (0-based). */
static inline size_t mo_array_elemoff(const mo_array *a, size_t k) {
  return (size_t)((ptrdiff_t)(a->v.offset + a->first) + (ptrdiff_t)k * a->stride);
}
/* The bytes that elements k .. k+n-1 (n >= 1) span, as a memory offset
** and a length: what a write to them must announce (mo_prewrite). */
static inline void mo_array_span(const mo_array *a, size_t k, size_t n,
                                 size_t *off, size_t *len) {
  size_t o1 = mo_array_elemoff(a, k), o2 = mo_array_elemoff(a, k + n - 1);
  *off = o1 < o2 ? o1 : o2;
  *len = (o1 < o2 ? o2 - o1 : o1 - o2) + a->itemsize;
}
/* Before writing elements k .. k+n-1 (n >= 1): mo_view_wptr over their
** span (the array still live, writable, the span logged). MO_AELEM is
** valid afterwards, until the next allocation. */
static inline void mo_array_wspan(lua_State *L, mo_array *a, size_t k,
                                  size_t n) {
  size_t off, len;
  mo_array_span(a, k, n, &off, &len);
  mo_view_wptr(L, &a->v, off - a->v.offset, len);
}
/* Before reading elements after an allocation: the array still live. */
static inline void mo_array_live(lua_State *L, mo_array *a) {
  mo_view_rptr(L, &a->v, 0, 0);
}
/*
** May writing a change what b reads, other than element for element?
** By address, as numpy compares them, since two memory objects can show
** the same bytes at one address (memobj.foreign over m.pointer). And two
** objects that another mapping can open by name (a file, shm, memfd: a
** kind with a label) may show the same bytes at two addresses (a file
** mapped twice): counted as sharing unless they are the same object.
*/
static inline int mo_array_mayshare(const mo_array *a, const mo_array *b) {
  uintptr_t pa = (uintptr_t)a->v.ptr, pb = (uintptr_t)b->v.ptr;
  if (a->v.count == 0 || b->v.count == 0) return 0;
  if (a->v.mem != b->v.mem && a->v.mem->kind->label && b->v.mem->kind->label)
    return 1;
  if (pa + a->first == pb + b->first && a->stride == b->stride &&
      a->etype == b->etype)
    return 0;  /* element for element: each is read before it is written */
  return pa < pb + b->v.length && pb < pa + a->v.length;
}
/* Clamp the optional range arguments i, j at arg, arg+1 (string.sub
** rules) to a 0-based start; returns the count (0 when empty). */
size_t mo_array_range(lua_State *L, mo_array *a, int arg, size_t *start);

#endif

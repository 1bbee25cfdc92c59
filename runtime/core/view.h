/*
** view.h: the view base every access kind embeds, and the resolvers of
** byte sources (view.c)
*/
#ifndef MO_VIEW_H
#define MO_VIEW_H

#include "base.h"
#include "lock.h"

/* ---- Views (runtime/core/view.c) ---- */
struct mo_bufdesc;

typedef struct mo_view {
  uint32_t tag;
  uint8_t released;
  uint8_t readonly;
  uint8_t strided;     /* elements not contiguous: not a byte range source */
  unsigned char *ptr;  /* mem->ptr + offset: memory cannot move while locked */
  size_t offset;       /* from the start of the memory object */
  size_t length;       /* bytes */
  size_t count;        /* items (elements, bytes); 0 once released, so
                          the bounds check of the hot path also catches
                          released views */
  memobj_mem *mem;
  /* how the C API describes its items (NULL: bytes); in the userdata's
  ** bytes, which no Lua code can write, unlike a metatable */
  const struct mo_bufdesc *desc;
  memobj_lock lock;
} mo_view;

/* What a view constructor was given, resolved to a memory object. */
typedef struct mo_source {
  memobj_mem *mem;
  int memidx;          /* stack index of the memory object */
  size_t offset;       /* start of the source range within mem */
  size_t length;
  int readonly;        /* the source view or memory is read-only */
} mo_source;

/*
** The bytes of the memory object, view or Lua string at idx: the one
** resolver every argument that takes bytes goes through. Pushes nothing
** and creates nothing. Returns 1, or 0 if idx holds none of these, or -1
** for a closed memory object or a released view (`dead` says which, for
** the caller's message; mo_checkbytes raises it).
*/
typedef struct mo_bytesrc {
  memobj_mem *mem;            /* NULL for a Lua string */
  mo_view *view;              /* the view at idx, or NULL */
  const unsigned char *ptr;   /* NULL only when length is 0 */
  size_t offset, length;      /* the range within mem */
  int readonly;               /* a string, read-only view or memory */
  const char *dead;           /* "memory object is closed", "view is released" */
} mo_bytesrc;
int mo_tobytes(lua_State *L, int idx, mo_bytesrc *b);
/* mo_tobytes, raising "memobj: <dead>" for a closed or released one;
** returns 0 if idx holds none of these. */
int mo_checkbytes(lua_State *L, int idx, mo_bytesrc *b);

/* How a view describes its items to the C API (memobj_buffer's format,
** itemsize, count, stride): a view whose items are not bytes points its
** desc at a static mo_bufdesc; without one the items are bytes ("B"). */
typedef struct mo_bufinfo {
  const char *format;
  size_t itemsize, count;
  ptrdiff_t stride;
  size_t first;        /* bytes from the view's start to item 0 (a
                          negative stride puts item 0 at the end) */
} mo_bufinfo;
typedef struct mo_bufdesc {
  void (*describe)(const mo_view *v, mo_bufinfo *out);
} mo_bufdesc;

/* Resolve the memory object, view or Lua string at idx. Always pushes one
** value: the memory object (a string memory for a Lua string). Returns 0
** if idx holds none of these. */
int mo_tosource(lua_State *L, int idx, mo_source *s);
void mo_checksource(lua_State *L, int idx, mo_source *s);
/* Parse an optional view mode ("r" / "rw") at arg; returns readonly. */
int mo_checkviewmode(lua_State *L, int arg, const mo_source *s);
/* Create a view userdata of udsize bytes with the metatable in the
** registry at mtkey, attach it to s->mem over [off, off+len), lock it. */
mo_view *mo_view_new(lua_State *L, size_t udsize, uint32_t tag,
                     const void *mtkey, const mo_source *s, size_t off,
                     size_t len, int readonly, const char *what);
/* The view at idx with this tag, or NULL. */
mo_view *mo_toview(lua_State *L, int idx, uint32_t tag);
/* Push the memory object of the view v at idx (its user value 1),
** raising if Lua code replaced it (debug.setuservalue). */
memobj_mem *mo_view_pushmem(lua_State *L, int idx, const mo_view *v);
/* The live view at idx, or raise. */
mo_view *mo_checkview(lua_State *L, int idx, uint32_t tag, const char *tname);
void mo_view_release(mo_view *v);
/* Push a common view field (memory, offset, length, readonly, released)
** named k; returns 0 if k is not one. */
int mo_view_field(lua_State *L, int idx, mo_view *v, const char *k);
void mo_checkwritable(lua_State *L, mo_view *v);
/* Build and register a view metatable: methods (plus release) are upvalue 1
** of `index`; meta adds metamethods; __gc and __close release. */
void mo_view_newmeta(lua_State *L, const void *mtkey, const luaL_Reg *methods,
                     const luaL_Reg *meta, lua_CFunction index);
/* Add methods to the view metatable registered at mtkey. */
void mo_view_addmethods(lua_State *L, const void *mtkey, const luaL_Reg *l);

#endif

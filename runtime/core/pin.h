/*
** pin.h: call-scope pins (pin.c)
*/
#ifndef MO_PIN_H
#define MO_PIN_H

#include "view.h"

/* ---- Call-scope pins (runtime/core/pin.c) ----
** The rule: a memobj C function never uses a pointer into a memory
** object (v->ptr, m->ptr, a length) across anything that can run Lua code
** (an allocation can run the collector and so any finalizer; a callback
** runs Lua code), unless something guarantees it:
** - a live view guarantees its own bytes (its lock: close and resize
**   refuse, writers refuse protect("r")). So after an allocation, check the
**   view again (mo_checkview, or v->released) and read v->ptr again; a
**   memory object used directly has no lock: fetch its pointer again. This
**   costs nothing, and is what the short methods do.
** - a pin guarantees the memory while Lua code runs or a loop allocates
**   with pointers held (b:gsub): close, resize, protect, begin, commit and
**   abort refuse pinned memory, and a view released meanwhile leaves its
**   bytes in place. A pin is a to-be-closed stack slot (about 200 ns), so
**   it ends when the C function returns or an error unwinds it. Each call
**   pushes one slot: take pins after reading varargs counts (lua_gettop),
**   and never move or remove that slot. */
void mo_pin(lua_State *L, int memidx);       /* the memory object at memidx */
/* The live view at idx with this tag (0: any view), its memory pinned;
** raises as mo_checkview does. top > 0: lua_settop(L, top) first, so
** that absent optional arguments stay none/nil below the pin's slot. */
mo_view *mo_pinview(lua_State *L, int idx, int top, uint32_t tag,
                    const char *tname);
/* Pin the memory of the memory object or live view at idx, if it is one
** (pushes nil otherwise: always one slot). */
void mo_pinarg(lua_State *L, int idx);
/* Raise "memobj: <op>: memory is in use by a running call" if pinned. */
void mo_refuse_if_pinned(lua_State *L, memobj_mem *m, const char *op);
void mo_pin_open(lua_State *L);

#endif

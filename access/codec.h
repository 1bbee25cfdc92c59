/*
** codec.h: the value codec (memobj.encode/decode, doc/values.md), for
** the access kinds that store Lua values in memory (queues,
** dictionaries) and for the Lua face (b:encode, b:decode).
**
** An encoding is self-contained: its first byte is the format version,
** then one value. Structures that keep values in shared memory encode
** into private scratch space first and copy bytes in under their own
** lock, and copy bytes out before decoding: neither call may run while a
** process-shared lock is held, since both allocate (and so can run any
** finalizer).
*/
#ifndef MO_CODEC_H
#define MO_CODEC_H

#include <stddef.h>
#include "../runtime/core.h"

#define MO_CODEC_VERSION 1

/* Append the complete encoding (version byte, then the value) of the
** value at idx to B. Raises "memobj: encode: <why>" (cycle, depth over
** 200, function, coroutine, other userdata, a nil or NaN key) having
** appended nothing that the caller keeps: callers encode into a buffer
** of their own and use it only when this returns. */
void mo_codec_encode(lua_State *L, int idx, luaL_Buffer *B);

/* Decode one complete encoding from p[0 .. len) and push the value;
** returns the bytes it used. Never reads outside p[0 .. len), never
** allocates much more than len; raises "memobj: decode: <why> at byte
** N", where N is base + the 1-based position of the bad byte in p (base:
** where p starts in what the user sees; 0 for a string). */
size_t mo_codec_decode(lua_State *L, const unsigned char *p, size_t len,
                       size_t base);

/* Raise "memobj: <why>" if pages of p[0 .. n) were lost by a truncated
** file (a fault taken again since is raised first). Decoding allocates,
** and a finalizer it ran may have taken the pending fault with an access
** of its own, which clears it: the lost pages stay recorded, so a decode
** from memory asks for them. */
void mo_codec_check_lost(lua_State *L, const unsigned char *p, size_t n);

#endif

/*
** ffitype.h: memobj.ffi's C types and signatures: type names, their
** libffi descriptions, converting values between Lua and C, and parsing
** a signature once into an ffi_cif.
*/
#ifndef MO_FFITYPE_H
#define MO_FFITYPE_H

#include <stdint.h>
#include <ffi.h>
#include <lua.h>
#include <lauxlib.h>

#define MO_FFI_MAXARGS 32  /* arguments per signature */
#define MO_FFI_MAXBUF 16   /* buffer/wbuffer arguments per signature */

/* Type codes. C names (int, long, size_t...) map onto these by size. */
enum {
  MO_FT_VOID, MO_FT_BOOL,
  MO_FT_I8, MO_FT_U8, MO_FT_I16, MO_FT_U16,
  MO_FT_I32, MO_FT_U32, MO_FT_I64, MO_FT_U64,
  MO_FT_FLOAT, MO_FT_DOUBLE,
  MO_FT_POINTER, MO_FT_STRING, MO_FT_BUFFER, MO_FT_WBUFFER,
  MO_FT_COUNT
};

/* One C value: argument storage, or a return slot (at least ffi_arg). */
typedef union mo_cval {
  int8_t i8; uint8_t u8; int16_t i16; uint16_t u16;
  int32_t i32; uint32_t u32; int64_t i64; uint64_t u64;
  float f; double d; void *p; const char *s;
  ffi_arg a; ffi_sarg sa;
} mo_cval;

/* A parsed signature. The cif points into atypes, so a signature must
** not move after mo_sig_prep (it lives inside a userdata). */
typedef struct mo_sig {
  ffi_cif cif;
  uint8_t ret;                      /* type code */
  uint8_t nargs;                    /* fixed + variadic */
  uint8_t nfixed;                   /* == nargs unless variadic */
  uint8_t variadic;
  uint8_t nbuf;                     /* buffer and wbuffer arguments */
  uint8_t direct;                   /* may skip libffi (see MO_FFI_DIRECT) */
  uint8_t args[MO_FFI_MAXARGS];     /* type codes */
  ffi_type *atypes[MO_FFI_MAXARGS];
} mo_sig;

/*
** Direct calls. On the register-based C ABIs of x86-64 (System V) and
** AArch64 (AAPCS64), integer-class arguments (integers, pointers) and
** floating-point arguments travel in two separate register sequences, in
** order, and a callee ignores registers it does not read. So a
** non-variadic function whose arguments all fit in registers can be
** called through one fixed prototype that passes MO_FFI_DIRECT_INT
** integer registers and MO_FFI_DIRECT_FP floating-point registers, with
** each argument already widened to 64 bits. That avoids libffi's
** per-call classification for the common signatures; everything else
** goes through ffi_call.
*/
#if defined(__linux__) && defined(__x86_64__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MO_FFI_DIRECT_INT 6
#define MO_FFI_DIRECT_FP 8
#elif defined(__linux__) && defined(__aarch64__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MO_FFI_DIRECT_INT 8
#define MO_FFI_DIRECT_FP 8
#else
#define MO_FFI_DIRECT_INT 0
#define MO_FFI_DIRECT_FP 0
#endif

/* What a signature is for: checks which types are allowed where. */
#define MO_SIG_CALL 0      /* calling C from Lua */
#define MO_SIG_CALLBACK 1  /* calling Lua from C */

/* The type code for a name, or -1. */
int mo_ffitype_find(const char *name);
const char *mo_ffitype_name(int code);

/* Parse return type at retarg and argument list (table or nil) at
** argsarg into s and prepare its cif. Raises argument errors. */
void mo_sig_parse(lua_State *L, int retarg, int argsarg, mo_sig *s, int use);

/* Convert the Lua value at idx to C type code into *out (not for
** buffers). Returns NULL, or a message saying what is wrong. */
const char *mo_ffi_tocval(lua_State *L, int idx, int code, mo_cval *out);
/* Push the C value at p (of type code; a return slot when ret) to Lua;
** void pushes nothing. Returns the number of values pushed. */
int mo_ffi_pushcval(lua_State *L, int code, const void *p, int ret);
/* Convert the Lua value at idx (a callback's result) into the return
** slot ret of type code; raises "memobj: callback: bad result ...". A
** bool result takes Lua truth. */
void mo_ffi_toret(lua_State *L, int idx, int code, void *ret);
/* Store a converted value into a return slot of type code, widening
** small integers to ffi_arg as libffi requires. */
void mo_ffi_storeret(int code, const mo_cval *v, void *ret);

/* The address a "pointer" argument holds: integer, nil, light userdata,
** memobj.ffi function or callback. Returns 0 if idx is none of these. */
int mo_ffi_topointer(lua_State *L, int idx, void **out);

#endif

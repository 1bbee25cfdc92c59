/*
** codec_format.h: the tag bytes of the value format (doc/values.md), for
** the encoder (codec.c) and the decoder (codec_decode.c). Every multi-byte
** number is little endian; lengths and counts are unsigned LEB128
** varints (7 bits a byte, low bits first, at most 10 bytes).
*/
#ifndef MO_CODEC_FORMAT_H
#define MO_CODEC_FORMAT_H

/* One byte each; the ranges carry a small number in their low bits. */
#define MO_CT_FIXINT   0x00  /* 0x00-0x7f: the integer 0..127 */
#define MO_CT_FIXSTR   0x80  /* 0x80-0x9f: a string of 0..31 bytes follows */
#define MO_CT_FIXLIST  0xa0  /* 0xa0-0xaf: a table of 0..15 array values */
#define MO_CT_FIXMAP   0xb0  /* 0xb0-0xbf: a table of 0..15 key/value pairs */
#define MO_CT_NIL      0xc0
#define MO_CT_FALSE    0xc1
#define MO_CT_TRUE     0xc2
#define MO_CT_INT8     0xc3  /* then 1, 2, 4 or 8 bytes, two's complement */
#define MO_CT_INT16    0xc4
#define MO_CT_INT32    0xc5
#define MO_CT_INT64    0xc6
#define MO_CT_FLOAT    0xc7  /* then the 8 bytes of an IEEE 754 double */
#define MO_CT_STR      0xc8  /* then varint length, bytes */
#define MO_CT_TABLE    0xc9  /* then varint narr, varint npairs, narr values
                                (keys 1..narr), npairs keys and values */
#define MO_CT_ARRAY    0xca  /* then type byte, varint count, the elements */
#define MO_CT_STRDEF   0xcb  /* then varint length, bytes: a string that is
                                also remembered as the next reference */
#define MO_CT_STRREF   0xcc  /* then varint k: the k-th remembered string
                                (from 0), without its bytes again */
                             /* 0xcd-0xdf: reserved (a decode error) */
#define MO_CT_NEGINT   0xe0  /* 0xe0-0xff: the integer -32..-1 */

#define MO_CT_SMALL 16       /* counts below this fit FIXLIST / FIXMAP */
#define MO_CT_SHORTSTR 32    /* lengths below this fit FIXSTR */

/* Typed array type byte: the base type (mo_base order: int8 uint8 int16
** uint16 int32 uint32 int64 uint64 float32 float64 bool) in the low 4
** bits, MO_CT_BIGENDIAN when the element bytes are big endian (never for
** one-byte types). */
#define MO_CT_BIGENDIAN 0x10

#define MO_CODEC_MAXDEPTH 200  /* tables nested deeper raise */

/* Strings of up to this many bytes may be remembered (Lua's short
** strings: interned, so one pointer per content while encoding). */
#define MO_CT_REFMAXLEN 40

#endif

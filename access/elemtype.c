/*
** elemtype.c: element type names, aliases and byte-order suffixes.
*/
#include <string.h>
#include "elemtype.h"

const uint8_t mo_base_size[MO_NBASE] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 1};

static const char *const long_names[MO_NBASE] = {
  "int8", "uint8", "int16", "uint16", "int32", "uint32",
  "int64", "uint64", "float32", "float64", "bool"};
static const char *const short_names[MO_NBASE] = {
  "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64", "bool"};
/* numpy's kind letter and size, in the same order: "i4", "b1" */
static const char *const numpy_names[MO_NBASE] = {
  "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8", "b1"};

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_SUFFIX "le"
#define FOREIGN_SUFFIX "be"
#else
#define NATIVE_SUFFIX "be"
#define FOREIGN_SUFFIX "le"
#endif

static int find_base(const char *name, size_t len) {
  int b;
  for (b = 0; b < MO_NBASE; b++) {
    if ((strlen(long_names[b]) == len && memcmp(long_names[b], name, len) == 0) ||
        (strlen(short_names[b]) == len && memcmp(short_names[b], name, len) == 0))
      return b;
  }
  return -1;
}

/*
** numpy's spellings: "i4", "f8", "b1", "?" with an optional byte order
** "<", ">", "=" or (one-byte types only) "|". Bare "i8" and "u8" are
** memobj's int8 and uint8 (since 0.1) and never reach here; with an
** order they are numpy's 8-byte integers ("<i8").
*/
static int numpy_parse(const char *name) {
  char order = 0;
  int b, swapped;
  if (*name && strchr("<>=|", *name)) order = *name++;
  if (strcmp(name, "?") == 0) name = "b1";
  for (b = 0; b < MO_NBASE; b++)
    if (strcmp(name, numpy_names[b]) == 0) break;
  if (b == MO_NBASE) return -1;
  if (mo_base_size[b] == 1) return b;  /* any order; "|" is numpy's own */
  if (order == '|') return -1;         /* "|i4": numpy refuses it too */
  swapped = order == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? '>' : '<');
  return b + (swapped ? MO_NBASE : 0);
}

int mo_etype_parse(const char *name) {
  size_t len = strlen(name);
  int swapped = 0, base;
  if (len > 2) {
    const char *suffix = name + len - 2;
    if (strcmp(suffix, FOREIGN_SUFFIX) == 0) swapped = 1, len -= 2;
    else if (strcmp(suffix, NATIVE_SUFFIX) == 0) len -= 2;
  }
  base = find_base(name, len);
  if (base < 0) return numpy_parse(name);  /* memobj's names first: "i8" */
  /* a single byte has no order */
  if (mo_base_size[base] == 1) swapped = 0;
  return base + (swapped ? MO_NBASE : 0);
}

const char *mo_etype_name(int et) {
  static const char *const swapped_names[MO_NBASE] = {
    "int8", "uint8", "int16" FOREIGN_SUFFIX, "uint16" FOREIGN_SUFFIX,
    "int32" FOREIGN_SUFFIX, "uint32" FOREIGN_SUFFIX, "int64" FOREIGN_SUFFIX,
    "uint64" FOREIGN_SUFFIX, "float32" FOREIGN_SUFFIX, "float64" FOREIGN_SUFFIX};
  return MO_SWAPPED(et) ? swapped_names[MO_BASE(et)] : long_names[et];
}

/*
** records.h: the records view (fixed-size records with named fields, like
** a C struct array or a numpy structured dtype), shared with the .npy
** glue that saves records views.
*/
#ifndef MO_RECORDS_H
#define MO_RECORDS_H

#include "../runtime/core.h"
#include "elemtype.h"

#define MO_REC_BYTES (-1)  /* field type of a bytes field */

typedef struct mo_recfield {
  size_t offset;           /* within the record */
  size_t size;             /* bytes */
  int etype;               /* element type, or MO_REC_BYTES */
  uint32_t name, namelen;  /* the name: namelen bytes at names + name */
} mo_recfield;

/*
** A layout, followed in memory by its fields (mo_recfield[nfields]), the
** name index (uint32_t[hashsize]: field number + 1, or 0 for a free slot)
** and the names (each followed by a zero byte). Every member is a size_t so that the trailing parts
** start right after it, in a layout being built as in a records view.
*/
typedef struct mo_layout {
  size_t recsize;          /* bytes per record */
  size_t nfields;
  size_t hashsize;         /* a power of two, at least 2 * nfields */
  size_t namebytes;
  size_t packed;           /* layout.align == "packed" */
} mo_layout;

typedef struct mo_records {
  mo_view v;               /* v.count is the number of records */
  mo_layout lay;           /* last: its trailing parts follow */
} mo_records;

static inline mo_recfield *mo_lay_fields(const mo_layout *l) {
  return (mo_recfield *)(void *)(l + 1);
}
static inline const char *mo_lay_name(const mo_layout *l, size_t k) {
  return (const char *)(mo_lay_fields(l) + l->nfields) +
         l->hashsize * sizeof(uint32_t) + mo_lay_fields(l)[k].name;
}

/* ---- Layouts (records_layout.c) ---- */

/* Check the layout table at arg (errors name that argument) and push it
** as a userdata holding the layout. */
mo_layout *mo_layout_check(lua_State *L, int arg);
/* Bytes of l with its trailing parts. */
size_t mo_lay_total(const mo_layout *l);
/* The number of the field named s (n bytes), or -1. */
long mo_lay_find(const mo_layout *l, const char *s, size_t n);
/* Push l as a layout table with every offset and the size explicit. */
void mo_layout_push(lua_State *L, const mo_layout *l);
/* The PEP 3118 format of l into buf[0 .. cap) as far as it fits; returns
** its size with the terminating zero (0: out of memory). */
size_t mo_lay_format(const mo_layout *l, char *buf, size_t cap);

/* ---- Records views (records.c) ---- */

/* The live records view at idx, or raise. */
mo_records *mo_checkrecords(lua_State *L, int idx);
/* Push the PEP 3118 (struct module) format of one record, for example
** "T{<d:x:<i:y:4x}": fields in offset order, each a byte order (none for
** one byte) and a type letter, or "Ns" for a bytes field, then ":name:";
** "Nx" for padding. */
void mo_records_pushformat(lua_State *L, const mo_layout *l);

#endif

/*
** npy_format.c: reading and writing .npy headers. The dict is read by a
** small strict parser of the Python literals numpy writes (strings,
** integers, True/False, tuples, lists), never by evaluating anything.
** Every read is bounded by the header length, itself checked against the
** file size, so no input can make the parser read past the header.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "npy_format.h"

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

static void seterr(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* ---- The prelude ---- */

static uint32_t le16(const unsigned char *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) {
  return le16(p) | (uint32_t)le16(p + 2) << 16;
}

size_t mo_npy_headerlen(const unsigned char *p, size_t n, char *err,
                        size_t errlen) {
  size_t fixed, len;
  if (n < 8 || memcmp(p, magic, sizeof magic) != 0) {
    seterr(err, errlen, "not a .npy file (no numpy magic string)");
    return 0;
  }
  if (p[6] < 1 || p[6] > 3 || p[7] != 0) {
    seterr(err, errlen, "unsupported .npy format version %d.%d", p[6], p[7]);
    return 0;
  }
  fixed = p[6] == 1 ? 10 : 12;
  if (n < fixed) {
    seterr(err, errlen, "truncated .npy header");
    return 0;
  }
  len = p[6] == 1 ? le16(p + 8) : le32(p + 8);
  if (len > MO_NPY_MAXHEADER) {
    seterr(err, errlen, ".npy header of %zu bytes is too large", len);
    return 0;
  }
  return fixed + len;
}

/* ---- The parser ---- */

typedef struct parser {
  const unsigned char *p, *end, *start;
  int utf8;               /* version 3.0: the dict is UTF-8, else latin-1 */
  char *err;
  size_t errlen;
  int failed;
  char *names;            /* decoded strings, grown as needed */
  size_t nlen, ncap;
  mo_npy_field *fields;
  size_t nfields, fcap;
} parser;

static int fail(parser *ps, const char *fmt, ...) {
  va_list ap;
  if (ps->failed) return 0;
  ps->failed = 1;
  va_start(ap, fmt);
  vsnprintf(ps->err, ps->errlen, fmt, ap);
  va_end(ap);
  return 0;
}

static int syntax(parser *ps, const char *what) {
  return fail(ps, ".npy header: %s at byte %zu", what,
              (size_t)(ps->p - ps->start));
}

static void skipspace(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
                             *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

/* Skip spaces, then accept the character c. */
static int accept(parser *ps, char c) {
  skipspace(ps);
  if (ps->p < ps->end && *ps->p == c) {
    ps->p++;
    return 1;
  }
  return 0;
}

static int expect(parser *ps, char c) {
  char what[32];
  if (accept(ps, c)) return 1;
  snprintf(what, sizeof what, "'%c' expected", c);
  return syntax(ps, what);
}

static int peek(parser *ps, char c) {
  skipspace(ps);
  return ps->p < ps->end && *ps->p == c;
}

/* Append n bytes to the string pool. */
static int addbytes(parser *ps, const void *s, size_t n) {
  if (n > ps->ncap - ps->nlen) {
    size_t cap = ps->ncap ? ps->ncap : 64;
    char *q;
    while (n > cap - ps->nlen) {
      if (cap > MO_NPY_MAXHEADER * 4) return fail(ps, "out of memory");
      cap *= 2;
    }
    if ((q = realloc(ps->names, cap)) == NULL) return fail(ps, "out of memory");
    ps->names = q;
    ps->ncap = cap;
  }
  memcpy(ps->names + ps->nlen, s, n);
  ps->nlen += n;
  return 1;
}

/* Append code point c as UTF-8 (a surrogate is refused). */
static int addutf8(parser *ps, uint32_t c) {
  unsigned char b[4];
  size_t n;
  if (c >= 0xd800 && c <= 0xdfff) return syntax(ps, "surrogate in a string");
  if (c < 0x80) b[0] = (unsigned char)c, n = 1;
  else if (c < 0x800) b[0] = 0xc0 | c >> 6, b[1] = 0x80 | (c & 0x3f), n = 2;
  else if (c < 0x10000)
    b[0] = 0xe0 | c >> 12, b[1] = 0x80 | (c >> 6 & 0x3f), b[2] = 0x80 | (c & 0x3f), n = 3;
  else if (c < 0x110000)
    b[0] = 0xf0 | c >> 18, b[1] = 0x80 | (c >> 12 & 0x3f),
    b[2] = 0x80 | (c >> 6 & 0x3f), b[3] = 0x80 | (c & 0x3f), n = 4;
  else return syntax(ps, "code point out of range");
  return addbytes(ps, b, n);
}

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  size_t len, i;
  uint32_t c;
  if (s[0] < 0x80) return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) len = 2, c = s[0] & 0x1f;
  else if (s[0] >= 0xe0 && s[0] <= 0xef) len = 3, c = s[0] & 0x0f;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4) len = 4, c = s[0] & 0x07;
  else return 0;
  if (n < len) return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    c = c << 6 | (s[i] & 0x3f);
  }
  if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
      (len == 4 && (c < 0x10000 || c > 0x10ffff)))
    return 0;
  return len;
}

static int hexdigits(parser *ps, int n, uint32_t *c) {
  *c = 0;
  if (ps->end - ps->p < n) return syntax(ps, "truncated escape");
  while (n--) {
    unsigned char d = *ps->p++;
    int v = d >= '0' && d <= '9' ? d - '0' : d >= 'a' && d <= 'f' ? d - 'a' + 10
            : d >= 'A' && d <= 'F' ? d - 'A' + 10 : -1;
    if (v < 0) return syntax(ps, "bad hexadecimal escape");
    *c = *c << 4 | (uint32_t)v;
  }
  return 1;
}

/* A Python string literal in single or double quotes, decoded to UTF-8
** and appended to the pool; *off and *len say where. */
static int string(parser *ps, size_t *off, size_t *len) {
  unsigned char q;
  skipspace(ps);
  if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
    return syntax(ps, "string expected");
  q = *ps->p++;
  *off = ps->nlen;
  for (;;) {
    unsigned char c;
    if (ps->p >= ps->end) return syntax(ps, "unterminated string");
    c = *ps->p++;
    if (c == q) break;
    if (c == '\n' || c == '\r') return syntax(ps, "newline in a string");
    if (c == '\\') {
      uint32_t u;
      if (ps->p >= ps->end) return syntax(ps, "unterminated string");
      c = *ps->p++;
      switch (c) {
        case '\\': case '\'': case '"': u = c; break;
        case 'n': u = '\n'; break;
        case 'r': u = '\r'; break;
        case 't': u = '\t'; break;
        case '0': u = 0; break;
        case 'x': if (!hexdigits(ps, 2, &u)) return 0; break;
        case 'u': if (!hexdigits(ps, 4, &u)) return 0; break;
        case 'U': if (!hexdigits(ps, 8, &u)) return 0; break;
        default: return syntax(ps, "unsupported escape in a string");
      }
      if (!addutf8(ps, u)) return 0;
    } else if (c < 0x80) {
      if (!addbytes(ps, &c, 1)) return 0;
    } else if (ps->utf8) {
      size_t n = utf8_len(ps->p - 1, (size_t)(ps->end - ps->p) + 1);
      if (n == 0) return syntax(ps, "invalid UTF-8 in a string");
      if (!addbytes(ps, ps->p - 1, n)) return 0;
      ps->p += n - 1;
    } else if (!addutf8(ps, c)) {  /* latin-1 */
      return 0;
    }
  }
  *len = ps->nlen - *off;
  return 1;
}

/* A non-negative decimal integer (a Python 2 "L" suffix is accepted). */
static int integer(parser *ps, uint64_t *v) {
  const unsigned char *s;
  skipspace(ps);
  s = ps->p;
  if (ps->p < ps->end && *ps->p == '-') return syntax(ps, "negative dimension");
  *v = 0;
  while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
    unsigned d = (unsigned)(*ps->p++ - '0');
    if (*v > (UINT64_MAX - d) / 10) return syntax(ps, "integer too large");
    *v = *v * 10 + d;
  }
  if (ps->p == s) return syntax(ps, "integer expected");
  if (ps->p - s > 1 && *s == '0') return syntax(ps, "leading zero in an integer");
  if (ps->p < ps->end && *ps->p == 'L') ps->p++;
  return 1;
}

/* A keyword (True, False) followed by a delimiter. */
static int keyword(parser *ps, const char *w) {
  size_t n = strlen(w);
  skipspace(ps);
  if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, w, n) == 0 &&
      ((size_t)(ps->end - ps->p) == n ||
       !((ps->p[n] >= 'A' && ps->p[n] <= 'Z') || (ps->p[n] >= 'a' && ps->p[n] <= 'z') ||
         (ps->p[n] >= '0' && ps->p[n] <= '9') || ps->p[n] == '_'))) {
    ps->p += n;
    return 1;
  }
  return 0;
}

/* ---- dtypes ---- */

/* The type string at names[off .. off+len) ("<f8", "|S5", ...) into f.
** Padding ("|V4") is kind 'V'; `plain` says it is the whole dtype. */
static int typestr(parser *ps, size_t off, size_t len, mo_npy_field *f,
                   int plain) {
  const char *s = ps->names + off;
  const char *what;
  uint64_t size = 0;
  size_t i;
  char kind, order;
  if (len < 2 || s[0] == 0 || strchr("<>|=", s[0]) == NULL)
    return fail(ps, "unsupported dtype '%.*s'", (int)len, s);
  order = s[0];
  kind = s[1];
  switch (kind) {
    case 'c': what = "complex"; goto named;
    case 'O': what = "object"; goto named;
    case 'U': what = "unicode string"; goto named;
    default: break;
  }
  if (len < 3) goto unsupported;
  for (i = 2; i < len; i++) {
    if (s[i] < '0' || s[i] > '9' || size > UINT32_MAX)
      return fail(ps, "unsupported dtype '%.*s'", (int)len, s);
    size = size * 10 + (uint64_t)(s[i] - '0');
  }
  switch (kind) {
    case 'i': case 'u':
      if (size != 1 && size != 2 && size != 4 && size != 8) goto unsupported;
      break;
    case 'f':
      if (size != 4 && size != 8) goto unsupported;
      break;
    case 'b':  /* numpy's bool: one byte, "|b1" */
      if (size != 1) goto unsupported;
      break;
    case 'S':
      if (plain) {
        return fail(ps, "dtype '%.*s' is not supported (byte strings only as "
                    "fields of a structured dtype)", (int)len, s);
      }
      if (size == 0) goto unsupported;
      break;
    case 'V':
      if (plain) goto unsupported;
      break;
    default: goto unsupported;
  }
  if (order == '=') {
    static const uint16_t one = 1;
    order = *(const char *)&one ? '<' : '>';
  }
  if (size == 1 || kind == 'S' || kind == 'V') order = '|';
  else if (order == '|') goto unsupported;  /* a number needs an order */
  f->kind = kind;
  f->order = order;
  f->size = (size_t)size;
  return 1;
named:
  return fail(ps, "%s dtype '%.*s' is not supported", what, (int)len, s);
unsupported:
  return fail(ps, "unsupported dtype '%.*s'", (int)len, s);
}

static int addfield(parser *ps, const mo_npy_field *f) {
  if (ps->nfields == ps->fcap) {
    size_t cap = ps->fcap ? ps->fcap * 2 : 8;
    mo_npy_field *q = realloc(ps->fields, cap * sizeof *q);
    if (q == NULL) return fail(ps, "out of memory");
    ps->fields = q;
    ps->fcap = cap;
  }
  ps->fields[ps->nfields++] = *f;
  return 1;
}

/* One ('name', 'type' [, ()]) entry of a structured descr; padding
** entries (empty name, void type) only move the offset. */
static int descr_field(parser *ps, size_t *offset) {
  mo_npy_field f;
  size_t toff, tlen;
  memset(&f, 0, sizeof f);
  if (!expect(ps, '(')) return 0;
  if (peek(ps, '(')) return fail(ps, "field titles are not supported");
  if (!string(ps, &f.name, &f.namelen) || !expect(ps, ',')) return 0;
  if (peek(ps, '['))
    return fail(ps, "nested structured fields are not supported");
  if (!string(ps, &toff, &tlen) || !typestr(ps, toff, tlen, &f, 0)) return 0;
  ps->nlen = toff;  /* the type string is not kept */
  if (accept(ps, ',') && !peek(ps, ')')) {
    if (!expect(ps, '(')) return 0;
    if (!accept(ps, ')')) return fail(ps, "subarray fields are not supported");
    accept(ps, ',');
  }
  if (!expect(ps, ')')) return 0;
  if (f.kind == 'V' && f.namelen != 0)
    return fail(ps, "void field '%.*s' is not supported", (int)f.namelen,
                ps->names + f.name);
  if (f.kind != 'V' && f.namelen == 0) return fail(ps, "a field has no name");
  if (f.size > SIZE_MAX / 2 - *offset) return fail(ps, "dtype too large");
  f.offset = *offset;
  *offset += f.size;
  return f.kind == 'V' || addfield(ps, &f);
}

/* Names of the fields, to sort. */
typedef struct nameref {
  const char *p;
  size_t n;
} nameref;

static int name_cmp(const void *a, const void *b) {
  const nameref *x = (const nameref *)a, *y = (const nameref *)b;
  int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Refuse two fields with one name (sorting a copy of the names). */
static int unique_names(parser *ps) {
  nameref *r = malloc(ps->nfields * sizeof *r);
  size_t k;
  int ok = 1;
  if (r == NULL) return fail(ps, "out of memory");
  for (k = 0; k < ps->nfields; k++) {
    r[k].p = ps->names + ps->fields[k].name;
    r[k].n = ps->fields[k].namelen;
  }
  qsort(r, ps->nfields, sizeof *r, name_cmp);
  for (k = 1; k < ps->nfields && ok; k++) {
    if (name_cmp(r + k - 1, r + k) == 0)
      ok = fail(ps, "duplicate name '%.*s'", (int)(r[k].n > 40 ? 40 : r[k].n), r[k].p);
  }
  free(r);
  return ok;
}

static int descr(parser *ps, mo_npy *h) {
  if (peek(ps, '[')) {
    size_t offset = 0;
    ps->p++;
    while (!accept(ps, ']')) {
      if (!descr_field(ps, &offset)) return 0;
      if (!accept(ps, ',') && !peek(ps, ']')) return syntax(ps, "',' or ']' expected");
    }
    if (ps->nfields == 0) return fail(ps, "structured dtype without fields");
    if (!unique_names(ps)) return 0;
    h->structured = 1;
    h->itemsize = offset;
    return 1;
  } else if (peek(ps, '(')) {
    return fail(ps, "subarray dtypes are not supported");
  } else {
    mo_npy_field f;
    memset(&f, 0, sizeof f);
    if (!string(ps, &f.name, &f.namelen) || !typestr(ps, f.name, f.namelen, &f, 1))
      return 0;
    ps->nlen = f.name;
    f.namelen = 0;
    h->itemsize = f.size;
    return addfield(ps, &f);
  }
}

static int shape(parser *ps, mo_npy *h) {
  if (!expect(ps, '(')) return 0;
  h->ndim = 0;
  while (!accept(ps, ')')) {
    if (h->ndim == MO_NPY_MAXDIM) return fail(ps, "more than %d dimensions", MO_NPY_MAXDIM);
    if (!integer(ps, &h->shape[h->ndim])) return 0;
    h->ndim++;
    /* (n) is an integer in Python, not a tuple: one dimension needs (n,) */
    if (!accept(ps, ',') && (h->ndim == 1 || !peek(ps, ')')))
      return syntax(ps, "',' expected");
  }
  return 1;
}

/* The dict: exactly the keys descr, fortran_order and shape. */
static int dict(parser *ps, mo_npy *h) {
  int seen = 0, fortran = 0;
  if (!expect(ps, '{')) return 0;
  while (!accept(ps, '}')) {
    size_t koff, klen;
    int key;
    if (!string(ps, &koff, &klen) || !expect(ps, ':')) return 0;
    if (klen == 5 && memcmp(ps->names + koff, "descr", 5) == 0) key = 1;
    else if (klen == 13 && memcmp(ps->names + koff, "fortran_order", 13) == 0) key = 2;
    else if (klen == 5 && memcmp(ps->names + koff, "shape", 5) == 0) key = 4;
    else return fail(ps, ".npy header: unexpected key '%.*s'", (int)(klen > 40 ? 40 : klen),
                     ps->names + koff);
    ps->nlen = koff;
    if (seen & key) return fail(ps, ".npy header: key given twice");
    seen |= key;
    if (key == 1 && !descr(ps, h)) return 0;
    if (key == 2) {
      if (keyword(ps, "True")) fortran = 1;
      else if (!keyword(ps, "False")) return syntax(ps, "True or False expected");
    }
    if (key == 4 && !shape(ps, h)) return 0;
    if (!accept(ps, ',') && !peek(ps, '}')) return syntax(ps, "',' or '}' expected");
  }
  if (seen != 7) return fail(ps, ".npy header: descr, fortran_order or shape missing");
  skipspace(ps);
  if (ps->p != ps->end) return syntax(ps, "text after the dict");
  if (fortran) return fail(ps, "Fortran-order arrays are not supported");
  return 1;
}

/*
** The count of h's shape, if the shape could describe a file: the product
** of its dimensions other than 0, in bytes, at most INT64_MAX (the largest
** file), each dimension a Lua integer. A 0 makes the count 0 but does not
** excuse the others (numpy refuses them too): (0, 2^64-1) is no shape.
*/
static int shape_fits(mo_npy *h) {
  uint64_t prod = h->itemsize ? h->itemsize : 1;
  int i, zero = 0;
  for (i = 0; i < h->ndim; i++) {
    if (h->shape[i] == 0) { zero = 1; continue; }
    if (h->shape[i] > (uint64_t)INT64_MAX / prod) return 0;
    prod *= h->shape[i];
  }
  h->count = zero ? 0 : prod / (h->itemsize ? h->itemsize : 1);
  return 1;
}

int mo_npy_parse(mo_npy *h, const unsigned char *p, size_t n,
                 uint64_t filesize, char *err, size_t errlen) {
  parser ps;
  size_t fixed, hl;
  memset(h, 0, sizeof *h);
  if ((hl = mo_npy_headerlen(p, n, err, errlen)) == 0) return -1;
  if (hl > filesize) {
    seterr(err, errlen, ".npy header length beyond the end of the file");
    return -1;
  }
  if (hl > n) {
    seterr(err, errlen, ".npy header not read whole");
    return -1;
  }
  n = hl;
  memset(&ps, 0, sizeof ps);
  fixed = p[6] == 1 ? 10 : 12;
  ps.start = ps.p = p + fixed;
  ps.end = p + n;
  ps.utf8 = p[6] == 3;
  ps.err = err;
  ps.errlen = errlen;
  /* never NULL, so that names + offset is always defined */
  if ((ps.names = malloc(ps.ncap = 64)) == NULL) {
    seterr(err, errlen, "out of memory");
    return -1;
  }
  h->major = p[6];
  h->minor = p[7];
  h->dataoff = n;
  if (!dict(&ps, h)) goto error;
  if (!shape_fits(h)) {
    fail(&ps, "shape too large");
    goto error;
  }
  h->databytes = h->count * h->itemsize;
  if (h->databytes > filesize - n) {
    fail(&ps, "truncated data part: %llu bytes, the header says %llu",
         (unsigned long long)(filesize - n), (unsigned long long)h->databytes);
    goto error;
  }
  h->fields = ps.fields;
  h->nfields = ps.nfields;
  h->names = ps.names;
  return 0;
error:
  free(ps.fields);
  free(ps.names);
  memset(h, 0, sizeof *h);
  return -1;
}

void mo_npy_free(mo_npy *h) {
  free(h->fields);
  free(h->names);
  h->fields = NULL;
  h->names = NULL;
  h->nfields = 0;
}

/* ---- The writer ---- */

/* A bounded output: counts everything, stores what fits. */
typedef struct out {
  char *p;
  size_t cap, len;
} out;

static void put(out *o, const char *s, size_t n) {
  if (o->len < o->cap) memcpy(o->p + o->len, s, n < o->cap - o->len ? n : o->cap - o->len);
  o->len += n;
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

/* A name as a Python string literal; 0 if it is not valid UTF-8. */
static int put_name(out *o, const char *s, size_t n, int *utf8) {
  size_t i = 0;
  put(o, "'", 1);
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c >= 0x80) {
      size_t k = utf8_len((const unsigned char *)s + i, n - i);
      if (k == 0) return 0;
      put(o, s + i, k);
      *utf8 = 1;
      i += k;
      continue;
    }
    if (c == '\\' || c == '\'') {
      esc[0] = '\\', esc[1] = (char)c;
      put(o, esc, 2);
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, "\\x%02x", c);
      puts_(o, esc);
    } else {
      put(o, (const char *)&c, 1);
    }
    i++;
  }
  put(o, "'", 1);
  return 1;
}

static void put_type(out *o, const mo_npy_field *f) {
  char t[32];
  snprintf(t, sizeof t, "'%c%c%zu'", f->order, f->kind, f->size);
  puts_(o, t);
}

static void put_pad(out *o, size_t n) {
  char t[48];
  snprintf(t, sizeof t, "('', '|V%zu'), ", n);
  puts_(o, t);
}

/* The dict of h; 0 and a message on a field name that is not UTF-8 or
** fields out of offset order. */
static int put_dict(out *o, const mo_npy *h, int *utf8, char *err, size_t errlen) {
  size_t k, pos = 0;
  char t[32];
  int d;
  puts_(o, "{'descr': ");
  if (!h->structured) {
    put_type(o, &h->fields[0]);
  } else {
    puts_(o, "[");
    for (k = 0; k < h->nfields; k++) {
      const mo_npy_field *f = &h->fields[k];
      if (f->offset < pos) {
        seterr(err, errlen, "fields out of offset order cannot be saved");
        return 0;
      }
      if (f->offset > pos) put_pad(o, f->offset - pos);
      puts_(o, "(");
      if (!put_name(o, h->names + f->name, f->namelen, utf8)) {
        seterr(err, errlen, "field name is not valid UTF-8");
        return 0;
      }
      puts_(o, ", ");
      put_type(o, f);
      puts_(o, "), ");
      pos = f->offset + f->size;
    }
    if (h->itemsize > pos) put_pad(o, h->itemsize - pos);
    o->len -= 2;  /* the last ", " */
    puts_(o, "]");
  }
  puts_(o, ", 'fortran_order': False, 'shape': (");
  for (d = 0; d < h->ndim; d++) {
    snprintf(t, sizeof t, d + 1 < h->ndim ? "%llu, " : "%llu,",
             (unsigned long long)h->shape[d]);
    if (d + 1 == h->ndim && h->ndim > 1) t[strlen(t) - 1] = 0;
    puts_(o, t);
  }
  puts_(o, "), }");
  return 1;
}

size_t mo_npy_header(const mo_npy *h, char *outp, size_t cap, char *err,
                     size_t errlen) {
  out o = {NULL, 0, 0};
  int utf8 = 0;
  size_t dictlen, fixed, total;
  unsigned major;
  /* measure, then write at the right place */
  if (!put_dict(&o, h, &utf8, err, errlen)) return 0;
  dictlen = o.len;
  fixed = 10;
  major = utf8 ? 3 : 1;
  total = (fixed + dictlen + 1 + 63) / 64 * 64;  /* + '\n', 64-aligned */
  if (total - fixed > 65535) {
    major = utf8 ? 3 : 2;
    fixed = 12;
    total = (fixed + dictlen + 1 + 63) / 64 * 64;
  }
  if (major == 3 && fixed == 10) {
    fixed = 12;
    total = (fixed + dictlen + 1 + 63) / 64 * 64;
  }
  if (total - fixed > UINT32_MAX) {
    seterr(err, errlen, ".npy header too large");
    return 0;
  }
  if (cap < total) return total;
  o.p = outp;
  o.cap = cap;
  o.len = 0;
  put(&o, magic, sizeof magic);
  outp[6] = (char)major;
  outp[7] = 0;
  {
    uint32_t len = (uint32_t)(total - fixed);
    unsigned char b[4] = {(unsigned char)len, (unsigned char)(len >> 8),
                          (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
    o.len = 8;
    put(&o, (const char *)b, fixed - 8);
  }
  put_dict(&o, h, &utf8, err, errlen);
  while (o.len < total - 1) put(&o, " ", 1);
  put(&o, "\n", 1);
  return total;
}

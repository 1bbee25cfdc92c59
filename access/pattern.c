/*
** pattern.c: the Lua 5.4 pattern language over any bytes. Written from
** the reference manual; the compiled form turns every single-byte class
** into a 256-bit set, so matching a byte is one bit test and runs of a
** class that excludes one byte only (like "[^\n]*") are one memchr.
*/
#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <lauxlib.h>
#include "pattern.h"

enum {
  PI_END,      /* end of pattern: success */
  PI_SINGLE,   /* one byte of a class, possibly quantified */
  PI_OPEN,     /* '(' */
  PI_POSCAP,   /* '()' */
  PI_CLOSE,    /* ')' */
  PI_EOS,      /* '$' at the very end */
  PI_BALANCE,  /* %bxy */
  PI_FRONTIER, /* %f[set] */
  PI_BACKREF,  /* %1 .. %9 */
  PI_ERROR     /* malformed from here: raise when reached */
};

#define TESTBIT(bits, c) (((bits)[(c) >> 6] >> ((c) & 63)) & 1)
#define SETBIT(bits, c) ((bits)[(c) >> 6] |= (uint64_t)1 << ((c) & 63))

/* ---- Classes ---- */

/* %a %c %d %g %l %p %s %u %w %x %z, built once from the C library's
** classification (the locale at load time, as Lua's would be). */
static uint64_t classbits[26][4];
static int classok[26];

static void initclasses(void) {
  static int (*const fns[])(int) = {isalpha, iscntrl, isdigit, isgraph,
                                    islower, ispunct, isspace, isupper,
                                    isalnum, isxdigit};
  static const char names[] = "acdglpsuwx";
  int i, c;
  for (i = 0; names[i]; i++) {
    int k = names[i] - 'a';
    memset(classbits[k], 0, sizeof classbits[k]);
    for (c = 0; c < 256; c++)
      if (fns[i](c)) SETBIT(classbits[k], c);
    classok[k] = 1;
  }
  /* %z (the zero byte) is gone from the manual, but Lua 5.4 still knows
  ** it, and the two must agree */
  memset(classbits['z' - 'a'], 0, sizeof classbits[0]);
  SETBIT(classbits['z' - 'a'], 0);
  classok['z' - 'a'] = 1;
}

/* Once per process: a second Lua state opening memobj in another thread
** must not clear a class while the first one matches with it. */
void mo_pattern_initclasses(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, initclasses);
}

/* Add the escape %c to bits: a class letter, its complement (upper
** case), or else the byte itself. */
static void addescape(uint64_t *bits, unsigned char c) {
  int lower = tolower(c), k = lower - 'a', i;
  if (lower >= 'a' && lower <= 'z' && classok[k]) {
    int comp = (c != lower);
    for (i = 0; i < 4; i++) bits[i] |= comp ? ~classbits[k][i] : classbits[k][i];
  } else {
    SETBIT(bits, c);
  }
}

/* Fill bits from a set body b[0 .. e) (after '[' and '^', before ']'). */
static void setbits(uint64_t *bits, const unsigned char *b,
                    const unsigned char *e) {
  while (b < e) {
    if (*b == '%' && b + 1 < e) {
      addescape(bits, b[1]);
      b += 2;
    } else if (b + 2 < e && b[1] == '-') {
      unsigned c;
      for (c = b[0]; c <= b[2]; c++) SETBIT(bits, c);
      b += 3;
    } else {
      SETBIT(bits, *b);
      b++;
    }
  }
}

/* The end of a set starting at p ('['), or NULL when it has no ']'. The
** first byte of the body (after an optional '^') is always part of it, so
** "[]]" is the set of ']'; "%x" escapes x. */
static const unsigned char *setend(const unsigned char *p,
                                   const unsigned char *pe) {
  p++;
  if (p < pe && *p == '^') p++;
  do {
    if (p >= pe) return NULL;
    if (*p++ == '%' && p < pe) p++;
  } while (p >= pe || *p != ']');
  return p + 1;
}

/* Parse the set at p ('[') into bits; returns its end or NULL. */
static const unsigned char *parseset(uint64_t *bits, const unsigned char *p,
                                     const unsigned char *pe) {
  const unsigned char *e = setend(p, pe), *b = p + 1;
  int neg = 0, i;
  if (e == NULL) return NULL;
  if (*b == '^') {
    neg = 1;
    b++;
  }
  setbits(bits, b, e - 1);
  if (neg)
    for (i = 0; i < 4; i++) bits[i] = ~bits[i];
  return e;
}

static int popcount(const uint64_t *bits) {
  return __builtin_popcountll(bits[0]) + __builtin_popcountll(bits[1]) +
         __builtin_popcountll(bits[2]) + __builtin_popcountll(bits[3]);
}

/* The byte of a one-byte set (want = 1) or of its complement (want = 0). */
static int onlybyte(const uint64_t *bits, int want) {
  int c;
  for (c = 0; c < 256; c++)
    if ((int)TESTBIT(bits, c) == want) return c;
  return -1;
}

/* ---- Compiling ---- */

size_t mo_pattern_size(size_t lp) {
  size_t max = ((size_t)-1 - sizeof(mo_pattern)) / sizeof(mo_pitem);
  if (lp >= max) return 0;
  return sizeof(mo_pattern) + lp * sizeof(mo_pitem);
}

/* Turn *it into an error item; compiling stops there. */
static void seterror(mo_pitem *it, const char *msg, int arg) {
  it->op = PI_ERROR;
  it->err = msg;
  it->errarg = arg;
}

/* A single-byte class at p: '.', %x, [set] or a literal byte, followed by
** an optional quantifier. Returns the end, or NULL after an error item. */
static const unsigned char *single(mo_pitem *it, const unsigned char *p,
                                   const unsigned char *pe) {
  const unsigned char *e;
  int n;
  it->op = PI_SINGLE;
  if (*p == '.') {
    memset(it->bits, 0xff, sizeof it->bits);
    e = p + 1;
  } else if (*p == '%') {
    if (p + 1 >= pe) {
      seterror(it, "malformed pattern (ends with '%%')", 0);
      return NULL;
    }
    addescape(it->bits, p[1]);
    e = p + 2;
  } else if (*p == '[') {
    if ((e = parseset(it->bits, p, pe)) == NULL) {
      seterror(it, "malformed pattern (missing ']')", 0);
      return NULL;
    }
  } else {
    SETBIT(it->bits, *p);
    e = p + 1;
  }
  if (e < pe && (*e == '*' || *e == '+' || *e == '-' || *e == '?'))
    it->quant = *e++;
  n = popcount(it->bits);
  it->lit = (int16_t)(n == 1 ? onlybyte(it->bits, 1) : -1);
  it->stop = (int16_t)(n == 255 ? onlybyte(it->bits, 0) : -1);
  return e;
}

/*
** One item at p into it; returns the end of the item, or NULL when the
** item is an error. closed[i] tells whether capture i is closed yet:
** captures are numbered by their '(' and their state at any point of the
** pattern does not depend on the subject, so the capture errors that Lua
** finds while matching are found here and raised when reached.
*/
static const unsigned char *item(mo_pitem *it, const unsigned char *p,
                                 const unsigned char *pe, int *level,
                                 char *closed) {
  int l;
  switch (*p) {
    case '(':
      if (*level >= MO_MAXCAPTURES) break;
      if (p + 1 < pe && p[1] == ')') {
        it->op = PI_POSCAP;
        closed[(*level)++] = 1;
        return p + 2;
      }
      it->op = PI_OPEN;
      closed[(*level)++] = 0;
      return p + 1;
    case ')':
      for (l = *level - 1; l >= 0 && closed[l]; l--) {}
      if (l < 0) break;
      closed[l] = 1;
      it->op = PI_CLOSE;
      return p + 1;
    case '$':
      if (p + 1 != pe) return single(it, p, pe);
      it->op = PI_EOS;
      return p + 1;
    case '%':
      if (p + 1 >= pe) return single(it, p, pe);
      switch (p[1]) {
        case 'b':
          if (p + 3 >= pe) break;
          it->op = PI_BALANCE;
          it->a = p[2];
          it->b = p[3];
          return p + 4;
        case 'f': {
          const unsigned char *e;
          if (p + 2 >= pe || p[2] != '[') break;
          if ((e = parseset(it->bits, p + 2, pe)) == NULL) {
            seterror(it, "malformed pattern (missing ']')", 0);
            return NULL;
          }
          it->op = PI_FRONTIER;
          return e;
        }
        case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
          l = p[1] - '1';
          if (l < 0 || l >= *level || !closed[l]) break;
          it->op = PI_BACKREF;
          it->a = (uint8_t)l;
          return p + 2;
        default:
          return single(it, p, pe);
      }
      break;
    default:
      return single(it, p, pe);
  }
  /* the errors Lua raises for these items when it reaches them */
  if (*p == '(') seterror(it, "too many captures", 0);
  else if (*p == ')') seterror(it, "invalid pattern capture", 0);
  else if (p[1] == 'b') seterror(it, "malformed pattern (missing arguments to '%%b')", 0);
  else if (p[1] == 'f') seterror(it, "missing '[' after '%%f' in pattern", 0);
  else seterror(it, "invalid capture index %%%d", p[1] - '0');
  return NULL;
}

void mo_pattern_compile(mo_pattern *pt, const char *pat, size_t lp,
                        int anchor_ok) {
  const unsigned char *p = (const unsigned char *)pat, *pe = p + lp;
  char closed[MO_MAXCAPTURES];
  int level = 0;
  mo_pitem *it = pt->items;
  pt->anchor = 0;
  if (anchor_ok && p < pe && *p == '^') {
    pt->anchor = 1;
    p++;
  }
  while (p < pe) {
    memset(it, 0, sizeof *it);
    p = item(it, p, pe, &level, closed);
    it++;
    if (p == NULL) return;  /* an error item ends the pattern */
  }
  memset(it, 0, sizeof *it);
  it->op = PI_END;
}

int mo_pattern_hasspecials(const char *p, size_t lp) {
  size_t i;
  for (i = 0; i < lp; i++)
    if (memchr("^$*+?.([%-", p[i], 10) && p[i] != '\0') return 1;
  return 0;
}

/* ---- Matching ---- */

void mo_match_init(mo_match *ms, lua_State *L, const mo_pattern *pt,
                   const unsigned char *src, size_t len) {
  static const unsigned char empty[1] = {0};
  ms->L = L;
  ms->pt = pt;
  ms->src = src ? src : empty;
  ms->end = ms->src + len;
  ms->level = 0;
  ms->depth = MO_MAXDEPTH;
  ms->released = NULL;
}

static const unsigned char *match(mo_match *ms, const unsigned char *s,
                                  const mo_pitem *it);

/* Longest run of the class from s, then give back one byte at a time
** until the rest of the pattern matches. */
static const unsigned char *max_expand(mo_match *ms, const unsigned char *s,
                                       const mo_pitem *it) {
  size_t i = 0, n = (size_t)(ms->end - s);
  const unsigned char *r;
  if (it->stop >= 0) {
    const unsigned char *q = n ? memchr(s, it->stop, n) : NULL;
    i = q ? (size_t)(q - s) : n;
  } else {
    while (i < n && TESTBIT(it->bits, s[i])) i++;
  }
  if (it[1].op == PI_END) return s + i;  /* nothing to give back for */
  for (;;) {
    if ((r = match(ms, s + i, it + 1)) != NULL) return r;
    if (i == 0) return NULL;
    i--;
  }
}

/* Shortest run of the class from s that lets the rest match. */
static const unsigned char *min_expand(mo_match *ms, const unsigned char *s,
                                       const mo_pitem *it) {
  for (;;) {
    const unsigned char *r = match(ms, s, it + 1);
    if (r != NULL) return r;
    if (s < ms->end && TESTBIT(it->bits, *s)) s++;
    else return NULL;
  }
}

static const unsigned char *open_capture(mo_match *ms, const unsigned char *s,
                                         const mo_pitem *it, ptrdiff_t what) {
  const unsigned char *r;
  if (ms->level >= MO_MAXCAPTURES) luaL_error(ms->L, "too many captures");
  ms->cap[ms->level].init = s;
  ms->cap[ms->level].len = what;
  ms->level++;
  if ((r = match(ms, s, it + 1)) == NULL) ms->level--;
  return r;
}

static const unsigned char *close_capture(mo_match *ms,
                                          const unsigned char *s,
                                          const mo_pitem *it) {
  const unsigned char *r;
  int l;
  for (l = ms->level - 1; l >= 0; l--)
    if (ms->cap[l].len == MO_CAP_UNFINISHED) break;
  if (l < 0) luaL_error(ms->L, "invalid pattern capture");
  ms->cap[l].len = s - ms->cap[l].init;
  if ((r = match(ms, s, it + 1)) == NULL) ms->cap[l].len = MO_CAP_UNFINISHED;
  return r;
}

static const unsigned char *balance(mo_match *ms, const unsigned char *s,
                                    const mo_pitem *it) {
  int depth = 1;
  if (s >= ms->end || *s != it->a) return NULL;
  while (++s < ms->end) {
    if (*s == it->b) {
      if (--depth == 0) return s + 1;
    } else if (*s == it->a) {
      depth++;
    }
  }
  return NULL;
}

/* A back-reference matches the text of a closed capture; one to a
** position capture never matches (as in Lua). */
static const unsigned char *backref(mo_match *ms, const unsigned char *s,
                                    const mo_pitem *it) {
  int l = it->a;
  ptrdiff_t len;
  if (l >= ms->level || ms->cap[l].len == MO_CAP_UNFINISHED)
    luaL_error(ms->L, "invalid capture index %%%d", l + 1);
  len = ms->cap[l].len;
  if (len < 0 || ms->end - s < len) return NULL;
  return memcmp(ms->cap[l].init, s, (size_t)len) == 0 ? s + len : NULL;
}

static const unsigned char *match(mo_match *ms, const unsigned char *s,
                                  const mo_pitem *it) {
  const unsigned char *r;
  int m, prev, next;
  if (ms->depth-- == 0) luaL_error(ms->L, "pattern too complex");
  for (;; it++) {
    switch (it->op) {
      case PI_END:
        goto out;
      case PI_SINGLE:
        m = s < ms->end && TESTBIT(it->bits, *s);
        switch (it->quant) {
          case '?':
            if (m && (r = match(ms, s + 1, it + 1)) != NULL) {
              s = r;
              goto out;
            }
            continue;
          case '+':
            s = m ? max_expand(ms, s + 1, it) : NULL;
            goto out;
          case '*':
            s = max_expand(ms, s, it);
            goto out;
          case '-':
            s = min_expand(ms, s, it);
            goto out;
          default:
            if (!m) {
              s = NULL;
              goto out;
            }
            s++;
            continue;
        }
      case PI_OPEN:
        s = open_capture(ms, s, it, MO_CAP_UNFINISHED);
        goto out;
      case PI_POSCAP:
        s = open_capture(ms, s, it, MO_CAP_POSITION);
        goto out;
      case PI_CLOSE:
        s = close_capture(ms, s, it);
        goto out;
      case PI_EOS:
        if (s != ms->end) s = NULL;
        goto out;
      case PI_BALANCE:
        if ((s = balance(ms, s, it)) == NULL) goto out;
        continue;
      case PI_FRONTIER:
        /* outside the subject counts as byte 0, as in Lua */
        prev = s == ms->src ? 0 : s[-1];
        next = s < ms->end ? *s : 0;
        if (TESTBIT(it->bits, prev) || !TESTBIT(it->bits, next)) {
          s = NULL;
          goto out;
        }
        continue;
      case PI_BACKREF:
        if ((s = backref(ms, s, it)) == NULL) goto out;
        continue;
      default: /* PI_ERROR */
        luaL_error(ms->L, it->err, it->errarg);
    }
  }
out:
  ms->depth++;
  return s;
}

const unsigned char *mo_match_at(mo_match *ms, const unsigned char *s) {
  ms->level = 0;
  ms->depth = MO_MAXDEPTH;
  return match(ms, s, ms->pt->items);
}

const unsigned char *mo_match_find(mo_match *ms, const unsigned char *s,
                                   const unsigned char *lastmatch,
                                   const unsigned char **start) {
  const mo_pitem *first = ms->pt->items;
  int lit;
  /* A pattern that must start with one given byte (after captures that
  ** open, which cannot fail here) skips ahead with memchr: where that
  ** byte is absent, matching would stop at once without raising. */
  while (first->op == PI_OPEN || first->op == PI_POSCAP) first++;
  lit = (first->op == PI_SINGLE && (first->quant == 0 || first->quant == '+'))
            ? first->lit : -1;
  for (;;) {
    const unsigned char *e;
    if (lit >= 0 && !ms->pt->anchor) {
      size_t n = (size_t)(ms->end - s);
      const unsigned char *q = n ? memchr(s, lit, n) : NULL;
      if (q == NULL) return NULL;
      s = q;
    }
    e = mo_match_at(ms, s);
    if (e != NULL && e != lastmatch) {
      *start = s;
      return e;
    }
    if (ms->pt->anchor || s >= ms->end) return NULL;
    s++;
  }
}

/* ---- Results ---- */

void mo_match_pushcapture(mo_match *ms, int i, const unsigned char *s,
                          const unsigned char *e) {
  if (ms->released && *ms->released)
    luaL_error(ms->L, "memobj: view is released");
  if (i >= ms->level) {
    if (i != 0) luaL_error(ms->L, "invalid capture index %%%d", i + 1);
    lua_pushlstring(ms->L, (const char *)s, (size_t)(e - s));
  } else if (ms->cap[i].len == MO_CAP_UNFINISHED) {
    luaL_error(ms->L, "unfinished capture");
  } else if (ms->cap[i].len == MO_CAP_POSITION) {
    lua_pushinteger(ms->L, (ms->cap[i].init - ms->src) + 1);
  } else {
    lua_pushlstring(ms->L, (const char *)ms->cap[i].init,
                    (size_t)ms->cap[i].len);
  }
}

int mo_match_pushcaptures(mo_match *ms, const unsigned char *s,
                          const unsigned char *e, int wholeifnone) {
  int i, n = (ms->level == 0 && wholeifnone) ? 1 : ms->level;
  luaL_checkstack(ms->L, n, "too many captures");
  for (i = 0; i < n; i++) mo_match_pushcapture(ms, i, s, e);
  return n;
}

/* ---- Plain search ---- */

/*
** memchr for the first byte of the needle, then compare: memchr runs at
** memory speed, so this beats memmem when that byte is rare (the usual
** case for text). When candidates come more often than one per 64 bytes,
** memchr gains nothing: hand the rest to memmem (two-way, linear).
*/
const unsigned char *mo_memfind(const unsigned char *h, size_t lh,
                                const unsigned char *n, size_t ln) {
  const unsigned char *p = h, *last;
  size_t misses = 0;
  if (ln == 0) return h;
  if (ln > lh) return NULL;
  if (ln == 1) return memchr(h, n[0], lh);
  last = h + (lh - ln);
  while (p <= last) {
    const unsigned char *q = memchr(p, n[0], (size_t)(last - p) + 1);
    if (q == NULL) return NULL;
    if (memcmp(q + 1, n + 1, ln - 1) == 0) return q;
    p = q + 1;
    if (++misses > 16 && misses * 64 > (size_t)(p - h))
      return memmem(p, (size_t)(h + lh - p), n, ln);
  }
  return NULL;
}

/*
** pattern.h: a matcher for the Lua 5.4 pattern language over any bytes
** (not only Lua strings), written from the Lua manual (section 6.4.1).
** A pattern is compiled into items first; a malformed part compiles into
** an error item, raised only when matching reaches it, exactly when Lua's
** own matcher would notice it.
*/
#ifndef MO_PATTERN_H
#define MO_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>

#define MO_MAXCAPTURES 32  /* as LUA_MAXCAPTURES */
#define MO_MAXDEPTH 200    /* nested matching calls before "pattern too complex" */

/* capture lengths that are not lengths */
#define MO_CAP_UNFINISHED (-1)
#define MO_CAP_POSITION (-2)

typedef struct mo_pitem {
  uint8_t op;      /* PI_* in pattern.c */
  uint8_t quant;   /* 0 or one of '*' '+' '-' '?' */
  uint8_t a, b;    /* %b delimiters; back-reference number */
  int16_t lit;     /* the only byte the class matches, or -1 */
  int16_t stop;    /* the only byte the class does not match, or -1 */
  const char *err; /* error item: message format (one %d for errarg) */
  int errarg;
  uint64_t bits[4];  /* single-byte class as a 256-bit set */
} mo_pitem;

typedef struct mo_pattern {
  int anchor;        /* began with '^' (find and match only) */
  mo_pitem items[1]; /* up to pattern length + 1, the last is the end */
} mo_pattern;

/* Bytes needed to compile a pattern of lp bytes (0 on overflow). */
size_t mo_pattern_size(size_t lp);
/* Compile p[0 .. lp) into pt (mo_pattern_size(lp) bytes). With anchor_ok,
** a leading '^' anchors the match (find, match), else it is a literal
** (gmatch, as in Lua 5.4). Never fails: errors become error items. */
void mo_pattern_compile(mo_pattern *pt, const char *p, size_t lp,
                        int anchor_ok);

typedef struct mo_match {
  lua_State *L;                      /* to raise pattern errors */
  const unsigned char *src, *end;    /* the subject */
  const mo_pattern *pt;
  int level;                         /* captures in cap[] */
  int depth;                         /* calls left before "too complex" */
  const uint8_t *released;           /* the subject view's flag, or NULL:
                                        checked before each capture string
                                        (pushing one may run a finalizer) */
  struct {
    const unsigned char *init;
    ptrdiff_t len;
  } cap[MO_MAXCAPTURES];
} mo_match;

void mo_match_init(mo_match *ms, lua_State *L, const mo_pattern *pt,
                   const unsigned char *src, size_t len);
/* Match at s only; returns the end of the match or NULL. */
const unsigned char *mo_match_at(mo_match *ms, const unsigned char *s);
/* The first match starting at s or later (only at s when anchored, or
** when once is set); *start gets where it starts. Returns its end or
** NULL. lastmatch (or NULL) is an end that must not be returned again
** (gmatch's rule against an empty match right after the previous one). */
const unsigned char *mo_match_find(mo_match *ms, const unsigned char *s,
                                   const unsigned char *lastmatch,
                                   const unsigned char **start);
/* Push capture i (the whole match s..e when there are none and i is 0). */
void mo_match_pushcapture(mo_match *ms, int i, const unsigned char *s,
                          const unsigned char *e);
/* Push all captures (or the whole match when wholeifnone and there are
** none); returns how many. */
int mo_match_pushcaptures(mo_match *ms, const unsigned char *s,
                          const unsigned char *e, int wholeifnone);
/* Lua's test for find: does the pattern use any special character? */
int mo_pattern_hasspecials(const char *p, size_t lp);
/* Plain search for n[0..ln) in h[0..lh); NULL if absent. */
const unsigned char *mo_memfind(const unsigned char *h, size_t lh,
                                const unsigned char *n, size_t ln);
/* Build the class tables (call once, at module open). */
void mo_pattern_initclasses(void);

#endif

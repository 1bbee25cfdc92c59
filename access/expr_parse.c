/*
** expr_parse.c: the parser of array expressions. A tokenizer and Lua's
** own operator-precedence climb (the priorities of lparser.c: or < and <
** comparisons < + - < * / // % < unary < ^, ^ right-associative) build a
** fixed-size tree; no allocation, no Lua, so the fuzzer runs it as is.
** Every error names the 1-based byte position of the token at fault.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr.h"

enum {
  TK_EOF = 100, TK_INT, TK_FLT, TK_NAME, TK_LPAREN, TK_RPAREN, TK_COMMA, TK_BAD
};

typedef struct parser {
  const char *src;
  size_t len, at;        /* at: the byte after the current token */
  int tok;               /* MO_XO_* for operators, else TK_* */
  size_t tpos, tlen;     /* the current token: 0-based start, length */
  int64_t ival;
  double fval;
  int depth;
  mo_xast *ast;
  char *err;
} parser;

/* Format an error and return -1. */
static int fail(parser *P, size_t pos0, const char *fmt, const char *what,
                int whatlen) {
  char msg[MO_EXPR_ERRLEN - 48];  /* room for " at position N" */
  snprintf(msg, sizeof msg, fmt, whatlen, what);
  snprintf(P->err, MO_EXPR_ERRLEN, "%s at position %zu", msg, pos0 + 1);
  return -1;
}

static int unexpected(parser *P) {
  if (P->tok == TK_EOF)
    return fail(P, P->tpos, "unexpected end of expression%.*s", "", 0);
  return fail(P, P->tpos, "unexpected '%.*s'", P->src + P->tpos,
              (int)(P->tlen > 20 ? 20 : P->tlen));
}

/* ---- Tokens ---- */

static int isalpha_(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int isdigit_(int c) { return c >= '0' && c <= '9'; }
static int isxdigit_(int c) {
  return isdigit_(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A numeral as Lua reads one: decimal integers that overflow become
** floats, hexadecimal integers wrap around; no hexadecimal floats. */
static int number(parser *P) {
  const char *s = P->src;
  size_t i = P->tpos, n = P->len;
  int isfloat = 0;
  char buf[64];
  if (s[i] == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    uint64_t v = 0;
    i += 2;
    if (i >= n || !isxdigit_((unsigned char)s[i])) goto bad;
    for (; i < n && isxdigit_((unsigned char)s[i]); i++) {
      int c = (unsigned char)s[i];
      v = v * 16 + (uint64_t)(isdigit_(c) ? c - '0' : (c | 32) - 'a' + 10);
    }
    if (i < n && (isalpha_((unsigned char)s[i]) || s[i] == '.')) goto bad;
    P->tok = TK_INT;
    P->ival = (int64_t)v;
    P->at = i;
    return 0;
  }
  while (i < n && isdigit_((unsigned char)s[i])) i++;
  if (i < n && s[i] == '.') {
    isfloat = 1;
    i++;
    while (i < n && isdigit_((unsigned char)s[i])) i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    isfloat = 1;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (i >= n || !isdigit_((unsigned char)s[i])) goto bad;
    while (i < n && isdigit_((unsigned char)s[i])) i++;
  }
  if (i < n && (isalpha_((unsigned char)s[i]) || s[i] == '.')) goto bad;
  if (i - P->tpos == 1 && s[P->tpos] == '.') goto bad;
  P->at = i;
  P->tlen = i - P->tpos;
  if (!isfloat) {
    uint64_t v = 0;
    size_t k;
    for (k = P->tpos; k < i; k++) {
      unsigned d = (unsigned)(s[k] - '0');
      if (v > (UINT64_MAX - d) / 10 || v * 10 + d > (uint64_t)INT64_MAX) {
        isfloat = 1;  /* too big: a float, as Lua reads it */
        break;
      }
      v = v * 10 + d;
    }
    if (!isfloat) {
      P->tok = TK_INT;
      P->ival = (int64_t)v;
      return 0;
    }
  }
  if (P->tlen >= sizeof buf) {
    /* long numerals: strtod needs a terminated copy; keep what fits
    ** exactly only when the rest is digits of a plain integer */
    return fail(P, P->tpos, "numeral too long%.*s", "", 0);
  }
  memcpy(buf, s + P->tpos, P->tlen);
  buf[P->tlen] = '\0';
  P->tok = TK_FLT;
  P->fval = strtod(buf, NULL);
  return 0;
bad:
  while (i < n && (isalpha_((unsigned char)s[i]) || isdigit_((unsigned char)s[i]) ||
                   s[i] == '.'))
    i++;
  P->tlen = i - P->tpos;
  return fail(P, P->tpos, "malformed number '%.*s'", s + P->tpos,
              (int)(P->tlen > 20 ? 20 : P->tlen));
}

/* Two-character operators first, then one-character ones. */
static int operator(parser *P, int c, int c2) {
  static const struct { char s[3]; int tok; } ops[] = {
    {"//", MO_XO_IDIV}, {"<=", MO_XO_LE}, {">=", MO_XO_GE}, {"==", MO_XO_EQ},
    {"~=", MO_XO_NE},   {"+", MO_XO_ADD}, {"-", MO_XO_SUB}, {"*", MO_XO_MUL},
    {"/", MO_XO_DIV},   {"%", MO_XO_MOD}, {"^", MO_XO_POW}, {"<", MO_XO_LT},
    {">", MO_XO_GT},    {"(", TK_LPAREN}, {")", TK_RPAREN}, {",", TK_COMMA}};
  size_t k;
  for (k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    if (ops[k].s[0] == c && (ops[k].s[1] == '\0' || ops[k].s[1] == c2)) {
      P->tok = ops[k].tok;
      P->tlen = ops[k].s[1] ? 2 : 1;
      return 0;
    }
  }
  P->tok = TK_BAD;
  P->tlen = 1;
  return unexpected(P);
}

/* Lua's reserved words other than and, or, not: never names here. */
static int reserved(const char *s, size_t n) {
  static const char *const words[] = {
    "break", "do", "else", "elseif", "end", "false", "for", "function", "goto",
    "if", "in", "local", "nil", "repeat", "return", "then", "true", "until",
    "while"};
  size_t k;
  for (k = 0; k < sizeof words / sizeof words[0]; k++)
    if (strlen(words[k]) == n && memcmp(words[k], s, n) == 0) return 1;
  return 0;
}

static int next(parser *P) {
  const char *s = P->src;
  size_t i = P->at;
  while (i < P->len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
                        s[i] == '\r' || s[i] == '\f' || s[i] == '\v'))
    i++;
  P->tpos = i;
  if (i >= P->len) {
    P->tok = TK_EOF;
    P->tlen = 0;
    P->at = i;
    return 0;
  }
  if (isalpha_((unsigned char)s[i])) {
    size_t j = i;
    while (j < P->len && (isalpha_((unsigned char)s[j]) || isdigit_((unsigned char)s[j])))
      j++;
    P->tlen = j - i;
    P->at = j;
    if (P->tlen == 3 && memcmp(s + i, "and", 3) == 0) P->tok = MO_XO_AND;
    else if (P->tlen == 2 && memcmp(s + i, "or", 2) == 0) P->tok = MO_XO_OR;
    else if (P->tlen == 3 && memcmp(s + i, "not", 3) == 0) P->tok = MO_XO_NOT;
    else if (reserved(s + i, P->tlen)) return unexpected(P);
    else P->tok = TK_NAME;
    return 0;
  }
  if (isdigit_((unsigned char)s[i]) ||
      (s[i] == '.' && i + 1 < P->len && isdigit_((unsigned char)s[i + 1])))
    return number(P);
  if (operator(P, (unsigned char)s[i], i + 1 < P->len ? (unsigned char)s[i + 1] : 0))
    return -1;
  P->at = i + P->tlen;
  return 0;
}

/* ---- Tree ---- */

static int newnode(parser *P, int kind, int op, size_t pos) {
  mo_xast *A = P->ast;
  mo_xnode *x;
  if (A->nnodes >= MO_EXPR_MAXNODES)
    return fail(P, pos, "expression too long (more than %.*s256 terms)", "", 0);
  x = &A->node[A->nnodes];
  memset(x, 0, sizeof *x);
  x->kind = (uint8_t)kind;
  x->op = (uint8_t)op;
  x->pos = (uint32_t)(pos + 1);
  return A->nnodes++;
}

/* The index of the name at pos (0-based), nlen bytes; new names are
** numbered in order of first appearance. */
static int name_index(parser *P, size_t pos, size_t nlen) {
  mo_xast *A = P->ast;
  int k;
  for (k = 0; k < A->nnames; k++)
    if (A->namelen[k] == nlen &&
        memcmp(P->src + A->namepos[k] - 1, P->src + pos, nlen) == 0)
      return k;
  if (A->nnames >= MO_EXPR_MAXNAMES)
    return fail(P, pos, "too many names (more than %.*s32)", "", 0);
  if (nlen > 1000) return fail(P, pos, "name too long%.*s", "", 0);
  A->namepos[A->nnames] = (uint32_t)(pos + 1);
  A->namelen[A->nnames] = (uint16_t)nlen;
  return A->nnames++;
}

static const struct { const char *name; int fn, nargs; } functions[] = {
  {"abs", MO_XF_ABS, 1},     {"sqrt", MO_XF_SQRT, 1},   {"exp", MO_XF_EXP, 1},
  {"log", MO_XF_LOG, 1},     {"log10", MO_XF_LOG10, 1}, {"sin", MO_XF_SIN, 1},
  {"cos", MO_XF_COS, 1},     {"tan", MO_XF_TAN, 1},     {"floor", MO_XF_FLOOR, 1},
  {"ceil", MO_XF_CEIL, 1},   {"min", MO_XF_MIN, 2},     {"max", MO_XF_MAX, 2},
  {"where", MO_XF_WHERE, 3}, {"sum", MO_XF_SUM, 1},     {"prod", MO_XF_PROD, 1},
  {"mean", MO_XF_MEAN, 1},   {"count", MO_XF_COUNT, 1}, {"any", MO_XF_ANY, 1},
  {"all", MO_XF_ALL, 1},     {"min", MO_XF_RMIN, 1},    {"max", MO_XF_RMAX, 1}};

static int subexpr(parser *P, int limit);

/* name '(' args ')': the current token is '('. */
static int call(parser *P, size_t npos, size_t nlen) {
  int args[3], nargs = 0, k, node, found = 0;
  if (next(P)) return -1;
  if (P->tok != TK_RPAREN) {
    for (;;) {
      if (nargs == 3) return unexpected(P);
      if ((args[nargs++] = subexpr(P, 0)) < 0) return -1;
      if (P->tok != TK_COMMA) break;
      if (next(P)) return -1;
    }
  }
  if (P->tok != TK_RPAREN) return unexpected(P);
  for (k = 0; k < (int)(sizeof functions / sizeof functions[0]); k++) {
    if (strlen(functions[k].name) != nlen ||
        memcmp(functions[k].name, P->src + npos, nlen) != 0)
      continue;
    found = 1;
    if (functions[k].nargs == nargs) break;
  }
  if (!found)
    return fail(P, npos, "unknown function '%.*s'", P->src + npos,
                (int)(nlen > 20 ? 20 : nlen));
  if (k == (int)(sizeof functions / sizeof functions[0])) {
    char what[48];
    int want = 1;
    for (k = 0; k < (int)(sizeof functions / sizeof functions[0]); k++)
      if (strlen(functions[k].name) == nlen &&
          memcmp(functions[k].name, P->src + npos, nlen) == 0)
        want = functions[k].nargs;
    snprintf(what, sizeof what, "%.*s takes %s", (int)nlen, P->src + npos,
             nlen == 3 && (memcmp(P->src + npos, "min", 3) == 0 ||
                           memcmp(P->src + npos, "max", 3) == 0)
                 ? "1 or 2 arguments"
                 : want == 1 ? "1 argument" : want == 2 ? "2 arguments"
                                                        : "3 arguments");
    return fail(P, npos, "%.*s", what, (int)strlen(what));
  }
  if ((node = newnode(P, MO_XN_CALL, functions[k].fn, npos)) < 0) return -1;
  P->ast->node[node].nargs = (uint8_t)nargs;
  for (k = 0; k < nargs; k++) P->ast->node[node].arg[k] = (uint16_t)args[k];
  if (next(P)) return -1;
  return node;
}

static int simpleexp(parser *P) {
  int node;
  switch (P->tok) {
    case TK_INT: case TK_FLT:
      if ((node = newnode(P, P->tok == TK_INT ? MO_XN_INT : MO_XN_FLT, 0, P->tpos)) < 0)
        return -1;
      if (P->tok == TK_INT) P->ast->node[node].v.i = P->ival;
      else P->ast->node[node].v.d = P->fval;
      if (next(P)) return -1;
      return node;
    case TK_NAME: {
      size_t npos = P->tpos, nlen = P->tlen;
      int name;
      if (next(P)) return -1;
      if (P->tok == TK_LPAREN) return call(P, npos, nlen);
      if ((name = name_index(P, npos, nlen)) < 0) return -1;
      if ((node = newnode(P, MO_XN_NAME, 0, npos)) < 0) return -1;
      P->ast->node[node].v.name = name;
      return node;
    }
    case TK_LPAREN:
      if (next(P)) return -1;
      if ((node = subexpr(P, 0)) < 0) return -1;
      if (P->tok != TK_RPAREN) return unexpected(P);
      if (next(P)) return -1;
      return node;
    default:
      return unexpected(P);
  }
}

/* Left and right priorities of the binary operators (lparser.c). */
static const struct { uint8_t left, right; } priority[] = {
  {10, 10}, {10, 10}, {11, 11}, {11, 11}, {11, 11}, {11, 11}, {14, 13},  /* + - * / // % ^ */
  {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3},  /* < <= > >= == ~= */
  {2, 2}, {1, 1}                                   /* and or */
};
#define UNARY_PRIORITY 12

static int subexpr(parser *P, int limit) {
  int e;
  if (++P->depth > MO_EXPR_MAXDEPTH)
    return fail(P, P->tpos, "expression nests too deep%.*s", "", 0);
  if (P->tok == MO_XO_NOT || P->tok == MO_XO_SUB) {
    int op = P->tok == MO_XO_NOT ? MO_XO_NOT : MO_XO_NEG, arg;
    size_t pos = P->tpos;
    if (next(P)) return -1;
    if ((arg = subexpr(P, UNARY_PRIORITY)) < 0) return -1;
    if ((e = newnode(P, MO_XN_UNOP, op, pos)) < 0) return -1;
    P->ast->node[e].nargs = 1;
    P->ast->node[e].arg[0] = (uint16_t)arg;
  } else if ((e = simpleexp(P)) < 0) {
    return -1;
  }
  while (P->tok <= MO_XO_OR && priority[P->tok].left > limit) {
    int op = P->tok, rhs, node;
    size_t pos = P->tpos;
    if (next(P)) return -1;
    if ((rhs = subexpr(P, priority[op].right)) < 0) return -1;
    if ((node = newnode(P, MO_XN_BINOP, op, pos)) < 0) return -1;
    P->ast->node[node].nargs = 2;
    P->ast->node[node].arg[0] = (uint16_t)e;
    P->ast->node[node].arg[1] = (uint16_t)rhs;
    e = node;
  }
  P->depth--;
  return e;
}

static int isreduction(int fn) { return fn >= MO_XF_SUM; }

int mo_expr_parse(const char *src, size_t len, mo_xast *ast, char *err) {
  parser P;
  int k;
  memset(&P, 0, sizeof P);
  P.src = src;
  P.len = len;
  P.ast = ast;
  P.err = err;
  ast->nnodes = ast->nnames = 0;
  ast->reduce = -1;
  if (next(&P)) return -1;
  if ((ast->root = subexpr(&P, 0)) < 0) return -1;
  if (P.tok != TK_EOF) return unexpected(&P);
  for (k = 0; k < ast->nnodes; k++) {
    const mo_xnode *x = &ast->node[k];
    if (x->kind == MO_XN_CALL && isreduction(x->op) && k != ast->root) {
      size_t e = x->pos - 1;
      while (e < len && isalpha_((unsigned char)src[e])) e++;
      return fail(&P, x->pos - 1, "a reduction (%.*s) must be the outermost call",
                  src + x->pos - 1, (int)(e - (x->pos - 1)));
    }
  }
  if (ast->node[ast->root].kind == MO_XN_CALL && isreduction(ast->node[ast->root].op))
    ast->reduce = ast->node[ast->root].op;
  return 0;
}

/*
** expr_compile.c: tree -> register program, for given kinds of inputs.
** Types follow Lua: + - * // % and unary - of two integers stay integers
** (wrapping), / and ^ give floats, an integer meeting a float becomes a
** float (an I2F op; constants convert here), comparisons of an integer
** with a float are exact (as Lua's), comparisons give bools. An
** operation never writes into one of its operands' registers, so each
** vector loop sees distinct (restrict) buffers.
*/
#include <stdio.h>
#include <string.h>
#include "expr.h"

typedef struct gen {
  const mo_xast *A;
  const uint8_t *kinds;
  mo_xprog *p;
  char *err;
  int namereg[MO_EXPR_MAXNAMES];
  int nfree, freeregs[MO_EXPR_MAXREGS];
} gen;

static int fail(gen *G, uint32_t pos, const char *msg) {
  snprintf(G->err, MO_EXPR_ERRLEN, "%s at position %u", msg, (unsigned)pos);
  return -1;
}

static int newreg(gen *G, int src, int type, uint32_t pos) {
  mo_xprog *p = G->p;
  int r;
  if (src == MO_XR_TEMP && G->nfree > 0) {
    r = G->freeregs[--G->nfree];
  } else {
    if (p->nregs >= MO_EXPR_MAXREGS) return fail(G, pos, "expression too complex");
    r = p->nregs++;
  }
  p->rsrc[r] = (uint8_t)src;
  p->rtype[r] = (uint8_t)type;
  p->rname[r] = -1;
  return r;
}

/* Give a temporary register back once its last reader is emitted. */
static void release(gen *G, int r) {
  if (G->p->rsrc[r] == MO_XR_TEMP) G->freeregs[G->nfree++] = r;
}

static int emit(gen *G, int op, int type, uint32_t pos, int a, int b, int c) {
  mo_xprog *p = G->p;
  mo_xinsn *in;
  int d = newreg(G, MO_XR_TEMP, type, pos);
  if (d < 0) return -1;
  in = &p->code[p->ninsn++];
  in->op = (uint8_t)op;
  in->dst = (uint8_t)d;
  in->a = (uint8_t)a;
  in->b = (uint8_t)(b < 0 ? a : b);
  in->c = (uint8_t)(c < 0 ? a : c);
  in->pos = pos;
  release(G, a);
  if (b >= 0 && b != a) release(G, b);
  if (c >= 0 && c != a && c != b) release(G, c);
  return d;
}

/* Register r as a float: constants convert now, others through I2F. */
static int tofloat(gen *G, int r, uint32_t pos) {
  mo_xprog *p = G->p;
  if (p->rtype[r] == MO_XT_FLT) return r;
  if (p->rsrc[r] == MO_XR_CONST) {
    int c = newreg(G, MO_XR_CONST, MO_XT_FLT, pos);
    if (c >= 0) p->rconst[c].d = (double)p->rconst[r].i;
    return c;
  }
  return emit(G, XI_I2F, MO_XT_FLT, pos, r, -1, -1);
}

static int gen_node(gen *G, int k);

static int isnum(int t) { return t == MO_XT_INT || t == MO_XT_FLT; }

/* Arithmetic: iop for two integers (-1: always float), fop otherwise. */
static int arith(gen *G, uint32_t pos, int a, int b, int iop, int fop) {
  mo_xprog *p = G->p;
  if (!isnum(p->rtype[a]) || !isnum(p->rtype[b]))
    return fail(G, pos, "arithmetic on a comparison (a bool value)");
  if (iop >= 0 && p->rtype[a] == MO_XT_INT && p->rtype[b] == MO_XT_INT)
    return emit(G, iop, MO_XT_INT, pos, a, b, -1);
  if ((a = tofloat(G, a, pos)) < 0 || (b = tofloat(G, b, pos)) < 0) return -1;
  return emit(G, fop, MO_XT_FLT, pos, a, b, -1);
}

/* Order comparison a < b (le: a <= b) of numbers of any type. */
static int order(gen *G, uint32_t pos, int a, int b, int le) {
  mo_xprog *p = G->p;
  int ta = p->rtype[a], tb = p->rtype[b], op;
  if (!isnum(ta) || !isnum(tb))
    return fail(G, pos, "order comparison of a comparison (a bool value)");
  if (ta == MO_XT_INT && tb == MO_XT_INT) op = le ? XI_LEI : XI_LTI;
  else if (ta == MO_XT_FLT && tb == MO_XT_FLT) op = le ? XI_LEF : XI_LTF;
  else if (ta == MO_XT_INT) op = le ? XI_LEIF : XI_LTIF;
  else op = le ? XI_LEFI : XI_LTFI;
  return emit(G, op, MO_XT_BOOL, pos, a, b, -1);
}

static int equality(gen *G, uint32_t pos, int a, int b, int ne) {
  mo_xprog *p = G->p;
  int ta = p->rtype[a], tb = p->rtype[b], op;
  if ((ta == MO_XT_BOOL) != (tb == MO_XT_BOOL))
    return fail(G, pos, "comparing a comparison (a bool value) with a number");
  if (ta == MO_XT_BOOL) op = ne ? XI_NEB : XI_EQB;
  else if (ta == MO_XT_INT && tb == MO_XT_INT) op = ne ? XI_NEI : XI_EQI;
  else if (ta == MO_XT_FLT && tb == MO_XT_FLT) op = ne ? XI_NEF : XI_EQF;
  else {
    if (ta == MO_XT_FLT) { int t = a; a = b; b = t; }
    op = ne ? XI_NEIF : XI_EQIF;
  }
  return emit(G, op, MO_XT_BOOL, pos, a, b, -1);
}

static int logic(gen *G, uint32_t pos, int a, int b, int op, const char *name) {
  char msg[64];
  if (G->p->rtype[a] != MO_XT_BOOL || (b >= 0 && G->p->rtype[b] != MO_XT_BOOL)) {
    snprintf(msg, sizeof msg, "'%s' takes comparisons (bool values)", name);
    return fail(G, pos, msg);
  }
  return emit(G, op, MO_XT_BOOL, pos, a, b, -1);
}

/* Is register r the constant 2 (x^2 is x*x, as Lua computes it)? */
static int istwo(const mo_xprog *p, int r) {
  if (p->rsrc[r] != MO_XR_CONST) return 0;
  return p->rtype[r] == MO_XT_INT ? p->rconst[r].i == 2 : p->rconst[r].d == 2.0;
}

static int binop(gen *G, const mo_xnode *x) {
  int a, b;
  if ((a = gen_node(G, x->arg[0])) < 0 || (b = gen_node(G, x->arg[1])) < 0) return -1;
  switch (x->op) {
    case MO_XO_ADD: return arith(G, x->pos, a, b, XI_ADDI, XI_ADDF);
    case MO_XO_SUB: return arith(G, x->pos, a, b, XI_SUBI, XI_SUBF);
    case MO_XO_MUL: return arith(G, x->pos, a, b, XI_MULI, XI_MULF);
    case MO_XO_DIV: return arith(G, x->pos, a, b, -1, XI_DIVF);
    case MO_XO_IDIV: return arith(G, x->pos, a, b, XI_IDIVI, XI_IDIVF);
    case MO_XO_MOD: return arith(G, x->pos, a, b, XI_MODI, XI_MODF);
    case MO_XO_POW:
      if (istwo(G->p, b) && isnum(G->p->rtype[a])) {
        if ((a = tofloat(G, a, x->pos)) < 0) return -1;
        return emit(G, XI_SQRF, MO_XT_FLT, x->pos, a, -1, -1);
      }
      return arith(G, x->pos, a, b, -1, XI_POWF);
    case MO_XO_LT: return order(G, x->pos, a, b, 0);
    case MO_XO_LE: return order(G, x->pos, a, b, 1);
    case MO_XO_GT: return order(G, x->pos, b, a, 0);
    case MO_XO_GE: return order(G, x->pos, b, a, 1);
    case MO_XO_EQ: return equality(G, x->pos, a, b, 0);
    case MO_XO_NE: return equality(G, x->pos, a, b, 1);
    case MO_XO_AND: return logic(G, x->pos, a, b, XI_AND, "and");
    default: return logic(G, x->pos, a, b, XI_OR, "or");
  }
}

/* A function of one number giving a float. */
static int floatfn(gen *G, const mo_xnode *x, int a, int op) {
  if (!isnum(G->p->rtype[a]))
    return fail(G, x->pos, "a math function of a comparison (a bool value)");
  if ((a = tofloat(G, a, x->pos)) < 0) return -1;
  return emit(G, op, MO_XT_FLT, x->pos, a, -1, -1);
}

static int where(gen *G, const mo_xnode *x, int c, int a, int b) {
  mo_xprog *p = G->p;
  int ta = p->rtype[a], tb = p->rtype[b];
  if (p->rtype[c] != MO_XT_BOOL)
    return fail(G, x->pos, "where takes a comparison (a bool value) first");
  if ((ta == MO_XT_BOOL) != (tb == MO_XT_BOOL))
    return fail(G, x->pos, "where mixes a comparison (a bool value) with a number");
  if (ta == MO_XT_BOOL) return emit(G, XI_WHEREB, MO_XT_BOOL, x->pos, c, a, b);
  if (ta == MO_XT_INT && tb == MO_XT_INT)
    return emit(G, XI_WHEREI, MO_XT_INT, x->pos, c, a, b);
  if ((a = tofloat(G, a, x->pos)) < 0 || (b = tofloat(G, b, x->pos)) < 0) return -1;
  return emit(G, XI_WHEREF, MO_XT_FLT, x->pos, c, a, b);
}

/* A reduction's argument: check its type (the loop is in expr_eval.c). */
static int reduction(gen *G, const mo_xnode *x, int a) {
  int t = G->p->rtype[a];
  switch (x->op) {
    case MO_XF_COUNT: case MO_XF_ANY: case MO_XF_ALL:
      if (t != MO_XT_BOOL)
        return fail(G, x->pos, "count, any and all take a comparison (a bool value)");
      return a;
    case MO_XF_SUM:
      return a;  /* a sum of bools counts them */
    default:
      if (t == MO_XT_BOOL)
        return fail(G, x->pos, "prod, mean, min and max take numbers, not a comparison");
      return a;
  }
}

static int callfn(gen *G, const mo_xnode *x) {
  int r[3], k;
  for (k = 0; k < x->nargs; k++)
    if ((r[k] = gen_node(G, x->arg[k])) < 0) return -1;
  switch (x->op) {
    case MO_XF_ABS:
      if (G->p->rtype[r[0]] == MO_XT_INT)
        return emit(G, XI_ABSI, MO_XT_INT, x->pos, r[0], -1, -1);
      return floatfn(G, x, r[0], XI_ABSF);
    case MO_XF_SQRT: return floatfn(G, x, r[0], XI_SQRT);
    case MO_XF_EXP: return floatfn(G, x, r[0], XI_EXP);
    case MO_XF_LOG: return floatfn(G, x, r[0], XI_LOG);
    case MO_XF_LOG10: return floatfn(G, x, r[0], XI_LOG10);
    case MO_XF_SIN: return floatfn(G, x, r[0], XI_SIN);
    case MO_XF_COS: return floatfn(G, x, r[0], XI_COS);
    case MO_XF_TAN: return floatfn(G, x, r[0], XI_TAN);
    case MO_XF_FLOOR: case MO_XF_CEIL:
      if (G->p->rtype[r[0]] == MO_XT_INT) return r[0];  /* already whole */
      return floatfn(G, x, r[0], x->op == MO_XF_FLOOR ? XI_FLOOR : XI_CEIL);
    case MO_XF_MIN: return arith(G, x->pos, r[0], r[1], XI_MINI, XI_MINF);
    case MO_XF_MAX: return arith(G, x->pos, r[0], r[1], XI_MAXI, XI_MAXF);
    case MO_XF_WHERE: return where(G, x, r[0], r[1], r[2]);
    default: return reduction(G, x, r[0]);
  }
}

static int gen_node(gen *G, int k) {
  const mo_xnode *x = &G->A->node[k];
  mo_xprog *p = G->p;
  int r, kind;
  switch (x->kind) {
    case MO_XN_INT: case MO_XN_FLT:
      r = newreg(G, MO_XR_CONST, x->kind == MO_XN_INT ? MO_XT_INT : MO_XT_FLT, x->pos);
      if (r >= 0) p->rconst[r].i = x->v.i;  /* the union's bits, either type */
      if (r >= 0 && x->kind == MO_XN_FLT) p->rconst[r].d = x->v.d;
      return r;
    case MO_XN_NAME:
      if (G->namereg[x->v.name] >= 0) return G->namereg[x->v.name];
      kind = G->kinds[x->v.name];
      r = newreg(G, kind & MO_XK_SCALAR ? MO_XR_SCALAR : MO_XR_INPUT,
                 kind & ~MO_XK_SCALAR, x->pos);
      if (r >= 0) p->rname[r] = x->v.name;
      return G->namereg[x->v.name] = r;
    case MO_XN_UNOP:
      if ((r = gen_node(G, x->arg[0])) < 0) return -1;
      if (x->op == MO_XO_NOT) return logic(G, x->pos, r, -1, XI_NOT, "not");
      if (p->rtype[r] == MO_XT_BOOL)
        return fail(G, x->pos, "arithmetic on a comparison (a bool value)");
      return emit(G, p->rtype[r] == MO_XT_INT ? XI_NEGI : XI_NEGF, p->rtype[r],
                  x->pos, r, -1, -1);
    case MO_XN_BINOP:
      return binop(G, x);
    default:
      return callfn(G, x);
  }
}

int mo_expr_compile(const mo_xast *ast, const uint8_t *kinds, mo_xprog *p,
                    char *err) {
  gen G;
  int k;
  memset(&G, 0, sizeof G);
  G.A = ast;
  G.kinds = kinds;
  G.p = p;
  G.err = err;
  for (k = 0; k < MO_EXPR_MAXNAMES; k++) G.namereg[k] = -1;
  p->ninsn = p->nregs = 0;
  p->reduce = ast->reduce;
  if ((p->result = gen_node(&G, ast->root)) < 0) return -1;
  p->direct = p->ninsn > 0 && p->code[p->ninsn - 1].dst == p->result;
  for (k = 0; k + 1 < p->ninsn && p->direct; k++) {
    const mo_xinsn *in = &p->code[k];
    if (in->dst == p->result || in->a == p->result || in->b == p->result ||
        in->c == p->result)
      p->direct = 0;
  }
  return 0;
}

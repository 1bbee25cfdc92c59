/*
** expr.h: array expressions (memobj.expr, memobj.eval). Three steps:
** - expr_parse.c: source text -> a small tree (fixed size, no Lua), with
**   errors that name a 1-based byte position in the source;
** - expr_parse.c (mo_expr_compile): the tree + the kinds of the inputs
**   (integer, float or bool; array or number) -> a register program, one
**   opcode per operation and type;
** - expr_eval.c: the program run over blocks of BLOCK elements (registers
**   are block-sized buffers that stay in L1/L2), one vector loop per op.
** expr_lua.c is the Lua face.
*/
#ifndef MO_EXPR_H
#define MO_EXPR_H

#include <stddef.h>
#include <stdint.h>

#define MO_EXPR_MAXNODES 256   /* terms in one expression */
#define MO_EXPR_MAXDEPTH 64    /* nesting of parentheses and operators */
#define MO_EXPR_MAXNAMES 32    /* distinct input names */
#define MO_EXPR_MAXREGS 64     /* registers of a program */
#define MO_EXPR_BLOCK 1024     /* elements per block */
#define MO_EXPR_ERRLEN 160

/* Value types of registers: int64, float64 (double), bool (one byte). */
enum { MO_XT_INT, MO_XT_FLT, MO_XT_BOOL };

/* Kinds of inputs: the type, plus MO_XK_SCALAR for a number or boolean. */
#define MO_XK_SCALAR 4

/* Tree nodes. */
enum { MO_XN_INT, MO_XN_FLT, MO_XN_NAME, MO_XN_UNOP, MO_XN_BINOP, MO_XN_CALL };

/* Operators (tokens) and functions. */
enum {
  MO_XO_ADD, MO_XO_SUB, MO_XO_MUL, MO_XO_DIV, MO_XO_IDIV, MO_XO_MOD, MO_XO_POW,
  MO_XO_LT, MO_XO_LE, MO_XO_GT, MO_XO_GE, MO_XO_EQ, MO_XO_NE,
  MO_XO_AND, MO_XO_OR, MO_XO_NOT, MO_XO_NEG
};
enum {
  MO_XF_ABS, MO_XF_SQRT, MO_XF_EXP, MO_XF_LOG, MO_XF_LOG10, MO_XF_SIN,
  MO_XF_COS, MO_XF_TAN, MO_XF_FLOOR, MO_XF_CEIL, MO_XF_MIN, MO_XF_MAX,
  MO_XF_WHERE,
  /* reductions (outermost call only) */
  MO_XF_SUM, MO_XF_PROD, MO_XF_MEAN, MO_XF_COUNT, MO_XF_ANY, MO_XF_ALL,
  MO_XF_RMIN, MO_XF_RMAX
};

typedef struct mo_xnode {
  uint8_t kind, op, nargs;
  uint16_t arg[3];       /* child nodes */
  uint32_t pos;          /* 1-based byte position in the source */
  union { int64_t i; double d; int name; } v;
} mo_xnode;

typedef struct mo_xast {
  mo_xnode node[MO_EXPR_MAXNODES];
  int nnodes, root;
  int nnames;
  uint32_t namepos[MO_EXPR_MAXNAMES];  /* first occurrence */
  uint16_t namelen[MO_EXPR_MAXNAMES];
  int reduce;            /* MO_XF_SUM.. when the root is a reduction, else -1 */
} mo_xast;

/* Parse src (len bytes); 0, or -1 with a message in err ("unexpected ')'
** at position 7"). */
int mo_expr_parse(const char *src, size_t len, mo_xast *ast, char *err);

/* ---- Programs ---- */

/* Opcodes: suffix F float, I integer, B bool, IF int op float (exact). */
enum {
  XI_ADDF, XI_SUBF, XI_MULF, XI_DIVF, XI_POWF, XI_IDIVF, XI_MODF, XI_MINF,
  XI_MAXF, XI_SQRF,
  XI_ADDI, XI_SUBI, XI_MULI, XI_IDIVI, XI_MODI, XI_MINI, XI_MAXI,
  XI_I2F,
  XI_NEGF, XI_NEGI, XI_ABSF, XI_ABSI, XI_SQRT, XI_EXP, XI_LOG, XI_LOG10,
  XI_SIN, XI_COS, XI_TAN, XI_FLOOR, XI_CEIL,
  XI_LTF, XI_LEF, XI_EQF, XI_NEF,
  XI_LTI, XI_LEI, XI_EQI, XI_NEI,
  XI_LTIF, XI_LEIF, XI_LTFI, XI_LEFI, XI_EQIF, XI_NEIF,
  XI_EQB, XI_NEB, XI_AND, XI_OR, XI_NOT,
  XI_WHEREF, XI_WHEREI, XI_WHEREB,
  XI_NOPS
};

typedef struct mo_xinsn {
  uint8_t op, dst, a, b, c;
  uint32_t pos;          /* of the operator: for runtime errors */
} mo_xinsn;

/* Where a register's values come from: an operation, an array input
** (loaded per block), a constant or scalar input (filled once). */
enum { MO_XR_TEMP, MO_XR_INPUT, MO_XR_CONST, MO_XR_SCALAR };
typedef union mo_xval { int64_t i; double d; } mo_xval;

typedef struct mo_xprog {
  int ninsn, nregs, result, reduce;
  int direct;            /* only the last instruction touches the result
                            register: it may write straight into out */
  uint8_t rtype[MO_EXPR_MAXREGS];   /* MO_XT_* */
  uint8_t rsrc[MO_EXPR_MAXREGS];    /* MO_XR_* */
  int rname[MO_EXPR_MAXREGS];       /* MO_XR_INPUT: the name index */
  mo_xval rconst[MO_EXPR_MAXREGS]; /* MO_XR_CONST (a scalar input: rname) */
  mo_xinsn code[2 * MO_EXPR_MAXNODES];
} mo_xprog;

/* Compile ast for inputs of these kinds (one per name: MO_XT_* plus
** MO_XK_SCALAR). 0, or -1 with a message in err. */
int mo_expr_compile(const mo_xast *ast, const uint8_t *kinds, mo_xprog *p,
                    char *err);

/* ---- Running (expr_eval.c) ---- */

/* An array input or the output: element k at base + k * stride, element
** type et (elemtype.h). */
typedef struct mo_xarr {
  unsigned char *base;
  ptrdiff_t stride;
  int et;
} mo_xarr;

/* Partial result of a reduction over one range. */
typedef struct mo_xred {
  double d[8];           /* float lanes (sum, prod, min, max, mean) */
  uint64_t u;            /* integer sum or product, count */
  int64_t i;             /* integer min, max */
  int nan, any, seen;
} mo_xred;

typedef struct mo_xjob {
  const mo_xprog *p;
  size_t n;
  const mo_xarr *in;     /* by name index (arrays) */
  const mo_xval *scal;   /* by name index (numbers; bools as 0/1) */
  mo_xarr out;           /* base NULL: reduction */
  int direct;            /* the last instruction writes into out itself
                            (out holds the register type contiguously and
                            overlaps no input; p->direct) */
  int nthreads;
  unsigned char *work;   /* nthreads * mo_expr_worksize(p) bytes */
} mo_xjob;

/* The bytes one thread needs for its registers. */
size_t mo_expr_worksize(const mo_xprog *p);
/* Run the job; 0, or -1 with err set (integer division by zero, a lost
** page, a thread that did not start). red: the combined reduction. */
int mo_expr_run(const mo_xjob *job, mo_xred *red, char *err);
/* Store n results of type t at src into the array out (conversions as
** the output rules say). */
void mo_expr_store(const mo_xarr *out, size_t k0, size_t n, int t,
                   const void *src);

#endif

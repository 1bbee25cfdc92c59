/*
** fuzz_expr.c: libFuzzer target for the expression parser and compiler.
** Every input is an expression source: parse it; when it parses, compile
** it for input kinds drawn from the input's bytes, check the program's
** invariants (registers in range, no operation writing one of its own
** operands, the result defined) and run it over small arrays under
** ASan/UBSan. A parse error must name a position inside the source (or
** just past its end). Built by `make fuzz`.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../access/expr.h"
#include "../../access/elemtype.h"

static void check_program(const mo_xprog *p, int nnames) {
  int i;
  if (p->nregs > MO_EXPR_MAXREGS || p->result < 0 || p->result >= p->nregs) abort();
  for (i = 0; i < p->ninsn; i++) {
    const mo_xinsn *in = &p->code[i];
    if (in->op >= XI_NOPS || in->dst >= p->nregs || in->a >= p->nregs ||
        in->b >= p->nregs || in->c >= p->nregs)
      abort();
    if (in->dst == in->a || in->dst == in->b || in->dst == in->c) abort();
    if (p->rsrc[in->dst] != MO_XR_TEMP) abort();
  }
  for (i = 0; i < p->nregs; i++)
    if ((p->rsrc[i] == MO_XR_INPUT || p->rsrc[i] == MO_XR_SCALAR) &&
        (p->rname[i] < 0 || p->rname[i] >= nnames))
      abort();
}

#define N 37

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mo_xast ast;
  static mo_xprog prog;
  static double fbuf[MO_EXPR_MAXNAMES][N], outf[N];
  static int64_t ibuf[MO_EXPR_MAXNAMES][N];
  char err[MO_EXPR_ERRLEN];
  uint8_t kinds[MO_EXPR_MAXNAMES];
  mo_xarr in[MO_EXPR_MAXNAMES];
  mo_xval scal[MO_EXPR_MAXNAMES];
  mo_xjob job;
  mo_xred red;
  unsigned char *work;
  uint32_t h = 2166136261u;
  size_t k;
  int i, j, rc;
  err[0] = '\0';
  rc = mo_expr_parse((const char *)data, size, &ast, err);
  if (rc != 0) {
    const char *at = strstr(err, " at position ");
    unsigned long pos;
    if (at == NULL || strlen(err) >= MO_EXPR_ERRLEN) abort();
    pos = strtoul(at + 13, NULL, 10);
    if (pos < 1 || pos > size + 1) abort();
    return 0;
  }
  if (ast.nnodes < 1 || ast.nnames > MO_EXPR_MAXNAMES) abort();
  for (k = 0; k < size; k++) h = (h ^ data[k]) * 16777619u;
  for (i = 0; i < ast.nnames; i++) {
    int kind = (int)((h >> (i % 13)) % 5);  /* int/flt array, int/flt/bool scalar */
    kinds[i] = kind == 0 ? MO_XT_INT : kind == 1 ? MO_XT_FLT
             : kind == 2 ? (MO_XT_INT | MO_XK_SCALAR)
             : kind == 3 ? (MO_XT_FLT | MO_XK_SCALAR) : (MO_XT_BOOL | MO_XK_SCALAR);
    for (j = 0; j < N; j++) {
      fbuf[i][j] = (double)((int)((h >> (j % 29)) % 201) - 100) / 7.0;
      ibuf[i][j] = j == 3 ? INT64_MIN : (int64_t)((h * (uint32_t)(j + 1)) % 41) - 20;
    }
    in[i].base = kinds[i] == MO_XT_FLT ? (unsigned char *)fbuf[i] : (unsigned char *)ibuf[i];
    in[i].stride = 8;
    in[i].et = kinds[i] == MO_XT_FLT ? MO_F64 : MO_I64;
    if (kinds[i] & MO_XK_SCALAR) {
      if ((kinds[i] & 3) == MO_XT_FLT) scal[i].d = -2.5;
      else scal[i].i = (int64_t)(h % 7) - 3;
    }
  }
  if (mo_expr_compile(&ast, kinds, &prog, err) != 0) {
    if (strstr(err, " at position ") == NULL) abort();
    return 0;
  }
  check_program(&prog, ast.nnames);
  work = malloc(mo_expr_worksize(&prog) * 2);
  if (work == NULL) return 0;
  memset(&job, 0, sizeof job);
  job.p = &prog;
  job.n = N;
  job.in = in;
  job.scal = scal;
  job.nthreads = (int)(h % 2) + 1;
  job.work = work;
  if (prog.reduce < 0) {
    int t = prog.rtype[prog.result];
    job.out.base = (unsigned char *)outf;
    job.out.stride = 8;
    job.out.et = t == MO_XT_INT ? MO_I64 : MO_F64;
  }
  (void)mo_expr_run(&job, &red, err);
  free(work);
  return 0;
}

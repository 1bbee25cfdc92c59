/*
** array_kernels.h: the SIMD loops of array_minmax.c, used by
** array_kernels.c (want: 1 min, 2 max, 3 both; they return nonzero when
** the items hold a NaN or an infinity, then the caller checks for a NaN),
** and the float32 loops of array_kernels_f32.c, used by array_arith.c.
*/
#ifndef MO_ARRAY_KERNELS_H
#define MO_ARRAY_KERNELS_H

/* Kernels stay out of line (one loop each, easy to read in objdump) and,
** built by gcc on x86-64 Linux, get an AVX2 clone chosen at load time (an
** ifunc). clang (the fuzz build) refuses target_clones with noinline. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    defined(__linux__)
#define MO_KERNEL static __attribute__((noinline, target_clones("default", "avx2")))
#else
#define MO_KERNEL static __attribute__((noinline))
#endif

#include <stddef.h>

int mo_minmax_f64(const unsigned char *p, size_t n, int want, double *lo,
                  double *hi);
int mo_minmax_f32(const unsigned char *p, size_t n, int want, float *lo,
                  float *hi);

/* a:div(y) of n contiguous native float32 (any alignment) by a y that is
** not a float32 value: the same bits as the loop
** p[k] = (float)((double)p[k] / y) (array_kernels_f32.c). Returns the
** number of elements the checked path divided again; *path (if not NULL)
** gets the path taken. */
enum { MO_F32DIV_EXACT, MO_F32DIV_PRODUCTS, MO_F32DIV_CHECKED };
size_t mo_f32div(unsigned char *p, size_t n, double y, int *path);

/* The operations of a:add, a:sub, a:mul, a:div (access/array_arith.c). */
enum { MO_ARITH_ADD, MO_ARITH_SUB, MO_ARITH_MUL, MO_ARITH_DIV };
/* p[k] = (float)((double)p[k] op x) for the first elements of n contiguous
** native float32 (op add, sub or mul); returns how many it did (a multiple
** of 8, 0 without AVX2): the caller does the rest. */
size_t mo_f32arith(unsigned char *p, size_t n, int op, double x);

#endif

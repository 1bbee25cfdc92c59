/*
** array_kernels.h: the SIMD loops of array_minmax.c, used by
** array_kernels.c. want: 1 min, 2 max, 3 both. They return nonzero when
** the items hold a NaN or an infinity (then the caller checks for a NaN).
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

#endif

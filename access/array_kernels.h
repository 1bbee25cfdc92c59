/*
** array_kernels.h: the SIMD loops of array_minmax.c, used by
** array_kernels.c. want: 1 min, 2 max, 3 both. They return nonzero when
** the items hold a NaN or an infinity (then the caller checks for a NaN).
*/
#ifndef MO_ARRAY_KERNELS_H
#define MO_ARRAY_KERNELS_H

#include <stddef.h>

int mo_minmax_f64(const unsigned char *p, size_t n, int want, double *lo,
                  double *hi);
int mo_minmax_f32(const unsigned char *p, size_t n, int want, float *lo,
                  float *hi);

#endif

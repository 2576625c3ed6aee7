/*
 * The Node addon's kernels: one indirect GEMM micro-kernel compiled once per ISA (ukernel.c), and
 * the convolution and matmul drivers (conv.c) that feed it, on every core (pool.c).
 *
 * The micro-kernel computes an MR x NR tile:
 *   C[i][j] (+)= sum over taps t < T, l < L of A[t][i][l] * B[t][l][j]
 * where row i of tap t is read through a pointer (a[t * MR + i], L contiguous floats: a pixel's
 * channels, or a zero row for padding) and B is packed, tap by tap, NR floats per l. Rows are
 * written through pointers too, so a tile's rows need not be evenly spaced (the phases of a
 * strided input gradient). This "indirect" form (XNNPACK's convolutions work the same way) lets
 * a convolution read its input in place: no im2col copy, whatever the stride or padding.
 */
#ifndef DIGIT_KERNELS_H
#define DIGIT_KERNELS_H

#include <stdint.h>

typedef struct {
  int64_t taps;              /* T */
  int64_t len;               /* L */
  const float *const *a;     /* T * MR row pointers */
  const float *b;            /* T * L * NR floats */
  const float *const *b_taps; /* or, when not NULL, tap t's L * NR floats at b_taps[t] (taps skipped) */
  float *const *c;           /* MR row pointers (only the first mr are written) */
  int64_t mr, nr;            /* rows and columns of the tile to write */
  int accumulate;            /* add to C instead of overwriting it */
  const float *bias;         /* NR floats added before the ReLU, or NULL */
  int relu;
} tile_t;

typedef void (*ukernel_fn)(const tile_t *tile);

/* One compiled path: the widest vectors an ISA has, and the tile they fill. */
typedef struct {
  const char *name;
  int mr, nr;
  ukernel_fn ukernel;
} isa_t;

extern const isa_t isa_avx512;
extern const isa_t isa_avx2;
extern const isa_t isa_sse2;

#endif

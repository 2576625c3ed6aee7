/*
 * The operations the addon exports, on float32 NHWC tensors and row-major matrices. Every size
 * here has been checked by addon.c (positive, products within int64, buffers within the heap);
 * these functions trust them. Each returns 0, or -1 when scratch memory could not be allocated.
 */
#ifndef DIGIT_OPS_H
#define DIGIT_OPS_H

#include <stdint.h>

#include "kernels.h"

typedef struct {
  int64_t batch, in_h, in_w, in_c;
  int64_t out_h, out_w, out_c;
  int64_t k_h, k_w;
  int64_t stride_h, stride_w;
  int64_t pad_top, pad_left; /* may be negative: rows and columns dropped */
} conv_t;

/* The path in use, and choosing it: by name ("avx512", "avx2", "sse2"), or the best this CPU has (NULL). */
const isa_t *ops_isa(void);
int ops_select_isa(const char *name);
int ops_isa_supported(const isa_t *isa);

/* y = conv(x, w) (+ bias) (ReLU); w is [KH, KW, Ci, Co]. */
int conv2d(const conv_t *g, const float *x, const float *w, const float *bias, int relu, float *y);
/* dx = the input gradient of conv(x, w) given dy. */
int conv2d_backprop_input(const conv_t *g, const float *dy, const float *w, float *dx);
/* dw = the filter gradient of conv(x, w) given dy. */
int conv2d_backprop_filter(const conv_t *g, const float *x, const float *dy, float *dw);
/* c[b] = op(a[b]) op(bm[b]) for b < batch, op transposing when asked; a_batch / b_batch are 0 for an
 * operand shared by every batch. a is [M, K] ([K, M] transposed), bm [K, N] ([N, K] transposed). */
int matmul(int64_t batch, int64_t m, int64_t n, int64_t k, const float *a, int64_t a_stride, int trans_a,
           const float *bm, int64_t b_stride, int trans_b, float *c);

/* y[r][c] = x[r][c] * scale[c] + shift[c] for r < rows, c < channels (an inference batch norm). */
void scale_shift(int64_t rows, int64_t channels, const float *x, const float *scale, const float *shift, float *y);

#endif

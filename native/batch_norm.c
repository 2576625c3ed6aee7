/*
 * The fused training batch norm (src/model/batch_norm.ts) and its gradient over channels-last
 * float32 tensors of `rows x channels`, channels a multiple of 4, in WebAssembly SIMD: the same
 * two passes each way as the TypeScript version (src/kernels/batch_norm_arithmetic.ts), four channels per
 * vector. Like the Winograd transforms it runs on the tfjs wasm backend's heap, so every pointer
 * is a tensor's offset there, and it keeps no memory of its own: the float64 channel totals and
 * the per-channel coefficients live in `scratch`, a tensor of 4 * channels doubles the caller
 * allocates.
 *
 * Sums run in float32 over blocks of BLOCK rows and are then added to float64 totals, so that
 * a channel of 50,000 values (lean's first layer) loses no more than a float64 sum would to
 * rounding that matters; a block of rows is BLOCK * channels floats, which stays in L1 while
 * each group of four channels is summed down it.
 *
 * Versions: bn_forward and bn_backward, one call each on the calling thread; now two calls each
 * (statistics over groups of four channels, then the rows), split between the worker pool's
 * threads (src/kernels/wasm/helpers/pool.ts) with each channel's sums in the same order: the
 * same bits as before for any thread count (test/wasm_pool.test.ts). The sums' multiply-adds are
 * MADD (madd.h): relaxed_madd in the relaxed-SIMD build.
 */
#include <wasm_simd128.h>

#include "madd.h"

#define EXPORT(name) __attribute__((export_name(name)))
#define BLOCK 16

/* totals[c .. c+3] += the four lanes of v, in float64. */
static inline void add_f64(double* totals, v128_t v) {
  wasm_v128_store(totals, wasm_f64x2_add(wasm_v128_load(totals), wasm_f64x2_promote_low_f32x4(v)));
  v128_t high = wasm_i32x4_shuffle(v, v, 2, 3, 0, 1);
  wasm_v128_store(totals + 2, wasm_f64x2_add(wasm_v128_load(totals + 2), wasm_f64x2_promote_low_f32x4(high)));
}

/*
 * Per-channel sums of a and of a * b over all rows, for channels c0 .. c1 (multiples of 4), into
 * float64 totals sa and sab, where a = p - pa and b = q - qb; pa, qb are per-channel (NULL: 0).
 * The forward pass sums x - x[row 0] and its square (its variance as E[d^2] - E[d]^2 then loses no
 * digits when a channel's mean is far from 0); the backward pass sums dy and dy * (x - mean).
 */
static void channel_sums(const float* p, const float* pa, const float* q, const float* qb,
                         unsigned rows, unsigned channels, unsigned c0, unsigned c1, double* sa, double* sab) {
  for (unsigned c = c0; c < c1; c++) {
    sa[c] = 0.0;
    sab[c] = 0.0;
  }
  for (unsigned r0 = 0; r0 < rows; r0 += BLOCK) {
    unsigned r1 = r0 + BLOCK < rows ? r0 + BLOCK : rows;
    for (unsigned c = c0; c < c1; c += 4) {
      v128_t shift_a = pa ? wasm_v128_load(pa + c) : wasm_f32x4_splat(0.0f);
      v128_t shift_b = qb ? wasm_v128_load(qb + c) : wasm_f32x4_splat(0.0f);
      v128_t acc_a = wasm_f32x4_splat(0.0f);
      v128_t acc_ab = wasm_f32x4_splat(0.0f);
      const float* pp = p + (unsigned long)r0 * channels + c;
      const float* qq = q + (unsigned long)r0 * channels + c;
      for (unsigned r = r0; r < r1; r++, pp += channels, qq += channels) {
        v128_t a = wasm_f32x4_sub(wasm_v128_load(pp), shift_a);
        v128_t b = wasm_f32x4_sub(wasm_v128_load(qq), shift_b);
        acc_a = wasm_f32x4_add(acc_a, a);
        acc_ab = MADD(a, b, acc_ab);
      }
      add_f64(sa + c, acc_a);
      add_f64(sab + c, acc_ab);
    }
  }
}

/*
 * The forward pass in two calls, each split by the worker pool (src/kernels/wasm/helpers/pool.ts)
 * over independent outputs: bn_forward_stats over groups of four channels (begin .. end, each
 * summed down every row in the same order whatever the split), then bn_forward_apply over rows.
 * Batch statistics, and y = (x - mean) * gamma / sqrt(variance + epsilon) + beta.
 * scratch: 4 * channels doubles, shared by the two calls.
 */
EXPORT("bn_forward_stats")
void bn_forward_stats(const float* x, unsigned rows, unsigned channels, const float* gamma, float epsilon, float* mean,
                      float* variance, double* scratch, unsigned begin, unsigned end) {
  double* s = scratch;
  double* q = scratch + channels;
  float* scale = (float*)(scratch + 2 * channels);
  /* x - x[row 0] times itself: its sum is the sum of squares. */
  channel_sums(x, x, x, x, rows, channels, 4 * begin, 4 * end, s, q);
  for (unsigned c = 4 * begin; c < 4 * end; c++) {
    double m = s[c] / rows;
    double v = q[c] / rows - m * m;
    if (v < 0.0) v = 0.0;
    mean[c] = (float)(m + x[c]);
    variance[c] = (float)v;
    scale[c] = (float)(gamma[c] / __builtin_sqrt(v + epsilon));
  }
}

EXPORT("bn_forward_apply")
void bn_forward_apply(const float* x, unsigned channels, const float* beta, float* y, const float* mean,
                      const double* scratch, unsigned begin, unsigned end) {
  const float* scale = (const float*)(scratch + 2 * channels);
  const float* xp = x + (unsigned long)begin * channels;
  float* yp = y + (unsigned long)begin * channels;
  for (unsigned r = begin; r < end; r++, xp += channels, yp += channels) {
    for (unsigned c = 0; c < channels; c += 4) {
      v128_t d = wasm_f32x4_sub(wasm_v128_load(xp + c), wasm_v128_load(mean + c));
      wasm_v128_store(yp + c, wasm_f32x4_add(wasm_f32x4_mul(d, wasm_v128_load(scale + c)), wasm_v128_load(beta + c)));
    }
  }
}

/*
 * The gradient through the batch statistics, with N = rows, k = gamma / sqrt(variance + epsilon):
 * dbeta = sum dy, dgamma = sum dy * (x - mean) / sqrt(variance + epsilon),
 * dx = k * dy - k * dgamma / (N sqrt(variance + epsilon)) * (x - mean) - k * dbeta / N.
 * Two calls, as the forward pass: bn_backward_stats over groups of four channels, then
 * bn_backward_apply over rows. scratch: 4 * channels doubles.
 */
EXPORT("bn_backward_stats")
void bn_backward_stats(const float* dy, const float* x, unsigned rows, unsigned channels, const float* gamma,
                       const float* mean, const float* variance, float epsilon, float* dgamma, float* dbeta,
                       double* scratch, unsigned begin, unsigned end) {
  double* sdy = scratch;
  double* sdyx = scratch + channels;
  float* k1 = (float*)(scratch + 2 * channels);
  float* k2 = k1 + channels;
  float* k3 = k2 + channels;
  channel_sums(dy, 0, x, mean, rows, channels, 4 * begin, 4 * end, sdy, sdyx);
  for (unsigned c = 4 * begin; c < 4 * end; c++) {
    double inv = 1.0 / __builtin_sqrt((double)variance[c] + epsilon);
    double dg = sdyx[c] * inv;
    double g = gamma[c] * inv;
    dgamma[c] = (float)dg;
    dbeta[c] = (float)sdy[c];
    k1[c] = (float)g;
    k2[c] = (float)(-g * inv * dg / rows);
    k3[c] = (float)(-g * sdy[c] / rows);
  }
}

EXPORT("bn_backward_apply")
void bn_backward_apply(const float* dy, const float* x, unsigned channels, const float* mean, float* dx,
                       const double* scratch, unsigned begin, unsigned end) {
  const float* k1 = (const float*)(scratch + 2 * channels);
  const float* k2 = k1 + channels;
  const float* k3 = k2 + channels;
  const unsigned long at = (unsigned long)begin * channels;
  const float* gp = dy + at;
  const float* xp = x + at;
  float* out = dx + at;
  for (unsigned r = begin; r < end; r++, gp += channels, xp += channels, out += channels) {
    for (unsigned c = 0; c < channels; c += 4) {
      v128_t d = wasm_f32x4_sub(wasm_v128_load(xp + c), wasm_v128_load(mean + c));
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(k1 + c), wasm_v128_load(gp + c)), wasm_f32x4_mul(wasm_v128_load(k2 + c), d));
      wasm_v128_store(out + c, wasm_f32x4_add(v, wasm_v128_load(k3 + c)));
    }
  }
}

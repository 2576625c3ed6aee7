/*
 * Both gradients of a convolution whose input has one channel (every first layer of the zoo: grey
 * images) over channels-last float32 tensors, output channels a multiple of 4, any stride and
 * padding, in WebAssembly SIMD on the tfjs wasm backend's heap (pointers are tensors' offsets
 * there; no memory of its own). With one input channel the general routes waste most of their work:
 * XNNPACK sees a matmul nine rows high (filter gradient) or a convolution to one channel (input
 * gradient) and runs both at 1.4-4 GFLOP/s. Here four output channels share a vector and every
 * loop runs along a row of the output, whose dy stays in L1 across the filter's taps.
 *
 * Versions: both on the calling thread; now split between the worker pool's threads
 * (src/kernels/wasm/helpers/pool.ts): dx by rows, dW by taps and groups of 32 channels, each
 * weight summed over the batch in the same order (the same bits for any thread count). Their
 * multiply-adds are MADD (madd.h): relaxed_madd in the relaxed-SIMD build.
 */
#include <wasm_simd128.h>

#include "madd.h"

#define EXPORT(name) __attribute__((export_name(name)))

/* totals[0 .. 3] += the four lanes of v, in float64. */
static inline void add_f64(double* totals, v128_t v) {
  wasm_v128_store(totals, wasm_f64x2_add(wasm_v128_load(totals), wasm_f64x2_promote_low_f32x4(v)));
  v128_t high = wasm_i32x4_shuffle(v, v, 2, 3, 0, 1);
  wasm_v128_store(totals + 2, wasm_f64x2_add(wasm_v128_load(totals + 2), wasm_f64x2_promote_low_f32x4(high)));
}

/* First output column ox with 0 <= ox * stride + offset, and the end of those with ... < size. */
static inline unsigned first_inside(int offset, unsigned stride) {
  return offset >= 0 ? 0 : (unsigned)(-offset + (int)stride - 1) / stride;
}
static inline unsigned end_inside(int offset, unsigned stride, unsigned size, unsigned out) {
  if ((int)size - offset <= 0) return 0;
  unsigned end = (unsigned)((int)size - offset + (int)stride - 1) / stride;
  return end < out ? end : out;
}

/*
 * totals[c .. c + 4 * VECTORS) += sum over ox in [lo, hi) of x[ox * stride] * dy[ox][c ...], with
 * VECTORS accumulators in registers (the function is inlined with a constant VECTORS). One output
 * row is at most a few dozen terms, summed in float32; rows are then summed in float64, so that a
 * weight's 50,000 terms (lean's first layer at batch 64) lose nothing to rounding that matters.
 */
static inline __attribute__((always_inline)) void row_taps(const float* x, unsigned stride, const float* dy, unsigned channels,
                                                           unsigned lo, unsigned hi, double* totals, const unsigned vectors) {
  v128_t acc[8];
  for (unsigned j = 0; j < vectors; j++) acc[j] = wasm_f32x4_splat(0.0f);
  for (unsigned ox = lo; ox < hi; ox++) {
    v128_t v = wasm_f32x4_splat(x[ox * stride]);
    const float* d = dy + (unsigned long)ox * channels;
    for (unsigned j = 0; j < vectors; j++) acc[j] = MADD(v, wasm_v128_load(d + 4 * j), acc[j]);
  }
  for (unsigned j = 0; j < vectors; j++) add_f64(totals + 4 * j, acc[j]);
}

/*
 * dw[ky][kx][0][c] = sum over b, oy, ox of x[b][oy*sh + ky - pad_top][ox*sw + kx - pad_left] * dy[b][oy][ox][c],
 * taps outside the image contributing 0. scratch: kh * kw * channels doubles. Items begin .. end
 * only, item = tap * groups + g (tap = ky * kw + kx, g: channels 32g .. 32g + 31, groups = channels
 * / 32 rounded up), each summed over the whole batch in the same order whatever the split: the
 * worker pool (src/kernels/wasm/helpers/pool.ts) splits a call there.
 */
EXPORT("conv_c1_filter_grad")
void conv_c1_filter_grad(const float* x, const float* dy, unsigned batch, unsigned h, unsigned w, unsigned oh, unsigned ow,
                         unsigned channels, unsigned kh, unsigned kw, unsigned sh, unsigned sw, int pad_top, int pad_left,
                         double* scratch, float* dw, unsigned begin, unsigned end) {
  const unsigned groups = (channels + 31) / 32;
  (void)kh; /* the items' range covers the taps */
  for (unsigned item = begin; item < end; item++) {
    const unsigned c0 = (item % groups) * 32, c1 = c0 + 32 < channels ? c0 + 32 : channels;
    double* totals = scratch + (item / groups) * channels;
    for (unsigned c = c0; c < c1; c++) totals[c] = 0.0;
  }
  for (unsigned b = 0; b < batch; b++) {
    for (unsigned oy = 0; oy < oh; oy++) {
      const float* dy_row = dy + (unsigned long)(b * oh + oy) * ow * channels;
      for (unsigned item = begin; item < end; item++) {
        const unsigned tap = item / groups, ky = tap / kw, kx = tap % kw;
        int iy = (int)(oy * sh + ky) - pad_top;
        if (iy < 0 || iy >= (int)h) continue;
        const float* x_row = x + (unsigned long)(b * h + (unsigned)iy) * w;
        int offset = (int)kx - pad_left;
        unsigned lo = first_inside(offset, sw);
        unsigned hi = end_inside(offset, sw, w, ow);
        if (lo >= hi) continue;
        const float* xs = x_row + (long)offset;
        double* totals = scratch + tap * channels;
        const unsigned c0 = (item % groups) * 32;
        if (c0 + 32 <= channels) {
          row_taps(xs, sw, dy_row + c0, channels, lo, hi, totals + c0, 8);
        } else {
          for (unsigned c = c0; c < channels; c += 4) row_taps(xs, sw, dy_row + c, channels, lo, hi, totals + c, 1);
        }
      }
    }
  }
  for (unsigned item = begin; item < end; item++) {
    const unsigned c0 = (item % groups) * 32, c1 = c0 + 32 < channels ? c0 + 32 : channels;
    const unsigned at = (item / groups) * channels;
    for (unsigned c = c0; c < c1; c++) dw[at + c] = (float)scratch[at + c];
  }
}

/*
 * dx[b][iy][ix] = sum over the taps (ky, kx) that reach an output pixel (oy, ox), i.e.
 * iy = oy*sh + ky - pad_top and ix = ox*sw + kx - pad_left, of the dot product of dy[b][oy][ox][.]
 * with filter[ky][kx][0][.]. Each dx pixel is written once: four partial sums in vectors over all
 * its taps (independent additions, not one chain), then one horizontal sum. Rows begin .. end of
 * dx (row = b * h + iy) only.
 */
EXPORT("conv_c1_input_grad")
void conv_c1_input_grad(const float* dy, const float* filter, unsigned batch, unsigned h, unsigned w, unsigned oh, unsigned ow,
                        unsigned channels, unsigned kh, unsigned kw, unsigned sh, unsigned sw, int pad_top, int pad_left, float* dx,
                        unsigned begin, unsigned end) {
  (void)batch;
  for (unsigned dxRow = begin; dxRow < end; dxRow++) {
    {
      const unsigned b = dxRow / h, iy = dxRow % h;
      for (unsigned ix = 0; ix < w; ix++) {
        v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
        for (unsigned ky = 0; ky < kh; ky++) {
          int ty = (int)iy + pad_top - (int)ky;
          if (ty < 0) break; /* larger ky only lowers it */
          /* Stride 1 is every first layer of the zoo: no division on its path. */
          if (sh != 1 && (unsigned)ty % sh != 0) continue;
          unsigned oy = sh == 1 ? (unsigned)ty : (unsigned)ty / sh;
          if (oy >= oh) continue;
          for (unsigned kx = 0; kx < kw; kx++) {
            int tx = (int)ix + pad_left - (int)kx;
            if (tx < 0) break;
            if (sw != 1 && (unsigned)tx % sw != 0) continue;
            unsigned ox = sw == 1 ? (unsigned)tx : (unsigned)tx / sw;
            if (ox >= ow) continue;
            const float* d = dy + ((unsigned long)(b * oh + oy) * ow + ox) * channels;
            const float* f = filter + (ky * kw + kx) * channels;
            unsigned c = 0;
            for (; c + 16 <= channels; c += 16) {
              a0 = MADD(wasm_v128_load(d + c), wasm_v128_load(f + c), a0);
              a1 = MADD(wasm_v128_load(d + c + 4), wasm_v128_load(f + c + 4), a1);
              a2 = MADD(wasm_v128_load(d + c + 8), wasm_v128_load(f + c + 8), a2);
              a3 = MADD(wasm_v128_load(d + c + 12), wasm_v128_load(f + c + 12), a3);
            }
            for (; c < channels; c += 4) a0 = MADD(wasm_v128_load(d + c), wasm_v128_load(f + c), a0);
          }
        }
        v128_t s = wasm_f32x4_add(wasm_f32x4_add(a0, a1), wasm_f32x4_add(a2, a3));
        s = wasm_f32x4_add(s, wasm_i32x4_shuffle(s, s, 2, 3, 0, 1));
        s = wasm_f32x4_add(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2));
        dx[((unsigned long)(b * h + iy)) * w + ix] = wasm_f32x4_extract_lane(s, 0);
      }
    }
  }
}

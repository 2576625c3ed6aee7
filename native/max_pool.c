/*
 * The gradient of 2x2, stride-2 max pooling without padding (the zoo's pools) over channels-last
 * float32 tensors, channels a multiple of 4, in WebAssembly SIMD on the tfjs wasm backend's heap
 * (pointers are tensors' offsets there; no memory of its own). The windows do not overlap, so each
 * input pixel receives its window's dy or 0 and nothing is summed: four channels at a time, the
 * first maximum of the window (row by row, as the cpu backend and src/kernels/wasm/helpers/max_pool_grad_heap.ts pick
 * it) gets dy and the other three get 0. Rows and columns that no window covers (odd sizes) are
 * left as they are: the caller zeroes dx first in that case. Rows begin .. end of dy (row =
 * b * oh + py) only: the worker pool (src/kernels/wasm/helpers/pool.ts) splits a call there.
 *
 * Versions: the whole tensor on the calling thread; now rows split between the pool's threads.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))

EXPORT("max_pool_grad_2x2")
void max_pool_grad_2x2(const float* x, const float* dy, unsigned batch, unsigned h, unsigned w, unsigned channels,
                       unsigned oh, unsigned ow, float* dx, unsigned begin, unsigned end) {
  const unsigned row = w * channels;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  (void)batch;
  for (unsigned outRow = begin; outRow < end; outRow++) {
    {
      const unsigned b = outRow / oh, py = outRow % oh;
      const float* g = dy + (unsigned long)outRow * ow * channels;
      for (unsigned px = 0; px < ow; px++, g += channels) {
        unsigned long base = ((unsigned long)(b * h + 2 * py) * w + 2 * px) * channels;
        const float* x00 = x + base;
        float* d00 = dx + base;
        for (unsigned c = 0; c < channels; c += 4) {
          v128_t a = wasm_v128_load(x00 + c);
          v128_t bb = wasm_v128_load(x00 + channels + c);
          v128_t cc = wasm_v128_load(x00 + row + c);
          v128_t dd = wasm_v128_load(x00 + row + channels + c);
          /* Strictly greater, so the first of equal values wins (and a NaN never does). */
          v128_t gt_b = wasm_f32x4_gt(bb, a);
          v128_t m = wasm_v128_bitselect(bb, a, gt_b);
          v128_t gt_c = wasm_f32x4_gt(cc, m);
          m = wasm_v128_bitselect(cc, m, gt_c);
          v128_t gt_d = wasm_f32x4_gt(dd, m);
          v128_t win_c = wasm_v128_andnot(gt_c, gt_d);
          v128_t win_b = wasm_v128_andnot(wasm_v128_andnot(gt_b, gt_c), gt_d);
          v128_t win_a = wasm_v128_not(wasm_v128_or(wasm_v128_or(gt_b, gt_c), gt_d));
          v128_t grad = wasm_v128_load(g + c);
          /* + 0 turns a -0 gradient into +0, as 0 + dy does in the other backends. */
          wasm_v128_store(d00 + c, wasm_f32x4_add(wasm_v128_and(grad, win_a), zero));
          wasm_v128_store(d00 + channels + c, wasm_f32x4_add(wasm_v128_and(grad, win_b), zero));
          wasm_v128_store(d00 + row + c, wasm_f32x4_add(wasm_v128_and(grad, win_c), zero));
          wasm_v128_store(d00 + row + channels + c, wasm_f32x4_add(wasm_v128_and(grad, gt_d), zero));
        }
      }
    }
  }
}

/*
 * Winograd F(4x4, 5x5) and F(4x4, 3x3) transforms for 5x5 and 3x3, stride-1 convolutions (forward,
 * input and filter gradients), compiled to WebAssembly SIMD by native/build.sh and run on the tfjs
 * wasm backend's own heap: the module imports the backend's memory, so every pointer here is a
 * tfjs tensor's offset. The 64 (36) matrix products between the transforms run on the backend's
 * XNNPACK matmul. The functions are written once, in winograd_variant.h, and included below once
 * per variant; their exports carry the filter side (`input5`, `input3` ...).
 *
 * No function may use linear memory of its own (no stack, no static data): that memory belongs
 * to tfjs. build.sh checks the binary for a stack pointer and data segments.
 *
 * Versions (test/kernel_routes.test.ts and test/wasm_pool.test.ts check them against float64):
 * - every transform on the calling thread (a second thread for them, tried once, split tiles so
 *   that training runs differed, and was dropped);
 * - input, output and grad_dy take a range of tile rows (row = b * tilesH + th) and run split
 *   between the worker pool's threads (src/kernels/wasm/helpers/pool.ts), each tile written by
 *   one thread: the same bits for any thread count. filter and grad_output (small) stay whole.
 */
#include <wasm_simd128.h>

#include "winograd_transforms.h"

#define EXPORT(name) __attribute__((export_name(name)))

/* Loads channels k .. k+3 of a pixel, only the first `left` (1..3) of them when the vector
   would run past the tensor's last channel; the rest read as 0, never as memory past it. */
static inline v128_t load_tail(const float* p, int left) {
  return wasm_f32x4_make(p[0], left > 1 ? p[1] : 0.0f, left > 2 ? p[2] : 0.0f, 0.0f);
}

static inline void store_tail(float* p, v128_t v, int left) {
  p[0] = wasm_f32x4_extract_lane(v, 0);
  if (left > 1) p[1] = wasm_f32x4_extract_lane(v, 1);
  if (left > 2) p[2] = wasm_f32x4_extract_lane(v, 2);
}

#define M 4
#define R 5
#define N 8
#define T_INPUT F4_5_INPUT
#define T_FILTER F4_5_FILTER
#define T_OUTPUT F4_5_OUTPUT
#define T_GRAD_DY F4_5_GRAD_DY
#define T_GRAD_OUTPUT F4_5_GRAD_OUTPUT
#define FN(name) name##_5
#define SUFFIX "5"
#include "winograd_variant.h"
#undef M
#undef R
#undef N
#undef T_INPUT
#undef T_FILTER
#undef T_OUTPUT
#undef T_GRAD_DY
#undef T_GRAD_OUTPUT
#undef FN
#undef SUFFIX

#define M 4
#define R 3
#define N 6
#define T_INPUT F4_3_INPUT
#define T_FILTER F4_3_FILTER
#define T_OUTPUT F4_3_OUTPUT
#define T_GRAD_DY F4_3_GRAD_DY
#define T_GRAD_OUTPUT F4_3_GRAD_OUTPUT
#define FN(name) name##_3
#define SUFFIX "3"
#include "winograd_variant.h"

/*
 * Sums of outer products, C += Σ_t a_tᵀ b_t, in WebAssembly SIMD on the tfjs wasm backend's heap
 * (pointers are tensors' offsets there; no memory of its own): the products of the filter
 * gradients, whose reduction runs over every pixel of the batch while the result (input x output
 * channels) is small. XNNPACK sees such a product as a long, narrow matmul: it repacks the right
 * operand (the whole reduction) on every call and splits the few output rows between threads,
 * which costs more than the arithmetic. Here a 4 x 8 block of C lives in 8 registers for a whole
 * run of t, each step one broadcast of a per row and two loads of b.
 *
 * The input gradient of strided layers (input_grad_direct, at the end) takes the same blocks the
 * other way round: four dx pixels by eight channels, summed over a tap's dy channels.
 *
 * Versions, each measured by `npm run bench -- bench/kernels/conv_grads.ts [--kernel dx]`
 * against the XNNPACK routes (the references; test/kernel_routes.test.ts checks every route
 * against a float64 sum):
 * - a runtime stride between a block's 4 elements of a, shared by both gradients: the filter
 *   gradient's loop spilled registers and lost a third of its speed; the filter gradient's
 *   blocks now read 4 consecutive floats (constant offsets);
 * - input gradient blocks with four row pointers: slower than sub-pixel convolutions on strong's
 *   conv3; one pointer with the stride's multiples hoisted (pixels_4x8) is what runs;
 * - each export on the calling thread, then (now) on a range of independent outputs, split
 *   between the worker pool's threads (src/kernels/wasm/helpers/pool.ts): Winograd positions,
 *   dW's 4-row blocks of each tap, dx's rows. Every element's sum keeps its order, so the bits
 *   are the same for any thread count (test/wasm_pool.test.ts);
 * - the blocks' multiply-adds as MADD (madd.h): f32x4.relaxed_madd in the relaxed-SIMD build,
 *   where the engine has it (fused where the CPU has FMA), a multiply and an add otherwise.
 *
 * Rows and columns of C come in fours (callers pad channels to 4); a last 4-column block takes a
 * 4 x 4 tile. Sums are float32, added in t order.
 */
#include <wasm_simd128.h>

#include "madd.h"

#define EXPORT(name) __attribute__((export_name(name)))

/* Rows of t per pass over C's blocks: a and b's rows for one pass stay in L1 (2 x 128 rows of up to 64 channels). */
#define T_CHUNK 128

/*
 * The operands of a block: `runs` runs of k rows each; row t of run r is a + r * a_run + t * lda
 * (and b likewise), and C's row i takes element i of it. One run for the Winograd products, one
 * per output row for the direct filter gradient. (The 4 elements at constant offsets fold into the
 * loads' immediates; a runtime stride between them costs registers, and the loop then spills.)
 */
typedef struct {
  int lda, ldb, k, runs;
  long a_run, b_run;
} Rows;

/*
 * A 4 x 8 (4 x 4) block of C in registers: loaded from c (row stride ldc), one step adding the
 * outer product of four a values (at p0..p3) with b's 8 (4) floats, stored back. Shared by both
 * gradients' blocks, which differ only in where their four a values lie.
 */
#define BLOCK_4x8_LOAD(c, ldc)                                                                     \
  v128_t c00 = wasm_v128_load(c), c01 = wasm_v128_load((c) + 4);                                   \
  v128_t c10 = wasm_v128_load((c) + (ldc)), c11 = wasm_v128_load((c) + (ldc) + 4);                 \
  v128_t c20 = wasm_v128_load((c) + 2 * (ldc)), c21 = wasm_v128_load((c) + 2 * (ldc) + 4);         \
  v128_t c30 = wasm_v128_load((c) + 3 * (ldc)), c31 = wasm_v128_load((c) + 3 * (ldc) + 4)
#define BLOCK_4x8_STEP(p0, p1, p2, p3, b)                                                          \
  do {                                                                                             \
    const v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load((b) + 4);                             \
    v128_t s = wasm_v128_load32_splat(p0);                                                         \
    c00 = MADD(s, b0, c00);                                                                        \
    c01 = MADD(s, b1, c01);                                                                        \
    s = wasm_v128_load32_splat(p1);                                                                \
    c10 = MADD(s, b0, c10);                                                                        \
    c11 = MADD(s, b1, c11);                                                                        \
    s = wasm_v128_load32_splat(p2);                                                                \
    c20 = MADD(s, b0, c20);                                                                        \
    c21 = MADD(s, b1, c21);                                                                        \
    s = wasm_v128_load32_splat(p3);                                                                \
    c30 = MADD(s, b0, c30);                                                                        \
    c31 = MADD(s, b1, c31);                                                                        \
  } while (0)
#define BLOCK_4x8_STORE(c, ldc)                                                                    \
  wasm_v128_store(c, c00), wasm_v128_store((c) + 4, c01);                                          \
  wasm_v128_store((c) + (ldc), c10), wasm_v128_store((c) + (ldc) + 4, c11);                        \
  wasm_v128_store((c) + 2 * (ldc), c20), wasm_v128_store((c) + 2 * (ldc) + 4, c21);                \
  wasm_v128_store((c) + 3 * (ldc), c30), wasm_v128_store((c) + 3 * (ldc) + 4, c31)
#define BLOCK_4x4_LOAD(c, ldc)                                                                     \
  v128_t c0 = wasm_v128_load(c), c1 = wasm_v128_load((c) + (ldc));                                 \
  v128_t c2 = wasm_v128_load((c) + 2 * (ldc)), c3 = wasm_v128_load((c) + 3 * (ldc))
#define BLOCK_4x4_STEP(p0, p1, p2, p3, b)                                                          \
  do {                                                                                             \
    const v128_t b0 = wasm_v128_load(b);                                                           \
    c0 = MADD(wasm_v128_load32_splat(p0), b0, c0);                                                 \
    c1 = MADD(wasm_v128_load32_splat(p1), b0, c1);                                                 \
    c2 = MADD(wasm_v128_load32_splat(p2), b0, c2);                                                 \
    c3 = MADD(wasm_v128_load32_splat(p3), b0, c3);                                                 \
  } while (0)
#define BLOCK_4x4_STORE(c, ldc)                                                                    \
  wasm_v128_store(c, c0), wasm_v128_store((c) + (ldc), c1);                                        \
  wasm_v128_store((c) + 2 * (ldc), c2), wasm_v128_store((c) + 3 * (ldc), c3)

/* c[4 x 8] (row stride ldc) += Σ over the rows of a[row + 0..3]ᵀ b[row + 0..7]. */
static inline void tile_4x8(const float* a0, const float* b0_, Rows rows, float* c, int ldc) {
  BLOCK_4x8_LOAD(c, ldc);
  for (int r = 0; r < rows.runs; r++) {
    const float* a = a0 + r * rows.a_run;
    const float* b = b0_ + r * rows.b_run;
    for (int t = 0; t < rows.k; t++, a += rows.lda, b += rows.ldb) BLOCK_4x8_STEP(a, a + 1, a + 2, a + 3, b);
  }
  BLOCK_4x8_STORE(c, ldc);
}

/* c[4 x 4] (row stride ldc) += Σ over the rows of a[row + 0..3]ᵀ b[row + 0..3]. */
static inline void tile_4x4(const float* a0, const float* b0_, Rows rows, float* c, int ldc) {
  BLOCK_4x4_LOAD(c, ldc);
  for (int r = 0; r < rows.runs; r++) {
    const float* a = a0 + r * rows.a_run;
    const float* b = b0_ + r * rows.b_run;
    for (int t = 0; t < rows.k; t++, a += rows.lda, b += rows.ldb) BLOCK_4x4_STEP(a, a + 1, a + 2, a + 3, b);
  }
  BLOCK_4x4_STORE(c, ldc);
}

/* c[i0..i1 x n] (row stride n) += Σ over the rows of a[row + i0..i1-1]ᵀ b[row + 0..n-1]; i0, i1 and n multiples of 4. */
static void outer_add(const float* a, const float* b, Rows rows, int i0, int i1, int n, float* c) {
  for (int i = i0; i < i1; i += 4) {
    int j = 0;
    for (; j + 8 <= n; j += 8) tile_4x8(a + i, b + j, rows, c + i * n + j, n);
    if (j < n) tile_4x4(a + i, b + j, rows, c + i * n + j, n);
  }
}

/*
 * The Winograd filter gradient's products (src/kernels/wasm/helpers/winograd.ts): for each of
 * `count` positions p, c[p] [m x n] += a[p]ᵀ b[p] (= when `overwrite`), a[p] [k x m] and b[p]
 * [k x n] row-major. Positions begin .. end only (count: the pool splits a call over them).
 * t runs in chunks so that a chunk's rows are reread from L1 by every block of C.
 */
EXPORT("outer_products_add")
void outer_products_add(const float* const* as, const float* const* bs, float* const* cs, int count, int k, int m,
                        int n, int overwrite, int begin, int end) {
  (void)count;
  for (int p = begin; p < end; p++) {
    if (overwrite)
      for (int i = 0; i < m * n; i += 4) wasm_v128_store(cs[p] + i, wasm_f32x4_splat(0.0f));
    for (int t0 = 0; t0 < k; t0 += T_CHUNK) {
      const int kc = k - t0 < T_CHUNK ? k - t0 : T_CHUNK;
      const Rows rows = {m, n, kc, 1, 0, 0};
      outer_add(as[p] + (long)t0 * m, bs[p] + (long)t0 * n, rows, 0, m, n, cs[p]);
    }
  }
}

/*
 * The filter gradient of a convolution, directly: dw [kh, kw, ci, co] = Σ over images and output
 * pixels of x's pixel under filter tap (fy, fx) times dy's pixel, NHWC, any stride, zero padding
 * (pad_top, pad_left; taps that fall outside x add nothing), dilation 1; ci and co multiples of 4.
 * Image by image, so that one image of x and of dy stays in L2 while all the taps read it; for a
 * tap, each output row reads a strided run of x pixels (stride sw * ci), and a block of dw sums
 * every row of the image in registers before it is stored.
 * dw is overwritten. Items begin .. end only, item = tap * (ci / 4) + i (tap = fy * kw + fx; i: dw's
 * rows 4i .. 4i + 3 of the tap), each summed over the batch in the same order whatever the split:
 * the worker pool (src/kernels/wasm/helpers/pool.ts) splits a call there.
 */
EXPORT("filter_grad_direct")
void filter_grad_direct(const float* x, const float* dy, int batch, int h, int w, int ci, int oh, int ow, int co,
                        int kh, int kw, int sh, int sw, int pad_top, int pad_left, float* dw, int begin, int end) {
  const int blocks = ci / 4;
  (void)kh; /* the items' range covers the taps */
  for (long i = (long)begin * 4 * co; i < (long)end * 4 * co; i += 4) wasm_v128_store(dw + i, wasm_f32x4_splat(0.0f));
  for (int b = 0; b < batch; b++) {
    const float* xb = x + (long)b * h * w * ci;
    const float* dyb = dy + (long)b * oh * ow * co;
    for (int tap = begin / blocks; tap * blocks < end; tap++) {
      const int fy = tap / kw, fx = tap % kw;
      const int i0 = begin > tap * blocks ? 4 * (begin - tap * blocks) : 0;
      const int i1 = end < (tap + 1) * blocks ? 4 * (end - tap * blocks) : ci;
      {
        /* Output columns whose input column ox * sw + fx - pad_left lies inside x. */
        int lo = 0;
        while (lo < ow && lo * sw + fx - pad_left < 0) lo++;
        int hi = ow;
        while (hi > lo && (hi - 1) * sw + fx - pad_left >= w) hi--;
        if (lo == hi) continue;
        /* Output rows whose input row y * sh + fy - pad_top lies inside x. */
        int top = 0;
        while (top < oh && top * sh + fy - pad_top < 0) top++;
        int bottom = oh;
        while (bottom > top && (bottom - 1) * sh + fy - pad_top >= h) bottom--;
        if (top == bottom) continue;
        const float* a = xb + ((long)(top * sh + fy - pad_top) * w + lo * sw + fx - pad_left) * ci;
        const float* g = dyb + ((long)top * ow + lo) * co;
        const Rows rows = {sw * ci, co, hi - lo, bottom - top, (long)sh * w * ci, (long)ow * co};
        outer_add(a, g, rows, i0, i1, co, dw + ((long)fy * kw + fx) * ci * co);
      }
    }
  }
}

/*
 * The direct input gradient's blocks: c's row i (row stride ldc) += Σ_{t<k} a[i * a_row + t]
 * b[t * ldb + 0..7]: row i is the dx pixel reached from the dy pixel a_row floats after row i-1's.
 */
static inline void pixels_4x8(const float* a, int a_row, const float* b, int ldb, int k, float* c, int ldc) {
  const int r2 = 2 * a_row, r3 = 3 * a_row;
  BLOCK_4x8_LOAD(c, ldc);
  for (int t = 0; t < k; t++, a++, b += ldb) BLOCK_4x8_STEP(a, a + a_row, a + r2, a + r3, b);
  BLOCK_4x8_STORE(c, ldc);
}

/* As pixels_4x8, four columns. */
static inline void pixels_4x4(const float* a, int a_row, const float* b, int ldb, int k, float* c, int ldc) {
  const int r2 = 2 * a_row, r3 = 3 * a_row;
  BLOCK_4x4_LOAD(c, ldc);
  for (int t = 0; t < k; t++, a++, b += ldb) BLOCK_4x4_STEP(a, a + a_row, a + r2, a + r3, b);
  BLOCK_4x4_STORE(c, ldc);
}

/* c[1 x 8] += Σ_{t<k} a[t] b[t*ldb + 0..7]: one pixel of the direct input gradient. */
static inline void tile_1x8(const float* a, const float* b, int ldb, int k, float* c) {
  v128_t c0 = wasm_v128_load(c), c1 = wasm_v128_load(c + 4);
  for (int t = 0; t < k; t++, b += ldb) {
    const v128_t s = wasm_v128_load32_splat(a + t);
    c0 = MADD(s, wasm_v128_load(b), c0);
    c1 = MADD(s, wasm_v128_load(b + 4), c1);
  }
  wasm_v128_store(c, c0), wasm_v128_store(c + 4, c1);
}

/* c[1 x 4] += Σ_{t<k} a[t] b[t*ldb + 0..3]. */
static inline void tile_1x4(const float* a, const float* b, int ldb, int k, float* c) {
  v128_t c0 = wasm_v128_load(c);
  for (int t = 0; t < k; t++, b += ldb) c0 = MADD(wasm_v128_load32_splat(a + t), wasm_v128_load(b), c0);
  wasm_v128_store(c, c0);
}

/*
 * The input gradient of a convolution, directly: dx [batch, h, w, ci] = Σ over the filter taps
 * that reach each pixel of dy's pixel (co channels) times the tap's filter slice, NHWC, any
 * stride, zero padding, dilation 1; ci and co multiples of 4. wt: the filter [kh, kw, ci, co]
 * with each tap's slice transposed to [co, ci] (so that a vector of dx's channels reads contiguous
 * weights), written by filter_taps_transposed first. Rows begin .. end of dx (row = b * h + iy)
 * only: the worker pool (src/kernels/wasm/helpers/pool.ts) splits a call there.
 *
 * Pixels of a row with the same phase (ix mod sw) are reached by the same taps from consecutive
 * dy pixels, so they go four at a time through the 4 x 8 blocks (a block's row i reads the dy
 * pixel co floats after row i-1's); where a tap reaches only some of the four (at dx's edges),
 * each reached pixel takes a 1 x 8 block. Blocks add into dx, zeroed first, one tap at a time.
 */
EXPORT("filter_taps_transposed")
void filter_taps_transposed(const float* filter, int taps, int ci, int co, float* wt) {
  for (int tap = 0; tap < taps; tap++)
    for (int i = 0; i < ci; i++)
      for (int o = 0; o < co; o++) wt[((long)tap * co + o) * ci + i] = filter[((long)tap * ci + i) * co + o];
}

EXPORT("input_grad_direct")
void input_grad_direct(const float* dy, int batch, int h, int w, int ci, int oh, int ow, int co, int kh, int kw, int sh,
                       int sw, int pad_top, int pad_left, const float* wt, float* dx, int begin, int end) {
  (void)batch;
  for (long i = (long)begin * w * ci; i < (long)end * w * ci; i += 4) wasm_v128_store(dx + i, wasm_f32x4_splat(0.0f));
  for (int dxRow = begin; dxRow < end; dxRow++) {
    {
      const int b = dxRow / h, iy = dxRow % h;
      float* row = dx + ((long)b * h + iy) * w * ci;
      for (int fy = 0; fy < kh; fy++) {
        const int ty = iy + pad_top - fy;
        if (ty < 0 || ty % sh != 0 || ty / sh >= oh) continue;
        const float* dy_row = dy + ((long)b * oh + ty / sh) * ow * co;
        for (int fx = 0; fx < kw; fx++) {
          const float* wtap = wt + ((long)fy * kw + fx) * co * ci;
          /* The first pixel of the row this tap reaches: ix = ox * sw + fx - pad_left for ox >= 0. */
          int ix = fx - pad_left;
          int ox = 0;
          while (ix < 0) ix += sw, ox++;
          /* Four reached pixels at a time (ix, ix + sw, ...: consecutive dy pixels ox, ox + 1, ...). */
          for (; ox + 3 < ow && ix + 3 * sw < w; ox += 4, ix += 4 * sw) {
            const float* a = dy_row + (long)ox * co;
            float* c = row + (long)ix * ci;
            int j = 0;
            for (; j + 8 <= ci; j += 8) pixels_4x8(a, co, wtap + j, ci, co, c + j, sw * ci);
            if (j < ci) pixels_4x4(a, co, wtap + j, ci, co, c + j, sw * ci);
          }
          for (; ox < ow && ix < w; ox++, ix += sw) {
            const float* a = dy_row + (long)ox * co;
            float* c = row + (long)ix * ci;
            int j = 0;
            for (; j + 8 <= ci; j += 8) tile_1x8(a, wtap + j, ci, co, c + j);
            if (j < ci) tile_1x4(a, wtap + j, ci, co, c + j);
          }
        }
      }
    }
  }
}

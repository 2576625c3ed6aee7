/*
 * One Winograd variant's exported functions, included once per variant by winograd.c with
 * M, R, N (output tile, filter and input tile sides), T_INPUT .. T_GRAD_OUTPUT (its transforms
 * from winograd_transforms.h), FN(name) (the C name) and SUFFIX (appended to the export name).
 */

/*
 * x: [batch, h, w, c]. outs: N*N pointers, outs[i*N + j] -> [tiles, cp] (cp = c rounded up to a
 * multiple of 4; the extra channels are written as 0) with tile t = (b*tilesH + th)*tilesW + tw
 * covering x rows th*M - padTop .. + N - 1 and columns tw*M - padLeft .. + N - 1; pixels outside
 * x read as 0 (padding).
 */
EXPORT("input" SUFFIX)
void FN(input)(const float* x, int batch, int h, int w, int c, int cp, int padTop, int padLeft, int tilesH, int tilesW,
                float* const* outs, int begin, int end) {
  const int pixel = c;   /* floats between horizontally adjacent pixels */
  const int row = w * c; /* floats between vertically adjacent pixels */
  const int full = c & ~3;
  (void)batch;
  for (int tileRow = begin; tileRow < end; tileRow++) {
    {
      const int b = tileRow / tilesH, th = tileRow % tilesH;
      const int y0 = th * M - padTop;
      for (int tw = 0; tw < tilesW; tw++) {
        const int x0 = tw * M - padLeft;
        const int t = (b * tilesH + th) * tilesW + tw;
        const float* base = x + ((b * h + y0) * w + x0) * c;
        int rowMask = 0, colMask = 0;
        for (int i = 0; i < N; i++) {
          rowMask |= (y0 + i >= 0 && y0 + i < h) << i;
          colMask |= (x0 + i >= 0 && x0 + i < w) << i;
        }
#define OUT(i, j, v) wasm_v128_store(outs[(i) * N + (j)] + t * cp + k, (v))
        if (rowMask == (1 << N) - 1 && colMask == (1 << N) - 1) {
          /* Interior tiles, the common case: no bounds checks in the 36 loads. */
          for (int k = 0; k < full; k += 4) {
#define IN(a, bb) wasm_v128_load(base + (a) * row + (bb) * pixel + k)
            T_INPUT(IN, OUT);
#undef IN
          }
        } else {
          for (int k = 0; k < full; k += 4) {
#define IN(a, bb) \
  (((rowMask >> (a)) & (colMask >> (bb)) & 1) ? wasm_v128_load(base + (a) * row + (bb) * pixel + k) : wasm_f32x4_splat(0.0f))
            T_INPUT(IN, OUT);
#undef IN
          }
        }
        if (full < c) {
          const int k = full;
#define IN(a, bb) \
  (((rowMask >> (a)) & (colMask >> (bb)) & 1) ? load_tail(base + (a) * row + (bb) * pixel + k, c - k) : wasm_f32x4_splat(0.0f))
          T_INPUT(IN, OUT);
#undef IN
        }
#undef OUT
      }
    }
  }
}

/*
 * w: [R, R, wIn, wOut], a forward convolution's filter. outs: N*N pointers to [ciP, coP], the
 * transformed filter of a convolution from ci to co channels, zero in the rows and columns past
 * them (ciP, coP: ci, co rounded up to multiples of 4). flip = 0: the forward convolution
 * (ci = wIn, co = wOut). flip = 1: the input gradient, whose filter is w rotated by 180 degrees
 * with its channel axes swapped (ci = wOut, co = wIn).
 */
EXPORT("filter" SUFFIX)
void FN(filter)(const float* w, int wIn, int wOut, int flip, float* const* outs) {
  const int ci = flip ? wOut : wIn;
  const int co = flip ? wIn : wOut;
  const int ciP = (ci + 3) & ~3;
  const int coP = (co + 3) & ~3;
  const int stride = wIn * wOut;
  for (int a = 0; a < ciP; a++) {
    for (int b = 0; b < coP; b++) {
      const int at = a * coP + b;
      if (a >= ci || b >= co) {
        for (int p = 0; p < N * N; p++) outs[p][at] = 0.0f;
        continue;
      }
      const float* g = w + (flip ? b * wOut + a : a * wOut + b);
#define IN(i, j) (flip ? g[((R - 1 - (i)) * R + (R - 1 - (j))) * stride] : g[((i) * R + (j)) * stride])
#define OUT(i, j, u) (outs[(i) * N + (j)][at] = (u))
      T_FILTER(IN, OUT);
#undef IN
#undef OUT
    }
  }
}

/*
 * ins: N*N pointers to [tiles, cp] (the matmul products; cp = c rounded up to a multiple of 4).
 * y: [batch, oh, ow, c] receives A^T M A per tile, plus bias[c] when bias is not 0, through ReLU
 * when relu is 1. Output pixels past oh/ow (a partial last tile) are dropped.
 */
EXPORT("output" SUFFIX)
void FN(output)(const float* const* ins, int batch, int oh, int ow, int c, int cp, int tilesH, int tilesW,
                 const float* bias, int relu, float* y, int begin, int end) {
  const v128_t zero = wasm_f32x4_splat(0.0f);
  (void)batch;
  for (int tileRow = begin; tileRow < end; tileRow++) {
    {
      const int b = tileRow / tilesH, th = tileRow % tilesH;
      for (int tw = 0; tw < tilesW; tw++) {
        const int t = (b * tilesH + th) * tilesW + tw;
        const int oy = th * M;
        const int ox = tw * M;
        const int rows = oh - oy < M ? oh - oy : M;
        const int cols = ow - ox < M ? ow - ox : M;
        float* base = y + ((b * oh + oy) * ow + ox) * c;
        for (int k = 0; k < c; k += 4) {
          const int left = c - k;
          const v128_t add = bias == 0 ? zero : left >= 4 ? wasm_v128_load(bias + k) : load_tail(bias + k, left);
#define IN(a, bb) wasm_v128_load(ins[(a) * N + (bb)] + t * cp + k)
#define OUT(i, j, v)                                                  \
  do {                                                                \
    if ((i) < rows && (j) < cols) {                                   \
      v128_t out_ = wasm_f32x4_add((v), add);                         \
      if (relu) out_ = wasm_f32x4_max(out_, zero);                    \
      float* at_ = base + ((i) * ow + (j)) * c + k;                   \
      if (left >= 4) wasm_v128_store(at_, out_);                      \
      else store_tail(at_, out_, left);                               \
    }                                                                 \
  } while (0)
          T_OUTPUT(IN, OUT);
#undef IN
#undef OUT
        }
      }
    }
  }
}

/*
 * Filter gradient, step 1 of 3 (x goes through `input`). dy: [batch, oh, ow, c]. outs: N*N
 * pointers to [tiles, cp]: G' d G'^T for each MxM tile of dy (tile t = (b*tilesH + th)*tilesW + tw
 * at rows th*M.., columns tw*M..; pixels past oh/ow read as 0; channels past c written as 0).
 */
EXPORT("grad_dy" SUFFIX)
void FN(grad_dy)(const float* dy, int batch, int oh, int ow, int c, int cp, int tilesH, int tilesW, float* const* outs,
                   int begin, int end) {
  const int full = c & ~3;
  (void)batch;
  for (int tileRow = begin; tileRow < end; tileRow++) {
    {
      const int b = tileRow / tilesH, th = tileRow % tilesH;
      const int rows = oh - th * M < M ? oh - th * M : M;
      for (int tw = 0; tw < tilesW; tw++) {
        const int cols = ow - tw * M < M ? ow - tw * M : M;
        const int t = (b * tilesH + th) * tilesW + tw;
        const float* base = dy + ((b * oh + th * M) * ow + tw * M) * c;
#define OUT(i, j, v) wasm_v128_store(outs[(i) * N + (j)] + t * cp + k, (v))
        if (rows == M && cols == M) {
          for (int k = 0; k < full; k += 4) {
#define IN(a, bb) wasm_v128_load(base + ((a) * ow + (bb)) * c + k)
            T_GRAD_DY(IN, OUT);
#undef IN
          }
        } else {
          for (int k = 0; k < full; k += 4) {
#define IN(a, bb) ((a) < rows && (bb) < cols ? wasm_v128_load(base + ((a) * ow + (bb)) * c + k) : wasm_f32x4_splat(0.0f))
            T_GRAD_DY(IN, OUT);
#undef IN
          }
        }
        if (full < c) {
          const int k = full;
#define IN(a, bb) ((a) < rows && (bb) < cols ? load_tail(base + ((a) * ow + (bb)) * c + k, c - k) : wasm_f32x4_splat(0.0f))
          T_GRAD_DY(IN, OUT);
#undef IN
        }
#undef OUT
      }
    }
  }
}

/*
 * Filter gradient, step 3 of 3 (step 2, the products, is outer_products.c). ins: N*N pointers to
 * S, the products summed over every tile, with
 * channel pair (input i, output o) at o * oStride + i * iStride (D^T X is [coP, ciP]: oStride = ciP,
 * iStride = 1; X^T D is [ciP, coP]: oStride = 1, iStride = coP). dw: [R, R, ci, co] receives
 * A'^T S A' for each channel pair.
 */
EXPORT("grad_output" SUFFIX)
void FN(grad_output)(const float* const* ins, int ci, int co, int oStride, int iStride, float* dw) {
  for (int o = 0; o < co; o++) {
    for (int i = 0; i < ci; i++) {
      const int at = o * oStride + i * iStride;
#define IN(a, b) ins[(a) * N + (b)][at]
#define OUT(kh, kw, v) (dw[(((kh) * R + (kw)) * ci + i) * co + o] = (v))
      T_GRAD_OUTPUT(IN, OUT);
#undef IN
#undef OUT
    }
  }
}

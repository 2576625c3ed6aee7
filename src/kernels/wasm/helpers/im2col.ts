/**
 * The two matrix layouts of a convolution's gradients as matmuls, over the wasm heap:
 * - {@link im2colTransposed}: the patch matrix of x, transposed, for dW = patchesᵀ · dy;
 * - {@link col2im}: the scatter-add of dy·Wᵀ's columns back onto dx.
 */
import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { f32, type WasmHeapBackend } from './heap.js';

/**
 * Scatters the columns of a convolution's input gradient back onto the input:
 * dx[b, oy*sh + ky - top, ox*sw + kx - left, :] += cols[(b, oy, ox), (ky, kx, :)], skipping
 * positions in the padding. `cols` is dy·Wᵀ, `[B*OH*OW, KH*KW*Ci]`.
 */
export function col2im(backend: WasmHeapBackend, cols: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const dx = backend.makeOutput([n, h, w, ci], 'float32');
  const src = f32(backend, cols);
  const out = f32(backend, dx);
  out.fill(0);
  const rowLength = kh * kw * ci;
  for (let b = 0, row = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++, row++) {
        const base = row * rowLength;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh + ky - top;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw + kx - left;
            if (ix < 0 || ix >= w) continue;
            const o = ((b * h + iy) * w + ix) * ci;
            const s = base + (ky * kw + kx) * ci;
            for (let c = 0; c < ci; c++) out[o + c] = (out[o + c] as number) + (src[s + c] as number);
          }
        }
      }
    }
  }
  return dx;
}

/**
 * The transposed patch matrix of a convolution's input: row (ky, kx, c) holds
 * x[b, oy*sh + ky - top, ox*sw + kx - left, c] for every (b, oy, ox), zero in the padding;
 * `[1, KH*KW*Ci, B*OH*OW]`. With few input channels this is small (25 rows for a 5x5 filter
 * on a grey image), and patchesᵀ·dy is the filter gradient as one plain matmul.
 */
export function im2colTransposed(backend: WasmHeapBackend, x: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const positions = n * oh * ow;
  const patches = backend.makeOutput([1, kh * kw * ci, positions], 'float32');
  const src = f32(backend, x);
  const out = f32(backend, patches);
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      for (let c = 0; c < ci; c++) {
        let at = ((ky * kw + kx) * ci + c) * positions;
        for (let b = 0; b < n; b++) {
          for (let oy = 0; oy < oh; oy++) {
            const iy = oy * sh + ky - top;
            const inside = iy >= 0 && iy < h;
            const rowBase = (b * h + iy) * w;
            for (let ox = 0; ox < ow; ox++, at++) {
              const ix = ox * sw + kx - left;
              out[at] = inside && ix >= 0 && ix < w ? (src[(rowBase + ix) * ci + c] as number) : 0;
            }
          }
        }
      }
    }
  }
  return patches;
}

/**
 * The gradient of a 2-D max pool over the wasm heap, any window, stride and padding: each window's
 * dy is added to the first maximum of its input window in row-major order, positions outside the
 * input (padding) skipped: the rule of tfjs' cpu backend. One pass over the windows, where the
 * stock wasm kernel scans every window for every input pixel and, with overlapping windows,
 * disagrees with the cpu backend.
 */
import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { f32, type WasmHeapBackend } from './heap.js';

/** `dx` of the pool `info` describes (from `backend_util.computePool2DInfo`) of float32 `input`. */
export function maxPoolGrad2D(
  backend: WasmHeapBackend,
  dy: TensorInfo,
  input: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: c,
    outHeight: oh,
    outWidth: ow,
    filterHeight: fh,
    filterWidth: fw,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const { top, left } = info.padInfo;
  const dx = backend.makeOutput([...input.shape], 'float32');
  const x = f32(backend, input);
  const g = f32(backend, dy);
  const out = f32(backend, dx);
  out.fill(0);
  const rowStride = w * c;
  for (let b = 0; b < n; b++) {
    const xBatch = b * h * rowStride;
    for (let py = 0; py < oh; py++) {
      const y0 = py * sh - top;
      for (let px = 0; px < ow; px++) {
        const x0 = px * sw - left;
        const gBase = ((b * oh + py) * ow + px) * c;
        if (fh === 2 && fw === 2 && y0 >= 0 && x0 >= 0 && y0 + 2 <= h && x0 + 2 <= w) {
          // The common 2x2 window inside the input, unrolled: V8 runs the general loop slower.
          const windowBase = xBatch + y0 * rowStride + x0 * c;
          for (let ch = 0; ch < c; ch++) {
            const p00 = windowBase + ch;
            const p01 = p00 + c;
            const p10 = p00 + rowStride;
            const p11 = p10 + c;
            let best = p00;
            let max = x[p00] as number;
            if ((x[p01] as number) > max) {
              max = x[p01] as number;
              best = p01;
            }
            if ((x[p10] as number) > max) {
              max = x[p10] as number;
              best = p10;
            }
            if ((x[p11] as number) > max) best = p11;
            out[best] = (out[best] as number) + (g[gBase + ch] as number);
          }
          continue;
        }
        const yStart = Math.max(0, y0);
        const yEnd = Math.min(h, y0 + fh);
        const xStart = Math.max(0, x0);
        const xEnd = Math.min(w, x0 + fw);
        for (let ch = 0; ch < c; ch++) {
          let best = -1;
          let max = -Infinity;
          for (let iy = yStart; iy < yEnd; iy++) {
            for (let ix = xStart, at = xBatch + iy * rowStride + ix * c + ch; ix < xEnd; ix++, at += c) {
              if ((x[at] as number) > max) {
                max = x[at] as number;
                best = at;
              }
            }
          }
          if (best >= 0) out[best] = (out[best] as number) + (g[gBase + ch] as number);
        }
      }
    }
  }
  return dx;
}

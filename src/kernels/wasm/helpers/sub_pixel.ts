/**
 * The sub-pixel decomposition of a strided convolution's input gradient over the wasm heap: the
 * phase filters ({@link subPixelFilters}) and the interleave of the phases' outputs into dx
 * ({@link interleavePhases}).
 */
import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { f32, type WasmHeapBackend } from './heap.js';

/** One output phase of a strided convolution's input gradient: see {@link subPixelFilters}. */
export interface SubPixelPhase {
  /** The phase's filter `[Jy, Jx, Co, Ci]`, rotated 180°, for a stride-1 convolution over dy. */
  readonly filter: TensorInfo;
  /** Rows and columns of zeros dy needs above and to the left (negative: rows to drop). */
  readonly padTop: number;
  readonly padLeft: number;
}

/**
 * The sub-pixel decomposition of a strided convolution's input gradient. With stride s, input row
 * iy = s*qy + ry is reached only by the taps ky ≡ ry + top (mod s), so each of the s*s phases
 * (ry, rx) of dx is a stride-1 convolution of dy with the taps of that phase: together exactly the
 * multiplications of the gradient, none of the zero-inserted dy. Returns the phases in row-major
 * (ry, rx) order; each output is `[B, H/sh, W/sw, Ci]` (H and W multiples of the strides, and the
 * filter at least as large as the stride, are the caller's to check).
 */
export function subPixelFilters(
  backend: WasmHeapBackend,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): SubPixelPhase[] {
  const {
    filterHeight: kh,
    filterWidth: kw,
    inChannels: ci,
    outChannels: co,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const { top, left } = info.padInfo;
  const phases: SubPixelPhase[] = [];
  for (let ry = 0; ry < sh; ry++) {
    const ky0 = (ry + top) % sh;
    const jy = Math.ceil((kh - ky0) / sh);
    for (let rx = 0; rx < sw; rx++) {
      const kx0 = (rx + left) % sw;
      const jx = Math.ceil((kw - kx0) / sw);
      const out = backend.makeOutput([jy, jx, co, ci], 'float32');
      const w = f32(backend, filter);
      const v = f32(backend, out);
      for (let j = 0; j < jy; j++) {
        for (let i = 0; i < jx; i++) {
          const src = ((ky0 + sh * (jy - 1 - j)) * kw + (kx0 + sw * (jx - 1 - i))) * ci * co;
          const dst = (j * jx + i) * co * ci;
          for (let c = 0; c < ci; c++) {
            for (let o = 0; o < co; o++) v[dst + o * ci + c] = w[src + c * co + o] as number;
          }
        }
      }
      // dx[s*q + r] takes dy[q + c0 - j] for tap j of the phase, c0 = (r + pad - k0) / s.
      phases.push({ filter: out, padTop: jy - 1 - (ry + top - ky0) / sh, padLeft: jx - 1 - (rx + left - kx0) / sw });
    }
  }
  return phases;
}

/**
 * dx `[B, H, W, Ci]` from the sub-pixel phases' outputs `[B, H/sh, W/sw, Ci]` (row-major (ry, rx)
 * order): pixel (sh*qy + ry, sw*qx + rx) is pixel (qy, qx) of phase (ry, rx). A plain loop: wasm's
 * Transpose of the equivalent rank-5 view was far slower (bench/kernels/sub_pixel.ts times the route).
 */
export function interleavePhases(
  backend: WasmHeapBackend,
  parts: readonly TensorInfo[],
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, strideHeight: sh, strideWidth: sw } = info;
  const [qh, qw] = [h / sh, w / sw];
  const dx = backend.makeOutput([n, h, w, ci], 'float32');
  const out = f32(backend, dx);
  parts.forEach((part, p) => {
    const [ry, rx] = [Math.floor(p / sw), p % sw];
    const src = f32(backend, part);
    for (let b = 0, s = 0; b < n; b++) {
      for (let qy = 0; qy < qh; qy++) {
        let d = ((b * h + qy * sh + ry) * w + rx) * ci;
        for (let qx = 0; qx < qw; qx++, d += sw * ci) {
          for (let c = 0; c < ci; c++, s++) out[d + c] = src[s] as number;
        }
      }
    }
  });
  return dx;
}

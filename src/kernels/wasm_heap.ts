/**
 * Training kernels written in TypeScript straight over the wasm backend's heap, for
 * the memory-bound steps where the stock C++ kernel loses time to layout, not arithmetic:
 * - per-channel sums (`Sum`/`Mean` over the leading axes: batch norm, conv biases). The
 *   stock kernel first transposes the reduced axes innermost, a full copy of the tensor;
 * - the gradient of max pooling, whose stock kernel scans every window for every input pixel.
 * Each returns `undefined` for a configuration it does not handle, and the caller runs the
 * stock kernel instead.
 */
import { backend_util, type DataType, type TensorInfo } from '@tensorflow/tfjs-core';
import { batchNormBackward, batchNormForward, checkBatchNormShapes } from './batch_norm.js';

/** The wasm backend's heap access (public methods of tfjs' BackendWasm). */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export function hasHeapAccess(backend: unknown): backend is WasmHeapBackend {
  const b = backend as Partial<WasmHeapBackend> | null;
  return (
    b !== null &&
    typeof b === 'object' &&
    typeof b.makeOutput === 'function' &&
    typeof b.typedArrayFromHeap === 'function'
  );
}

/** Float32 view of a tensor's bytes in the heap. Views are taken after every allocation: malloc may grow (and replace) the heap buffer. */
function f32(backend: WasmHeapBackend, info: TensorInfo): Float32Array {
  const view = backend.typedArrayFromHeap(info);
  if (!(view instanceof Float32Array)) throw new Error('wasm heap kernels: expected a float32 tensor');
  return view;
}

/** Number of leading axes when `axes` is exactly 0..k-1 with 0 < k < rank, else 0. */
function leadingAxes(axes: readonly number[], rank: number): number {
  const sorted = axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
  const k = sorted.length;
  if (k === 0 || k >= rank || sorted.some((a, i) => a !== i)) return 0;
  return k;
}

/**
 * `Sum` (or `Mean` with `mean`) of a float32 tensor over its leading axes: the column sums of an
 * [R, C] matrix, read once in memory order. Accumulates in float64, so it is also more exact than
 * the stock kernel's running float32 sum over tens of thousands of rows.
 * bench/profile.ts, strong net: the 5 Sums of `[64,26,26,32]` took 21 ms a step with the stock kernel.
 */
export function leadingAxesReduce(
  backend: WasmHeapBackend,
  x: TensorInfo,
  axis: number | number[],
  keepDims: boolean,
  mean: boolean,
): TensorInfo | undefined {
  if (x.dtype !== 'float32') return undefined;
  const rank = x.shape.length;
  const k = leadingAxes(Array.isArray(axis) ? axis : [axis], rank);
  if (k === 0) return undefined;
  const rows = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
  const cols = x.shape.slice(k).reduce((a, b) => a * b, 1);
  if (rows === 0 || cols === 0) return undefined;
  const outShape = keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  const out = backend.makeOutput(outShape, 'float32');
  const src = f32(backend, x);
  const dst = f32(backend, out);
  const acc = new Float64Array(cols);
  let r = 0;
  let offset = 0;
  // Eight rows per pass: one accumulator load/store per eight additions. V8 does not keep
  // acc[c] in a register across a one-row loop, which ran 3x slower in a standalone test
  // (50,176 x 32 floats: 3.9 ms one row at a time, 1.3 ms eight rows).
  const c1 = cols,
    c2 = 2 * cols,
    c3 = 3 * cols,
    c4 = 4 * cols,
    c5 = 5 * cols,
    c6 = 6 * cols,
    c7 = 7 * cols;
  for (; r + 8 <= rows; r += 8, offset += 8 * cols) {
    for (let c = 0; c < cols; c++) {
      const p = offset + c;
      const s =
        (src[p] as number) +
        (src[p + c1] as number) +
        ((src[p + c2] as number) + (src[p + c3] as number)) +
        ((src[p + c4] as number) + (src[p + c5] as number) + ((src[p + c6] as number) + (src[p + c7] as number)));
      acc[c] = (acc[c] as number) + s;
    }
  }
  for (; r < rows; r++, offset += cols) {
    for (let c = 0; c < cols; c++) acc[c] = (acc[c] as number) + (src[offset + c] as number);
  }
  const scale = mean ? 1 / rows : 1;
  for (let c = 0; c < cols; c++) dst[c] = (acc[c] as number) * scale;
  return out;
}

/** Attributes of `MaxPoolGrad` (tfjs-core). */
export interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Gradient of a 2-D max pool: each window's dy is added to the first maximum of its input
 * window in row-major order, positions outside the input (padding) skipped: the rule of
 * tfjs' cpu backend. The stock wasm kernel scans every window for every input pixel (31.7 ms
 * a step for `[64,28,28,32]`, 2x2 windows, bench/profile.ts) and, with overlapping windows,
 * disagrees with the cpu backend; this is one pass over the windows.
 */
export function maxPoolGrad2D(
  backend: WasmHeapBackend,
  dy: TensorInfo,
  input: TensorInfo,
  attrs: MaxPoolGradAttrs,
): TensorInfo | undefined {
  if (input.dtype !== 'float32' || input.shape.length !== 4) return undefined;
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
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
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
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
          // The common 2x2 window inside the input, unrolled: V8 runs the general loop about 1.5x slower.
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

/** The fused training batch norm (../model/batch_norm.ts) over the heap: `[y, mean, variance]`. */
export function batchNormTrainingOnHeap(
  backend: WasmHeapBackend,
  x: TensorInfo,
  gamma: TensorInfo,
  beta: TensorInfo,
  epsilon: number,
): TensorInfo[] {
  const channels = checkBatchNormShapes(x, gamma);
  const y = backend.makeOutput([...x.shape], 'float32');
  const mean = backend.makeOutput([channels], 'float32');
  const variance = backend.makeOutput([channels], 'float32');
  batchNormForward(
    f32(backend, x),
    f32(backend, gamma),
    f32(backend, beta),
    epsilon,
    f32(backend, y),
    f32(backend, mean),
    f32(backend, variance),
  );
  return [y, mean, variance];
}

/** Its gradient over the heap: `[dx, dgamma, dbeta]`. */
export function batchNormTrainingGradOnHeap(
  backend: WasmHeapBackend,
  dy: TensorInfo,
  x: TensorInfo,
  gamma: TensorInfo,
  mean: TensorInfo,
  variance: TensorInfo,
  epsilon: number,
): TensorInfo[] {
  const channels = checkBatchNormShapes(x, gamma);
  const dx = backend.makeOutput([...x.shape], 'float32');
  const dgamma = backend.makeOutput([channels], 'float32');
  const dbeta = backend.makeOutput([channels], 'float32');
  batchNormBackward(
    f32(backend, dy),
    f32(backend, x),
    f32(backend, gamma),
    f32(backend, mean),
    f32(backend, variance),
    epsilon,
    f32(backend, dx),
    f32(backend, dgamma),
    f32(backend, dbeta),
  );
  return [dx, dgamma, dbeta];
}

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
 * Transpose of the equivalent rank-5 view took 110-140 ms for strong's first 5x5/2 layer.
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

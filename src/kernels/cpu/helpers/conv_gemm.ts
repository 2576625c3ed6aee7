/**
 * The cpu backend's convolutions as one matrix product each on ./gemm.ts, where rows are output
 * pixels (image, output row, output column), NHWC, dilation 1:
 * - forward:         Y[rows, Co] = im2col(x)[rows, KH·KW·Ci] · W[KH·KW·Ci, Co] ({@link convForward});
 * - filter gradient: dW[KH·KW·Ci, Co] = im2col(x)ᵀ · dY[rows, Co] ({@link convBackpropFilter});
 * - input gradient:  dx = col2im(dY[rows, Co] · Wᵀ) ({@link convBackpropInput}).
 * Rows go in chunks so the im2col matrix stays bounded; a pointwise layer needs no im2col at all.
 */
import { backend_util } from '@tensorflow/tfjs-core';

import type { ConvAttrs } from '../../registry.js';
import { gemm, MR } from './gemm.js';

/**
 * Upper bound on the im2col scratch matrix, in floats (4 Mi floats = 16 MB). The rows (output pixels)
 * are processed in chunks that fit: seed conv2 at batch 64 would need 64·400 x 2500 floats = 256 MB
 * at once; chunks of about four images keep the GEMM's M large, so it runs as fast, and the memory
 * bounded. The scratch buffer is kept between calls, not allocated and zeroed per call.
 */
const COL_LIMIT = 4 * 1024 * 1024;
/**
 * Chunk of the column gradient in Conv2DBackpropInput (1 MB): written by the GEMM, then read back by
 * col2im while still in L2, which beat chunks as large as COL_LIMIT's (bench/kernels/cpu.ts).
 */
const COL2IM_LIMIT = 256 * 1024;
let colScratch = new Float32Array(0);

function colBuffer(size: number): Float32Array {
  if (colScratch.length < size) colScratch = new Float32Array(size);
  return colScratch;
}

export interface ConvGeometry {
  b: number;
  h: number;
  w: number;
  ci: number;
  oh: number;
  ow: number;
  co: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  top: number;
  left: number;
}

export function geometry(info: backend_util.Conv2DInfo): ConvGeometry | undefined {
  if (info.dataFormat !== 'channelsLast' || info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  const g: ConvGeometry = {
    b: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    ci: info.inChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    co: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
  // Empty tensors and negative "padding" (explicit paddings are never negative) go to the stock kernel.
  if ([g.b, g.h, g.w, g.ci, g.oh, g.ow, g.co, g.kh, g.kw].some((d) => d <= 0)) return undefined;
  return g;
}

/** Rows of the im2col matrix (output pixels) per chunk, so that one chunk stays under `limit` floats. */
function rowsPerChunk(g: ConvGeometry, limit: number): number {
  const kDim = g.kh * g.kw * g.ci;
  return Math.max(MR, Math.floor(limit / kDim / MR) * MR);
}

/** True when im2col(x) is x itself: a 1x1 filter, stride 1, no padding. */
function isPointwise(g: ConvGeometry): boolean {
  return (
    g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.top === 0 && g.left === 0 && g.oh === g.h && g.ow === g.w
  );
}

/**
 * Visits rows r0..r1-1 of the im2col matrix (row r = output pixel (n, y, x) in NHWC order) and, for each
 * filter row p that falls inside the image, the contiguous run of x it reads: filter columns q0..q1-1
 * map to (q1 - q0)·Ci consecutive floats of x (NHWC, dilation 1). `visit(colOffset, xOffset, length)`
 * gets the run's start in the chunk's col matrix and in x; `gap(colOffset, length)` the zero parts.
 */
function forEachRun(
  g: ConvGeometry,
  r0: number,
  r1: number,
  visit: (colOffset: number, xOffset: number, length: number) => void,
  gap: ((colOffset: number, length: number) => void) | null,
): void {
  const { h, w, ci, oh, ow, kh, kw, sh, sw, top, left } = g;
  const kRow = kw * ci;
  const perImage = oh * ow;
  let o = 0;
  for (let r = r0; r < r1; r++) {
    const n = Math.floor(r / perImage);
    const rem = r - n * perImage;
    const y = Math.floor(rem / ow);
    const xo = rem - y * ow;
    const xImage = n * h * w * ci;
    const iy0 = y * sh - top;
    const ix0 = xo * sw - left;
    const q0 = Math.max(0, -ix0);
    const q1 = Math.min(kw, w - ix0);
    for (let p = 0; p < kh; p++) {
      const iy = iy0 + p;
      if (iy < 0 || iy >= h || q1 <= q0) {
        if (gap !== null) gap(o, kRow);
      } else {
        if (gap !== null && q0 > 0) gap(o, q0 * ci);
        visit(o + q0 * ci, xImage + (iy * w + ix0 + q0) * ci, (q1 - q0) * ci);
        if (gap !== null && q1 < kw) gap(o + q1 * ci, (kw - q1) * ci);
      }
      o += kRow;
    }
  }
}

/** col[r - r0, (p, q, c)] = x[n, y·sh + p - top, x·sw + q - left, c] for output pixel r = (n, y, x), zero outside the image. */
function im2col(x: Float32Array, g: ConvGeometry, r0: number, r1: number, col: Float32Array): void {
  forEachRun(
    g,
    r0,
    r1,
    (dst, src, len) => {
      for (let i = 0; i < len; i++) col[dst + i] = x[src + i] as number;
    },
    (dst, len) => col.fill(0, dst, dst + len),
  );
}

/** The adjoint of {@link im2col}: dx[n, y·sh + p - top, x·sw + q - left, c] += col[r - r0, (p, q, c)]. */
function col2im(col: Float32Array, g: ConvGeometry, r0: number, r1: number, dx: Float32Array): void {
  forEachRun(
    g,
    r0,
    r1,
    (src, dst, len) => {
      for (let i = 0; i < len; i++) dx[dst + i] = (dx[dst + i] as number) + (col[src + i] as number);
    },
    null,
  );
}

/** y[B, OH, OW, Co] = conv(x, W): per chunk of rows, im2col then one GEMM into those rows of y. */
export function convForward(x: Float32Array, filter: Float32Array, g: ConvGeometry): Float32Array {
  const kDim = g.kh * g.kw * g.ci;
  const rows = g.b * g.oh * g.ow;
  const y = new Float32Array(rows * g.co);
  if (isPointwise(g)) {
    gemm(rows, g.co, kDim, x, 0, kDim, 1, filter, 0, g.co, 1, y, 0, g.co);
    return y;
  }
  const chunk = rowsPerChunk(g, COL_LIMIT);
  const col = colBuffer(Math.min(chunk, rows) * kDim);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r1 = Math.min(rows, r0 + chunk);
    im2col(x, g, r0, r1, col);
    gemm(r1 - r0, g.co, kDim, col, 0, kDim, 1, filter, 0, g.co, 1, y, r0 * g.co, g.co);
  }
  return y;
}

/** dW[KH·KW·Ci, Co] = Σ_chunks im2col(x)ᵀ · dY: the transpose is read through the GEMM's packing strides. */
export function convBackpropFilter(x: Float32Array, dy: Float32Array, g: ConvGeometry): Float32Array {
  const kDim = g.kh * g.kw * g.ci;
  const rows = g.b * g.oh * g.ow;
  const dW = new Float32Array(kDim * g.co);
  if (isPointwise(g)) {
    gemm(kDim, g.co, rows, x, 0, 1, kDim, dy, 0, g.co, 1, dW, 0, g.co);
    return dW;
  }
  const chunk = rowsPerChunk(g, COL_LIMIT);
  const col = colBuffer(Math.min(chunk, rows) * kDim);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r1 = Math.min(rows, r0 + chunk);
    im2col(x, g, r0, r1, col);
    gemm(kDim, g.co, r1 - r0, col, 0, 1, kDim, dy, r0 * g.co, g.co, 1, dW, 0, g.co);
  }
  return dW;
}

/**
 * dx = col2im(dY · Wᵀ). Scattering the column gradient back handles any stride directly, where the
 * textbook "convolve the zero-inserted dY with the flipped filter" would spend 3/4 of its work on the
 * inserted zeros at stride 2 (and, for 'valid', on the full-padding border).
 */
export function convBackpropInput(dy: Float32Array, filter: Float32Array, g: ConvGeometry): Float32Array {
  const kDim = g.kh * g.kw * g.ci;
  const rows = g.b * g.oh * g.ow;
  const dx = new Float32Array(g.b * g.h * g.w * g.ci);
  if (isPointwise(g)) {
    gemm(rows, kDim, g.co, dy, 0, g.co, 1, filter, 0, 1, g.co, dx, 0, kDim);
    return dx;
  }
  const chunk = rowsPerChunk(g, COL2IM_LIMIT);
  const col = colBuffer(Math.min(chunk, rows) * kDim);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r1 = Math.min(rows, r0 + chunk);
    col.fill(0, 0, (r1 - r0) * kDim);
    gemm(r1 - r0, kDim, g.co, dy, r0 * g.co, g.co, 1, filter, 0, 1, g.co, col, 0, kDim);
    col2im(col, g, r0, r1, dx);
  }
  return dx;
}

/** The `Conv2DInfo` of a convolution of these shapes, or `undefined` unless both are rank 4. */
export function convInfo(
  xShape: number[],
  filterShape: number[],
  a: Pick<ConvAttrs, 'strides' | 'pad' | 'dimRoundingMode'> & {
    dataFormat?: ConvAttrs['dataFormat'];
    dilations?: ConvAttrs['dilations'];
  },
): backend_util.Conv2DInfo | undefined {
  if (xShape.length !== 4 || filterShape.length !== 4) return undefined;
  const dataFormat = backend_util.convertConv2DDataFormat(a.dataFormat ?? 'NHWC');
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    dataFormat,
  );
}

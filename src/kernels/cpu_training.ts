/**
 * Training kernels for the TensorFlow.js cpu backend (`@tensorflow/tfjs-backend-cpu`, pure JS).
 *
 * The stock cpu `Conv2D`, `Conv2DBackpropFilter` and `Conv2DBackpropInput` are naive nested loops
 * (about 65 MFLOP/s: the seed net trains at ~0.2 images/s, its conv2 filter gradient at batch 8
 * takes ~70 s), and `BatchMatMul` is a blocked loop with strided inner reads. All of them are
 * re-expressed here as one matrix product on a packed, cache-blocked Float32Array GEMM:
 * - `Conv2D` / `FusedConv2D`:      Y[rows, Co] = im2col(x)[rows, KH·KW·Ci] · W[KH·KW·Ci, Co]
 * - `Conv2DBackpropFilter`:        dW[KH·KW·Ci, Co] = im2col(x)ᵀ · dY[rows, Co]
 * - `Conv2DBackpropInput`:         dx = col2im(dY[rows, Co] · Wᵀ)
 * - `BatchMatMul` / `_FusedMatMul`: the product itself, transposes folded into the packing.
 * where rows = (image, output row, output column). NHWC, any stride, valid/same/explicit padding,
 * dilation 1, float32; anything else runs the stock kernel, which is kept to delegate to.
 * The kernels read inputs from and write outputs to the cpu backend's own storage through the backend
 * object handed to each kernel, so this module never imports `@tensorflow/tfjs-backend-cpu` itself.
 *
 * Numbers below: bench/cpu.ts on a shared 2-core AMD Zen 5 VM, Node 20.20 (see docs/benchmarks.md).
 * Seed net, trainOnBatch with Adam: stock 0.11 images/s (batch 8); this 4.9 images/s at batch 8 (45x)
 * and 8.3 at batch 64 (76x). Seed conv2 at batch 2, ms (GFLOP/s): forward stock 305 (0.66) → 60 (3.3);
 * filter gradient 15 800 (0.01) → 63 (3.2); input gradient 187 (1.1) → 59 (3.4).
 */
import {
  backend_util,
  getKernel,
  registerKernel,
  unregisterKernel,
  type DataId,
  type DataType,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, type BatchNormTrainingAttrs } from '../model/batch_norm.js';
import { batchNormBackward, batchNormForward, checkBatchNormShapes } from './batch_norm.js';

const CPU = 'cpu';

/** The part of the cpu backend (`MathBackendCPU`) these kernels use. */
interface CpuBackendLike {
  readonly data: { get(dataId: DataId): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: DataType, values?: Float32Array): TensorInfo;
}

type KernelArgs = Parameters<KernelFunc>[0];
type Pair = [number, number];
type ExplicitPadding = [Pair, Pair, Pair, Pair];
type Pad = 'valid' | 'same' | number | ExplicitPadding;
type Activation = 'linear' | 'relu' | 'relu6' | 'leakyrelu' | 'elu' | 'sigmoid' | 'prelu';

interface ConvAttrs {
  strides: number | Pair;
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | Pair;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
  activation?: Activation | null;
  leakyreluAlpha?: number;
}

interface MatMulAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: Activation | null;
  leakyreluAlpha?: number;
}

function asCpuBackend(backend: unknown): CpuBackendLike | undefined {
  const candidate = backend as Partial<CpuBackendLike> | null;
  if (candidate === null || typeof candidate !== 'object') return undefined;
  if (typeof candidate.makeTensorInfo !== 'function' || typeof candidate.data?.get !== 'function') return undefined;
  return candidate as CpuBackendLike;
}

/** The float32 values of a tensor, or undefined when it is not a plain float32 tensor (then the stock kernel runs). */
function float32Values(backend: CpuBackendLike, info: TensorInfo | undefined): Float32Array | undefined {
  if (info === undefined || info.dtype !== 'float32') return undefined;
  const values = backend.data.get(info.dataId)?.values;
  return values instanceof Float32Array ? values : undefined;
}

// ---------------------------------------------------------------------------------------------
// GEMM: C[m, n] += A[m, k] · B[k, n] on Float32Arrays, operands read through (row, column) strides.
// ---------------------------------------------------------------------------------------------

/**
 * Register tile. A 4x4 tile keeps 16 accumulators in locals, which V8 holds in registers (as doubles:
 * Float32Array loads widen to float64, so sums are float64 within a K block). Measured in-L1
 * microkernel peaks (best of 15 interleaved runs, Node 20, Zen 5): 4x4 4.6 GFLOP/s, 2x4 4.3,
 * 4x2 4.2, 6x4 4.8, 4x8 4.6; packing into Float64Array instead gained < 10 % and doubles the
 * pack buffers, so 4x4 on Float32Array it is. The old nested loops reach ~0.07 GFLOP/s.
 */
const MR = 4;
const NR = 4;
/**
 * Cache blocks (GotoBLAS order jc → pc → ic → jr → ir): a KC x NR panel of packed B (4 KB) stays in
 * L1 while MC x KC of packed A (128 KB) streams from L2; KC x NC of packed B is at most 512 KB (L2 is
 * 1 MB per Zen 5 core). Packing also turns the strided reads of transposed operands into one
 * sequential pass, so `transposeA`/`transposeB` cost nothing extra in the inner loop.
 */
const KC = 256;
const MC = 128;
const NC = 512;

const aPack = new Float32Array(MC * KC);
const bPack = new Float32Array(KC * NC);
const edgeTile = new Float32Array(MR * NR);

/**
 * Packs `count` x `kc` of a strided matrix into 4-wide panels, each kc x 4, zero-padded to whole
 * panels: `along` is the stride between the panel's 4 lanes, `depth` the stride along k.
 * A's rows (MR = 4) and B's columns (NR = 4) pack the same way with their strides swapped.
 */
function packPanels(
  out: Float32Array,
  count: number,
  kc: number,
  src: Float32Array,
  off: number,
  along: number,
  depth: number,
): void {
  let o = 0;
  for (let i0 = 0; i0 < count; i0 += 4) {
    const lanes = Math.min(4, count - i0);
    if (lanes === 4) {
      const l0 = off + i0 * along;
      for (let p = 0; p < kc; p++) {
        const base = l0 + p * depth;
        out[o] = src[base] as number;
        out[o + 1] = src[base + along] as number;
        out[o + 2] = src[base + 2 * along] as number;
        out[o + 3] = src[base + 3 * along] as number;
        o += 4;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let i = 0; i < 4; i++) out[o + i] = i < lanes ? (src[off + (i0 + i) * along + p * depth] as number) : 0;
        o += 4;
      }
    }
  }
}

/** C[ci.., 4x4] += Ap panel · Bp panel over kc. */
function micro4x4(
  kc: number,
  ap: Float32Array,
  ai: number,
  bp: Float32Array,
  bi: number,
  c: Float32Array,
  ci: number,
  ldc: number,
): void {
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0;
  let c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0;
  let c30 = 0,
    c31 = 0,
    c32 = 0,
    c33 = 0;
  for (let p = 0; p < kc; p++) {
    const b0 = bp[bi] as number;
    const b1 = bp[bi + 1] as number;
    const b2 = bp[bi + 2] as number;
    const b3 = bp[bi + 3] as number;
    const a0 = ap[ai] as number;
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    const a1 = ap[ai + 1] as number;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    const a2 = ap[ai + 2] as number;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    const a3 = ap[ai + 3] as number;
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3;
    ai += MR;
    bi += NR;
  }
  let r = ci;
  c[r] = (c[r] as number) + c00;
  c[r + 1] = (c[r + 1] as number) + c01;
  c[r + 2] = (c[r + 2] as number) + c02;
  c[r + 3] = (c[r + 3] as number) + c03;
  r += ldc;
  c[r] = (c[r] as number) + c10;
  c[r + 1] = (c[r + 1] as number) + c11;
  c[r + 2] = (c[r + 2] as number) + c12;
  c[r + 3] = (c[r + 3] as number) + c13;
  r += ldc;
  c[r] = (c[r] as number) + c20;
  c[r + 1] = (c[r + 1] as number) + c21;
  c[r + 2] = (c[r + 2] as number) + c22;
  c[r + 3] = (c[r + 3] as number) + c23;
  r += ldc;
  c[r] = (c[r] as number) + c30;
  c[r + 1] = (c[r + 1] as number) + c31;
  c[r + 2] = (c[r + 2] as number) + c32;
  c[r + 3] = (c[r + 3] as number) + c33;
}

/**
 * C[cOff + i·ldc + j] += Σ_p A(i, p) · B(p, j) for i < m, j < n, where A(i, p) = a[aOff + i·ars + p·acs]
 * and B(p, j) = b[bOff + p·brs + j·bcs]. Accumulates: callers zero C when they want a plain product.
 */
export function gemm(
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  aOff: number,
  ars: number,
  acs: number,
  b: Float32Array,
  bOff: number,
  brs: number,
  bcs: number,
  c: Float32Array,
  cOff: number,
  ldc: number,
): void {
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      packPanels(bPack, nc, kc, b, bOff + pc * brs + jc * bcs, bcs, brs);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        packPanels(aPack, mc, kc, a, aOff + ic * ars + pc * acs, ars, acs);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = Math.min(NR, nc - jr);
          const bi = jr * kc;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = Math.min(MR, mc - ir);
            const ci = cOff + (ic + ir) * ldc + jc + jr;
            if (mr === MR && nr === NR) {
              micro4x4(kc, aPack, ir * kc, bPack, bi, c, ci, ldc);
            } else {
              // Edge tile: compute the full 4x4 into a scratch tile (the packs are zero-padded), add the valid part.
              edgeTile.fill(0);
              micro4x4(kc, aPack, ir * kc, bPack, bi, edgeTile, 0, NR);
              for (let i = 0; i < mr; i++) {
                for (let j = 0; j < nr; j++)
                  c[ci + i * ldc + j] = (c[ci + i * ldc + j] as number) + (edgeTile[i * NR + j] as number);
              }
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Convolutions as im2col + GEMM.
// ---------------------------------------------------------------------------------------------

/**
 * Upper bound on the im2col scratch matrix, in floats (4 Mi floats = 16 MB). The rows (output pixels)
 * are processed in chunks that fit: seed conv2 at batch 64 would need 64·400 x 2500 floats = 256 MB
 * at once; chunks of 1676 rows (about 4 images) keep the GEMM's M large, so it runs as fast, and the
 * memory bounded. The scratch buffer is kept between calls (allocating and zeroing 16 MB per call
 * would cost a few ms each time).
 */
const COL_LIMIT = 4 * 1024 * 1024;
/**
 * Chunk of the column gradient in Conv2DBackpropInput (1 MB): written by the GEMM, then read back by
 * col2im while still in L2. Seed conv2 at batch 2: 86 ms with 16 MB chunks, 75 ms with 1 MB ones.
 */
const COL2IM_LIMIT = 256 * 1024;
let colScratch = new Float32Array(0);

function colBuffer(size: number): Float32Array {
  if (colScratch.length < size) colScratch = new Float32Array(size);
  return colScratch;
}

interface ConvGeometry {
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

function geometry(info: backend_util.Conv2DInfo): ConvGeometry | undefined {
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
function convForward(x: Float32Array, filter: Float32Array, g: ConvGeometry): Float32Array {
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
function convBackpropFilter(x: Float32Array, dy: Float32Array, g: ConvGeometry): Float32Array {
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
function convBackpropInput(dy: Float32Array, filter: Float32Array, g: ConvGeometry): Float32Array {
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

// ---------------------------------------------------------------------------------------------
// Bias and activation, in place on a fresh output (saves the stock fused kernels' two extra tensors).
// ---------------------------------------------------------------------------------------------

const IN_PLACE_ACTIVATIONS = new Set<string>(['linear', 'relu', 'relu6', 'leakyrelu', 'elu', 'sigmoid']);

/** Bias values to add per output channel (length 1 or `channels`), or undefined when the bias needs broadcasting we do not handle. */
function biasValues(
  backend: CpuBackendLike,
  bias: TensorInfo | undefined,
  channels: number,
): Float32Array | null | undefined {
  if (bias === undefined || bias === null) return null;
  const values = float32Values(backend, bias);
  if (values === undefined) return undefined;
  const rankOk = bias.shape.length <= 1;
  if (!rankOk || (values.length !== channels && values.length !== 1)) return undefined;
  return values;
}

/** Same element formulas as the cpu backend's Relu, Relu6, LeakyRelu, Elu and Sigmoid kernels. */
function biasActivation(
  y: Float32Array,
  channels: number,
  bias: Float32Array | null,
  activation: string,
  alpha: number,
): void {
  if (bias !== null) {
    if (bias.length === 1) {
      const v = bias[0] as number;
      for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) + v;
    } else {
      for (let i = 0; i < y.length; i += channels) {
        for (let c = 0; c < channels; c++) y[i + c] = (y[i + c] as number) + (bias[c] as number);
      }
    }
  }
  switch (activation) {
    case 'relu':
      for (let i = 0; i < y.length; i++) if ((y[i] as number) < 0) y[i] = 0;
      break;
    case 'relu6':
      for (let i = 0; i < y.length; i++) y[i] = Math.min(Math.max(0, y[i] as number), 6);
      break;
    case 'leakyrelu':
      for (let i = 0; i < y.length; i++) if ((y[i] as number) < 0) y[i] = alpha * (y[i] as number);
      break;
    case 'elu':
      for (let i = 0; i < y.length; i++) if ((y[i] as number) < 0) y[i] = Math.exp(y[i] as number) - 1;
      break;
    case 'sigmoid':
      for (let i = 0; i < y.length; i++) y[i] = 1 / (1 + Math.exp(-(y[i] as number)));
      break;
    default: // linear
  }
}

// ---------------------------------------------------------------------------------------------
// Kernel functions and registration.
// ---------------------------------------------------------------------------------------------

/** Stock cpu kernels we replaced, kept to delegate to. */
const stockKernels = new Map<string, KernelConfig>();

function runStock(kernelName: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  const stock = stockKernels.get(kernelName);
  if (stock === undefined)
    throw new Error(`cpu ${kernelName}: unsupported configuration and no stock kernel to fall back to`);
  return stock.kernelFunc(args);
}

function convInfo(xShape: number[], filterShape: number[], a: ConvAttrs): backend_util.Conv2DInfo | undefined {
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

/**
 * Conv2D and FusedConv2D (bias of Co values or one, activations other than prelu fused in place).
 * tfjs-core runs FusedConv2D only outside gradient tapes (training decomposes it into Conv2D, Add, Relu).
 */
function conv2D(kernelName: 'Conv2D' | 'FusedConv2D'): KernelFunc {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const backend = asCpuBackend(args.backend);
    const { x, filter, bias } = args.inputs as { x?: TensorInfo; filter?: TensorInfo; bias?: TensorInfo };
    const a = args.attrs as unknown as ConvAttrs;
    if (backend === undefined || x === undefined || filter === undefined) return runStock(kernelName, args);
    const activation = a.activation ?? 'linear';
    const xv = float32Values(backend, x);
    const fv = float32Values(backend, filter);
    const info = convInfo(x.shape, filter.shape, a);
    const g = info && geometry(info);
    const bv = biasValues(backend, bias, filter.shape[3] ?? 0);
    if (
      xv === undefined ||
      fv === undefined ||
      info === undefined ||
      g === undefined ||
      bv === undefined ||
      !IN_PLACE_ACTIVATIONS.has(activation)
    ) {
      return runStock(kernelName, args);
    }
    const y = convForward(xv, fv, g);
    biasActivation(y, g.co, bv, activation, a.leakyreluAlpha ?? 0.2);
    return backend.makeTensorInfo(info.outShape, 'float32', y);
  };
}

function conv2DBackpropFilter(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = asCpuBackend(args.backend);
  const { x, dy } = args.inputs as { x?: TensorInfo; dy?: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  if (backend === undefined || x === undefined || dy === undefined || a.filterShape === undefined)
    return runStock('Conv2DBackpropFilter', args);
  const xv = float32Values(backend, x);
  const dyv = float32Values(backend, dy);
  const info = convInfo(x.shape, a.filterShape, { ...a, dilations: 1 });
  const g = info && geometry(info);
  if (xv === undefined || dyv === undefined || g === undefined || dy.shape.join() !== [g.b, g.oh, g.ow, g.co].join()) {
    return runStock('Conv2DBackpropFilter', args);
  }
  return backend.makeTensorInfo([...a.filterShape], 'float32', convBackpropFilter(xv, dyv, g));
}

function conv2DBackpropInput(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = asCpuBackend(args.backend);
  const { dy, filter } = args.inputs as { dy?: TensorInfo; filter?: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  if (backend === undefined || dy === undefined || filter === undefined || a.inputShape === undefined)
    return runStock('Conv2DBackpropInput', args);
  const dyv = float32Values(backend, dy);
  const fv = float32Values(backend, filter);
  const info = convInfo(a.inputShape, filter.shape, { ...a, dilations: 1 });
  const g = info && geometry(info);
  if (dyv === undefined || fv === undefined || g === undefined || dy.shape.join() !== [g.b, g.oh, g.ow, g.co].join()) {
    return runStock('Conv2DBackpropInput', args);
  }
  return backend.makeTensorInfo([...a.inputShape], 'float32', convBackpropInput(dyv, fv, g));
}

/**
 * BatchMatMul and _FusedMatMul. Batch dimensions broadcast the way the stock kernel does (batch index
 * modulo each operand's batch size); each batch is one GEMM with the transposes folded into the strides.
 */
function matMul(kernelName: 'BatchMatMul' | '_FusedMatMul'): KernelFunc {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const backend = asCpuBackend(args.backend);
    const { a, b, bias } = args.inputs as { a?: TensorInfo; b?: TensorInfo; bias?: TensorInfo };
    const attrs = args.attrs as unknown as MatMulAttrs;
    if (backend === undefined || a === undefined || b === undefined || a.shape.length < 2 || b.shape.length < 2)
      return runStock(kernelName, args);
    const activation = attrs.activation ?? 'linear';
    const av = float32Values(backend, a);
    const bv = float32Values(backend, b);
    const ta = attrs.transposeA === true;
    const tb = attrs.transposeB === true;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = a.shape[ta ? ra - 1 : ra - 2] as number;
    const k = a.shape[ta ? ra - 2 : ra - 1] as number;
    const kB = b.shape[tb ? rb - 1 : rb - 2] as number;
    const n = b.shape[tb ? rb - 2 : rb - 1] as number;
    const biasV = biasValues(backend, bias, n);
    if (
      av === undefined ||
      bv === undefined ||
      biasV === undefined ||
      k !== kB ||
      !IN_PLACE_ACTIVATIONS.has(activation) ||
      m * n * k === 0
    ) {
      return runStock(kernelName, args);
    }
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    let outer: number[];
    try {
      outer = backend_util.assertAndGetBroadcastShape(outerA, outerB);
    } catch {
      return runStock(kernelName, args); // let the stock kernel raise its own error
    }
    const batchA = outerA.reduce((s, d) => s * d, 1);
    const batchB = outerB.reduce((s, d) => s * d, 1);
    const batch = Math.max(batchA, batchB);
    const out = new Float32Array(batch * m * n);
    for (let i = 0; i < batch; i++) {
      gemm(
        m,
        n,
        k,
        av,
        (i % batchA) * m * k,
        ta ? 1 : k,
        ta ? m : 1,
        bv,
        (i % batchB) * k * n,
        tb ? 1 : n,
        tb ? k : 1,
        out,
        i * m * n,
        n,
      );
    }
    biasActivation(out, n, biasV, activation, attrs.leakyreluAlpha ?? 0.2);
    return backend.makeTensorInfo([...outer, m, n], 'float32', out);
  };
}

function cpuValues(backend: CpuBackendLike, info: TensorInfo, name: string): Float32Array {
  const values = float32Values(backend, info);
  if (values === undefined)
    throw new Error(`${BATCH_NORM_TRAINING}: ${name} is not a float32 tensor on the cpu backend`);
  return values;
}

function batchNormTraining(args: KernelArgs): TensorInfo[] {
  const backend = asCpuBackend(args.backend);
  if (backend === undefined) throw new Error(`${BATCH_NORM_TRAINING}: not the cpu backend`);
  const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const channels = checkBatchNormShapes(x, gamma);
  const xs = cpuValues(backend, x, 'x');
  const y = new Float32Array(xs.length);
  const mean = new Float32Array(channels);
  const variance = new Float32Array(channels);
  batchNormForward(
    xs,
    cpuValues(backend, gamma, 'gamma'),
    cpuValues(backend, beta, 'beta'),
    (args.attrs as unknown as BatchNormTrainingAttrs).epsilon,
    y,
    mean,
    variance,
  );
  return [
    backend.makeTensorInfo([...x.shape], 'float32', y),
    backend.makeTensorInfo([channels], 'float32', mean),
    backend.makeTensorInfo([channels], 'float32', variance),
  ];
}

function batchNormTrainingGrad(args: KernelArgs): TensorInfo[] {
  const backend = asCpuBackend(args.backend);
  if (backend === undefined) throw new Error(`${BATCH_NORM_TRAINING_GRAD}: not the cpu backend`);
  const { dy, x, gamma, mean, variance } = args.inputs as Record<
    'dy' | 'x' | 'gamma' | 'mean' | 'variance',
    TensorInfo
  >;
  const channels = checkBatchNormShapes(x, gamma);
  const xs = cpuValues(backend, x, 'x');
  const dx = new Float32Array(xs.length);
  const dgamma = new Float32Array(channels);
  const dbeta = new Float32Array(channels);
  batchNormBackward(
    cpuValues(backend, dy, 'dy'),
    xs,
    cpuValues(backend, gamma, 'gamma'),
    cpuValues(backend, mean, 'mean'),
    cpuValues(backend, variance, 'variance'),
    (args.attrs as unknown as BatchNormTrainingAttrs).epsilon,
    dx,
    dgamma,
    dbeta,
  );
  return [
    backend.makeTensorInfo([...x.shape], 'float32', dx),
    backend.makeTensorInfo([channels], 'float32', dgamma),
    backend.makeTensorInfo([channels], 'float32', dbeta),
  ];
}

/** Kernels the stock cpu backend does not have at all. */
const ADDED: ReadonlyArray<readonly [string, KernelFunc]> = [
  [BATCH_NORM_TRAINING, batchNormTraining],
  [BATCH_NORM_TRAINING_GRAD, batchNormTrainingGrad],
];

/** Our kernel functions, created once so that re-registration can recognise them. */
const OURS: ReadonlyArray<readonly [string, KernelFunc]> = [
  ['Conv2D', conv2D('Conv2D')],
  ['FusedConv2D', conv2D('FusedConv2D')],
  ['Conv2DBackpropFilter', conv2DBackpropFilter],
  ['Conv2DBackpropInput', conv2DBackpropInput],
  ['BatchMatMul', matMul('BatchMatMul')],
  ['_FusedMatMul', matMul('_FusedMatMul')],
];

/**
 * Registers the cpu training kernels with tfjs-core, replacing the stock cpu `Conv2D`, `FusedConv2D`,
 * `Conv2DBackpropFilter`, `Conv2DBackpropInput`, `BatchMatMul` and `_FusedMatMul` by im2col + a
 * cache-blocked GEMM (the seed net trains ~20-50x faster; see docs/benchmarks.md). Unsupported
 * configurations (NCHW, dilation > 1, non-float32, prelu) run the stock kernels. Also adds the fused
 * training batch norm and its gradient (`DigitBatchNormTraining`, see `batchNormalization`).
 *
 * Idempotent. Call it after importing `@tensorflow/tfjs-backend-cpu`: a kernel is replaced only when
 * its stock version is registered (calling again later installs the rest). This module does not import
 * the cpu backend itself.
 */
export function registerCpuTrainingKernels(): void {
  for (const [kernelName, kernelFunc] of OURS) {
    const current = getKernel(kernelName, CPU);
    if (current === undefined || current.kernelFunc === kernelFunc) continue;
    stockKernels.set(kernelName, current);
    unregisterKernel(kernelName, CPU);
    registerKernel({ ...current, kernelFunc });
  }
  for (const [kernelName, kernelFunc] of ADDED) {
    if (getKernel(kernelName, CPU) === undefined) registerKernel({ kernelName, backendName: CPU, kernelFunc });
  }
}

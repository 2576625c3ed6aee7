/**
 * 5x5 and 3x3, stride-1 convolutions by Winograd's minimal filtering F(4x4, 5x5) and F(4x4, 3x3)
 * (Lavin & Gray 2015) on the wasm backend: each 8x8 (6x6) input tile and each filter are
 * transformed (native/winograd.c, WebAssembly SIMD, running on tfjs' own heap, split over rows of
 * tiles between the threads of ./pool.ts where the backend has several), the 64 (36)
 * transformed positions become as many plain matrix products (on XNNPACK, all its threads, for
 * the forward pass and the input gradient; in the module for the filter gradient), and a
 * last transform turns the products into 4x4 output tiles: 64 multiplications per 16 outputs
 * instead of 400 (36 instead of 144), paid for with the transforms' memory traffic, so the routes take it only where channels are wide ({@link winogradPays}).
 * The `winograd-5x5` and `winograd-3x3` routes of ../conv2d.ts, ../fused_conv2d.ts,
 * ../conv2d_backprop_input.ts and ../conv2d_backprop_filter.ts run it;
 * `npm run bench -- bench/kernels/winograd.ts` (`--filter 3` for 3x3) measures it against the direct route.
 *
 * The transforms scale values up and back down, so results differ from a direct convolution by
 * float32 rounding (test/kernels.test.ts checks every route against the cpu backend).
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import { heapPointer as pointer, requireNativeKernels, runNative, type NativeBackend } from './native.js';
import { outerProductsAdd } from './outer_products.js';

/** Output pixels per tile side (F(4x4, 5x5) and F(4x4, 3x3)); input tiles are TILE_OUT + r - 1 wide. */
const TILE_OUT = 4;
/** Filter sides with transforms in the module. */
export type FilterSide = 3 | 5;
/** Bytes of transformed inputs and products held at once; the batch is processed in chunks under it. */
const CHUNK_BYTES = 48 << 20;

type FilterTransform = (w: number, wIn: number, wOut: number, flip: number, outs: number) => void;

/** One variant's transforms called here (the module exports them with the filter side appended: `filter5`, `filter3` ...). */
interface VariantExports {
  filter: FilterTransform;
  grad_output(ins: number, ci: number, co: number, oStride: number, iStride: number, dw: number): void;
}

type WinogradExports = Record<FilterSide, VariantExports>;

function variants(exports: WebAssembly.Exports): WinogradExports {
  const pick = (r: FilterSide): VariantExports => {
    const get = <F>(name: string): F => exports[`${name}${r}`] as F;
    return { filter: get('filter'), grad_output: get('grad_output') };
  };
  return { 3: pick(3), 5: pick(5) };
}

/** Transformed positions per tile: the input tile's area. */
function positions(r: FilterSide): number {
  return (TILE_OUT + r - 1) ** 2;
}

/** What these kernels use of tfjs' BackendWasm. */
export type WinogradBackend = NativeBackend;

/** One 2-D product on the backend: a [1, m, k] times b [1, k, n], or with `transposeA` aᵀ for a [1, k, m]. */
export type MatMul = (a: TensorInfo, b: TensorInfo, transposeA: boolean) => TensorInfo;

/** A convolution Winograd can run: NHWC, 5x5 or 3x3 filter, stride and dilation 1, any zero padding. */
export interface WinogradConv {
  x: TensorInfo;
  /** `[r, r, in, out]` (r = 5 or 3) of the forward convolution. */
  filter: TensorInfo;
  /** Run the input gradient: correlate x (= dy) with the filter rotated by 180 degrees and its channel axes swapped. */
  flip: boolean;
  padTop: number;
  padLeft: number;
  outHeight: number;
  outWidth: number;
  bias?: TensorInfo;
  relu: boolean;
}

const exportsByInstance = new WeakMap<WebAssembly.Exports, WinogradExports>();

/**
 * Whether Winograd is the faster route for a layer it computes. The 5x5 filter gradient: always,
 * its direct routes being a long thin matmul that XNNPACK runs slowly. Everything else (forward
 * and input gradient of 5x5, all three of 3x3): from 1,024 input x output channel pairs; with
 * fewer, the transforms cost more than the products save (the seed net's conv1 and the zoo's
 * 3x3 first layers stay direct). Forward passes into outputs that fill the 4x4 tiles badly gain
 * or lose a little either way, too little for a rule of their own (bench/kernels/winograd.ts --filter 3).
 */
export function winogradPays(
  kernel: 'forward' | 'filterGradient',
  side: FilterSide,
  inChannels: number,
  outChannels: number,
): boolean {
  return (kernel === 'filterGradient' && side === 5) || inChannels * outChannels >= 1024;
}

function isFilterSide(r: number, rw: number): r is FilterSide {
  return r === rw && (r === 3 || r === 5);
}

/** The filter side of a square 5x5 or 3x3 filter, the sizes the module has transforms for; else `undefined`. */
export function winogradSide(filterHeight: number, filterWidth: number): FilterSide | undefined {
  return isFilterSide(filterHeight, filterWidth) ? filterHeight : undefined;
}

function ready(backend: WinogradBackend): WinogradExports {
  const exports = requireNativeKernels(backend);
  let found = exportsByInstance.get(exports);
  if (found === undefined) exportsByInstance.set(exports, (found = variants(exports)));
  return found;
}

/** An int32 tensor holding the heap addresses of `infos`, the form the transforms take arrays of tensors in. */
function pointerArray(backend: WinogradBackend, infos: TensorInfo[]): TensorInfo {
  const table = backend.makeOutput([infos.length], 'int32');
  const view = backend.typedArrayFromHeap(table);
  infos.forEach((info, i) => {
    view[i] = pointer(backend, info);
  });
  return table;
}

/** Intermediate tensors of one call, freed together. */
class Scratch {
  private readonly infos: TensorInfo[] = [];

  constructor(private readonly backend: WinogradBackend) {}

  keep(info: TensorInfo): TensorInfo {
    this.infos.push(info);
    return info;
  }

  release(): void {
    for (const info of this.infos) this.backend.disposeData(info.dataId);
    this.infos.length = 0;
  }
}

/**
 * 4x4 output tiles over an oh x ow output, and how many images go through the transforms at once
 * so that the transformed tiles (`channels` per position, padded) stay under CHUNK_BYTES.
 */
function tiling(
  batch: number,
  oh: number,
  ow: number,
  channels: number,
  positionCount: number,
): { tilesH: number; tilesW: number; tilesPerImage: number; chunk: number } {
  const tilesH = Math.ceil(oh / TILE_OUT);
  const tilesW = Math.ceil(ow / TILE_OUT);
  const tilesPerImage = tilesH * tilesW;
  const chunk = Math.max(1, Math.min(batch, Math.floor(CHUNK_BYTES / (positionCount * tilesPerImage * channels * 4))));
  return { tilesH, tilesW, tilesPerImage, chunk };
}

/** Runs `conv` by Winograd (the module ready for this backend) and returns its output `[batch, outHeight, outWidth, channels]`. */
export function winogradConv2D(backend: WinogradBackend, conv: WinogradConv, matMul: MatMul): TensorInfo {
  const { x, filter, flip, padTop, padLeft, outHeight: oh, outWidth: ow } = conv;
  const [r, rw, fIn, fOut] = filter.shape as [number, number, number, number];
  if (!isFilterSide(r, rw)) throw new Error(`Winograd: no transforms for a ${r}x${rw} filter`);
  const module = ready(backend);
  const wino = module[r];
  const positionCount = positions(r);
  const [batch, h, w, cin] = x.shape as [number, number, number, number];
  const cout = flip ? fIn : fOut;
  // The transforms work on 4 channels at a time: the products carry channels padded to multiples of 4.
  const cinP = (cin + 3) & ~3;
  const coutP = (cout + 3) & ~3;
  const { tilesH, tilesW, tilesPerImage, chunk } = tiling(batch, oh, ow, cinP + coutP, positionCount);
  const scratch = new Scratch(backend);
  const keep = (info: TensorInfo): TensorInfo => scratch.keep(info);
  const release = (): void => scratch.release();

  const y = backend.makeOutput([batch, oh, ow, cout], 'float32');
  const u: TensorInfo[] = [];
  try {
    for (let p = 0; p < positionCount; p++) u.push(backend.makeOutput([1, cinP, coutP], 'float32'));
    const uTable = keep(pointerArray(backend, u));
    wino.filter(pointer(backend, filter), fIn, fOut, flip ? 1 : 0, pointer(backend, uTable));
    release();
    const xBytesPerImage = h * w * cin * 4;
    const yBytesPerImage = oh * ow * cout * 4;
    for (let b0 = 0; b0 < batch; b0 += chunk) {
      const nb = Math.min(chunk, batch - b0);
      const tiles = nb * tilesPerImage;
      const v = Array.from({ length: positionCount }, () => keep(backend.makeOutput([1, tiles, cinP], 'float32')));
      const vTable = keep(pointerArray(backend, v));
      runNative(backend, {
        fn: `input${r}`,
        args: [
          pointer(backend, x) + b0 * xBytesPerImage,
          nb,
          h,
          w,
          cin,
          cinP,
          padTop,
          padLeft,
          tilesH,
          tilesW,
          pointer(backend, vTable),
        ],
        items: nb * tilesH,
        chunks: 'fine',
      });
      const products = v.map((vp, p) => keep(matMul(vp, u[p] as TensorInfo, false)));
      const mTable = keep(pointerArray(backend, products));
      const bias = conv.bias === undefined ? 0 : pointer(backend, conv.bias);
      runNative(backend, {
        fn: `output${r}`,
        args: [
          pointer(backend, mTable),
          nb,
          oh,
          ow,
          cout,
          coutP,
          tilesH,
          tilesW,
          bias,
          conv.relu ? 1 : 0,
          pointer(backend, y) + b0 * yBytesPerImage,
        ],
        items: nb * tilesH,
        chunks: 'fine',
      });
      release();
    }
    return y;
  } catch (error) {
    release();
    backend.disposeData(y.dataId);
    throw error;
  } finally {
    for (const info of u) backend.disposeData(info.dataId);
  }
}

/** A filter gradient Winograd can run: NHWC, 5x5 or 3x3 filter, stride and dilation 1, any zero padding. */
export interface WinogradFilterGrad {
  x: TensorInfo;
  dy: TensorInfo;
  /** `[r, r, in, out]` (r = 5 or 3). */
  filterShape: [number, number, number, number];
  padTop: number;
  padLeft: number;
}

/**
 * dW by Winograd F(r x r, 4x4), the dual of the forward algorithm (dy's 4x4 tiles play the
 * filters): X = Bᵀ x B per 8x8 (6x6) tile of x (the forward input transform), D = G' dy G'ᵀ per
 * 4x4 tile of dy, S[p] = Σ over tiles X[p]ᵀ D[p] for each of the 64 (36) positions, dW = A'ᵀ S A'.
 * The module must be ready for this backend.
 *
 * The products run in the module too (./outer_products.ts, positions split between the pool's
 * threads), not on XNNPACK's: each is a reduction over every tile of the batch into a small [ci, co] block, which
 * XNNPACK runs as a long, narrow matmul, repacking the whole right operand on every call after a
 * transpose of the left one (bench/kernels/routes_ab.ts --base 729b271 times the step before and after).
 */
export function winogradFilterGrad(backend: WinogradBackend, grad: WinogradFilterGrad): TensorInfo {
  const { x, dy, filterShape, padTop, padLeft } = grad;
  const [r, rw] = filterShape;
  if (!isFilterSide(r, rw)) throw new Error(`Winograd: no transforms for a ${r}x${rw} filter`);
  const module = ready(backend);
  const wino = module[r];
  const positionCount = positions(r);
  const [batch, h, w, cin] = x.shape as [number, number, number, number];
  const [, oh, ow, cout] = dy.shape as [number, number, number, number];
  const cinP = (cin + 3) & ~3;
  const coutP = (cout + 3) & ~3;
  const { tilesH, tilesW, tilesPerImage, chunk } = tiling(batch, oh, ow, cinP + coutP, positionCount);
  const scratch = new Scratch(backend);
  const keep = (info: TensorInfo): TensorInfo => scratch.keep(info);
  const sums = Array.from({ length: positionCount }, () => backend.makeOutput([cinP, coutP], 'float32'));
  const sumTable = pointerArray(backend, sums);
  const dw = backend.makeOutput(filterShape, 'float32');
  try {
    for (let b0 = 0; b0 < batch; b0 += chunk) {
      const nb = Math.min(chunk, batch - b0);
      const tiles = nb * tilesPerImage;
      const xs = Array.from({ length: positionCount }, () => keep(backend.makeOutput([1, tiles, cinP], 'float32')));
      const ds = Array.from({ length: positionCount }, () => keep(backend.makeOutput([1, tiles, coutP], 'float32')));
      const xTable = keep(pointerArray(backend, xs));
      const dTable = keep(pointerArray(backend, ds));
      runNative(backend, {
        fn: `input${r}`,
        args: [
          pointer(backend, x) + b0 * h * w * cin * 4,
          nb,
          h,
          w,
          cin,
          cinP,
          padTop,
          padLeft,
          tilesH,
          tilesW,
          pointer(backend, xTable),
        ],
        items: nb * tilesH,
        chunks: 'fine',
      });
      runNative(backend, {
        fn: `grad_dy${r}`,
        args: [
          pointer(backend, dy) + b0 * oh * ow * cout * 4,
          nb,
          oh,
          ow,
          cout,
          coutP,
          tilesH,
          tilesW,
          pointer(backend, dTable),
        ],
        items: nb * tilesH,
        chunks: 'fine',
      });
      outerProductsAdd(backend, { a: xTable, b: dTable, c: sumTable }, positionCount, tiles, cinP, coutP, b0 === 0);
      scratch.release();
    }
    // S[p] is [ciP, coP]: channel pair (i, o) at o * 1 + i * coP.
    wino.grad_output(pointer(backend, sumTable), cin, cout, 1, coutP, pointer(backend, dw));
    return dw;
  } catch (error) {
    backend.disposeData(dw.dataId);
    throw error;
  } finally {
    scratch.release();
    for (const info of [...sums, sumTable]) backend.disposeData(info.dataId);
  }
}

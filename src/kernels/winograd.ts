/**
 * 5x5 and 3x3, stride-1 convolutions by Winograd's minimal filtering F(4x4, 5x5) and F(4x4, 3x3)
 * (Lavin & Gray 2015) on the wasm backend: each 8x8 (6x6) input tile and each filter are
 * transformed (native/winograd.c, WebAssembly SIMD, running on tfjs' own heap), the 64 (36)
 * transformed positions become as many plain matrix products on XNNPACK (both threads), and a
 * last transform turns the products into 4x4 output tiles: 64 multiplications per 16 outputs
 * instead of 400 (36 instead of 144), 6.25x (4x) fewer FLOPs in the products, paid for with the
 * transforms' memory traffic (single-threaded), so it is used only where channels are wide.
 * bench/winograd.ts (`--filter 3` for 3x3) measures it against the direct route.
 *
 * The transforms scale values by up to ~20x and back, so results differ from a direct
 * convolution by float32 rounding: about 1e-5 of the largest output on the seed net's conv2
 * (test/kernels.test.ts checks against the cpu backend).
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import { heapPointer as pointer, nativeKernels, type NativeBackend } from './native.js';

/** Output pixels per tile side (F(4x4, 5x5) and F(4x4, 3x3)); input tiles are TILE_OUT + r - 1 wide. */
const TILE_OUT = 4;
/** Filter sides with transforms in the module. */
type FilterSide = 3 | 5;
/** Bytes of transformed inputs and products held at once; the batch is processed in chunks under it. */
const CHUNK_BYTES = 48 << 20;

type InputTransform = (
  x: number,
  batch: number,
  h: number,
  w: number,
  c: number,
  cp: number,
  padTop: number,
  padLeft: number,
  tilesH: number,
  tilesW: number,
  outs: number,
) => void;
type FilterTransform = (w: number, wIn: number, wOut: number, flip: number, outs: number) => void;
type OutputTransform = (
  ins: number,
  batch: number,
  oh: number,
  ow: number,
  c: number,
  cp: number,
  tilesH: number,
  tilesW: number,
  bias: number,
  relu: number,
  y: number,
) => void;
type DyTransform = (
  dy: number,
  batch: number,
  oh: number,
  ow: number,
  c: number,
  cp: number,
  tilesH: number,
  tilesW: number,
  outs: number,
) => void;

/** One variant's transforms; the module exports them with the filter side appended (`input5`, `input3` ...). */
interface VariantExports {
  input: InputTransform;
  filter: FilterTransform;
  output: OutputTransform;
  grad_dy: DyTransform;
  add_into(dst: number, src: number, size: number): void;
  grad_output(ins: number, ci: number, co: number, oStride: number, iStride: number, dw: number): void;
}

type WinogradExports = Record<FilterSide, VariantExports>;

function variants(exports: WebAssembly.Exports): WinogradExports {
  const pick = (r: FilterSide): VariantExports => {
    const get = <F>(name: string): F => exports[`${name}${r}`] as F;
    return {
      input: get('input'),
      filter: get('filter'),
      output: get('output'),
      grad_dy: get('grad_dy'),
      add_into: get('add_into'),
      grad_output: get('grad_output'),
    };
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

/** Set by {@link setWinogradEnabled}; benchmarks and tests switch it off to compare with the direct route. */
const enabled: Record<FilterSide, boolean> = { 3: true, 5: true };
const exportsByInstance = new WeakMap<WebAssembly.Exports, WinogradExports>();

/** Turns the Winograd route on or off for every later convolution, or only for one filter side (on by default). */
export function setWinogradEnabled(on: boolean, filterSide?: FilterSide): void {
  if (filterSide !== 5) enabled[3] = on;
  if (filterSide !== 3) enabled[5] = on;
}

/**
 * Whether a stride-1 convolution with this filter and these channel counts takes the Winograd route
 * (given the module is ready). 5x5: forward and input gradient need wide layers; with few channels
 * the transforms cost more than the products save (the seed net's conv1, 1 -> 100 channels, ran
 * 2.5x slower). The 5x5 filter gradient gains even there (seed conv1: 58.6 -> 38.7 ms,
 * bench/profile.ts): its direct route is a long thin matmul that XNNPACK runs at 3 GFLOP/s
 * (one input channel and output channels in fours take ./single_channel_conv_simd.ts first).
 * 3x3: all three kernels from 1,024 channel pairs on (`bench/winograd.ts --filter 3`: 1.05-2.04x
 * on the zoo's wide layers; forward passes into outputs that fill 4x4 tiles badly swing between
 * about 0.8x and 1.4x, too little either way for a rule of their own); first layers stay direct.
 */
export function winogradFits(
  kernel: 'forward' | 'filterGradient',
  filterHeight: number,
  filterWidth: number,
  inChannels: number,
  outChannels: number,
): boolean {
  if (!isFilterSide(filterHeight, filterWidth) || !enabled[filterHeight]) return false;
  return (kernel === 'filterGradient' && filterHeight === 5) || inChannels * outChannels >= 1024;
}

function isFilterSide(r: number, rw: number): r is FilterSide {
  return r === rw && (r === 3 || r === 5);
}

function ready(backend: WinogradBackend): WinogradExports | undefined {
  const exports = nativeKernels(backend);
  if (exports === undefined) return undefined;
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

/**
 * Runs `conv` by Winograd and returns its output `[batch, outHeight, outWidth, channels]`, or
 * `undefined` when the module is not ready for this backend (the caller takes the direct route).
 */
export function winogradConv2D(backend: WinogradBackend, conv: WinogradConv, matMul: MatMul): TensorInfo | undefined {
  const { x, filter, flip, padTop, padLeft, outHeight: oh, outWidth: ow } = conv;
  const [r, rw, fIn, fOut] = filter.shape as [number, number, number, number];
  const module = ready(backend);
  if (module === undefined || !isFilterSide(r, rw)) return undefined;
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
      wino.input(
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
      );
      const products = v.map((vp, p) => keep(matMul(vp, u[p] as TensorInfo, false)));
      const mTable = keep(pointerArray(backend, products));
      const bias = conv.bias === undefined ? 0 : pointer(backend, conv.bias);
      wino.output(
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
      );
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
 * 4x4 tile of dy, S[p] = Σ over tiles D[p]ᵀ X[p] (or its transpose) as 64 (36) products on
 * XNNPACK, dW = A'ᵀ S A'. Returns `undefined` when the module is not ready for this backend.
 */
export function winogradFilterGrad(
  backend: WinogradBackend,
  grad: WinogradFilterGrad,
  matMul: MatMul,
): TensorInfo | undefined {
  const { x, dy, filterShape, padTop, padLeft } = grad;
  const [r, rw] = filterShape;
  const module = ready(backend);
  if (module === undefined || !isFilterSide(r, rw)) return undefined;
  const wino = module[r];
  const positionCount = positions(r);
  const [batch, h, w, cin] = x.shape as [number, number, number, number];
  const [, oh, ow, cout] = dy.shape as [number, number, number, number];
  const cinP = (cin + 3) & ~3;
  const coutP = (cout + 3) & ~3;
  const { tilesH, tilesW, tilesPerImage, chunk } = tiling(batch, oh, ow, cinP + coutP, positionCount);
  const scratch = new Scratch(backend);
  const keep = (info: TensorInfo): TensorInfo => scratch.keep(info);
  let sums: TensorInfo[] = [];
  // XNNPACK repacks a product's right operand on every call, and that dominates these long,
  // narrow products, so the operand with fewer channels goes on the right: Xᵀ·D for the seed
  // net's conv2 (100 -> 50 channels: its 64 products of a batch of 64 took 84-99 -> 50-65 ms),
  // Dᵀ·X for conv1 (1 -> 100; Xᵀ·D there has 4 rows to split between threads: 38.7 -> 97.8 ms).
  const xFirst = cinP > coutP;
  const dw = backend.makeOutput(filterShape, 'float32');
  try {
    for (let b0 = 0; b0 < batch; b0 += chunk) {
      const nb = Math.min(chunk, batch - b0);
      const tiles = nb * tilesPerImage;
      const xs = Array.from({ length: positionCount }, () => keep(backend.makeOutput([1, tiles, cinP], 'float32')));
      const ds = Array.from({ length: positionCount }, () => keep(backend.makeOutput([1, tiles, coutP], 'float32')));
      const xTable = keep(pointerArray(backend, xs));
      const dTable = keep(pointerArray(backend, ds));
      wino.input(
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
      );
      wino.grad_dy(
        pointer(backend, dy) + b0 * oh * ow * cout * 4,
        nb,
        oh,
        ow,
        cout,
        coutP,
        tilesH,
        tilesW,
        pointer(backend, dTable),
      );
      const products = ds.map((d, p) =>
        xFirst ? matMul(xs[p] as TensorInfo, d, true) : matMul(d, xs[p] as TensorInfo, true),
      );
      if (sums.length === 0) {
        sums = products;
      } else {
        for (const product of products) keep(product);
        const sumTable = keep(pointerArray(backend, sums));
        wino.add_into(
          pointer(backend, sumTable),
          pointer(backend, keep(pointerArray(backend, products))),
          coutP * cinP,
        );
      }
      scratch.release();
    }
    const sumTable = keep(pointerArray(backend, sums));
    wino.grad_output(
      pointer(backend, sumTable),
      cin,
      cout,
      xFirst ? 1 : cinP,
      xFirst ? coutP : 1,
      pointer(backend, dw),
    );
    return dw;
  } catch (error) {
    backend.disposeData(dw.dataId);
    throw error;
  } finally {
    scratch.release();
    for (const info of sums) backend.disposeData(info.dataId);
  }
}

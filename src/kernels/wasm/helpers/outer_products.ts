/**
 * Convolution gradients as sums of outer products on the calling thread, by native/outer_products.c
 * (WebAssembly SIMD on tfjs' heap): the `direct-simd` routes of ../conv2d_backprop_filter.ts and
 * ../conv2d_backprop_input.ts, and the products of the Winograd filter gradient (./winograd.ts).
 * Channels must come in fours ({@link outerProductsFit}); the callers check the module is ready.
 */
import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { convGeometry, type ConvGeometry } from './conv_info.js';
import { heapPointer, requireNativeKernels, withScratch, type NativeBackend } from './native.js';

type FilterGradDirect = (x: number, dy: number, ...rest: [...ConvGeometry, dw: number]) => void;
type InputGradDirect = (dy: number, filter: number, ...rest: [...ConvGeometry, wt: number, dx: number]) => void;
type OuterProductsAdd = (
  as: number,
  bs: number,
  cs: number,
  count: number,
  k: number,
  m: number,
  n: number,
  overwrite: number,
) => void;

/** Whether {@link filterGradDirect} and {@link inputGradDirect} take this convolution: input and output channels in fours, NHWC, dilation 1. */
export function outerProductsFit(info: backend_util.Conv2DInfo): boolean {
  return (
    info.inChannels % 4 === 0 &&
    info.outChannels % 4 === 0 &&
    info.dataFormat === 'channelsLast' &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1
  );
}

/** `dW` `[KH,KW,Ci,Co]` of a convolution, summed directly over every image and output pixel. */
export function filterGradDirect(
  backend: NativeBackend,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const kernel = requireNativeKernels(backend)['filter_grad_direct'] as FilterGradDirect;
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const dW = backend.makeOutput([kh, kw, ci, co], 'float32');
  kernel(heapPointer(backend, x), heapPointer(backend, dy), ...convGeometry(info), heapPointer(backend, dW));
  return dW;
}

/** `dx` `[B,H,W,Ci]` of a convolution, each pixel summed directly over the taps that reach it. */
export function inputGradDirect(
  backend: NativeBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const kernel = requireNativeKernels(backend)['input_grad_direct'] as InputGradDirect;
  const dx = backend.makeOutput([info.batchSize, info.inHeight, info.inWidth, info.inChannels], 'float32');
  // The filter with each tap's slice transposed goes in scratch.
  withScratch(
    backend,
    filter.shape.reduce((a, b) => a * b, 1),
    (wt) =>
      kernel(
        heapPointer(backend, dy),
        heapPointer(backend, filter),
        ...convGeometry(info),
        wt,
        heapPointer(backend, dx),
      ),
  );
  return dx;
}

/**
 * For each position p: `c[p]` `[m, n]` += `a[p]`ᵀ `b[p]` (or = with `overwrite`), with `a[p]` `[k, m]`
 * and `b[p]` `[k, n]`; the tables are int32 tensors of heap pointers, `count` long; m and n multiples of 4.
 */
export function outerProductsAdd(
  backend: NativeBackend,
  tables: { a: TensorInfo; b: TensorInfo; c: TensorInfo },
  count: number,
  k: number,
  m: number,
  n: number,
  overwrite: boolean,
): void {
  const kernel = requireNativeKernels(backend)['outer_products_add'] as OuterProductsAdd;
  kernel(
    heapPointer(backend, tables.a),
    heapPointer(backend, tables.b),
    heapPointer(backend, tables.c),
    count,
    k,
    m,
    n,
    overwrite ? 1 : 0,
  );
}

/**
 * Convolution gradients as sums of outer products by native/outer_products.c (WebAssembly SIMD on
 * tfjs' heap, split over independent outputs between the threads of ./pool.ts where there are several): the `direct-simd` routes of ../conv2d_backprop_filter.ts and
 * ../conv2d_backprop_input.ts, and the products of the Winograd filter gradient (./winograd.ts).
 * Channels must come in fours ({@link outerProductsFit}); the callers check the module is ready.
 */
import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { convGeometry } from './conv_info.js';
import { heapPointer, requireNativeKernels, runNative, withScratch, type NativeBackend } from './native.js';

type FilterTapsTransposed = (filter: number, taps: number, ci: number, co: number, wt: number) => void;

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
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const dW = backend.makeOutput([kh, kw, ci, co], 'float32');
  // Items: the taps' blocks of four dW rows; each chunk rereads the batch, so one chunk per thread.
  runNative(backend, {
    fn: 'filter_grad_direct',
    args: [heapPointer(backend, x), heapPointer(backend, dy), ...convGeometry(info), heapPointer(backend, dW)],
    items: (kh * kw * ci) / 4,
    chunks: 'threads',
  });
  return dW;
}

/** `dx` `[B,H,W,Ci]` of a convolution, each pixel summed directly over the taps that reach it. */
export function inputGradDirect(
  backend: NativeBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const transpose = requireNativeKernels(backend)['filter_taps_transposed'] as FilterTapsTransposed;
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const dx = backend.makeOutput([info.batchSize, info.inHeight, info.inWidth, ci], 'float32');
  // The filter with each tap's slice transposed goes in scratch.
  withScratch(backend, kh * kw * ci * co, (wt) => {
    transpose(heapPointer(backend, filter), kh * kw, ci, co, wt);
    runNative(backend, {
      fn: 'input_grad_direct',
      args: [heapPointer(backend, dy), ...convGeometry(info), wt, heapPointer(backend, dx)],
      items: info.batchSize * info.inHeight,
      chunks: 'fine',
    });
  });
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
  runNative(backend, {
    fn: 'outer_products_add',
    args: [
      heapPointer(backend, tables.a),
      heapPointer(backend, tables.b),
      heapPointer(backend, tables.c),
      count,
      k,
      m,
      n,
      overwrite ? 1 : 0,
    ],
    items: count,
    chunks: 'fine',
  });
}

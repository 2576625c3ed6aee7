/**
 * Filter gradients as sums of outer products on the calling thread, by native/outer_products.c
 * (WebAssembly SIMD on tfjs' heap): the `direct-simd` route of ../conv2d_backprop_filter.ts, and
 * the products of the Winograd filter gradient (./winograd.ts). Channels must come in fours
 * ({@link outerProductsFit}); the callers check the module is ready.
 */
import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { heapPointer, requireNativeKernels, type NativeBackend } from './native.js';

type FilterGradDirect = (
  x: number,
  dy: number,
  batch: number,
  h: number,
  w: number,
  ci: number,
  oh: number,
  ow: number,
  co: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  padTop: number,
  padLeft: number,
  dw: number,
) => void;
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

/** Whether {@link filterGradDirect} takes this convolution: input and output channels in fours, NHWC, dilation 1. */
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
  kernel(
    heapPointer(backend, x),
    heapPointer(backend, dy),
    info.batchSize,
    info.inHeight,
    info.inWidth,
    ci,
    info.outHeight,
    info.outWidth,
    co,
    kh,
    kw,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
    heapPointer(backend, dW),
  );
  return dW;
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

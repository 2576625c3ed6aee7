/**
 * The gradient of 2x2, stride-2 max pooling without padding (every pool of the zoo) on the wasm
 * backend by native/max_pool.c: WebAssembly SIMD, four channels per vector, on tfjs' heap, with
 * the first-maximum rule of ./wasm_heap.ts' `maxPoolGrad2D` and the cpu backend, bit for bit.
 * Other pools, channels that are not a multiple of 4, and a module not ready yet give `undefined`,
 * and the caller runs `maxPoolGrad2D`.
 */
import { backend_util, type TensorInfo } from '@tensorflow/tfjs-core';

import { heapPointer, nativeKernels, type NativeBackend } from './native.js';
import type { MaxPoolGradAttrs } from './wasm_heap.js';

type MaxPoolGrad2x2 = (
  x: number,
  dy: number,
  batch: number,
  h: number,
  w: number,
  channels: number,
  oh: number,
  ow: number,
  dx: number,
) => void;

let enabled = true;

/** Turns the SIMD route on or off for later calls (on by default); bench/max_pool.ts compares the two. */
export function setSimdMaxPoolGradEnabled(on: boolean): void {
  enabled = on;
}

/** `dx` of a 2x2/2 unpadded max pool of `input`, or `undefined` where the route does not apply. */
export function maxPoolGrad2x2Simd(
  backend: NativeBackend,
  dy: TensorInfo,
  input: TensorInfo,
  attrs: MaxPoolGradAttrs,
): TensorInfo | undefined {
  if (!enabled || input.dtype !== 'float32' || dy.dtype !== 'float32' || input.shape.length !== 4) return undefined;
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  if (
    info.filterHeight !== 2 ||
    info.filterWidth !== 2 ||
    info.strideHeight !== 2 ||
    info.strideWidth !== 2 ||
    info.dilationHeight !== 1 ||
    info.dilationWidth !== 1 ||
    info.padInfo.top !== 0 ||
    info.padInfo.left !== 0 ||
    2 * oh > h ||
    2 * ow > w ||
    c % 4 !== 0
  )
    return undefined;
  const kernel = nativeKernels(backend)?.['max_pool_grad_2x2'] as MaxPoolGrad2x2 | undefined;
  if (kernel === undefined) return undefined;
  const dx = backend.makeOutput([...input.shape], 'float32');
  // The kernel writes every pixel a window covers; an odd last row or column gets nothing.
  if (2 * oh !== h || 2 * ow !== w) backend.typedArrayFromHeap(dx).fill(0);
  kernel(heapPointer(backend, input), heapPointer(backend, dy), batchSize, h, w, c, oh, ow, heapPointer(backend, dx));
  return dx;
}

/**
 * The gradient of 2x2, stride-2 max pooling without padding (every pool of the zoo) on the wasm
 * backend by native/max_pool.c: WebAssembly SIMD, four channels per vector, on tfjs' heap, with
 * the first-maximum rule of ./max_pool_grad_heap.ts and the cpu backend, bit for bit. The
 * `simd-2x2` route of ../max_pool_grad.ts checks the shapes and the module before calling it.
 */
import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { heapPointer, requireNativeKernels, type NativeBackend } from './native.js';

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

/** `dx` of the 2x2/2 unpadded max pool `info` describes of float32 `input` (channels in fours). */
export function maxPoolGrad2x2Simd(
  backend: NativeBackend,
  dy: TensorInfo,
  input: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const kernel = requireNativeKernels(backend)['max_pool_grad_2x2'] as MaxPoolGrad2x2;
  const dx = backend.makeOutput([...input.shape], 'float32');
  // The kernel writes every pixel a window covers; an odd last row or column gets nothing.
  if (2 * oh !== h || 2 * ow !== w) backend.typedArrayFromHeap(dx).fill(0);
  kernel(heapPointer(backend, input), heapPointer(backend, dy), batchSize, h, w, c, oh, ow, heapPointer(backend, dx));
  return dx;
}

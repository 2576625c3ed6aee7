/**
 * The gradient of 2x2, stride-2 max pooling without padding (every pool of the zoo) on the wasm
 * backend by native/max_pool.c: WebAssembly SIMD, four channels per vector, on tfjs' heap, with
 * the first-maximum rule of ./max_pool_grad_heap.ts and the cpu backend, bit for bit, rows of dy
 * split between the threads of ./pool.ts where there are several. The
 * `simd-2x2` route of ../max_pool_grad.ts checks the shapes and the module before calling it.
 */
import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { heapPointer, runNative, type NativeBackend } from './native.js';

/** `dx` of the 2x2/2 unpadded max pool `info` describes of float32 `input` (channels in fours). */
export function maxPoolGrad2x2Simd(
  backend: NativeBackend,
  dy: TensorInfo,
  input: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const dx = backend.makeOutput([...input.shape], 'float32');
  // The kernel writes every pixel a window covers; an odd last row or column gets nothing.
  if (2 * oh !== h || 2 * ow !== w) backend.typedArrayFromHeap(dx).fill(0);
  runNative(backend, {
    fn: 'max_pool_grad_2x2',
    args: [heapPointer(backend, input), heapPointer(backend, dy), batchSize, h, w, c, oh, ow, heapPointer(backend, dx)],
    items: batchSize * oh,
    chunks: 'fine',
  });
  return dx;
}

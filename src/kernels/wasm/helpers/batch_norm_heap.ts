/**
 * The fused training batch norm (`DigitBatchNormTraining`, ../../../model/batch_norm.ts) and its
 * gradient over the wasm heap, by the TypeScript arithmetic both backends share
 * (../../batch_norm_arithmetic.ts); channels in fours take ./batch_norm_simd.ts instead.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import { batchNormBackward, batchNormForward, checkBatchNormShapes } from '../../batch_norm_arithmetic.js';
import { f32, type WasmHeapBackend } from './heap.js';

/** The fused training batch norm over the heap: `[y, mean, variance]`. */
export function batchNormTrainingOnHeap(
  backend: WasmHeapBackend,
  x: TensorInfo,
  gamma: TensorInfo,
  beta: TensorInfo,
  epsilon: number,
): TensorInfo[] {
  const channels = checkBatchNormShapes(x, gamma);
  const y = backend.makeOutput([...x.shape], 'float32');
  const mean = backend.makeOutput([channels], 'float32');
  const variance = backend.makeOutput([channels], 'float32');
  batchNormForward(
    f32(backend, x),
    f32(backend, gamma),
    f32(backend, beta),
    epsilon,
    f32(backend, y),
    f32(backend, mean),
    f32(backend, variance),
  );
  return [y, mean, variance];
}

/** Its gradient over the heap: `[dx, dgamma, dbeta]`. */
export function batchNormTrainingGradOnHeap(
  backend: WasmHeapBackend,
  dy: TensorInfo,
  x: TensorInfo,
  gamma: TensorInfo,
  mean: TensorInfo,
  variance: TensorInfo,
  epsilon: number,
): TensorInfo[] {
  const channels = checkBatchNormShapes(x, gamma);
  const dx = backend.makeOutput([...x.shape], 'float32');
  const dgamma = backend.makeOutput([channels], 'float32');
  const dbeta = backend.makeOutput([channels], 'float32');
  batchNormBackward(
    f32(backend, dy),
    f32(backend, x),
    f32(backend, gamma),
    f32(backend, mean),
    f32(backend, variance),
    epsilon,
    f32(backend, dx),
    f32(backend, dgamma),
    f32(backend, dbeta),
  );
  return [dx, dgamma, dbeta];
}

/**
 * The fused training batch norm and its gradient on the wasm backend by native/batch_norm.c
 * (WebAssembly SIMD, four channels per vector, on tfjs' heap; sums split over groups of four
 * channels and the rest over rows between the threads of ./pool.ts where there are several): the arithmetic of
 * ../../batch_norm_arithmetic.ts in float32 over 16-row blocks, then float64. For channels in
 * fours, once the module is ready: the `simd` routes of ../batch_norm_training.ts and
 * ../batch_norm_training_grad.ts check that before calling these.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import { checkBatchNormShapes } from '../../batch_norm_arithmetic.js';
import { heapPointer, runNative, withScratch, type NativeBackend } from './native.js';

/** Float32s of scratch per channel: the module's 4 float64 totals. */
const SCRATCH_PER_CHANNEL = 8;

/** `[y, mean, variance]` of the training batch norm of float32 `x` (channels in fours). */
export function batchNormTrainingSimd(
  backend: NativeBackend,
  x: TensorInfo,
  gamma: TensorInfo,
  beta: TensorInfo,
  epsilon: number,
): TensorInfo[] {
  const channels = checkBatchNormShapes(x, gamma);
  const y = backend.makeOutput([...x.shape], 'float32');
  const mean = backend.makeOutput([channels], 'float32');
  const variance = backend.makeOutput([channels], 'float32');
  const rows = x.shape.reduce((a, b) => a * b, 1) / channels;
  const p = (info: TensorInfo): number => heapPointer(backend, info);
  withScratch(backend, SCRATCH_PER_CHANNEL * channels, (scratch) => {
    runNative(backend, {
      fn: 'bn_forward_stats',
      args: [p(x), rows, channels, p(gamma), epsilon, p(mean), p(variance), scratch],
      items: channels / 4,
      chunks: 'threads',
    });
    runNative(backend, {
      fn: 'bn_forward_apply',
      args: [p(x), channels, p(beta), p(y), p(mean), scratch],
      items: rows,
      chunks: 'fine',
    });
  });
  return [y, mean, variance];
}

/** `[dx, dgamma, dbeta]` of its gradient. */
export function batchNormTrainingGradSimd(
  backend: NativeBackend,
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
  const rows = x.shape.reduce((a, b) => a * b, 1) / channels;
  const p = (info: TensorInfo): number => heapPointer(backend, info);
  withScratch(backend, SCRATCH_PER_CHANNEL * channels, (scratch) => {
    runNative(backend, {
      fn: 'bn_backward_stats',
      args: [p(dy), p(x), rows, channels, p(gamma), p(mean), p(variance), epsilon, p(dgamma), p(dbeta), scratch],
      items: channels / 4,
      chunks: 'threads',
    });
    runNative(backend, {
      fn: 'bn_backward_apply',
      args: [p(dy), p(x), channels, p(mean), p(dx), scratch],
      items: rows,
      chunks: 'fine',
    });
  });
  return [dx, dgamma, dbeta];
}

/**
 * The fused training batch norm and its gradient on the wasm backend by native/batch_norm.c
 * (WebAssembly SIMD, four channels per vector, on tfjs' heap): the arithmetic of ./batch_norm.ts,
 * 6.5-10x faster than that TypeScript over the heap on lean's and strong's layers
 * (bench/batch_norm_kernels.ts). Channels must be a multiple of 4 (every batch-normalised layer
 * of the zoo); otherwise, and until the module is ready, these return `undefined` and the caller
 * runs the TypeScript route.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import { checkBatchNormShapes } from './batch_norm.js';
import { heapPointer, nativeKernels, type NativeBackend } from './native.js';

type Forward = (
  x: number,
  rows: number,
  channels: number,
  gamma: number,
  beta: number,
  epsilon: number,
  y: number,
  mean: number,
  variance: number,
  scratch: number,
) => void;
type Backward = (
  dy: number,
  x: number,
  rows: number,
  channels: number,
  gamma: number,
  mean: number,
  variance: number,
  epsilon: number,
  dx: number,
  dgamma: number,
  dbeta: number,
  scratch: number,
) => void;

let enabled = true;

/** Turns the SIMD route on or off for later calls (on by default); bench/batch_norm.ts compares the two. */
export function setSimdBatchNormEnabled(on: boolean): void {
  enabled = on;
}

/** The module's function `name`, when the route applies to `channels`. */
function kernel<F>(
  backend: NativeBackend,
  name: string,
  channels: number,
  tensors: readonly TensorInfo[],
): F | undefined {
  if (!enabled || channels % 4 !== 0 || tensors.some((t) => t.dtype !== 'float32')) return undefined;
  return nativeKernels(backend)?.[name] as F | undefined;
}

/** Runs `body` with a scratch tensor of 4 * channels doubles (the module keeps no memory of its own). */
function withScratch(backend: NativeBackend, channels: number, body: (scratch: number) => void): void {
  const scratch = backend.makeOutput([8 * channels], 'float32');
  try {
    body(heapPointer(backend, scratch));
  } finally {
    backend.disposeData(scratch.dataId);
  }
}

/** `[y, mean, variance]` of the training batch norm, or `undefined` where the route does not apply. */
export function batchNormTrainingSimd(
  backend: NativeBackend,
  x: TensorInfo,
  gamma: TensorInfo,
  beta: TensorInfo,
  epsilon: number,
): TensorInfo[] | undefined {
  const channels = checkBatchNormShapes(x, gamma);
  const forward = kernel<Forward>(backend, 'bn_forward', channels, [gamma, beta]);
  if (forward === undefined) return undefined;
  const y = backend.makeOutput([...x.shape], 'float32');
  const mean = backend.makeOutput([channels], 'float32');
  const variance = backend.makeOutput([channels], 'float32');
  const rows = x.shape.reduce((a, b) => a * b, 1) / channels;
  const p = (info: TensorInfo): number => heapPointer(backend, info);
  withScratch(backend, channels, (scratch) =>
    forward(p(x), rows, channels, p(gamma), p(beta), epsilon, p(y), p(mean), p(variance), scratch),
  );
  return [y, mean, variance];
}

/** `[dx, dgamma, dbeta]` of its gradient, or `undefined` where the route does not apply. */
export function batchNormTrainingGradSimd(
  backend: NativeBackend,
  dy: TensorInfo,
  x: TensorInfo,
  gamma: TensorInfo,
  mean: TensorInfo,
  variance: TensorInfo,
  epsilon: number,
): TensorInfo[] | undefined {
  const channels = checkBatchNormShapes(x, gamma);
  const backward = kernel<Backward>(backend, 'bn_backward', channels, [dy, gamma, mean, variance]);
  if (backward === undefined) return undefined;
  const dx = backend.makeOutput([...x.shape], 'float32');
  const dgamma = backend.makeOutput([channels], 'float32');
  const dbeta = backend.makeOutput([channels], 'float32');
  const rows = x.shape.reduce((a, b) => a * b, 1) / channels;
  const p = (info: TensorInfo): number => heapPointer(backend, info);
  withScratch(backend, channels, (scratch) =>
    backward(p(dy), p(x), rows, channels, p(gamma), p(mean), p(variance), epsilon, p(dx), p(dgamma), p(dbeta), scratch),
  );
  return [dx, dgamma, dbeta];
}

/**
 * `DigitBatchNormTraining` on the cpu backend: the fused training batch norm of
 * ../../model/batch_norm.ts (`[y, mean, variance]` of a batch), added, as tfjs has no such kernel.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree.
 *
 * 1. `arrays`: the arithmetic of ../batch_norm_arithmetic.ts over the backend's own arrays: two
 *    passes over the tensor. Applies: always (it needs the cpu backend and float32 tensors, and
 *    says so).
 *    Why: tfjs-layers' own layer runs moments + batchNorm, autodiffed, dozens of kernels per layer.
 *    Bench: npm run bench -- bench/kernels/batch_norm.ts.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import { BATCH_NORM_TRAINING, type BatchNormTrainingAttrs } from '../../model/batch_norm.js';
import { batchNormForward, checkBatchNormShapes } from '../batch_norm_arithmetic.js';
import type { KernelArgs } from '../registry.js';
import { routedKernel } from '../routes.js';
import { asCpuBackend, float32Values, type CpuBackendLike } from './helpers/backend.js';

/** A float32 tensor's values on the cpu backend; throws, naming the input, otherwise. */
export function cpuValues(backend: CpuBackendLike, info: TensorInfo, name: string): Float32Array {
  const values = float32Values(backend, info);
  if (values === undefined)
    throw new Error(`${BATCH_NORM_TRAINING}: ${name} is not a float32 tensor on the cpu backend`);
  return values;
}

function batchNormTraining(args: KernelArgs): TensorInfo[] {
  const backend = asCpuBackend(args.backend);
  if (backend === undefined) throw new Error(`${BATCH_NORM_TRAINING}: not the cpu backend`);
  const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const channels = checkBatchNormShapes(x, gamma);
  const xs = cpuValues(backend, x, 'x');
  const y = new Float32Array(xs.length);
  const mean = new Float32Array(channels);
  const variance = new Float32Array(channels);
  batchNormForward(
    xs,
    cpuValues(backend, gamma, 'gamma'),
    cpuValues(backend, beta, 'beta'),
    (args.attrs as unknown as BatchNormTrainingAttrs).epsilon,
    y,
    mean,
    variance,
  );
  return [
    backend.makeTensorInfo([...x.shape], 'float32', y),
    backend.makeTensorInfo([channels], 'float32', mean),
    backend.makeTensorInfo([channels], 'float32', variance),
  ];
}

export const batchNormTrainingKernel = routedKernel<{ args: KernelArgs }>({
  backend: 'cpu',
  kernelName: BATCH_NORM_TRAINING,
  install: 'add',
  context: (args) => ({ args }),
  routes: [{ name: 'arrays', applies: () => true, run: ({ args }) => batchNormTraining(args) }],
});

/**
 * `DigitBatchNormTrainingGrad` on the cpu backend: the gradient of ./batch_norm_training.ts
 * (`[dx, dgamma, dbeta]`, through the batch statistics), added, as tfjs has no such kernel.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree.
 *
 * 1. `arrays`: the arithmetic of ../batch_norm_arithmetic.ts over the backend's own arrays: two
 *    passes over the tensor. Applies: always (it needs the cpu backend and float32 tensors, and
 *    says so).
 *    Why: the autodiffed composite reads the tensor about twenty times.
 *    Bench: npm run bench -- bench/kernels/batch_norm.ts.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import { BATCH_NORM_TRAINING_GRAD, type BatchNormTrainingAttrs } from '../../model/batch_norm.js';
import { batchNormBackward, checkBatchNormShapes } from '../batch_norm_arithmetic.js';
import type { KernelArgs } from '../registry.js';
import { routedKernel } from '../routes.js';
import { cpuValues } from './batch_norm_training.js';
import { asCpuBackend } from './helpers/backend.js';

function batchNormTrainingGrad(args: KernelArgs): TensorInfo[] {
  const backend = asCpuBackend(args.backend);
  if (backend === undefined) throw new Error(`${BATCH_NORM_TRAINING_GRAD}: not the cpu backend`);
  const { dy, x, gamma, mean, variance } = args.inputs as Record<
    'dy' | 'x' | 'gamma' | 'mean' | 'variance',
    TensorInfo
  >;
  const channels = checkBatchNormShapes(x, gamma);
  const xs = cpuValues(backend, x, 'x');
  const dx = new Float32Array(xs.length);
  const dgamma = new Float32Array(channels);
  const dbeta = new Float32Array(channels);
  batchNormBackward(
    cpuValues(backend, dy, 'dy'),
    xs,
    cpuValues(backend, gamma, 'gamma'),
    cpuValues(backend, mean, 'mean'),
    cpuValues(backend, variance, 'variance'),
    (args.attrs as unknown as BatchNormTrainingAttrs).epsilon,
    dx,
    dgamma,
    dbeta,
  );
  return [
    backend.makeTensorInfo([...x.shape], 'float32', dx),
    backend.makeTensorInfo([channels], 'float32', dgamma),
    backend.makeTensorInfo([channels], 'float32', dbeta),
  ];
}

export const batchNormTrainingGradKernel = routedKernel<{ args: KernelArgs }>({
  backend: 'cpu',
  kernelName: BATCH_NORM_TRAINING_GRAD,
  install: 'add',
  context: (args) => ({ args }),
  routes: [{ name: 'arrays', applies: () => true, run: ({ args }) => batchNormTrainingGrad(args) }],
});

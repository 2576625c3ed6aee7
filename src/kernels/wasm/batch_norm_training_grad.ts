/**
 * `DigitBatchNormTrainingGrad` on wasm: the gradient of ./batch_norm_training.ts (`[dx, dgamma,
 * dbeta]`, through the batch statistics), added, as tfjs has no such kernel. Two passes over the
 * tensor where tfjs-layers' autodiffed batch norm reads it about twenty times.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `simd`: WebAssembly SIMD, four channels per vector (./helpers/batch_norm_simd.ts).
 *    Applies: channels in fours, float32 dy, gamma, mean and variance, the SIMD module ready.
 *    Why: the same arithmetic as `heap`, four channels per instruction.
 *    Bench: npm run bench -- bench/kernels/batch_norm_kernels.ts (the kernel), bench/kernels/batch_norm.ts (a step).
 *    Zoo: lean bn1, bn2, bn3, bn4; strong bn1, bn2, bn3, bn4, bn5, bn6, bn7.
 * 2. `heap`: the TypeScript of ../batch_norm_arithmetic.ts over the heap (./helpers/batch_norm_heap.ts).
 *    Applies: always (it needs the wasm heap, and says so).
 *    Why: any channel count.
 *    Bench: npm run bench -- bench/kernels/batch_norm_kernels.ts (against `simd`).
 *    Zoo: none.
 *
 * x must be float32 with `gamma.length` channels last (checked before any route).
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { BatchNormTrainingAttrs } from '../../model/batch_norm.js';
import { BATCH_NORM_TRAINING_GRAD } from '../../model/batch_norm.js';
import { checkBatchNormShapes } from '../batch_norm_arithmetic.js';
import type { KernelArgs } from '../registry.js';
import { routedKernel } from '../routes.js';
import { batchNormTrainingGradOnHeap } from './helpers/batch_norm_heap.js';
import { batchNormTrainingGradSimd } from './helpers/batch_norm_simd.js';
import { asHeapBackend } from './helpers/heap.js';
import { asNativeBackend, nativeReady } from './helpers/native.js';

type Inputs = Record<'dy' | 'x' | 'gamma' | 'mean' | 'variance', TensorInfo>;

interface BatchNormGradContext extends Inputs {
  readonly args: KernelArgs;
  readonly epsilon: number;
  readonly channels: number;
}

export const batchNormTrainingGradKernel = routedKernel<BatchNormGradContext>({
  backend: 'wasm',
  kernelName: BATCH_NORM_TRAINING_GRAD,
  install: 'add',
  context: (args) => {
    const inputs = args.inputs as Inputs;
    const { epsilon } = args.attrs as unknown as BatchNormTrainingAttrs;
    return { args, ...inputs, epsilon, channels: checkBatchNormShapes(inputs.x, inputs.gamma) };
  },
  routes: [
    {
      name: 'simd',
      applies: ({ args, dy, gamma, mean, variance, channels }) =>
        channels % 4 === 0 &&
        [dy, gamma, mean, variance].every((t) => t.dtype === 'float32') &&
        nativeReady(args.backend),
      run: ({ args, dy, x, gamma, mean, variance, epsilon }) =>
        batchNormTrainingGradSimd(asNativeBackend(args.backend), dy, x, gamma, mean, variance, epsilon),
    },
    {
      name: 'heap',
      applies: () => true,
      run: ({ args, dy, x, gamma, mean, variance, epsilon }) =>
        batchNormTrainingGradOnHeap(asHeapBackend(args.backend), dy, x, gamma, mean, variance, epsilon),
    },
  ],
});

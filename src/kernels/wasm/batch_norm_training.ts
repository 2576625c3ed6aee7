/**
 * `DigitBatchNormTraining` on wasm: the fused training batch norm of ../../model/batch_norm.ts
 * (`[y, mean, variance]` of a batch), added, as tfjs has no such kernel. It replaces the dozens of
 * kernels tfjs-layers' own layer runs per batch norm (moments + batchNorm, autodiffed) by two
 * passes over the tensor.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `simd`: WebAssembly SIMD, four channels per vector (./helpers/batch_norm_simd.ts).
 *    Applies: channels in fours, float32 gamma and beta, the SIMD module ready.
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
import { BATCH_NORM_TRAINING } from '../../model/batch_norm.js';
import { checkBatchNormShapes } from '../batch_norm_arithmetic.js';
import type { KernelArgs } from '../registry.js';
import { routedKernel } from '../routes.js';
import { batchNormTrainingOnHeap } from './helpers/batch_norm_heap.js';
import { batchNormTrainingSimd } from './helpers/batch_norm_simd.js';
import { asHeapBackend } from './helpers/heap.js';
import { asNativeBackend, nativeReady } from './helpers/native.js';

interface BatchNormContext {
  readonly args: KernelArgs;
  readonly x: TensorInfo;
  readonly gamma: TensorInfo;
  readonly beta: TensorInfo;
  readonly epsilon: number;
  readonly channels: number;
}

export const batchNormTrainingKernel = routedKernel<BatchNormContext>({
  backend: 'wasm',
  kernelName: BATCH_NORM_TRAINING,
  install: 'add',
  context: (args) => {
    const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const { epsilon } = args.attrs as unknown as BatchNormTrainingAttrs;
    return { args, x, gamma, beta, epsilon, channels: checkBatchNormShapes(x, gamma) };
  },
  routes: [
    {
      name: 'simd',
      applies: ({ args, gamma, beta, channels }) =>
        channels % 4 === 0 && gamma.dtype === 'float32' && beta.dtype === 'float32' && nativeReady(args.backend),
      run: ({ args, x, gamma, beta, epsilon }) =>
        batchNormTrainingSimd(asNativeBackend(args.backend), x, gamma, beta, epsilon),
    },
    {
      name: 'heap',
      applies: () => true,
      run: ({ args, x, gamma, beta, epsilon }) =>
        batchNormTrainingOnHeap(asHeapBackend(args.backend), x, gamma, beta, epsilon),
    },
  ],
});

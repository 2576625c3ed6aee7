/**
 * `MaxPoolGrad` on wasm, replacing the stock kernel, which scans every window for every input
 * pixel and disagrees with the cpu backend: with overlapping windows, and wherever a window's
 * maximum is negative (its gradient is dropped; test/kernel_routes.test.ts shows it).
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `simd-2x2`: WebAssembly SIMD, four channels per vector (./helpers/max_pool_simd.ts).
 *    Applies: float32, rank 4, a 2x2 window, stride 2, no padding above or to the left, channels
 *    in fours, the SIMD module ready.
 *    Why: one pass over the windows as `heap` makes, four channels at a time; the same
 *    first-maximum rule, bit for bit.
 *    Bench: npm run bench -- bench/kernels/max_pool.ts.
 *    Zoo: compact pool1, pool2; lean pool1, pool2.
 * 2. `heap`: one pass over the windows in TypeScript over the heap (./helpers/max_pool_grad_heap.ts),
 *    each window's dy added to its first maximum (the cpu backend's rule).
 *    Applies: float32 input, rank 4, the wasm heap.
 *    Why: one pass over the windows instead of a scan of every window per input pixel.
 *    Bench: npm run bench -- bench/kernels/max_pool.ts.
 *    Zoo: none.
 * 3. `stock`: tfjs' kernel. Applies: always.
 *    Zoo: none.
 */
import { backend_util, type TensorInfo } from '@tensorflow/tfjs-core';

import type { KernelArgs, MaxPoolGradAttrs, Shape4D } from '../registry.js';
import { routedKernel, stockRoute } from '../routes.js';
import { asHeapBackend, hasHeapAccess } from './helpers/heap.js';
import { maxPoolGrad2D } from './helpers/max_pool_grad_heap.js';
import { maxPoolGrad2x2Simd } from './helpers/max_pool_simd.js';
import { asNativeBackend, nativeReady } from './helpers/native.js';

interface MaxPoolGradContext {
  readonly args: KernelArgs;
  readonly dy: TensorInfo;
  readonly input: TensorInfo;
  /** The pool's geometry, for a float32 rank-4 input; `undefined` otherwise (only stock takes it). */
  readonly info: backend_util.Conv2DInfo | undefined;
}

export const maxPoolGradKernel = routedKernel<MaxPoolGradContext>({
  backend: 'wasm',
  kernelName: 'MaxPoolGrad',
  install: 'replace',
  context: (args) => {
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    const a = args.attrs as unknown as MaxPoolGradAttrs;
    const info =
      input.dtype === 'float32' && input.shape.length === 4
        ? backend_util.computePool2DInfo(input.shape as Shape4D, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode)
        : undefined;
    return { args, dy, input, info };
  },
  routes: [
    {
      name: 'simd-2x2',
      applies: ({ args, dy, info }) =>
        info !== undefined &&
        dy.dtype === 'float32' &&
        info.filterHeight === 2 &&
        info.filterWidth === 2 &&
        info.strideHeight === 2 &&
        info.strideWidth === 2 &&
        info.padInfo.top === 0 &&
        info.padInfo.left === 0 &&
        2 * info.outHeight <= info.inHeight &&
        2 * info.outWidth <= info.inWidth &&
        info.inChannels % 4 === 0 &&
        nativeReady(args.backend),
      run: ({ args, dy, input, info }) => maxPoolGrad2x2Simd(asNativeBackend(args.backend), dy, input, info!),
    },
    {
      name: 'heap',
      applies: ({ args, info }) => info !== undefined && hasHeapAccess(args.backend),
      run: ({ args, dy, input, info }) => maxPoolGrad2D(asHeapBackend(args.backend), dy, input, info!),
    },
    stockRoute('wasm', 'MaxPoolGrad'),
  ],
});

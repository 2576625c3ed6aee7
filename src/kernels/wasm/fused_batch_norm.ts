/**
 * `FusedBatchNorm` on wasm (batch norm at prediction time: the moving statistics), replacing the
 * stock kernel, which stays the route for everything the native one does not take.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `native`: y = x · scale + shift per channel on the Node addon (native/node/ops.c
 *    `scale_shift`), scale = γ / √(σ² + ε) and shift = β − μ · scale computed here, once per call.
 *    Applies: float32; mean, variance and the optional offset and scale one value per channel
 *    (the last axis); at most 2^24 rows; and the addon loaded (Node on linux-x64, not turned off).
 *    Why: the stock kernel ran as long as the convolution before it in `strong`'s prediction; this
 *    is one multiply-add per value, on every core.
 *    Bench: npm run bench -- bench/kernels/native.ts.
 *    Zoo: every batch norm of every network in prediction wherever the addon loads (the tables of
 *    test/kernel_routes.test.ts list the routes with it off).
 * 2. `stock`: tfjs' kernel. Applies: always.
 *    Zoo: lean bn1, bn2, bn3, bn4; strong bn1, bn2, bn3, bn4, bn5, bn6, bn7 (prediction).
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { KernelArgs } from '../registry.js';
import { routedKernel, stockRoute } from '../routes.js';
import { addonFor, addonScaleShift } from './helpers/addon.js';
import { asNativeBackend } from './helpers/native.js';

interface BatchNormContext {
  readonly args: KernelArgs;
  readonly x: TensorInfo;
  readonly mean: TensorInfo;
  readonly variance: TensorInfo;
  readonly offset: TensorInfo | undefined;
  readonly scale: TensorInfo | undefined;
  readonly epsilon: number;
}

const perChannel = (t: TensorInfo | undefined, channels: number): boolean =>
  t === undefined || (t.dtype === 'float32' && t.shape.length === 1 && t.shape[0] === channels);

export const fusedBatchNormKernel = routedKernel<BatchNormContext>({
  backend: 'wasm',
  kernelName: 'FusedBatchNorm',
  install: 'replace',
  context: (args) => {
    const { x, mean, variance, offset, scale } = args.inputs as {
      x: TensorInfo;
      mean: TensorInfo;
      variance: TensorInfo;
      offset?: TensorInfo;
      scale?: TensorInfo;
    };
    const epsilon = (args.attrs as { varianceEpsilon?: number } | undefined)?.varianceEpsilon ?? 0.001;
    return { args, x, mean, variance, offset, scale, epsilon };
  },
  routes: [
    {
      name: 'native',
      applies: ({ args, x, mean, variance, offset, scale }) => {
        const channels = x.shape.at(-1) ?? 0;
        return (
          x.dtype === 'float32' &&
          channels >= 1 &&
          x.shape.reduce((a, b) => a * b, 1) / channels <= 2 ** 24 &&
          [mean, variance, offset, scale].every((t) => perChannel(t, channels)) &&
          addonFor(args.backend) !== undefined
        );
      },
      run: ({ args, x, mean, variance, offset, scale, epsilon }) =>
        addonScaleShift(addonFor(args.backend)!, asNativeBackend(args.backend), x, {
          mean,
          variance,
          offset,
          scale,
          epsilon,
        }),
    },
    stockRoute('wasm', 'FusedBatchNorm'),
  ],
});

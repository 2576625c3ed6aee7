/**
 * `Tile` on wasm, replacing the stock kernel, which copies element by element.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `broadcast-add`: a broadcast written as `Fill` (zeros of the output shape) plus a
 *    broadcasting `Add`.
 *    Applies: float32, one repetition count per axis, and every repeated axis of size 1.
 *    Why: those two stock kernels write the same values far faster than the stock Tile's
 *    per-element copy; a broadcast of per-channel terms to `[N,H,W,C]` is the Tile training meets.
 *    Bench: npm run bench -- bench/steps/profile.ts (kernel by kernel).
 *    Zoo: none (the fused batch norm left the zoo's steps without a Tile).
 * 2. `stock`: tfjs' kernel. Applies: always.
 *    Zoo: none.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { KernelArgs, TileAttrs } from '../registry.js';
import { routedKernel, stockRoute } from '../routes.js';
import { KernelRunner } from './helpers/kernel_runner.js';

interface TileContext {
  readonly args: KernelArgs;
  readonly x: TensorInfo;
  readonly reps: number[];
}

export const tileKernel = routedKernel<TileContext>({
  backend: 'wasm',
  kernelName: 'Tile',
  install: 'replace',
  context: (args) => ({
    args,
    x: (args.inputs as { x: TensorInfo }).x,
    reps: (args.attrs as unknown as TileAttrs).reps,
  }),
  routes: [
    {
      name: 'broadcast-add',
      applies: ({ x, reps }) =>
        x.dtype === 'float32' && reps.length === x.shape.length && x.shape.every((d, i) => reps[i] === 1 || d === 1),
      run: ({ args, x, reps }) => {
        const runner = new KernelRunner(args.backend);
        const zeros = runner.run(
          'Fill',
          {},
          { shape: x.shape.map((d, i) => d * (reps[i] as number)), value: 0, dtype: 'float32' },
        );
        return runner.finish(runner.run('Add', { a: zeros, b: x }));
      },
    },
    stockRoute('wasm', 'Tile'),
  ],
});

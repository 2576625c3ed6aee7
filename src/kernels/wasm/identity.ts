/**
 * `Identity` on wasm, replacing the stock kernel, which copies its input. tfjs-core clones every
 * tensor a gradient saves for the backward pass, so in training the copies add up.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `share-buffer`: the output shares the input's buffer (one more reference to its data), as
 *    the cpu and WebGL backends' Identity does.
 *    Applies: a numeric dtype, and a backend that counts references (`incRef`).
 *    Why: no copy; safe because no kernel writes into its inputs (wasm's Reshape shares the same way).
 *    Bench: npm run bench -- bench/kernels/identity.ts.
 *    Zoo: none (the clones tfjs saves for the backward pass belong to no one layer).
 * 2. `stock`: tfjs' copy. Applies: always (strings).
 *    Zoo: none.
 */
import type { DataId, TensorInfo } from '@tensorflow/tfjs-core';

import type { KernelArgs } from '../registry.js';
import { routedKernel, stockRoute } from '../routes.js';

interface IdentityContext {
  readonly args: KernelArgs;
  readonly x: TensorInfo;
  readonly backend: { incRef?: (dataId: DataId) => void };
}

export const identityKernel = routedKernel<IdentityContext>({
  backend: 'wasm',
  kernelName: 'Identity',
  install: 'replace',
  context: (args) => ({
    args,
    x: (args.inputs as { x: TensorInfo }).x,
    backend: args.backend as IdentityContext['backend'],
  }),
  routes: [
    {
      name: 'share-buffer',
      applies: ({ x, backend }) => x.dtype !== 'string' && typeof backend.incRef === 'function',
      run: ({ x, backend }) => {
        backend.incRef!(x.dataId);
        return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
      },
    },
    stockRoute('wasm', 'Identity'),
  ],
});

/**
 * `Mean` on wasm, replacing the stock kernel, which first transposes the reduced axes innermost (a
 * full copy of the tensor).
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `leading-axes`: column means of the tensor seen as `[rows, cols]`, read once in memory order
 *    and accumulated in float64, over the heap (./helpers/leading_axes.ts).
 *    Applies: float32, the reduced axes exactly the leading ones (0..k-1, at least one axis kept),
 *    no empty dimension, the wasm heap.
 *    Why: as ./sum.ts' `leading-axes`.
 *    Bench: npm run bench -- bench/kernels/heap_kernels.ts.
 *    Zoo: none.
 * 2. `stock`: tfjs' kernel. Applies: always.
 *    Zoo: none (the loss's means over the batch, no layer's).
 */
import { routedKernel, stockRoute } from '../routes.js';
import { leadingAxesContext, leadingAxesRoute, type LeadingAxesContext } from './helpers/leading_axes.js';

export const meanKernel = routedKernel<LeadingAxesContext>({
  backend: 'wasm',
  kernelName: 'Mean',
  install: 'replace',
  context: leadingAxesContext,
  routes: [leadingAxesRoute(true), stockRoute('wasm', 'Mean')],
});

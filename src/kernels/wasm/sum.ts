/**
 * `Sum` on wasm, replacing the stock kernel, which first transposes the reduced axes innermost (a
 * full copy of the tensor) before summing.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `leading-axes`: column sums of the tensor seen as `[rows, cols]`, read once in memory order
 *    and accumulated in float64, over the heap (./helpers/leading_axes.ts).
 *    Applies: float32, the reduced axes exactly the leading ones (0..k-1, at least one axis kept),
 *    no empty dimension, the wasm heap.
 *    Why: that is every per-channel sum of training (the biases' gradients), and it needs no
 *    transpose; float64 sums are also closer to exact than the stock float32 running sum.
 *    Bench: npm run bench -- bench/kernels/heap_kernels.ts.
 *    Zoo: the biases of seed conv1, conv2, dense1, dense2; compact conv1, conv2, dense1, dense2;
 *    lean dense1; strong dense1.
 * 2. `stock`: tfjs' kernel. Applies: always.
 *    Zoo: none (the loss's sums over classes, no layer's).
 */
import { routedKernel, stockRoute } from '../routes.js';
import { leadingAxesContext, leadingAxesRoute, type LeadingAxesContext } from './helpers/leading_axes.js';

export const sumKernel = routedKernel<LeadingAxesContext>({
  backend: 'wasm',
  kernelName: 'Sum',
  install: 'replace',
  context: leadingAxesContext,
  routes: [leadingAxesRoute(false), stockRoute('wasm', 'Sum')],
});

/**
 * `FusedConv2D` on the cpu backend (a convolution with its bias and activation; tfjs-core runs it
 * only outside gradient tapes, training decomposes it), replacing the stock kernel.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree.
 *
 * 1. `im2col-gemm`: as ./conv2d.ts' route, the bias and activation applied in place.
 *    Applies: as there (a bias of one value or one per output channel, no PReLU).
 *    Why: as there; in place, the stock fused kernel's two extra tensors are saved too.
 *    Bench: npm run bench -- bench/kernels/cpu.ts.
 * 2. `stock`: tfjs' kernel. Applies: always.
 */
import { routedKernel, stockRoute } from '../routes.js';
import { forwardConvContext, im2colGemmRoute, type ForwardConvContext } from './conv2d.js';

export const fusedConv2DKernel = routedKernel<ForwardConvContext>({
  backend: 'cpu',
  kernelName: 'FusedConv2D',
  install: 'replace',
  context: forwardConvContext,
  routes: [im2colGemmRoute, stockRoute('cpu', 'FusedConv2D')],
});

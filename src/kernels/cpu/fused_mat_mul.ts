/**
 * `_FusedMatMul` on the cpu backend (a dense layer outside gradient tapes: the product, its bias
 * and activation), replacing the stock kernel.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree.
 *
 * 1. `gemm`: as ./batch_mat_mul.ts' route, the bias and activation applied in place.
 *    Applies: as there. Why: as there.
 *    Bench: npm run bench -- bench/kernels/cpu.ts.
 * 2. `stock`: tfjs' kernel. Applies: always.
 */
import { routedKernel, stockRoute } from '../routes.js';
import { gemmRoute, matMulContext, type MatMulContext } from './batch_mat_mul.js';

export const fusedMatMulKernel = routedKernel<MatMulContext>({
  backend: 'cpu',
  kernelName: '_FusedMatMul',
  install: 'replace',
  context: matMulContext,
  routes: [gemmRoute, stockRoute('cpu', '_FusedMatMul')],
});

/**
 * `BatchMatMul` on the cpu backend, replacing the stock kernel, a blocked loop with strided inner
 * reads.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree.
 *
 * 1. `gemm`: one cache-blocked GEMM per batch (./helpers/gemm.ts), the transposes folded into the
 *    packing strides; batch dimensions broadcast as the stock kernel's do (index modulo each
 *    operand's batch size).
 *    Applies: ranks of at least 2, float32 values, matching inner sizes, no empty product,
 *    broadcastable batch dimensions, and for a fused call a bias of one value or one per output
 *    column and an activation other than PReLU.
 *    Why: packed panels keep the inner loop sequential whatever the transposes.
 *    Bench: npm run bench -- bench/kernels/cpu.ts.
 * 2. `stock`: tfjs' kernel (and its own errors for shapes that do not match). Applies: always.
 */
import { backend_util, type TensorInfo } from '@tensorflow/tfjs-core';

import type { KernelArgs, MatMulAttrs } from '../registry.js';
import { routedKernel, stockRoute, type Route } from '../routes.js';
import { asCpuBackend, float32Values, type CpuBackendLike } from './helpers/backend.js';
import { biasActivation, biasValues, IN_PLACE_ACTIVATIONS } from './helpers/bias_activation.js';
import { gemm } from './helpers/gemm.js';

interface MatMulPlan {
  readonly backend: CpuBackendLike;
  readonly a: Float32Array;
  readonly b: Float32Array;
  readonly bias: Float32Array | null;
  readonly ta: boolean;
  readonly tb: boolean;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly outer: number[];
  readonly batchA: number;
  readonly batchB: number;
  readonly activation: string;
  readonly alpha: number;
}

/** What the matmul routes read (also those of ./fused_mat_mul.ts). */
export interface MatMulContext {
  readonly args: KernelArgs;
  /** `undefined` where `gemm` does not apply. */
  readonly plan: MatMulPlan | undefined;
}

export function matMulContext(args: KernelArgs): MatMulContext {
  const backend = asCpuBackend(args.backend);
  const { a, b, bias } = args.inputs as { a?: TensorInfo; b?: TensorInfo; bias?: TensorInfo };
  const attrs = args.attrs as unknown as MatMulAttrs;
  const none = { args, plan: undefined };
  if (backend === undefined || a === undefined || b === undefined || a.shape.length < 2 || b.shape.length < 2)
    return none;
  const activation = attrs.activation ?? 'linear';
  const av = float32Values(backend, a);
  const bv = float32Values(backend, b);
  const ta = attrs.transposeA === true;
  const tb = attrs.transposeB === true;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = a.shape[ta ? ra - 1 : ra - 2] as number;
  const k = a.shape[ta ? ra - 2 : ra - 1] as number;
  const kB = b.shape[tb ? rb - 1 : rb - 2] as number;
  const n = b.shape[tb ? rb - 2 : rb - 1] as number;
  const biasV = biasValues(backend, bias, n);
  if (
    av === undefined ||
    bv === undefined ||
    biasV === undefined ||
    k !== kB ||
    !IN_PLACE_ACTIVATIONS.has(activation) ||
    m * n * k === 0
  ) {
    return none;
  }
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  let outer: number[];
  try {
    outer = backend_util.assertAndGetBroadcastShape(outerA, outerB);
  } catch {
    return none; // the stock kernel raises its own error
  }
  const batchA = outerA.reduce((s, d) => s * d, 1);
  const batchB = outerB.reduce((s, d) => s * d, 1);
  const alpha = attrs.leakyreluAlpha ?? 0.2;
  return {
    args,
    plan: { backend, a: av, b: bv, bias: biasV, ta, tb, m, n, k, outer, batchA, batchB, activation, alpha },
  };
}

export const gemmRoute: Route<MatMulContext> = {
  name: 'gemm',
  applies: ({ plan }) => plan !== undefined,
  run: ({ plan }) => {
    const { backend, a, b, ta, tb, m, n, k, outer, batchA, batchB } = plan!;
    const batch = Math.max(batchA, batchB);
    const out = new Float32Array(batch * m * n);
    for (let i = 0; i < batch; i++) {
      gemm(
        m,
        n,
        k,
        a,
        (i % batchA) * m * k,
        ta ? 1 : k,
        ta ? m : 1,
        b,
        (i % batchB) * k * n,
        tb ? 1 : n,
        tb ? k : 1,
        out,
        i * m * n,
        n,
      );
    }
    biasActivation(out, n, plan!.bias, plan!.activation, plan!.alpha);
    return backend.makeTensorInfo([...outer, m, n], 'float32', out);
  },
};

export const batchMatMulKernel = routedKernel<MatMulContext>({
  backend: 'cpu',
  kernelName: 'BatchMatMul',
  install: 'replace',
  context: matMulContext,
  routes: [gemmRoute, stockRoute('cpu', 'BatchMatMul')],
});

/**
 * `Conv2D` on the cpu backend, replacing the stock kernel, a naive nested loop.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree.
 *
 * 1. `im2col-gemm`: Y = im2col(x) · W on the cache-blocked GEMM (./helpers/conv_gemm.ts), rows in
 *    chunks; a bias and an in-place activation applied to the fresh output (./helpers/bias_activation.ts).
 *    Applies: rank-4 NHWC operands, dilation 1, float32 values, no empty dimension, and for a fused
 *    call a bias of one value or one per output channel and an activation other than PReLU.
 *    Why: one packed matrix product runs at the GEMM's speed where the stock loop reads strided.
 *    Bench: npm run bench -- bench/kernels/cpu.ts.
 * 2. `stock`: tfjs' kernel. Applies: always (NCHW, dilations, other dtypes, PReLU).
 *
 * In prediction tfjs-layers' convolutions run as ./fused_conv2d.ts, with the same routes.
 */
import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import type { ConvAttrs, KernelArgs } from '../registry.js';
import { routedKernel, stockRoute, type Route } from '../routes.js';
import { asCpuBackend, float32Values, type CpuBackendLike } from './helpers/backend.js';
import { biasActivation, biasValues, IN_PLACE_ACTIVATIONS } from './helpers/bias_activation.js';
import { convForward, convInfo, geometry, type ConvGeometry } from './helpers/conv_gemm.js';

/** What a forward convolution's `im2col-gemm` route computes with, when it applies. */
interface ForwardPlan {
  readonly backend: CpuBackendLike;
  readonly x: Float32Array;
  readonly filter: Float32Array;
  readonly bias: Float32Array | null;
  readonly info: backend_util.Conv2DInfo;
  readonly g: ConvGeometry;
  readonly activation: string;
  readonly alpha: number;
}

/** What the forward convolution routes read (also those of ./fused_conv2d.ts). */
export interface ForwardConvContext {
  readonly args: KernelArgs;
  /** `undefined` where `im2col-gemm` does not apply. */
  readonly plan: ForwardPlan | undefined;
}

export function forwardConvContext(args: KernelArgs): ForwardConvContext {
  const backend = asCpuBackend(args.backend);
  const { x, filter, bias } = args.inputs as { x?: TensorInfo; filter?: TensorInfo; bias?: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  if (backend === undefined || x === undefined || filter === undefined) return { args, plan: undefined };
  const activation = a.activation ?? 'linear';
  const xv = float32Values(backend, x);
  const fv = float32Values(backend, filter);
  const info = convInfo(x.shape, filter.shape, a);
  const g = info && geometry(info);
  const bv = biasValues(backend, bias, filter.shape[3] ?? 0);
  if (
    xv === undefined ||
    fv === undefined ||
    info === undefined ||
    g === undefined ||
    bv === undefined ||
    !IN_PLACE_ACTIVATIONS.has(activation)
  ) {
    return { args, plan: undefined };
  }
  return {
    args,
    plan: { backend, x: xv, filter: fv, bias: bv, info, g, activation, alpha: a.leakyreluAlpha ?? 0.2 },
  };
}

export const im2colGemmRoute: Route<ForwardConvContext> = {
  name: 'im2col-gemm',
  applies: ({ plan }) => plan !== undefined,
  run: ({ plan }) => {
    const { backend, x, filter, bias, info, g, activation, alpha } = plan!;
    const y = convForward(x, filter, g);
    biasActivation(y, g.co, bias, activation, alpha);
    return backend.makeTensorInfo(info.outShape, 'float32', y);
  },
};

export const conv2DKernel = routedKernel<ForwardConvContext>({
  backend: 'cpu',
  kernelName: 'Conv2D',
  install: 'replace',
  context: forwardConvContext,
  routes: [im2colGemmRoute, stockRoute('cpu', 'Conv2D')],
});

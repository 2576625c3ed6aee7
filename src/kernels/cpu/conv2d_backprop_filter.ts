/**
 * `Conv2DBackpropFilter` on the cpu backend, replacing the stock kernel, a naive nested loop.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree.
 *
 * 1. `im2col-gemm`: dW = Σ over row chunks im2col(x)ᵀ · dY on the cache-blocked GEMM
 *    (./helpers/conv_gemm.ts), the transpose read through the GEMM's packing strides.
 *    Applies: NHWC, float32 values, no empty dimension, dy of the shape the attributes imply.
 *    Why: the stock loop is by far the slowest of the convolution kernels.
 *    Bench: npm run bench -- bench/kernels/cpu.ts.
 * 2. `stock`: tfjs' kernel. Applies: always.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { BackpropFilterAttrs, KernelArgs } from '../registry.js';
import { routedKernel, stockRoute } from '../routes.js';
import { asCpuBackend, float32Values, type CpuBackendLike } from './helpers/backend.js';
import { convBackpropFilter, convInfo, geometry, type ConvGeometry } from './helpers/conv_gemm.js';

interface FilterGradContext {
  readonly args: KernelArgs;
  readonly plan:
    { backend: CpuBackendLike; x: Float32Array; dy: Float32Array; g: ConvGeometry; filterShape: number[] } | undefined;
}

function context(args: KernelArgs): FilterGradContext {
  const backend = asCpuBackend(args.backend);
  const { x, dy } = args.inputs as { x?: TensorInfo; dy?: TensorInfo };
  const a = args.attrs as unknown as BackpropFilterAttrs;
  if (backend === undefined || x === undefined || dy === undefined || a.filterShape === undefined)
    return { args, plan: undefined };
  const xv = float32Values(backend, x);
  const dyv = float32Values(backend, dy);
  const info = convInfo(x.shape, a.filterShape, { ...a, dilations: 1 });
  const g = info && geometry(info);
  if (xv === undefined || dyv === undefined || g === undefined || dy.shape.join() !== [g.b, g.oh, g.ow, g.co].join()) {
    return { args, plan: undefined };
  }
  return { args, plan: { backend, x: xv, dy: dyv, g, filterShape: [...a.filterShape] } };
}

export const conv2DBackpropFilterKernel = routedKernel<FilterGradContext>({
  backend: 'cpu',
  kernelName: 'Conv2DBackpropFilter',
  install: 'replace',
  context,
  routes: [
    {
      name: 'im2col-gemm',
      applies: ({ plan }) => plan !== undefined,
      run: ({ plan }) => {
        const { backend, x, dy, g, filterShape } = plan!;
        return backend.makeTensorInfo(filterShape, 'float32', convBackpropFilter(x, dy, g));
      },
    },
    stockRoute('cpu', 'Conv2DBackpropFilter'),
  ],
});

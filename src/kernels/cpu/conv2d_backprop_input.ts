/**
 * `Conv2DBackpropInput` on the cpu backend, replacing the stock kernel, a naive nested loop.
 *
 * Routes, tried in order: the first that applies runs. The `routes` table below is this list;
 * test/kernel_routes.test.ts checks the two agree.
 *
 * 1. `gemm-col2im`: dx = col2im(dY · Wᵀ) on the cache-blocked GEMM (./helpers/conv_gemm.ts), in
 *    row chunks small enough that col2im reads the column gradient back from cache.
 *    Applies: NHWC, float32 values, no empty dimension, dy of the shape the attributes imply.
 *    Why: scattering the column gradient back handles any stride directly, where the textbook
 *    "convolve the zero-inserted dY with the flipped filter" would spend three quarters of its
 *    work on the inserted zeros at stride 2 (and, for 'valid', on the full-padding border).
 *    Bench: npm run bench -- bench/kernels/cpu.ts.
 * 2. `stock`: tfjs' kernel. Applies: always.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { BackpropInputAttrs, KernelArgs } from '../registry.js';
import { routedKernel, stockRoute } from '../routes.js';
import { asCpuBackend, float32Values, type CpuBackendLike } from './helpers/backend.js';
import { convBackpropInput, convInfo, geometry, type ConvGeometry } from './helpers/conv_gemm.js';

interface InputGradContext {
  readonly args: KernelArgs;
  readonly plan:
    | { backend: CpuBackendLike; dy: Float32Array; filter: Float32Array; g: ConvGeometry; inputShape: number[] }
    | undefined;
}

function context(args: KernelArgs): InputGradContext {
  const backend = asCpuBackend(args.backend);
  const { dy, filter } = args.inputs as { dy?: TensorInfo; filter?: TensorInfo };
  const a = args.attrs as unknown as BackpropInputAttrs;
  if (backend === undefined || dy === undefined || filter === undefined || a.inputShape === undefined)
    return { args, plan: undefined };
  const dyv = float32Values(backend, dy);
  const fv = float32Values(backend, filter);
  const info = convInfo(a.inputShape, filter.shape, { ...a, dilations: 1 });
  const g = info && geometry(info);
  if (dyv === undefined || fv === undefined || g === undefined || dy.shape.join() !== [g.b, g.oh, g.ow, g.co].join()) {
    return { args, plan: undefined };
  }
  return { args, plan: { backend, dy: dyv, filter: fv, g, inputShape: [...a.inputShape] } };
}

export const conv2DBackpropInputKernel = routedKernel<InputGradContext>({
  backend: 'cpu',
  kernelName: 'Conv2DBackpropInput',
  install: 'replace',
  context,
  routes: [
    {
      name: 'gemm-col2im',
      applies: ({ plan }) => plan !== undefined,
      run: ({ plan }) => {
        const { backend, dy, filter, g, inputShape } = plan!;
        return backend.makeTensorInfo(inputShape, 'float32', convBackpropInput(dy, filter, g));
      },
    },
    stockRoute('cpu', 'Conv2DBackpropInput'),
  ],
});

/**
 * `FusedConv2D` on wasm (a convolution with its bias and activation fused: tfjs-layers' in
 * prediction, and in training those with no bias and a linear activation, `lean`'s and
 * `strong`'s), replacing the stock kernel (XNNPACK's direct convolution).
 *
 * Routes, tried in order: the first that applies (and pays) runs. The `routes` table below is
 * this list; test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `native`: the Node addon, the bias and a ReLU applied as each tile is stored: as
 *    ./conv2d.ts' `native`. Applies: as there. Why: as there.
 *    Bench: npm run bench -- bench/kernels/native.ts.
 *    Zoo: every convolution of every network wherever the addon loads (the tables of
 *    test/kernel_routes.test.ts list the routes with it off).
 * 2. `winograd-5x5`: Winograd F(4x4, 5x5), ./helpers/winograd.ts, the bias and a ReLU applied in
 *    its output transform.
 *    Applies: as ./conv2d.ts' `winograd-5x5`, with no activation, a linear one or ReLU, no PReLU
 *    weights, and a float32 bias of one value per output channel if any.
 *    Pays: at least 1,024 input x output channel pairs (`winogradPays`).
 *    Why: as in ./conv2d.ts.
 *    Bench: npm run bench -- bench/kernels/winograd.ts.
 *    Zoo: seed conv2 (prediction).
 * 3. `winograd-3x3`: Winograd F(4x4, 3x3), likewise.
 *    Applies: as `winograd-5x5`, with a 3x3 filter. Pays: as `winograd-5x5`.
 *    Why: as in ./conv2d.ts.
 *    Bench: npm run bench -- bench/kernels/winograd.ts --filter 3.
 *    Zoo: compact conv2 (prediction); lean conv2, conv3, conv4; strong conv2, conv4, conv5.
 * 4. `stock`: XNNPACK's direct convolution, bias and activation fused. Applies: always.
 *    Zoo: seed conv1 (prediction); compact conv1 (prediction); lean conv1; strong conv1, conv3,
 *    conv6, conv7.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import type { ConvAttrs } from '../registry.js';
import { routedKernel, stockRoute } from '../routes.js';
import { forwardConvContext, nativeForwardRoute, winogradForwardRoute, type ForwardConvContext } from './conv2d.js';

export const fusedConv2DKernel = routedKernel<ForwardConvContext>({
  backend: 'wasm',
  kernelName: 'FusedConv2D',
  install: 'replace',
  context: (args) => {
    const { bias, preluActivationWeights } = args.inputs as { bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    const { activation } = args.attrs as unknown as ConvAttrs;
    const activationFits =
      preluActivationWeights === undefined &&
      (activation === undefined || activation === 'linear' || activation === 'relu');
    return forwardConvContext(args, { bias, relu: activation === 'relu', activationFits });
  },
  routes: [nativeForwardRoute, winogradForwardRoute(5), winogradForwardRoute(3), stockRoute('wasm', 'FusedConv2D')],
});

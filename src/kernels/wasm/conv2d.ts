/**
 * `Conv2D` on wasm, replacing the stock kernel (XNNPACK's direct convolution), which stays the
 * route for every layer Winograd does not pay on.
 *
 * Routes, tried in order: the first that applies (and pays) runs. The `routes` table below is
 * this list; test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `native`: the Node addon's indirect GEMM (native/node/ops.c `conv2d`), ./helpers/addon.ts.
 *    Applies: NHWC, no dilation, float32, a bias of one value per output channel if any, no
 *    activation or ReLU, and the addon loaded (Node on linux-x64, not turned off).
 *    Why: AVX2/AVX-512 on every core reads the input in place through row pointers; wasm's
 *    128-bit SIMD peaks at a quarter of AVX-512's rate on the same core.
 *    Bench: npm run bench -- bench/kernels/native.ts.
 *    Zoo: every convolution of every network wherever the addon loads (the tables of
 *    test/kernel_routes.test.ts list the routes with it off).
 * 2. `winograd-5x5`: Winograd F(4x4, 5x5), ./helpers/winograd.ts.
 *    Applies: NHWC, stride 1, dilation 1, a 5x5 filter, float32, the SIMD module ready.
 *    Pays: at least 1,024 input x output channel pairs (`winogradPays`).
 *    Why: 64 multiplications per 16 outputs instead of 400; below 1,024 channel pairs the
 *    transforms cost more than the products save.
 *    Bench: npm run bench -- bench/kernels/winograd.ts.
 *    Zoo: seed conv2.
 * 3. `winograd-3x3`: Winograd F(4x4, 3x3), ./helpers/winograd.ts.
 *    Applies: as `winograd-5x5`, with a 3x3 filter. Pays: as `winograd-5x5`.
 *    Why: 36 multiplications per 16 outputs instead of 144.
 *    Bench: npm run bench -- bench/kernels/winograd.ts --filter 3.
 *    Zoo: compact conv2.
 * 4. `stock`: XNNPACK's direct convolution. Applies: always.
 *    Zoo: seed conv1; compact conv1.
 *
 * Convolutions with a bias and an activation (`seed`, `compact`) run here in training, as a
 * convolution, an Add and a Relu; the others, and every convolution in prediction, run as
 * ./fused_conv2d.ts, with the same routes.
 */
import { backend_util, type TensorInfo } from '@tensorflow/tfjs-core';

import type { ConvAttrs, KernelArgs } from '../registry.js';
import { routedKernel, stockRoute, type Route } from '../routes.js';
import { plainMatMul } from './batch_mat_mul.js';
import { as4D } from './helpers/conv_info.js';
import { addonConv2D, addonConvFits, addonFor } from './helpers/addon.js';
import { asNativeBackend, nativeReady } from './helpers/native.js';
import { winogradConv2D, winogradPays, winogradSide, type FilterSide, type WinogradConv } from './helpers/winograd.js';

/** What the forward convolution routes read (also those of ./fused_conv2d.ts). */
export interface ForwardConvContext {
  readonly args: KernelArgs;
  readonly x: TensorInfo;
  readonly filter: TensorInfo;
  /** The geometry of an NHWC call with rank-4 operands; `undefined` otherwise (only stock takes it). */
  readonly info: backend_util.Conv2DInfo | undefined;
  /** The bias of a fused convolution. */
  readonly bias: TensorInfo | undefined;
  /** Whether a fused convolution applies a ReLU; false for no activation or a linear one. */
  readonly relu: boolean;
  /** Whether the fused activation is one the Winograd output transform can apply (none, linear, ReLU). */
  readonly activationFits: boolean;
}

/** The context of a forward convolution call; `bias`, `relu` and `activationFits` as given (a plain `Conv2D` has none). */
export function forwardConvContext(
  args: KernelArgs,
  fused: Pick<ForwardConvContext, 'bias' | 'relu' | 'activationFits'>,
): ForwardConvContext {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  const info =
    a.dataFormat === 'NHWC' && x.shape.length === 4 && filter.shape.length === 4
      ? backend_util.computeConv2DInfo(
          as4D(x.shape),
          as4D(filter.shape),
          a.strides,
          a.dilations,
          a.pad,
          a.dimRoundingMode,
          false,
          'channelsLast',
        )
      : undefined;
  return { args, x, filter, info, ...fused };
}

const biasFits = ({ bias, info }: ForwardConvContext): boolean =>
  bias === undefined || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === info!.outChannels);

/** The forward convolution on the Node addon: see the route tables of this file and ./fused_conv2d.ts. */
export const nativeForwardRoute: Route<ForwardConvContext> = {
  name: 'native',
  applies: (ctx) =>
    ctx.info !== undefined &&
    ctx.activationFits &&
    addonConvFits(ctx.info) &&
    biasFits(ctx) &&
    ctx.x.dtype === 'float32' &&
    ctx.filter.dtype === 'float32' &&
    addonFor(ctx.args.backend) !== undefined,
  run: ({ args, x, filter, info, bias, relu }) =>
    addonConv2D(addonFor(args.backend)!, asNativeBackend(args.backend), x, filter, info!, bias, relu),
};

/** The forward convolution by Winograd for one filter side: see the route tables of this file and ./fused_conv2d.ts. */
export function winogradForwardRoute(side: FilterSide): Route<ForwardConvContext> {
  return {
    name: `winograd-${side}x${side}`,
    applies: ({ args, x, filter, info, bias, activationFits }) =>
      info !== undefined &&
      activationFits &&
      info.strideHeight === 1 &&
      info.strideWidth === 1 &&
      info.dilationHeight === 1 &&
      info.dilationWidth === 1 &&
      winogradSide(info.filterHeight, info.filterWidth) === side &&
      (bias === undefined ||
        (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === info.outChannels)) &&
      x.dtype === 'float32' &&
      filter.dtype === 'float32' &&
      nativeReady(args.backend),
    pays: ({ info }) => winogradPays('forward', side, info!.inChannels, info!.outChannels),
    run: ({ args, x, filter, info, bias, relu }) => {
      const conv: WinogradConv = {
        x,
        filter,
        flip: false,
        padTop: info!.padInfo.top,
        padLeft: info!.padInfo.left,
        outHeight: info!.outHeight,
        outWidth: info!.outWidth,
        relu,
      };
      if (bias !== undefined) conv.bias = bias;
      return winogradConv2D(asNativeBackend(args.backend), conv, plainMatMul(args.backend));
    },
  };
}

export const conv2DKernel = routedKernel<ForwardConvContext>({
  backend: 'wasm',
  kernelName: 'Conv2D',
  install: 'replace',
  context: (args) => forwardConvContext(args, { bias: undefined, relu: false, activationFits: true }),
  routes: [nativeForwardRoute, winogradForwardRoute(5), winogradForwardRoute(3), stockRoute('wasm', 'Conv2D')],
});

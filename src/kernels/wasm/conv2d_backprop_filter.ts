/**
 * `Conv2DBackpropFilter` on wasm, dW of a convolution: added, because stock
 * `@tensorflow/tfjs-backend-wasm` has none (without it a conv net cannot train on wasm). NHWC only.
 *
 * Routes, tried in order: the first that applies (and pays) runs. The `routes` table below is
 * this list; test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `native`: the Node addon (native/node/ops.c `conv2d_backprop_filter`), ./helpers/addon.ts:
 *    dWᵀ = dyᵀ · patches, the patches packed straight from x in runs of Ci floats, pixels split
 *    between the threads, each summing its own dWᵀ.
 *    Applies: NHWC, float32, strides up to 64, and the addon loaded (Node on linux-x64, not turned off).
 *    Why: AVX2/AVX-512 on every core; the wasm routes sum in 128-bit SIMD.
 *    Bench: npm run bench -- bench/kernels/native.ts.
 *    Zoo: every convolution of every network wherever the addon loads (the tables of
 *    test/kernel_routes.test.ts list the routes with it off).
 * 2. `one-channel-simd`: WebAssembly SIMD, ./helpers/single_channel_conv_simd.ts.
 *    Applies: one input channel, output channels in fours, float32, the SIMD module ready.
 *    Why: the general routes see such a layer as a matmul nine rows high (XNNPACK repacks its long
 *    operand on every call) or a convolution to one channel, both far below XNNPACK's forward
 *    speed; this walks each output row with four output channels per vector, its gradient in L1,
 *    and sums in float64 across rows (closer to exact than the float32 sums of the others).
 *    Bench: npm run bench -- bench/kernels/single_channel_conv.ts.
 *    Zoo: seed conv1; compact conv1; lean conv1; strong conv1.
 * 3. `winograd-5x5`: the dual Winograd F(5x5, 4x4), ./helpers/winograd.ts `winogradFilterGrad`,
 *    its products summed in the module (./helpers/outer_products.ts).
 *    Applies: stride 1, a 5x5 filter, float32, the SIMD module ready. Pays: always.
 *    Why: 64 multiplications per 16 outputs instead of 400, and the direct routes are long thin
 *    matmuls that XNNPACK runs slowly even for few channels.
 *    Bench: npm run bench -- bench/kernels/winograd.ts; bench/kernels/conv_grads.ts.
 *    Zoo: seed conv2.
 * 4. `winograd-3x3`: the dual Winograd F(3x3, 4x4), likewise.
 *    Applies: stride 1, a 3x3 filter, float32, the SIMD module ready.
 *    Pays: at least 1,024 input x output channel pairs (`winogradPays`).
 *    Why: 36 multiplications per 16 outputs instead of 144; below 1,024 channel pairs the
 *    transforms cost more than the products save.
 *    Bench: npm run bench -- bench/kernels/conv_grads.ts (against `direct-simd` and `transposed-conv`).
 *    Zoo: compact conv2; lean conv2, conv3, conv4; strong conv2, conv4, conv5.
 * 5. `direct-simd`: dW summed directly, tap by tap and image by image, as outer products of x's
 *    and dy's pixels in WebAssembly SIMD (./helpers/outer_products.ts), the taps' rows of dW split
 *    between the SIMD module's pool threads (./helpers/pool.ts).
 *    Applies: input and output channels in fours, float32, the SIMD module ready.
 *    Pays: at least 16 output pixels per image.
 *    Why: `transposed-conv` hands XNNPACK a convolution whose "filter" is all of dy, repacked on
 *    every call, with a tiny output to split between threads; one thread summing a 4 x 8 block
 *    of dW in registers beats it, strided layers included. With a 1x1 output (a head like
 *    strong's conv7) each block sums one pixel per image and the loop's overhead loses.
 *    Bench: npm run bench -- bench/kernels/conv_grads.ts.
 *    Zoo: strong conv3, conv6.
 * 6. `patches-matmul`: dW = patchesᵀ · dy, one plain matmul on the stock kernel, the transposed
 *    patch matrix `[KH*KW*Ci, B*OH*OW]` built over the heap (./helpers/im2col.ts).
 *    Applies: the wasm heap. Pays: at most 4 input channels.
 *    Why: with few input channels the patch matrix is small, and the `transposed-conv` route would
 *    be a convolution with one "image" and B channels, a shape XNNPACK runs slowly.
 *    Bench: npm run bench -- bench/kernels/single_channel_conv.ts (its general arm, for the 3x3 first layers).
 *    Zoo: none (the zoo's first layers take `one-channel-simd`).
 * 7. `transposed-conv`: one forward `Conv2D` of xᵀ `[Ci,H,W,B]` (channels as the batch) with dyᵀ
 *    `[OH,OW,B,Co]` as its filter, dilated by the stride, then a transpose of the
 *    `[Ci,KH,KW,Co]` result to `[KH,KW,Ci,Co]`. Applies: always.
 *    Why: XNNPACK runs it at forward speed, dilations > 1 included, so stride 2 needs no zeros.
 *    Bench: npm run bench -- bench/kernels/seed_kernels.ts.
 *    Zoo: strong conv7.
 */
import type { NamedAttrMap, TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { firstOutput, runStock, type BackpropFilterAttrs, type ExplicitPadding, type KernelArgs } from '../registry.js';
import { routedKernel, type Route } from '../routes.js';
import { as4D, backpropConvInfo } from './helpers/conv_info.js';
import { addonConv2DBackpropFilter, addonConvFits, addonFor } from './helpers/addon.js';
import { asHeapBackend, hasHeapAccess } from './helpers/heap.js';
import { im2colTransposed } from './helpers/im2col.js';
import { KernelRunner } from './helpers/kernel_runner.js';
import { filterGradDirect, outerProductsFit } from './helpers/outer_products.js';
import { asNativeBackend, nativeReady } from './helpers/native.js';
import { conv2DBackpropFilterSingleChannelSimd, singleChannelConvFits } from './helpers/single_channel_conv_simd.js';
import { winogradFilterGrad, winogradPays, winogradSide, type FilterSide } from './helpers/winograd.js';

interface FilterGradContext {
  readonly args: KernelArgs;
  readonly x: TensorInfo;
  readonly dy: TensorInfo;
  readonly filterShape: BackpropFilterAttrs['filterShape'];
  readonly info: backend_util.Conv2DInfo;
}

const float32 = ({ x, dy }: FilterGradContext): boolean => x.dtype === 'float32' && dy.dtype === 'float32';

function winogradRoute(side: FilterSide): Route<FilterGradContext> {
  return {
    name: `winograd-${side}x${side}`,
    applies: (ctx) =>
      ctx.info.strideHeight === 1 &&
      ctx.info.strideWidth === 1 &&
      winogradSide(ctx.info.filterHeight, ctx.info.filterWidth) === side &&
      float32(ctx) &&
      nativeReady(ctx.args.backend),
    pays: ({ info }) => winogradPays('filterGradient', side, info.inChannels, info.outChannels),
    run: ({ args, x, dy, filterShape, info }) =>
      winogradFilterGrad(asNativeBackend(args.backend), {
        x,
        dy,
        filterShape,
        padTop: info.padInfo.top,
        padLeft: info.padInfo.left,
      }),
  };
}

const routes: Route<FilterGradContext>[] = [
  {
    name: 'native',
    applies: (ctx) => addonConvFits(ctx.info) && float32(ctx) && addonFor(ctx.args.backend) !== undefined,
    run: ({ args, x, dy, info }) =>
      addonConv2DBackpropFilter(addonFor(args.backend)!, asNativeBackend(args.backend), x, dy, info),
  },
  {
    name: 'one-channel-simd',
    applies: (ctx) => singleChannelConvFits(ctx.info) && float32(ctx) && nativeReady(ctx.args.backend),
    run: ({ args, x, dy, info }) => conv2DBackpropFilterSingleChannelSimd(asNativeBackend(args.backend), x, dy, info),
  },
  winogradRoute(5),
  winogradRoute(3),
  {
    name: 'direct-simd',
    applies: (ctx) => outerProductsFit(ctx.info) && float32(ctx) && nativeReady(ctx.args.backend),
    pays: ({ info }) => info.outHeight * info.outWidth >= 16,
    run: ({ args, x, dy, info }) => filterGradDirect(asNativeBackend(args.backend), x, dy, info),
  },
  {
    name: 'patches-matmul',
    applies: ({ args }) => hasHeapAccess(args.backend),
    pays: ({ info }) => info.inChannels <= 4,
    run: ({ args, x, dy, info }) =>
      KernelRunner.guard(args.backend, (runner) => {
        const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
        const patches = runner.own(im2colTransposed(asHeapBackend(args.backend), x, info));
        const dy2 = runner.run(
          'Reshape',
          { x: dy },
          { shape: [1, info.batchSize * info.outHeight * info.outWidth, co] },
        );
        const product = {
          inputs: { a: patches, b: dy2 },
          backend: args.backend,
          attrs: { transposeA: false, transposeB: false },
        };
        const g = runner.own(firstOutput(runStock('wasm', 'BatchMatMul', product)));
        return runner.finish(runner.run('Reshape', { x: g }, { shape: [kh, kw, ci, co] }));
      }),
  },
  {
    name: 'transposed-conv',
    applies: () => true,
    run: ({ args, x, dy, info }) => {
      const { inChannels: ci, outChannels: co, filterHeight: kh, filterWidth: kw, outHeight: oh, outWidth: ow } = info;
      const { inHeight: h, inWidth: w, strideHeight: sh, strideWidth: sw, padInfo } = info;
      // Rows/columns of padded x actually read; extra rows at the end are left out by a smaller
      // bottom/right pad, and when even no pad is too many the surplus output is sliced off below.
      const padBottom = Math.max(0, (oh - 1) * sh + kh - h - padInfo.top);
      const padRight = Math.max(0, (ow - 1) * sw + kw - w - padInfo.left);
      return KernelRunner.guard(args.backend, (runner) => {
        const xT = runner.run('Transpose', { x }, { perm: [3, 1, 2, 0] });
        const dyT = runner.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
        // Explicit padding inside Conv2D (XNNPACK pads via its indirection buffer) avoids a PadV2 copy of x.
        const pad: ExplicitPadding = [
          [0, 0],
          [padInfo.top, padBottom],
          [padInfo.left, padRight],
          [0, 0],
        ];
        let g = runner.run('Conv2D', { x: xT, filter: dyT }, {
          strides: [1, 1],
          dilations: [sh, sw],
          pad,
          dataFormat: 'NHWC',
        } as unknown as NamedAttrMap);
        if (g.shape[1] !== kh || g.shape[2] !== kw) {
          g = runner.run('Slice', { x: g }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
        }
        // With one input channel [1,KH,KW,Co] already has the layout of [KH,KW,1,Co]: a Reshape shares the buffer instead of copying.
        const dW =
          ci === 1
            ? runner.run('Reshape', { x: g }, { shape: [kh, kw, 1, co] })
            : runner.run('Transpose', { x: g }, { perm: [1, 2, 0, 3] });
        return runner.finish(dW);
      });
    },
  },
];

export const conv2DBackpropFilterKernel = routedKernel<FilterGradContext>({
  backend: 'wasm',
  kernelName: 'Conv2DBackpropFilter',
  install: 'add',
  context: (args) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const a = args.attrs as unknown as BackpropFilterAttrs;
    const info = backpropConvInfo(as4D(x.shape), a.filterShape, a);
    if (info.dataFormat !== 'channelsLast') {
      throw new Error("wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only");
    }
    return { args, x, dy, filterShape: a.filterShape, info };
  },
  routes,
});

/**
 * `Conv2DBackpropInput` on wasm, dx of a convolution, replacing the stock kernel: a plain loop far
 * below XNNPACK's forward speed.
 *
 * Routes, tried in order: the first that applies (and pays) runs. The `routes` table below is
 * this list; test/kernel_routes.test.ts checks the two agree, and the zoo layers named here.
 *
 * 1. `native`: the Node addon (native/node/ops.c `conv2d_backprop_input`), ./helpers/addon.ts:
 *    dx pixel by pixel from dy through row pointers, a strided layer's pixels phase by phase
 *    (each phase with only the taps that reach it: the sub-pixel split, done in the indexing).
 *    Applies: NHWC, float32, strides up to 64, and the addon loaded (Node on linux-x64, not turned off).
 *    Why: AVX2/AVX-512 on every core, and no multiplication by an inserted zero.
 *    Bench: npm run bench -- bench/kernels/native.ts.
 *    Zoo: every convolution of every network wherever the addon loads (the tables of
 *    test/kernel_routes.test.ts list the routes with it off).
 * 2. `one-channel-simd`: WebAssembly SIMD, ./helpers/single_channel_conv_simd.ts.
 *    Applies: one input channel, output channels in fours, NHWC, float32, the SIMD module ready.
 *    Why: the general routes make it a convolution to one output channel, a shape XNNPACK runs
 *    slowly; this takes four output channels per vector along each output row. (An image needs
 *    no dx, but tfjs computes it for every convolution.)
 *    Bench: npm run bench -- bench/kernels/single_channel_conv.ts.
 *    Zoo: lean conv1; strong conv1 (`seed` and `compact` train their first layer as a plain
 *    convolution, whose dx tfjs skips).
 * 3. `direct-simd`: each pixel of dx summed directly over the taps that reach it, in WebAssembly
 *    SIMD (./helpers/outer_products.ts), rows of dx split between the SIMD module's pool threads
 *    (./helpers/pool.ts): four pixels of one phase by eight
 *    channels in registers per tap.
 *    Applies: input and output channels in fours, NHWC, float32, the SIMD module ready.
 *    Pays: a stride above 1 and dy of at least 16 positions (OH*OW).
 *    Why: a strided layer's dx reaches each pixel from few taps, which the XNNPACK routes below
 *    turn into several small convolutions (`sub-pixel`) or a matrix written and re-read
 *    (`col2im`); summing in place beats both. Stride-1 layers stay on Winograd and XNNPACK,
 *    faster there with both threads, and a 1x1 dy (a head) on `col2im`.
 *    Bench: npm run bench -- bench/kernels/conv_grads.ts --kernel dx.
 *    Zoo: strong conv3, conv6.
 * 4. `sub-pixel`: dx as sh*sw stride-1 `Conv2D`s of dy, one per output phase, interleaved
 *    (./helpers/sub_pixel.ts).
 *    Applies: NHWC, a stride above 1, input height and width multiples of the strides, a filter
 *    at least as large as the stride, the wasm heap. Pays: dy of at least 64 positions (OH*OW).
 *    Why: with stride s, input row s*q + r is reached only by the taps of phase r, so the phases
 *    do exactly the gradient's multiplications at XNNPACK's forward speed, where `col2im` writes
 *    and re-reads a `[B*OH*OW, KH*KW*Ci]` matrix; over a smaller dy each phase's convolution does
 *    too little work to pay for its setup.
 *    Bench: npm run bench -- bench/kernels/sub_pixel.ts.
 *    Zoo: none (strong conv3 takes `direct-simd`).
 * 5. `col2im`: one matmul dy·Wᵀ `[B*OH*OW, KH*KW*Ci]` through ./batch_mat_mul.ts, then a
 *    scatter-add onto dx over the heap (./helpers/im2col.ts).
 *    Applies: NHWC, the wasm heap. Pays: a stride above 1, or dy of at most 16 positions.
 *    Why: there the zero-inserted, padded dy of `zero-inserted-conv` is mostly zeros (three
 *    quarters at stride 2; a 1x1 dy padded to 7x7 for a 4x4 filter).
 *    Bench: npm run bench -- bench/kernels/sub_pixel.ts (its col2im arm).
 *    Zoo: lean conv4; strong conv7.
 * 6. `winograd-5x5`: Winograd F(4x4, 5x5) of dy with the filter rotated 180° (./helpers/winograd.ts).
 *    Applies: NHWC, stride 1, a 5x5 filter, padding at most the filter's size minus 1 above and
 *    to the left, float32, the SIMD module ready.
 *    Pays: at least 1,024 input x output channel pairs (`winogradPays`).
 *    Why: 64 multiplications per 16 outputs instead of 400.
 *    Bench: npm run bench -- bench/kernels/winograd.ts.
 *    Zoo: seed conv2.
 * 7. `winograd-3x3`: Winograd F(4x4, 3x3), likewise.
 *    Applies: as `winograd-5x5`, with a 3x3 filter. Pays: as `winograd-5x5`.
 *    Why: 36 multiplications per 16 outputs instead of 144.
 *    Bench: npm run bench -- bench/kernels/winograd.ts --filter 3.
 *    Zoo: compact conv2; lean conv2, conv3; strong conv2, conv4, conv5.
 * 8. `zero-inserted-conv`: one forward `Conv2D` of dy (zero-inserted by the stride, padded by
 *    KH-1-pad) with the filter rotated 180° and transposed to `[KH,KW,Co,Ci]`, stride 1.
 *    Applies: NHWC, padding at most the filter's size minus 1 above and to the left.
 *    Why: XNNPACK's forward speed, for the stride-1 layers Winograd does not pay on.
 *    Bench: npm run bench -- bench/kernels/seed_kernels.ts.
 *    Zoo: none.
 * 9. `stock`: tfjs' plain loop. Applies: always (NCHW, and paddings larger than the filter).
 *    Zoo: none.
 */
import type { NamedAttrMap, TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import type { BackpropInputAttrs, ExplicitPadding, KernelArgs } from '../registry.js';
import { firstOutput } from '../registry.js';
import { routedKernel, stockRoute, type Route } from '../routes.js';
import { batchMatMulKernel, plainMatMul } from './batch_mat_mul.js';
import { as4D, backpropConvInfo } from './helpers/conv_info.js';
import { addonConv2DBackpropInput, addonConvFits, addonFor } from './helpers/addon.js';
import { asHeapBackend, hasHeapAccess } from './helpers/heap.js';
import { col2im } from './helpers/im2col.js';
import { KernelRunner } from './helpers/kernel_runner.js';
import { asNativeBackend, nativeReady } from './helpers/native.js';
import { inputGradDirect, outerProductsFit } from './helpers/outer_products.js';
import { conv2DBackpropInputSingleChannelSimd, singleChannelConvFits } from './helpers/single_channel_conv_simd.js';
import { interleavePhases, subPixelFilters } from './helpers/sub_pixel.js';
import { winogradConv2D, winogradPays, winogradSide, type FilterSide } from './helpers/winograd.js';

interface InputGradContext {
  readonly args: KernelArgs;
  readonly dy: TensorInfo;
  readonly filter: TensorInfo;
  readonly info: backend_util.Conv2DInfo;
  readonly nhwc: boolean;
  /** The top and left padding of dy in the `zero-inserted-conv` and Winograd routes: KH-1-top, KW-1-left. */
  readonly padTop: number;
  readonly padLeft: number;
}

const strided = ({ info }: InputGradContext): boolean => info.strideHeight > 1 || info.strideWidth > 1;
/** The convolution of dy with the rotated filter needs no negative padding. */
const padsFit = ({ padTop, padLeft }: InputGradContext): boolean => padTop >= 0 && padLeft >= 0;

function winogradRoute(side: FilterSide): Route<InputGradContext> {
  return {
    name: `winograd-${side}x${side}`,
    applies: (ctx) =>
      ctx.nhwc &&
      padsFit(ctx) &&
      !strided(ctx) &&
      winogradSide(ctx.info.filterHeight, ctx.info.filterWidth) === side &&
      ctx.dy.dtype === 'float32' &&
      ctx.filter.dtype === 'float32' &&
      nativeReady(ctx.args.backend),
    pays: ({ info }) => winogradPays('forward', side, info.outChannels, info.inChannels),
    run: ({ args, dy, filter, info, padTop, padLeft }) =>
      winogradConv2D(
        asNativeBackend(args.backend),
        { x: dy, filter, flip: true, padTop, padLeft, outHeight: info.inHeight, outWidth: info.inWidth, relu: false },
        plainMatMul(args.backend),
      ),
  };
}

/** dx of a strided convolution by sub-pixel phases: see the route table above. */
function subPixel({ args, dy, filter, info }: InputGradContext): TensorInfo {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  const [qh, qw] = [h / info.strideHeight, w / info.strideWidth];
  const backend = asHeapBackend(args.backend);
  return KernelRunner.guard(backend, (runner) => {
    const parts = subPixelFilters(backend, filter, info).map((phase) => {
      runner.own(phase.filter);
      const [jy, jx] = phase.filter.shape as [number, number];
      // Output rows qh = oh + padTop + padBottom - jy + 1; a negative pad drops rows instead.
      const padBottom = qh - oh - phase.padTop + jy - 1;
      const padRight = qw - ow - phase.padLeft + jx - 1;
      const pad: ExplicitPadding = [
        [0, 0],
        [Math.max(0, phase.padTop), Math.max(0, padBottom)],
        [Math.max(0, phase.padLeft), Math.max(0, padRight)],
        [0, 0],
      ];
      let part = runner.run('Conv2D', { x: dy, filter: phase.filter }, {
        strides: [1, 1],
        dilations: [1, 1],
        pad,
        dataFormat: 'NHWC',
      } as unknown as NamedAttrMap);
      if (phase.padTop < 0 || phase.padLeft < 0 || padBottom < 0 || padRight < 0) {
        part = runner.run(
          'Slice',
          { x: part },
          { begin: [0, Math.max(0, -phase.padTop), Math.max(0, -phase.padLeft), 0], size: [b, qh, qw, ci] },
        );
      }
      return part;
    });
    return runner.finish(runner.own(interleavePhases(backend, parts, info)));
  });
}

/** dx as one convolution of the zero-inserted dy with the rotated filter: see the route table above. */
function zeroInsertedConv({ args, dy, filter, info, padTop, padLeft }: InputGradContext): TensorInfo {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  // dy zero-inserted by the stride is [OH*sh, OW*sw] (its last sh-1 rows are zeros too). When the
  // bottom/right pad comes out negative, the conv runs unpadded there and the surplus rows are sliced off.
  const padBottom = h + kh - 1 - padTop - oh * sh;
  const padRight = w + kw - 1 - padLeft - ow * sw;
  return KernelRunner.guard(args.backend, (runner) => {
    let dyd: TensorInfo = dy;
    if (sh > 1 || sw > 1) {
      // Zero-insertion as one PadV2 on a 6-D view: [B,OH,1,OW,1,Co] -> [B,OH,sh,OW,sw,Co] -> [B,OH*sh,OW*sw,Co].
      const view = runner.run('Reshape', { x: dy }, { shape: [b, oh, 1, ow, 1, co] });
      const spread = runner.run(
        'PadV2',
        { x: view },
        {
          paddings: [
            [0, 0],
            [0, 0],
            [0, sh - 1],
            [0, 0],
            [0, sw - 1],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
      dyd = runner.run('Reshape', { x: spread }, { shape: [b, oh * sh, ow * sw, co] });
    }
    const flipped = runner.run('Reverse', { x: filter }, { dims: [0, 1] });
    const rotated = runner.run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] });
    // Explicit padding inside Conv2D (XNNPACK pads via its indirection buffer) avoids a padded copy of dy.
    const pad: ExplicitPadding = [
      [0, 0],
      [padTop, Math.max(0, padBottom)],
      [padLeft, Math.max(0, padRight)],
      [0, 0],
    ];
    let dx = runner.run('Conv2D', { x: dyd, filter: rotated }, {
      strides: [1, 1],
      dilations: [1, 1],
      pad,
      dataFormat: 'NHWC',
    } as unknown as NamedAttrMap);
    if (padBottom < 0 || padRight < 0) {
      dx = runner.run('Slice', { x: dx }, { begin: [0, 0, 0, 0], size: [b, h, w, ci] });
    }
    return runner.finish(dx);
  });
}

const routes: Route<InputGradContext>[] = [
  {
    name: 'native',
    applies: ({ args, dy, filter, info }) =>
      addonConvFits(info) &&
      dy.dtype === 'float32' &&
      filter.dtype === 'float32' &&
      addonFor(args.backend) !== undefined,
    run: ({ args, dy, filter, info }) =>
      addonConv2DBackpropInput(addonFor(args.backend)!, asNativeBackend(args.backend), dy, filter, info),
  },
  {
    name: 'one-channel-simd',
    applies: ({ args, dy, filter, info }) =>
      singleChannelConvFits(info) && dy.dtype === 'float32' && filter.dtype === 'float32' && nativeReady(args.backend),
    run: ({ args, dy, filter, info }) =>
      conv2DBackpropInputSingleChannelSimd(asNativeBackend(args.backend), dy, filter, info),
  },
  {
    name: 'direct-simd',
    applies: ({ args, dy, filter, info }) =>
      outerProductsFit(info) && dy.dtype === 'float32' && filter.dtype === 'float32' && nativeReady(args.backend),
    pays: (ctx) => strided(ctx) && ctx.info.outHeight * ctx.info.outWidth >= 16,
    run: ({ args, dy, filter, info }) => inputGradDirect(asNativeBackend(args.backend), dy, filter, info),
  },
  {
    name: 'sub-pixel',
    applies: (ctx) => {
      const {
        inHeight: h,
        inWidth: w,
        filterHeight: kh,
        filterWidth: kw,
        strideHeight: sh,
        strideWidth: sw,
      } = ctx.info;
      return (
        ctx.nhwc &&
        strided(ctx) &&
        h % sh === 0 &&
        w % sw === 0 &&
        kh >= sh &&
        kw >= sw &&
        hasHeapAccess(ctx.args.backend)
      );
    },
    pays: ({ info }) => info.outHeight * info.outWidth >= 64,
    run: subPixel,
  },
  {
    name: 'col2im',
    applies: ({ args, nhwc }) => nhwc && hasHeapAccess(args.backend),
    pays: (ctx) => strided(ctx) || ctx.info.outHeight * ctx.info.outWidth <= 16,
    run: ({ args, dy, filter, info }) =>
      KernelRunner.guard(args.backend, (runner) => {
        const { batchSize: b, outHeight: oh, outWidth: ow, outChannels: co } = info;
        const dy2 = runner.run('Reshape', { x: dy }, { shape: [1, b * oh * ow, co] });
        const w2 = runner.run(
          'Reshape',
          { x: filter },
          { shape: [1, info.filterHeight * info.filterWidth * info.inChannels, co] },
        );
        const product = {
          inputs: { a: dy2, b: w2 },
          backend: args.backend,
          attrs: { transposeA: false, transposeB: true },
        };
        const cols = runner.own(firstOutput(batchMatMulKernel.kernelFunc(product)));
        return runner.finish(runner.own(col2im(asHeapBackend(args.backend), cols, info)));
      }),
  },
  winogradRoute(5),
  winogradRoute(3),
  {
    name: 'zero-inserted-conv',
    applies: (ctx) => ctx.nhwc && padsFit(ctx),
    run: zeroInsertedConv,
  },
  stockRoute('wasm', 'Conv2DBackpropInput'),
];

export const conv2DBackpropInputKernel = routedKernel<InputGradContext>({
  backend: 'wasm',
  kernelName: 'Conv2DBackpropInput',
  install: 'replace',
  context: (args) => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = args.attrs as unknown as BackpropInputAttrs;
    const info = backpropConvInfo(a.inputShape, as4D(filter.shape), a);
    return {
      args,
      dy,
      filter,
      info,
      nhwc: info.dataFormat === 'channelsLast',
      padTop: info.filterHeight - 1 - info.padInfo.top,
      padLeft: info.filterWidth - 1 - info.padInfo.left,
    };
  },
  routes,
});

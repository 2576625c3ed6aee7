/**
 * Training kernels for the TensorFlow.js wasm backend.
 *
 * Stock `@tensorflow/tfjs-backend-wasm` 4.22 has no `Conv2DBackpropFilter`, so a
 * conv net cannot be trained on it, and its `Conv2DBackpropInput` is a plain
 * loop (about 2-4 GFLOP/s) while its forward `Conv2D` runs on XNNPACK (about
 * 25-40 GFLOP/s on one thread). Both gradients are re-expressed here as one forward
 * `Conv2D` plus cheap layout kernels (Transpose, PadV2, Reverse, Reshape, Slice), or, for
 * shapes where that wastes work, as one plain matmul with an im2col/col2im step
 * (./wasm_heap.ts); transposed `BatchMatMul`s (a dense layer's gradient) become Transpose +
 * plain BatchMatMul; batch norm's and pooling's memory-bound kernels run over the heap.
 * The kernels are taken from the wasm backend's own registry at call time, so this module
 * never imports `@tensorflow/tfjs-backend-wasm` itself: consumers pick the backend.
 */
import {
  backend_util,
  findBackend,
  getKernel,
  registerKernel,
  unregisterKernel,
  type DataId,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, type BatchNormTrainingAttrs } from '../model/batch_norm.js';
import {
  batchNormTrainingGradOnHeap,
  batchNormTrainingOnHeap,
  col2im,
  hasHeapAccess,
  im2colTransposed,
  leadingAxesReduce,
  interleavePhases,
  maxPoolGrad2D,
  subPixelFilters,
  type MaxPoolGradAttrs,
  type WasmHeapBackend,
} from './wasm_heap.js';
import { batchNormTrainingGradSimd, batchNormTrainingSimd } from './batch_norm_simd.js';
import { maxPoolGrad2x2Simd } from './max_pool_simd.js';
import {
  conv2DBackpropFilterSingleChannelSimd,
  conv2DBackpropInputSingleChannelSimd,
} from './single_channel_conv_simd.js';
import { isNativeBackend, prepareNativeKernels } from './native.js';
import {
  setWinogradEnabled,
  winogradConv2D,
  winogradFilterGrad,
  winogradFits,
  type MatMul,
  type WinogradBackend,
  type WinogradConv,
} from './winograd.js';

const WASM = 'wasm';

/** The part of the wasm backend these kernels use: freeing intermediate results. */
interface WasmBackendLike {
  disposeData(dataId: DataId, force?: boolean): boolean;
}

type Pair = [number, number];
type ExplicitPadding = [Pair, Pair, Pair, Pair];

/** Attributes both convolution gradients get from the tfjs-core ops. */
interface BackpropAttrs {
  strides: number | Pair;
  pad: 'valid' | 'same' | number | ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Attributes of `Conv2DBackpropFilter`. */
interface BackpropFilterAttrs extends BackpropAttrs {
  filterShape: [number, number, number, number];
}

/** Attributes of `Conv2DBackpropInput`. */
interface BackpropInputAttrs extends BackpropAttrs {
  inputShape: [number, number, number, number];
}

function asWasmBackend(backend: unknown): WasmBackendLike {
  const candidate = backend as Partial<WasmBackendLike> | null;
  if (candidate === null || typeof candidate !== 'object' || typeof candidate.disposeData !== 'function') {
    throw new Error('wasm training kernels: the backend has no disposeData(); is it the tfjs wasm backend?');
  }
  return candidate as WasmBackendLike;
}

/**
 * Runs other wasm kernels and remembers their outputs so that the
 * intermediates can be freed once the final result is built.
 */
class KernelRunner {
  private readonly owned: TensorInfo[] = [];

  constructor(private readonly backend: WasmBackendLike) {}

  run(kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const config = getKernel(kernelName, WASM);
    if (config === undefined) {
      throw new Error(`wasm training kernels need the wasm kernel '${kernelName}', which is not registered`);
    }
    const result = config.kernelFunc({ inputs, backend: this.backend as unknown as object, attrs });
    const info = Array.isArray(result) ? result[0] : result;
    if (info === undefined) throw new Error(`wasm kernel '${kernelName}' returned no tensor`);
    this.owned.push(info);
    return info;
  }

  /** Takes an intermediate made outside {@link run} (e.g. by a stock kernel) to free it later. */
  own(info: TensorInfo): TensorInfo {
    this.owned.push(info);
    return info;
  }

  /** Hands `result` to the caller (not freed) and frees every other intermediate. */
  finish(result: TensorInfo): TensorInfo {
    this.dispose(result);
    return result;
  }

  /** Frees every intermediate except `keep`. Each kernel output owns one reference to its dataId. */
  dispose(keep?: TensorInfo): void {
    for (const info of this.owned) {
      if (info !== keep) this.backend.disposeData(info.dataId);
    }
    this.owned.length = 0;
  }
}

function computeInfo(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: BackpropFilterAttrs | BackpropInputAttrs,
): backend_util.Conv2DInfo {
  const dataFormat = backend_util.convertConv2DDataFormat(attrs.dataFormat);
  // Gradients of conv2d with dilations > 1 are refused by tfjs-core itself, so dilation is 1 here.
  return backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    dataFormat,
  );
}

function as4D(shape: number[]): [number, number, number, number] {
  if (shape.length !== 4)
    throw new Error(`wasm training kernels: expected a rank-4 tensor, got shape [${shape.join(', ')}]`);
  return shape as [number, number, number, number];
}

/**
 * dW[kh,kw,ci,co] = sum_{b,oh,ow} x[b, oh*sh + kh - padTop, ow*sw + kw - padLeft, ci] * dy[b,oh,ow,co]
 * is one forward convolution of x^T = [Ci,H,W,B] (Ci as batch, B as channels) with the
 * "filter" dy^T = [OH,OW,B,Co], using dilations = forward strides and stride 1; its
 * output [Ci,KH,KW,Co] is transposed to [KH,KW,Ci,Co]. XNNPACK honours dilations > 1
 * (checked against the cpu backend in test/kernels.test.ts), so stride 2 needs no zero-insertion.
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as BackpropFilterAttrs;
  const info = computeInfo(as4D(x.shape), a.filterShape, a);
  if (info.dataFormat !== 'channelsLast') {
    throw new Error("wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only");
  }
  const { inChannels: ci, outChannels: co, filterHeight: kh, filterWidth: kw, outHeight: oh, outWidth: ow } = info;
  const { inHeight: h, inWidth: w, strideHeight: sh, strideWidth: sw, padInfo } = info;

  if (ci === 1 && isNativeBackend(backend)) {
    const dW = conv2DBackpropFilterSingleChannelSimd(backend, x, dy, info);
    if (dW !== undefined) return dW;
  }
  if (
    sh === 1 &&
    sw === 1 &&
    winogradFits('filterGradient', kh, kw, ci, co) &&
    isNativeBackend(backend) &&
    x.dtype === 'float32' &&
    dy.dtype === 'float32'
  ) {
    const dW = winogradFilterGrad(
      backend,
      { x, dy, filterShape: a.filterShape, padTop: padInfo.top, padLeft: padInfo.left },
      winogradMatMul(backend),
    );
    if (dW !== undefined) return dW;
  }
  if (ci <= 4 && hasHeapAccess(backend)) {
    // A first layer the SIMD route above declined (output channels not in fours), or 2-4 input
    // channels: the convolution below would have one "batch" image and B
    // channels, a shape XNNPACK runs at 3-4 GFLOP/s. patchesᵀ [KH*KW*Ci, B*OH*OW] · dy is a
    // plain matmul instead. Measured on 2 threads, forward conv and loss included: seed conv1
    // [64,28,28,1] 5x5x100 81.6 -> 71.5 ms, lean's 3x3x32 "same" 24.5 -> 21.6 ms.
    const runner = new KernelRunner(asWasmBackend(backend));
    try {
      const patches = runner.own(im2colTransposed(backend, x, info));
      const dy2 = runner.run('Reshape', { x: dy }, { shape: [1, info.batchSize * oh * ow, co] });
      const g = runner.own(
        runStock('BatchMatMul', {
          inputs: { a: patches, b: dy2 },
          backend,
          attrs: { transposeA: false, transposeB: false },
        }),
      );
      return runner.finish(runner.run('Reshape', { x: g }, { shape: [kh, kw, ci, co] }));
    } catch (error) {
      runner.dispose();
      throw error;
    }
  }

  // Rows/columns of padded x actually read; extra rows at the end are left out by a smaller
  // bottom/right pad, and when even no pad is too many the surplus output is sliced off below.
  const padBottom = Math.max(0, (oh - 1) * sh + kh - h - padInfo.top);
  const padRight = Math.max(0, (ow - 1) * sw + kw - w - padInfo.left);

  const runner = new KernelRunner(asWasmBackend(backend));
  try {
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
  } catch (error) {
    runner.dispose();
    throw error;
  }
}

/** Stock wasm kernels we replaced, kept to delegate to. */
const stockKernels = new Map<string, KernelConfig>();
/** Backends on which a stock kernel's setupFunc has run: it is skipped when ours replaced it before the backend initialised. */
const stockSetUp = new Map<string, WeakSet<object>>();

function runStock(kernelName: string, args: Parameters<KernelFunc>[0]): TensorInfo {
  const stock = stockKernels.get(kernelName);
  if (stock === undefined) {
    throw new Error(`wasm ${kernelName}: unsupported configuration and no stock kernel to fall back to`);
  }
  const backend = args.backend as object;
  let done = stockSetUp.get(kernelName);
  if (done === undefined) stockSetUp.set(kernelName, (done = new WeakSet()));
  if (!done.has(backend)) {
    stock.setupFunc?.(backend);
    done.add(backend);
  }
  const result = stock.kernelFunc(args);
  return Array.isArray(result) ? (result[0] as TensorInfo) : result;
}

/**
 * dx = conv(dy zero-inserted by the stride and padded by (K-1-pad), rot180(W) transposed to
 * [KH,KW,Co,Ci]), stride 1. Falls back to the stock kernel for NCHW and for explicit paddings
 * larger than the filter (they would need a negative top/left pad of dy).
 * Kept over the stock kernel because it is faster (bench/kernels.ts, batch 64, one thread):
 * seed conv2 [64,24,24,100]*[5,5,100,50]: stock 2700 ms, this 310 ms; conv1 (1 input channel): 77 vs 65 ms.
 */
function conv2DBackpropInput(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as BackpropInputAttrs;
  const info = computeInfo(a.inputShape, as4D(filter.shape), a);
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;

  if (ci === 1 && isNativeBackend(backend)) {
    const dx = conv2DBackpropInputSingleChannelSimd(backend, dy, filter, info);
    if (dx !== undefined) return dx;
  }
  if (
    info.dataFormat === 'channelsLast' &&
    (sh > 1 || sw > 1) &&
    h % sh === 0 &&
    w % sw === 0 &&
    kh >= sh &&
    kw >= sw &&
    subPixelPays(info) &&
    hasHeapAccess(backend)
  ) {
    return subPixelBackpropInput(backend, dy, filter, info);
  }
  if (info.dataFormat === 'channelsLast' && (sh > 1 || sw > 1 || oh * ow <= 16) && hasHeapAccess(backend)) {
    // Strided or tiny outputs: the zero-inserted, padded dy of the convolution route below is
    // mostly zeros (4x at stride 2; a 1x1 output padded to 7x7 for a 4x4 filter), so one
    // matmul dy·Wᵀ plus a scatter-add is cheaper. Measured on 2 threads, dx of the strong net's
    // convs (read back included): [64,8,8,64] 5x5/2 18.0 -> 7.8 ms, the 4x4 head 9.9 -> 1.0 ms,
    // [64,24,24,32] 5x5/2 43 -> 39 ms; the small net's 3x3 to a 3x3 output 7.4 -> 2.9 ms.
    const runner = new KernelRunner(asWasmBackend(backend));
    try {
      const dy2 = runner.run('Reshape', { x: dy }, { shape: [1, b * oh * ow, co] });
      const w2 = runner.run('Reshape', { x: filter }, { shape: [1, kh * kw * ci, co] });
      const cols = runner.own(
        batchMatMul({ inputs: { a: dy2, b: w2 }, backend, attrs: { transposeA: false, transposeB: true } }),
      );
      return runner.finish(runner.own(col2im(backend, cols, info)));
    } catch (error) {
      runner.dispose();
      throw error;
    }
  }
  const padTop = kh - 1 - padInfo.top;
  const padLeft = kw - 1 - padInfo.left;
  if (info.dataFormat !== 'channelsLast' || padTop < 0 || padLeft < 0) return runStock('Conv2DBackpropInput', args);
  if (sh === 1 && sw === 1) {
    const dx = runWinograd(
      backend,
      { x: dy, filter, flip: true, padTop, padLeft, outHeight: h, outWidth: w, relu: false },
      kh,
      kw,
      co,
      ci,
    );
    if (dx !== undefined) return dx;
  }
  // dy zero-inserted by the stride is [OH*sh, OW*sw] (its last sh-1 rows are zeros too). When the
  // bottom/right pad comes out negative, the conv runs unpadded there and the surplus rows are sliced off.
  const padBottom = h + kh - 1 - padTop - oh * sh;
  const padRight = w + kw - 1 - padLeft - ow * sw;

  const runner = new KernelRunner(asWasmBackend(backend));
  try {
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
  } catch (error) {
    runner.dispose();
    throw error;
  }
}

let subPixelRoute: 'off' | 'auto' | 'always' = 'auto';

/**
 * Sets when strided input gradients take the sub-pixel route: `'auto'` (the default) where it
 * pays, `'always'` wherever it applies, `'off'` never; bench/sub_pixel.ts compares the routes.
 */
export function setSubPixelRoute(mode: 'off' | 'auto' | 'always'): void {
  subPixelRoute = mode;
}

/**
 * Whether the sub-pixel route beats dy·Wᵀ + col2im for this layer. Measured (bench/sub_pixel.ts,
 * batch 64): dy 12x12x32 (strong's first 5x5/2) 2.1-2.4x faster, 8x8x64 1.6-2.1x, 4x4x64 (strong's
 * second) 0.8-1.4x over six runs, no clear gain: per phase, a convolution over so small a dy does
 * too little work to pay for its setup.
 */
function subPixelPays(info: backend_util.Conv2DInfo): boolean {
  return subPixelRoute === 'always' || (subPixelRoute === 'auto' && info.outHeight * info.outWidth >= 64);
}

/**
 * dx of a strided convolution as sh*sw stride-1 convolutions of dy, one per output phase
 * (./wasm_heap.ts' `subPixelFilters`), then interleaved (`interleavePhases`): the multiplications of the
 * gradient and no others, at XNNPACK's forward speed, where dy·Wᵀ + col2im writes and re-reads a
 * `[B*OH*OW, KH*KW*Ci]` matrix (7.4 million floats for strong's first 5x5/2 layer).
 */
function subPixelBackpropInput(
  backend: WasmHeapBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const {
    batchSize: b,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outHeight: oh,
    outWidth: ow,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const [qh, qw] = [h / sh, w / sw];
  const runner = new KernelRunner(asWasmBackend(backend));
  try {
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
  } catch (error) {
    runner.dispose();
    throw error;
  }
}

/** A convolution by Winograd (./winograd.ts) when its sizes suit it, else `undefined`. */
function runWinograd(
  backend: unknown,
  conv: WinogradConv,
  kh: number,
  kw: number,
  inChannels: number,
  outChannels: number,
): TensorInfo | undefined {
  if (
    !winogradFits('forward', kh, kw, inChannels, outChannels) ||
    !isNativeBackend(backend) ||
    conv.x.dtype !== 'float32' ||
    conv.filter.dtype !== 'float32'
  )
    return undefined;
  return winogradConv2D(backend, conv, winogradMatMul(backend));
}

function winogradMatMul(backend: WinogradBackend): MatMul {
  return (a, b, transposeA) => batchMatMul({ inputs: { a, b }, backend, attrs: { transposeA, transposeB: false } });
}

/** Attributes of `Conv2D` and `FusedConv2D`. */
interface ConvAttrs extends BackpropAttrs {
  dilations: number | Pair;
  activation?: string;
}

/** The forward convolution by Winograd where it fits (stride and dilation 1, 5x5 or 3x3, wide), else `undefined`. */
function winogradForward(
  args: Parameters<KernelFunc>[0],
  bias: TensorInfo | undefined,
  relu: boolean,
): TensorInfo | undefined {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  if (a.dataFormat !== 'NHWC' || x.shape.length !== 4 || filter.shape.length !== 4) return undefined;
  const info = backend_util.computeConv2DInfo(
    as4D(x.shape),
    as4D(filter.shape),
    a.strides,
    a.dilations,
    a.pad,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1)
    return undefined;
  if (bias !== undefined && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== info.outChannels))
    return undefined;
  const conv: WinogradConv = {
    x,
    filter,
    flip: false,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    relu,
  };
  if (bias !== undefined) conv.bias = bias;
  return runWinograd(args.backend, conv, info.filterHeight, info.filterWidth, info.inChannels, info.outChannels);
}

/** `Conv2D`: Winograd for wide 5x5 and 3x3 stride-1 layers (the seed net's conv2, `lean`'s and `strong`'s 3x3s), XNNPACK otherwise. */
function conv2D(args: Parameters<KernelFunc>[0]): TensorInfo {
  return winogradForward(args, undefined, false) ?? runStock('Conv2D', args);
}

/**
 * `FusedConv2D` (tfjs-layers' conv with bias and activation): Winograd as in {@link conv2D}, with
 * the bias and a ReLU applied in the output transform; other activations go to stock.
 */
function fusedConv2D(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { bias, preluActivationWeights } = args.inputs as { bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  const { activation } = args.attrs as unknown as ConvAttrs;
  const fits =
    preluActivationWeights === undefined &&
    (activation === undefined || activation === 'linear' || activation === 'relu');
  return (fits ? winogradForward(args, bias, activation === 'relu') : undefined) ?? runStock('FusedConv2D', args);
}

/**
 * BatchMatMul with transposeA/transposeB: the stock kernel runs XNNPACK only without transpose
 * flags and a plain loop otherwise, so the flagged operand is transposed explicitly first (~2 ms).
 * bench/kernels.ts, dense 64x20000x128: dy·Wᵀ stock 145 ms, this 14 ms (as (W·dyᵀ)ᵀ); xᵀ·dy stock 159 ms, this 14 ms.
 */
function batchMatMul(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as { transposeA?: boolean; transposeB?: boolean };
  if (transposeA !== true && transposeB !== true) return runStock('BatchMatMul', args);
  const runner = new KernelRunner(asWasmBackend(backend));
  const swapLastTwo = (t: TensorInfo): TensorInfo => {
    const perm = t.shape.map((_, i) => i);
    const last = perm.length - 1;
    [perm[last - 1], perm[last]] = [last, last - 1];
    return runner.run('Transpose', { x: t }, { perm });
  };
  try {
    const m = a.shape[a.shape.length - 2] as number;
    const n = b.shape[b.shape.length - 2] as number;
    const unbatched = (t: TensorInfo): boolean => t.shape.slice(0, -2).every((d) => d === 1);
    if (transposeA !== true && a.shape.length === b.shape.length && unbatched(a) && unbatched(b) && 4 * m <= n) {
      // a·bᵀ with a short a (a dense layer's dx = dy·Wᵀ): XNNPACK packs its right operand on every
      // call and streams it once per row block of the left one, so a big Wᵀ on the right is slow.
      // (b·aᵀ)ᵀ puts W on the left unchanged and only the small aᵀ on the right.
      // bench/kernels.ts, 64x128 · (20000x128)ᵀ, one thread: 37 ms -> 17 ms.
      const aT = swapLastTwo(a);
      const bAT = runStock('BatchMatMul', {
        inputs: { a: b, b: aT },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
      runner.own(bAT);
      return runner.finish(swapLastTwo(bAT));
    }
    const a2 = transposeA === true ? swapLastTwo(a) : a;
    const b2 = transposeB === true ? swapLastTwo(b) : b;
    const out = runStock('BatchMatMul', {
      inputs: { a: a2, b: b2 },
      backend,
      attrs: { ...attrs, transposeA: false, transposeB: false },
    });
    runner.dispose();
    return out;
  } catch (error) {
    runner.dispose();
    throw error;
  }
}

/**
 * Replaces a stock wasm kernel by ours, keeping the stock one to delegate to. No-op when ours is
 * in place, and when there is no stock kernel yet (the wasm backend not imported): ours needs it.
 */
/**
 * `Tile` where every repeated axis has size 1 is a broadcast, and that is the only Tile training
 * meets: batch norm's gradient tiles per-channel terms `[1,1,1,C]` up to `[N,H,W,C]`. The stock
 * wasm Tile copies element by element (62 ms for `[64,26,26,32]`, 20 % of a strong-net step);
 * Fill + a broadcasting Add writes the same values in a few ms. Anything else goes to stock.
 */
function tile(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: TensorInfo };
  const { reps } = attrs as { reps: number[] };
  const broadcast =
    x.dtype === 'float32' && reps.length === x.shape.length && x.shape.every((d, i) => reps[i] === 1 || d === 1);
  if (!broadcast) return runStock('Tile', args);
  const runner = new KernelRunner(asWasmBackend(backend));
  const zeros = runner.run(
    'Fill',
    {},
    { shape: x.shape.map((d, i) => d * (reps[i] as number)), value: 0, dtype: 'float32' },
  );
  return runner.finish(runner.run('Add', { a: zeros, b: x }));
}

/** `Sum` and `Mean` over leading axes without the stock kernel's transpose; anything else goes to stock. */
function reduction(kernelName: 'Sum' | 'Mean'): KernelFunc {
  return (args: Parameters<KernelFunc>[0]): TensorInfo => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const out = hasHeapAccess(args.backend)
      ? leadingAxesReduce(args.backend, x, axis, keepDims, kernelName === 'Mean')
      : undefined;
    return out ?? runStock(kernelName, args);
  };
}

// Made once: replaceKernel recognises ours by identity, so registering again keeps the stock kernel.
const sum = reduction('Sum');
const mean = reduction('Mean');

function maxPoolGrad(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const attrs = args.attrs as unknown as MaxPoolGradAttrs;
  const out =
    (isNativeBackend(args.backend) ? maxPoolGrad2x2Simd(args.backend, dy, input, attrs) : undefined) ??
    (hasHeapAccess(args.backend) ? maxPoolGrad2D(args.backend, dy, input, attrs) : undefined);
  return out ?? runStock('MaxPoolGrad', args);
}

/**
 * `Identity` sharing its input's buffer, as the cpu and WebGL backends' does, where stock wasm
 * copies it: tfjs-core clones every tensor it saves for the backward pass, and those copies were
 * four `[64,28,28,32]` tensors in the first block of a `lean` step alone (about 7 ms a step,
 * bench/profile.ts). Sharing is safe because no kernel writes into its inputs; wasm's `Reshape`
 * shares the same way.
 */
function identity(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const backend = args.backend as { incRef?: (dataId: DataId) => void };
  if (x.dtype === 'string' || typeof backend.incRef !== 'function') return runStock('Identity', args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

function heapBackend(backend: unknown): WasmHeapBackend {
  if (!hasHeapAccess(backend))
    throw new Error('wasm training kernels: the backend has no heap access; is it the tfjs wasm backend?');
  return backend;
}

function batchNormTraining(args: Parameters<KernelFunc>[0]): TensorInfo[] {
  const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const { epsilon } = args.attrs as unknown as BatchNormTrainingAttrs;
  return (
    (isNativeBackend(args.backend) ? batchNormTrainingSimd(args.backend, x, gamma, beta, epsilon) : undefined) ??
    batchNormTrainingOnHeap(heapBackend(args.backend), x, gamma, beta, epsilon)
  );
}

function batchNormTrainingGrad(args: Parameters<KernelFunc>[0]): TensorInfo[] {
  const { dy, x, gamma, mean, variance } = args.inputs as Record<
    'dy' | 'x' | 'gamma' | 'mean' | 'variance',
    TensorInfo
  >;
  const { epsilon } = args.attrs as unknown as BatchNormTrainingAttrs;
  return (
    (isNativeBackend(args.backend)
      ? batchNormTrainingGradSimd(args.backend, dy, x, gamma, mean, variance, epsilon)
      : undefined) ?? batchNormTrainingGradOnHeap(heapBackend(args.backend), dy, x, gamma, mean, variance, epsilon)
  );
}

function addKernel(kernelName: string, kernelFunc: KernelFunc): void {
  if (getKernel(kernelName, WASM) === undefined) registerKernel({ kernelName, backendName: WASM, kernelFunc });
}

function replaceKernel(kernelName: string, kernelFunc: KernelFunc): void {
  const current = getKernel(kernelName, WASM);
  if (current === undefined || current.kernelFunc === kernelFunc) return;
  stockKernels.set(kernelName, current);
  unregisterKernel(kernelName, WASM);
  registerKernel({ kernelName, backendName: WASM, kernelFunc });
}

/** Options of {@link registerWasmTrainingKernels}. */
export interface WasmTrainingKernelOptions {
  /**
   * Run stride-1 convolutions by Winograd F(4x4, 5x5) and F(4x4, 3x3) (./winograd.ts): for 5x5
   * the forward pass and input gradient of wide layers and the filter gradient of any, for 3x3
   * all three on wide layers. Default: on; left unchanged when omitted. Results differ from the
   * direct route by float32 rounding only.
   */
  winograd?: boolean;
}

/**
 * Registers the wasm training kernels with tfjs-core:
 * - `Conv2DBackpropFilter` for the wasm backend, which has none (skipped if one is registered);
 * - `Conv2DBackpropInput` replacing the stock plain-loop one (about 9x faster on the seed net's
 *   second conv);
 * - `BatchMatMul` replacing the stock one, transposing flagged operands first so that the
 *   products of a dense layer's gradient run on XNNPACK (about 10x faster for 64x20000x128);
 * - both convolution gradients of one-channel first layers with output channels in fours in
 *   WebAssembly SIMD (./single_channel_conv_simd.ts);
 * - `Tile` for broadcasts, `Sum`/`Mean` over leading axes (batch norm's gradient) and
 *   `MaxPoolGrad`, falling back to stock for other shapes;
 * - `Identity` sharing its input's buffer instead of copying it (the tensors saved for backprop);
 * - the fused training batch norm and its gradient (`DigitBatchNormTraining`, see
 *   `batchNormalization` in ../model/batch_norm.ts), over the heap.
 *
 * Idempotent. Call it after importing `@tensorflow/tfjs-backend-wasm`: the replacements need
 * the stock kernels and are skipped while those are not registered (calling again later
 * installs them). This module does not import the wasm backend itself.
 */
export function registerWasmTrainingKernels(options: WasmTrainingKernelOptions = {}): void {
  if (options.winograd !== undefined) setWinogradEnabled(options.winograd);
  replaceKernel('Conv2D', conv2D);
  replaceKernel('FusedConv2D', fusedConv2D);
  addKernel('Conv2DBackpropFilter', conv2DBackpropFilter as KernelFunc);
  addKernel(BATCH_NORM_TRAINING, batchNormTraining);
  addKernel(BATCH_NORM_TRAINING_GRAD, batchNormTrainingGrad);
  replaceKernel('Conv2DBackpropInput', conv2DBackpropInput as KernelFunc);
  replaceKernel('BatchMatMul', batchMatMul as KernelFunc);
  replaceKernel('Tile', tile as KernelFunc);
  replaceKernel('Sum', sum);
  replaceKernel('Mean', mean);
  replaceKernel('MaxPoolGrad', maxPoolGrad as KernelFunc);
  replaceKernel('Identity', identity);
}

/**
 * {@link registerWasmTrainingKernels}, then waits until the Winograd module is compiled for the
 * wasm backend: at once in Node; in a browser compilation is asynchronous, and without this wait
 * the first convolutions would take the direct route. trainDigits and predictDigits call it.
 */
export async function readyWasmTrainingKernels(): Promise<void> {
  registerWasmTrainingKernels();
  const backend = findBackend(WASM);
  if (isNativeBackend(backend)) await prepareNativeKernels(backend);
}

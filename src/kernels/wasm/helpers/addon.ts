/**
 * The `native` routes' calls into the Node addon (../../addon/load.ts). Tensors stay where tfjs
 * put them, on the wasm heap: the addon gets one Float32Array over the whole heap and element
 * offsets, reads the inputs and writes outputs that `makeOutput` allocated. Its scratch (packed
 * weights, row pointers, per-thread partial sums) is its own malloc'd memory, so the heap is never
 * grown behind tfjs' back. Shapes are checked twice: {@link addonConvFits} here (the route applies
 * only to what the addon computes), and every size and offset again in native/node/addon.c.
 */
import type { TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { nativeAddon, type NativeAddon } from '../../addon/load.js';
import { convGeometry } from './conv_info.js';
import { isNativeBackend, type NativeBackend } from './native.js';

const INT32_MAX = 2 ** 31 - 1;

let heapView: Float32Array | undefined;

/** A float32 view of the whole heap, taken anew when the heap has grown (its buffer is then another). */
function heapOf(backend: NativeBackend): Float32Array {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  if (memory === undefined) throw new Error('native kernels: the wasm backend exposes no memory');
  if (heapView?.buffer !== memory.buffer) heapView = new Float32Array(memory.buffer);
  return heapView;
}

/** A tensor's offset in the heap, in float32 elements. */
function offsetOf(backend: NativeBackend, info: TensorInfo): number {
  return backend.typedArrayFromHeap(info).byteOffset / 4;
}

/** The addon, when it is loaded and enabled and `backend` is tfjs' wasm backend. */
export function addonFor(backend: unknown): NativeAddon | undefined {
  return isNativeBackend(backend) ? nativeAddon() : undefined;
}

/** Whether the addon's convolutions compute this one: NHWC, no dilation, every size an int32. */
export function addonConvFits(info: backend_util.Conv2DInfo): boolean {
  return (
    info.dataFormat === 'channelsLast' &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.strideHeight <= 64 &&
    info.strideWidth <= 64 &&
    [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels]
      .concat([info.filterHeight, info.filterWidth])
      .every((d) => Number.isInteger(d) && d >= 1 && d <= INT32_MAX)
  );
}

function geometry(info: backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from(convGeometry(info));
}

/** y = conv(x, filter) (+ bias) (ReLU), `[B, OH, OW, Co]`. */
export function addonConv2D(
  addon: NativeAddon,
  backend: NativeBackend,
  x: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
  bias: TensorInfo | undefined,
  relu: boolean,
): TensorInfo {
  const y = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
  const b = bias === undefined ? -1 : offsetOf(backend, bias);
  addon.conv2d(
    heapOf(backend),
    geometry(info),
    offsetOf(backend, x),
    offsetOf(backend, filter),
    b,
    offsetOf(backend, y),
    relu,
  );
  return y;
}

/** dx `[B, H, W, Ci]` of a convolution, given dy. */
export function addonConv2DBackpropInput(
  addon: NativeAddon,
  backend: NativeBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const dx = backend.makeOutput([info.batchSize, info.inHeight, info.inWidth, info.inChannels], 'float32');
  addon.conv2dBackpropInput(
    heapOf(backend),
    geometry(info),
    offsetOf(backend, dy),
    offsetOf(backend, filter),
    offsetOf(backend, dx),
  );
  return dx;
}

/** dW `[KH, KW, Ci, Co]` of a convolution, given x and dy. */
export function addonConv2DBackpropFilter(
  addon: NativeAddon,
  backend: NativeBackend,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const dw = backend.makeOutput([info.filterHeight, info.filterWidth, info.inChannels, info.outChannels], 'float32');
  addon.conv2dBackpropFilter(
    heapOf(backend),
    geometry(info),
    offsetOf(backend, x),
    offsetOf(backend, dy),
    offsetOf(backend, dw),
  );
  return dw;
}

/** The shapes of a batched product the addon computes: batch broadcast only whole (one side unbatched). */
export interface AddonMatMulShape {
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly aBatched: boolean;
  readonly bBatched: boolean;
  readonly outShape: number[];
}

/** The product's shape when the addon computes `a · b` (flags applied), or `undefined`. */
export function addonMatMulShape(
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): AddonMatMulShape | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [m, k] = transposeA ? [ac, ar] : [ar, ac];
  const [k2, n] = transposeB ? [bc, br] : [br, bc];
  if (k !== k2) return undefined;
  const aLead = a.shape.slice(0, -2);
  const bLead = b.shape.slice(0, -2);
  const aBatch = aLead.reduce((p, d) => p * d, 1);
  const bBatch = bLead.reduce((p, d) => p * d, 1);
  // Equal leading axes, or one side without batches: tfjs' other broadcasts stay on the other routes.
  const same = aLead.length === bLead.length && aLead.every((d, i) => d === bLead[i]);
  if (!same && aBatch !== 1 && bBatch !== 1) return undefined;
  const batch = Math.max(aBatch, bBatch);
  if (![batch, m, n, k].every((d) => Number.isInteger(d) && d >= 1 && d <= INT32_MAX)) return undefined;
  const rank = Math.max(aLead.length, bLead.length);
  const at = (lead: number[], i: number): number => lead[i - (rank - lead.length)] ?? 1;
  const lead = Array.from({ length: rank }, (_, i) => Math.max(at(aLead, i), at(bLead, i)));
  return { batch, m, n, k, aBatched: aBatch > 1, bBatched: bBatch > 1, outShape: [...lead, m, n] };
}

/** `a · b` with the transpose flags, `[..., M, N]`. */
export function addonMatMul(
  addon: NativeAddon,
  backend: NativeBackend,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  shape: AddonMatMulShape,
): TensorInfo {
  const c = backend.makeOutput(shape.outShape, 'float32');
  const { batch, m, n, k, aBatched, bBatched } = shape;
  const dims = Int32Array.of(batch, m, n, k, +aBatched, +bBatched, +transposeA, +transposeB);
  addon.matmul(heapOf(backend), dims, offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, c));
  return c;
}

/** An inference batch norm's parameters: per-channel tensors and ε. */
export interface AddonBatchNorm {
  readonly mean: TensorInfo;
  readonly variance: TensorInfo;
  readonly offset: TensorInfo | undefined;
  readonly scale: TensorInfo | undefined;
  readonly epsilon: number;
}

/** y = (x − μ) · γ / √(σ² + ε) + β over the last axis, as one scale and shift per channel. */
export function addonScaleShift(
  addon: NativeAddon,
  backend: NativeBackend,
  x: TensorInfo,
  bn: AddonBatchNorm,
): TensorInfo {
  const channels = x.shape.at(-1)!;
  const read = (t: TensorInfo | undefined): Float32Array | undefined =>
    t === undefined ? undefined : (backend.typedArrayFromHeap(t) as Float32Array);
  const [mean, variance, offset, gamma] = [bn.mean, bn.variance, bn.offset, bn.scale].map(read);
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = (gamma?.[c] ?? 1) / Math.sqrt(variance![c]! + bn.epsilon);
    scale[c] = s;
    shift[c] = (offset?.[c] ?? 0) - mean![c]! * s;
  }
  const y = backend.makeOutput([...x.shape], 'float32');
  addon.scaleShift(
    heapOf(backend),
    offsetOf(backend, x),
    offsetOf(backend, y),
    x.shape.reduce((a, b) => a * b, 1) / channels,
    channels,
    scale,
    shift,
  );
  return y;
}

/**
 * The glue between this package's kernels and tfjs-core's kernel registry, shared by both backends:
 * - {@link replaceKernel}: ours in place of a stock kernel, the stock one kept to delegate to;
 * - {@link addKernel}: ours where the backend has none;
 * - {@link runStock}: the replaced stock kernel, run on the arguments ours was given;
 * and the attribute types tfjs-core's ops hand these kernels.
 */
import {
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/** The backends this package has kernels for. */
export type KernelBackend = 'wasm' | 'cpu';

/** What a kernel function receives. */
export type KernelArgs = Parameters<KernelFunc>[0];

export type Pair = [number, number];
export type Shape4D = [number, number, number, number];
export type ExplicitPadding = [Pair, Pair, Pair, Pair];
export type Padding = 'valid' | 'same' | number | ExplicitPadding;
export type Activation = 'linear' | 'relu' | 'relu6' | 'leakyrelu' | 'elu' | 'sigmoid' | 'prelu';

/** Attributes both convolution gradients get from the tfjs-core ops. */
export interface BackpropAttrs {
  strides: number | Pair;
  pad: Padding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Attributes of `Conv2DBackpropFilter`. */
export interface BackpropFilterAttrs extends BackpropAttrs {
  filterShape: Shape4D;
}

/** Attributes of `Conv2DBackpropInput`. */
export interface BackpropInputAttrs extends BackpropAttrs {
  inputShape: Shape4D;
}

/** Attributes of `Conv2D` and `FusedConv2D` (the last two for the fused one only). */
export interface ConvAttrs extends BackpropAttrs {
  dilations: number | Pair;
  activation?: Activation | null;
  leakyreluAlpha?: number;
}

/** Attributes of `BatchMatMul` and `_FusedMatMul` (the last two for the fused one only). */
export interface MatMulAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: Activation | null;
  leakyreluAlpha?: number;
}

/** Attributes of `MaxPoolGrad`. */
export interface MaxPoolGradAttrs {
  filterSize: number | Pair;
  strides: number | Pair;
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Attributes of `Sum` and `Mean`. */
export interface ReductionAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/** Attributes of `Tile`. */
export interface TileAttrs {
  reps: number[];
}

/** Stock kernels we replaced, by `backend/kernel`, kept to delegate to. */
const stockKernels = new Map<string, KernelConfig>();
/** Backends on which a stock kernel's setupFunc has run: it is skipped when ours replaced it before the backend initialised. */
const stockSetUp = new Map<string, WeakSet<object>>();

const key = (backend: KernelBackend, kernelName: string): string => `${backend}/${kernelName}`;

/**
 * Puts `kernelFunc` in place of the stock kernel, which {@link runStock} then runs. No-op when ours
 * is already in place (recognised by identity, so every kernel function is made once), and when
 * there is no stock kernel yet (the backend's package not imported): ours needs it.
 */
export function replaceKernel(backend: KernelBackend, kernelName: string, kernelFunc: KernelFunc): void {
  const current = getKernel(kernelName, backend);
  if (current === undefined || current.kernelFunc === kernelFunc) return;
  stockKernels.set(key(backend, kernelName), current);
  unregisterKernel(kernelName, backend);
  registerKernel({ kernelName, backendName: backend, kernelFunc });
}

/** Registers `kernelFunc` where the backend has no such kernel; leaves a registered one alone. */
export function addKernel(backend: KernelBackend, kernelName: string, kernelFunc: KernelFunc): void {
  if (getKernel(kernelName, backend) === undefined) registerKernel({ kernelName, backendName: backend, kernelFunc });
}

/** Runs the stock kernel that {@link replaceKernel} replaced, setting it up on this backend first if it never was. */
export function runStock(backend: KernelBackend, kernelName: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  const k = key(backend, kernelName);
  const stock = stockKernels.get(k);
  if (stock === undefined) {
    throw new Error(`${backend} ${kernelName}: unsupported configuration and no stock kernel to fall back to`);
  }
  const target = args.backend as object;
  let done = stockSetUp.get(k);
  if (done === undefined) stockSetUp.set(k, (done = new WeakSet()));
  if (!done.has(target)) {
    stock.setupFunc?.(target);
    done.add(target);
  }
  return stock.kernelFunc(args);
}

/** The first output of a kernel that returns one tensor or several. */
export function firstOutput(result: TensorInfo | TensorInfo[]): TensorInfo {
  const info = Array.isArray(result) ? result[0] : result;
  if (info === undefined) throw new Error('kernel returned no tensor');
  return info;
}

/**
 * The cpu backend (`MathBackendCPU`) as the kernels use it: its tensors' values and new tensors.
 * Reached through the backend object handed to each kernel, so this package never imports
 * `@tensorflow/tfjs-backend-cpu` itself.
 */
import type { DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';

/** The part of the cpu backend these kernels use. */
export interface CpuBackendLike {
  readonly data: { get(dataId: DataId): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: DataType, values?: Float32Array): TensorInfo;
}

export function asCpuBackend(backend: unknown): CpuBackendLike | undefined {
  const candidate = backend as Partial<CpuBackendLike> | null;
  if (candidate === null || typeof candidate !== 'object') return undefined;
  if (typeof candidate.makeTensorInfo !== 'function' || typeof candidate.data?.get !== 'function') return undefined;
  return candidate as CpuBackendLike;
}

/** The float32 values of a tensor, or undefined when it is not a plain float32 tensor (then the stock kernel runs). */
export function float32Values(backend: CpuBackendLike, info: TensorInfo | undefined): Float32Array | undefined {
  if (info === undefined || info.dtype !== 'float32') return undefined;
  const values = backend.data.get(info.dataId)?.values;
  return values instanceof Float32Array ? values : undefined;
}

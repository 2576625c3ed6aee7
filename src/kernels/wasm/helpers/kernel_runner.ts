/**
 * Runs other wasm kernels from inside one of ours ({@link KernelRunner}) and frees their
 * intermediate outputs once the final result is built. Kernels are looked up in tfjs' registry at
 * call time, so a route that runs `Conv2D` gets ours (../conv2d.ts), and this package never
 * imports `@tensorflow/tfjs-backend-wasm` itself.
 */
import {
  getKernel,
  type DataId,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/** The part of the wasm backend the runner uses: freeing intermediate results. */
export interface WasmBackendLike {
  disposeData(dataId: DataId, force?: boolean): boolean;
}

export function asWasmBackend(backend: unknown): WasmBackendLike {
  const candidate = backend as Partial<WasmBackendLike> | null;
  if (candidate === null || typeof candidate !== 'object' || typeof candidate.disposeData !== 'function') {
    throw new Error('wasm training kernels: the backend has no disposeData(); is it the tfjs wasm backend?');
  }
  return candidate as WasmBackendLike;
}

/**
 * Runs other wasm kernels and remembers their outputs so that the intermediates can be freed once
 * the final result is built.
 */
export class KernelRunner {
  private readonly owned: TensorInfo[] = [];
  private readonly backend: WasmBackendLike;

  constructor(backend: unknown) {
    this.backend = asWasmBackend(backend);
  }

  run(kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const config = getKernel(kernelName, 'wasm');
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

  /** Runs `body`, freeing every intermediate if it throws. */
  static guard(backend: unknown, body: (runner: KernelRunner) => TensorInfo): TensorInfo {
    const runner = new KernelRunner(backend);
    try {
      return body(runner);
    } catch (error) {
      runner.dispose();
      throw error;
    }
  }
}

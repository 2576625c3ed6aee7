/**
 * The wasm backend's heap, read and written from TypeScript: the backend methods the heap routes
 * use and float32 views of tensors. The routes written over the heap live beside this module:
 * - ./leading_axes.ts: `Sum`/`Mean` over the leading axes;
 * - ./max_pool_grad_heap.ts: the max-pool gradient, any window;
 * - ./im2col.ts: the transposed patch matrix and col2im of the convolution gradients;
 * - ./sub_pixel.ts: the sub-pixel phase filters and their interleave;
 * - ./batch_norm_heap.ts: the fused training batch norm and its gradient.
 */
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';

/** The wasm backend's heap access (public methods of tfjs' BackendWasm). */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export function hasHeapAccess(backend: unknown): backend is WasmHeapBackend {
  const b = backend as Partial<WasmHeapBackend> | null;
  return (
    b !== null &&
    typeof b === 'object' &&
    typeof b.makeOutput === 'function' &&
    typeof b.typedArrayFromHeap === 'function'
  );
}

/** Float32 view of a tensor's bytes in the heap. Views are taken after every allocation: malloc may grow (and replace) the heap buffer. */
export function f32(backend: WasmHeapBackend, info: TensorInfo): Float32Array {
  const view = backend.typedArrayFromHeap(info);
  if (!(view instanceof Float32Array)) throw new Error('wasm heap kernels: expected a float32 tensor');
  return view;
}

/** `backend` with its heap access; throws when it is not tfjs' wasm backend. */
export function asHeapBackend(backend: unknown): WasmHeapBackend {
  if (!hasHeapAccess(backend))
    throw new Error('wasm training kernels: the backend has no heap access; is it the tfjs wasm backend?');
  return backend;
}

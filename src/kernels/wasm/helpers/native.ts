/**
 * The package's one WebAssembly SIMD module (native/: the Winograd transforms of ./winograd.ts, the
 * batch norm of ./batch_norm_simd.ts, the max-pool gradient of ./max_pool_simd.ts and the first-layer
 * gradients of ./single_channel_conv_simd.ts), linked to the tfjs wasm backend's own memory so that its
 * functions take tensors' heap offsets as pointers. One instance per backend memory. The routes
 * that use it apply only once it is ready ({@link nativeReady}); until then the next route runs.
 */
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { inflateSync } from 'fflate';

import { NATIVE_WASM_DEFLATED } from './native_binary.js';

/** What the module's callers use of tfjs' BackendWasm (public members). */
export interface NativeBackend {
  wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

let failed = false;
const instances = new WeakMap<WebAssembly.Memory, WebAssembly.Exports>();

function decode(base64: string): Uint8Array {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Reads an unsigned LEB128 number at `at`; returns it and the offset after it. */
function leb128(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = bytes[at++] as number;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, at];
  }
}

/**
 * The module's bytes with its memory import marked shared or not, to match the memory it will be
 * linked to. build.sh emits it plain with a maximum (limits flag 0x01); shared is flag 0x03, the
 * same length. Walks the import section to the one memory import's flag byte.
 */
function moduleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(inflateSync(decode(NATIVE_WASM_DEFLATED)));
  let at = 8; // magic and version
  while (at < bytes.length) {
    const id = bytes[at++] as number;
    let size: number;
    [size, at] = leb128(bytes, at);
    if (id !== 2) {
      at += size;
      continue;
    }
    let count: number;
    [count, at] = leb128(bytes, at);
    for (let i = 0; i < count; i++) {
      for (let name = 0; name < 2; name++) {
        let length: number;
        [length, at] = leb128(bytes, at);
        at += length;
      }
      if (bytes[at++] !== 2 || bytes[at] !== 0x01) break; // only a memory import with a maximum is expected
      bytes[at] = shared ? 0x03 : 0x01;
      return bytes;
    }
    break;
  }
  throw new Error('native module: no memory import with a maximum (rebuild with native/build.sh)');
}

function memoryOf(backend: NativeBackend): WebAssembly.Memory | undefined {
  // tfjs' threaded build keeps its (shared) memory on the Emscripten module, the plain build exports it.
  return backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
}

function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/**
 * Compiles and links the module against the backend's memory. Synchronous where the host
 * allows it (Node); browsers refuse synchronous compilation of modules over 4 KB on the main
 * thread, so there it happens in the returned promise (trainDigits and predictDigits await it).
 * Until it is ready, and wherever it fails, callers take their fallback routes.
 */
export function prepareNativeKernels(backend: NativeBackend): Promise<void> | undefined {
  const memory = memoryOf(backend);
  if (memory === undefined || failed || instances.has(memory)) return undefined;
  const bytes = moduleBytes(isShared(memory));
  try {
    instances.set(memory, new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports);
    return undefined;
  } catch {
    return WebAssembly.compile(bytes).then(
      async (module) => {
        const instance = await WebAssembly.instantiate(module, { env: { memory } });
        instances.set(memory, instance.exports);
      },
      () => {
        failed = true;
      },
    );
  }
}

/** The module's exports for this backend, or `undefined` while it is not ready (starting it if need be). */
export function nativeKernels(backend: NativeBackend): WebAssembly.Exports | undefined {
  const memory = memoryOf(backend);
  if (memory === undefined) return undefined;
  if (!instances.has(memory)) void prepareNativeKernels(backend);
  return instances.get(memory);
}

/** The module's exports for a backend it is ready for; throws otherwise (the routes check {@link nativeReady} first). */
export function requireNativeKernels(backend: NativeBackend): WebAssembly.Exports {
  const exports = nativeKernels(backend);
  if (exports === undefined) throw new Error('native module: not ready for this backend');
  return exports;
}

/** Whether `backend` has what the module needs: tfjs' wasm backend. */
export function isNativeBackend(backend: unknown): backend is NativeBackend {
  const b = backend as Partial<NativeBackend> | null;
  return (
    b !== null &&
    typeof b === 'object' &&
    typeof b.makeOutput === 'function' &&
    typeof b.typedArrayFromHeap === 'function' &&
    typeof b.wasm === 'object' &&
    b.wasm !== null &&
    typeof b.disposeData === 'function'
  );
}

/** A tensor's byte offset in the heap: the form the module takes it in. */
export function heapPointer(backend: NativeBackend, info: TensorInfo): number {
  return backend.typedArrayFromHeap(info).byteOffset;
}

/**
 * Runs `body` with the heap pointer of a scratch tensor of `floats` float32s, freed afterwards: the
 * module keeps no memory of its own, so its functions take their working memory from the caller.
 */
export function withScratch(backend: NativeBackend, floats: number, body: (scratch: number) => void): void {
  const scratch = backend.makeOutput([floats], 'float32');
  try {
    body(heapPointer(backend, scratch));
  } finally {
    backend.disposeData(scratch.dataId);
  }
}

/** Whether `backend` is tfjs' wasm backend and the module is ready for it (starting its compilation if need be). */
export function nativeReady(backend: unknown): backend is NativeBackend {
  return isNativeBackend(backend) && nativeKernels(backend) !== undefined;
}

/** `backend` as the module's callers see it; throws when it is not tfjs' wasm backend. */
export function asNativeBackend(backend: unknown): NativeBackend {
  if (!isNativeBackend(backend)) throw new Error("native module: the backend is not tfjs' wasm backend");
  return backend;
}

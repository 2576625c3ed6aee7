/**
 * The package's one WebAssembly SIMD module (native/: the Winograd transforms of ./winograd.ts, the
 * batch norm of ./batch_norm_simd.ts, the max-pool gradient of ./max_pool_simd.ts and the first-layer
 * gradients of ./single_channel_conv_simd.ts), linked to the tfjs wasm backend's own memory so that its
 * functions take tensors' heap offsets as pointers. One instance per backend memory. The routes
 * that use it apply only once it is ready ({@link nativeReady}); until then the next route runs.
 * Two builds of it ship: where the engine has relaxed SIMD its inner multiply-adds are
 * f32x4.relaxed_madd (fused on CPUs with FMA; {@link nativeSimdVariant}), elsewhere a multiply and an
 * add. Where that memory is shared (tfjs' threaded build), {@link runNative} splits a call between the
 * calling thread and a pool of workers with instances of their own over the same memory (./pool.ts).
 */
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { inflateSync } from 'fflate';

import { NATIVE_WASM_DEFLATED, NATIVE_WASM_RELAXED_DEFLATED } from './native_binary.js';
import { poolThreadsOverride, WasmPool, type PoolJob } from './pool.js';

/** What the module's callers use of tfjs' BackendWasm (public members). */
export interface NativeBackend {
  wasm: {
    wasmMemory?: WebAssembly.Memory;
    asm?: { memory?: WebAssembly.Memory };
    tfjs?: { getThreadsCount?: () => number };
  };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

let failed = false;
/** The module linked to one backend memory; `pool` once a pooled call has started it (`null`: it could not start). */
interface Linked {
  readonly module: WebAssembly.Module;
  readonly exports: WebAssembly.Exports;
  pool?: WasmPool | null;
}
const instances = new WeakMap<WebAssembly.Memory, Linked>();

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
 * A module of one function using f32x4.relaxed_madd (0xfd 0x85 0x02): engines with relaxed SIMD
 * (Node 22+, Chrome 114+; Node 20 behind --experimental-wasm-relaxed-simd) validate it.
 */
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03,
  0x02, 0x01, 0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b,
]);

/** Which build of the module: its multiply-adds as f32x4.relaxed_madd, or as a multiply and an add. */
export type NativeSimdVariant = 'relaxed' | 'plain';

let variant: NativeSimdVariant | undefined;
/** The build this engine runs: `relaxed` where it validates relaxed SIMD, else `plain`. */
export function nativeSimdVariant(): NativeSimdVariant {
  variant ??= WebAssembly.validate(RELAXED_PROBE) ? 'relaxed' : 'plain';
  return variant;
}

/**
 * The module's bytes with its memory import marked shared or not, to match the memory it will be
 * linked to. build.sh emits it plain with a maximum (limits flag 0x01); shared is flag 0x03, the
 * same length. Walks the import section to the one memory import's flag byte.
 */
function moduleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const packed = nativeSimdVariant() === 'relaxed' ? NATIVE_WASM_RELAXED_DEFLATED : NATIVE_WASM_DEFLATED;
  const bytes = new Uint8Array(inflateSync(decode(packed)));
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
    const module = new WebAssembly.Module(bytes);
    instances.set(memory, { module, exports: new WebAssembly.Instance(module, { env: { memory } }).exports });
    return undefined;
  } catch {
    return WebAssembly.compile(bytes).then(
      async (module) => {
        const instance = await WebAssembly.instantiate(module, { env: { memory } });
        instances.set(memory, { module, exports: instance.exports });
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
  return instances.get(memory)?.exports;
}

/** Threads the pool uses for `backend`: the wasm backend's (XNNPACK's) thread count, or the tests' override. */
function poolThreads(backend: NativeBackend): number {
  return poolThreadsOverride() ?? backend.wasm.tfjs?.getThreadsCount?.() ?? 1;
}

/**
 * Runs the export `job.fn(...job.args, begin, end)` over items `[0, job.items)`: split between the
 * calling thread and the pool's workers where the backend has several threads and shared memory,
 * else in one call here. The module must be ready for this backend.
 */
export function runNative(backend: NativeBackend, job: PoolJob): void {
  const memory = memoryOf(backend);
  const linked = memory === undefined ? undefined : instances.get(memory);
  if (memory === undefined || linked === undefined) throw new Error('native module: not ready for this backend');
  const threads = poolThreads(backend);
  if (threads > 1 && job.items > 1 && isShared(memory)) {
    if (linked.pool === undefined) {
      try {
        linked.pool = new WasmPool(linked.module, memory, linked.exports, threads - 1);
      } catch {
        linked.pool = null;
      }
    }
    if (linked.pool !== null) {
      linked.pool.run(job, threads);
      return;
    }
  }
  (linked.exports[job.fn] as (...args: number[]) => void)(...job.args, 0, job.items);
}

/** Threads a pooled call on `backend` would run on now (1 until the pool's workers are up); for tests. */
export function nativePoolThreads(backend: NativeBackend): number {
  const memory = memoryOf(backend);
  const pool = memory === undefined ? undefined : instances.get(memory)?.pool;
  return pool ? Math.min(pool.threads, poolThreads(backend)) : 1;
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

/**
 * TensorFlow.js backends for the browser: WebGPU, WebGL, WASM (its .wasm binaries
 * bundled by Vite, no CDN) and plain-JS CPU, and the choice of a default.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// Registers the `webgpu` backend only where navigator.gpu exists; probeWebGpu says why it is missing elsewhere.
import '@tensorflow/tfjs-backend-webgpu';
import '@tensorflow/tfjs-backend-webgl';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { configureWasmThreads } from 'digit-recognizer';
// `?url`: Vite copies each binary into the build and gives its URL.
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
});

/**
 * WASM threads: every core the browser reports, at most 8 (the workers tfjs' threaded build
 * starts), on a cross-origin isolated page (SharedArrayBuffer); `?threads=N` asks for fewer.
 * Set before any tf.setBackend('wasm'); see startBackend for tfjs' cap at half the cores.
 */
export const wasmThreads = ((): number => {
  if (!globalThis.crossOriginIsolated) return 1;
  const asked = Number(new URLSearchParams(location.search).get('threads') ?? Number.NaN);
  const cores = Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 8));
  const threads = Number.isInteger(asked) && asked >= 1 ? Math.min(asked, cores) : cores;
  configureWasmThreads(threads, { setThreadsCount });
  return threads;
})();

export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export function isBackendName(value: string | null): value is BackendName {
  return value === 'webgpu' || value === 'webgl' || value === 'wasm' || value === 'cpu';
}

/** What the page can tell about WebGL without starting TensorFlow.js on it. */
export interface WebGlProbe {
  readonly available: boolean;
  /** A software rasteriser (SwiftShader, llvmpipe): works, but slower than WASM. */
  readonly software: boolean;
  readonly renderer: string;
}

export function probeWebGl(): WebGlProbe {
  try {
    const canvas = document.createElement('canvas');
    const gl = canvas.getContext('webgl2') ?? canvas.getContext('webgl');
    if (gl === null) return { available: false, software: false, renderer: 'none' };
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(ext === null ? gl.getParameter(gl.RENDERER) : gl.getParameter(ext.UNMASKED_RENDERER_WEBGL));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return { available: true, software: /swiftshader|llvmpipe|software|basic render/i.test(renderer), renderer };
  } catch {
    return { available: false, software: false, renderer: 'none' };
  }
}

/** What the page can tell about WebGPU without starting TensorFlow.js on it. */
export interface WebGpuProbe {
  readonly available: boolean;
  /** A fallback or CPU adapter (SwiftShader): works, but no faster than WASM. */
  readonly software: boolean;
  /** The adapter's vendor and architecture, e.g. "google swiftshader". */
  readonly adapter: string;
  /** Why WebGPU is unavailable, short (for the menu) and in full (its tooltip and the console); empty when available. */
  readonly why: string;
  readonly reason: string;
}

/** The slice of the WebGPU API the probe reads (TypeScript's DOM library has no WebGPU types). */
interface GpuAdapterLike {
  readonly isFallbackAdapter?: boolean;
  readonly info?: {
    readonly vendor?: string;
    readonly architecture?: string;
    readonly description?: string;
    readonly isFallbackAdapter?: boolean;
  };
}

export async function probeWebGpu(): Promise<WebGpuProbe> {
  const missing = (why: string, reason: string): WebGpuProbe => ({
    available: false,
    software: false,
    adapter: 'none',
    why,
    reason,
  });
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  if (gpu === undefined) {
    return missing(
      'not in this browser',
      'WebGPU: this browser has no navigator.gpu (not supported, turned off, or the page is not a secure context)',
    );
  }
  try {
    const adapter = await gpu.requestAdapter();
    if (adapter === null)
      return missing('no adapter', 'WebGPU: navigator.gpu.requestAdapter() returned null (no usable GPU)');
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture].filter((s) => s !== undefined && s !== '').join(' ') || 'unknown';
    const software =
      adapter.isFallbackAdapter === true ||
      info.isFallbackAdapter === true ||
      /swiftshader|llvmpipe|software/i.test(`${name} ${info.description ?? ''}`);
    return { available: true, software, adapter: name, why: '', reason: '' };
  } catch (e) {
    return missing('no adapter', `WebGPU: requestAdapter() failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Backends in the order to try: hardware WebGPU, hardware WebGL, then WASM, then software WebGPU
 * and WebGL, then CPU.
 */
export function preferredOrder(webgl: WebGlProbe, webgpu: WebGpuProbe): BackendName[] {
  const fast: BackendName[] = [];
  const slow: BackendName[] = [];
  if (webgpu.available) (webgpu.software ? slow : fast).push('webgpu');
  if (webgl.available) (webgl.software ? slow : fast).push('webgl');
  return [...fast, 'wasm', ...slow, 'cpu'];
}

/** Switches TensorFlow.js to `name`; false when that backend cannot start here. */
export async function startBackend(name: BackendName): Promise<boolean> {
  const start = async (): Promise<boolean> => {
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    return tf.getBackend() === name;
  };
  try {
    return name === 'wasm' && wasmThreads > 1 ? await reportingCores(2 * wasmThreads, start) : await start();
  } catch {
    return false;
  }
}

/**
 * tfjs' C++ caps its thread pool at navigator.hardwareConcurrency / 2 whatever setThreadsCount
 * asks (it assumes two hyperthreads per core): 1 thread on a 2-core machine. While the wasm
 * backend starts, the page reports `cores`, as the library's Node shim does with os.cpus().
 */
async function reportingCores<T>(cores: number, run: () => Promise<T>): Promise<T> {
  Object.defineProperty(navigator, 'hardwareConcurrency', { configurable: true, get: () => cores });
  try {
    return await run();
  } finally {
    Reflect.deleteProperty(navigator, 'hardwareConcurrency');
  }
}

/** A short description of the running backend, e.g. "WASM · SIMD". */
export async function describeBackend(name: BackendName, webgl: WebGlProbe, webgpu: WebGpuProbe): Promise<string> {
  if (name === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true ? getThreadsCount() : 1;
    const note = threads === 1 && !globalThis.crossOriginIsolated ? ' (not cross-origin isolated)' : '';
    return `WASM · ${simd === true ? 'SIMD' : 'no SIMD'} · ${threads} thread${threads === 1 ? '' : 's'}${note}`;
  }
  if (name === 'webgl') return `WebGL ${tf.env().getNumber('WEBGL_VERSION')} · ${webgl.software ? 'software' : 'GPU'}`;
  if (name === 'webgpu') return `WebGPU · ${webgpu.adapter} · ${webgpu.software ? 'software' : 'GPU'}`;
  return 'CPU · plain JavaScript';
}

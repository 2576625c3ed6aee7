/**
 * Multi-threaded XNNPACK for the TensorFlow.js wasm backend, in Node as well as in browsers.
 *
 * `@tensorflow/tfjs-backend-wasm` 4.22 ships a threaded SIMD build whose Emscripten glue has Node
 * branches (worker_threads), but tfjs turns it off in Node (the `WASM_HAS_MULTITHREAD_SUPPORT`
 * flag answers false when `IS_NODE`, tfjs issue 3830) because two things fail there:
 * - the pthread worker script is handed to `new Worker()` as a `blob:` URL, which Node's
 *   `worker_threads.Worker` refuses (ERR_WORKER_PATH);
 * - the main script is posted to each worker as a `Blob`, which the worker then `importScripts`
 *   by reading it as a file.
 * {@link configureWasmThreads} turns the flag on and, in Node only, puts a `Worker` class on
 * `globalThis` that runs `blob:` scripts through a small bootstrap reading the Blobs instead.
 * Nothing here imports `@tensorflow/tfjs-backend-wasm`: consumers pick the backend.
 *
 * Browsers: threads need `SharedArrayBuffer`, so the page must be cross-origin isolated (served
 * with `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`);
 * without that the flag's own check says false there and the single-threaded build is used.
 * tfjs also caps the pool at `navigator.hardwareConcurrency / 2` threads there (lifted in Node only).
 *
 * Results are bitwise identical for any thread count; the gain needs idle cores (on a machine with
 * none, more threads gain nothing). `npm run bench -- bench/steps/profile.ts --threads N` times a step.
 */
import { engine, env } from '@tensorflow/tfjs-core';

const FLAG = 'WASM_HAS_MULTITHREAD_SUPPORT';

/** What {@link configureWasmThreads} did. */
export interface WasmThreadsSetup {
  /** Threads asked for (1 selects the single-threaded build). */
  readonly threads: number;
  /** Whether the threaded build was enabled (false for 1 thread). */
  readonly threaded: boolean;
  /** Whether the Node `worker_threads` shim was installed (Node only, threads > 1). */
  readonly nodeShim: boolean;
}

/** Options of {@link configureWasmThreads}. */
export interface WasmThreadsOptions {
  /**
   * The wasm package's `setThreadsCount` (`import { setThreadsCount } from
   * '@tensorflow/tfjs-backend-wasm'`): without it XNNPACK sizes its pool to the number of cores.
   */
  readonly setThreadsCount?: (threads: number) => void;
}

/**
 * Runs in each pthread worker (CommonJS, `eval: true`). It reads the worker script from the Blob
 * it was given, runs it with a `worker_threads`/`fs` facade, and turns the `load` message's main
 * script Blob into text that the script's `importScripts` (an `fs.readFileSync` + eval) can read.
 * The globals set first are free variables of the tfjs node bundle's factory (`require$$N`,
 * `commonjsGlobal`), which the Blob's `factory.toString()` loses.
 */
const BOOTSTRAP = String.raw`
'use strict';
const threads = require('node:worker_threads');
const fs = require('node:fs');
const { EventEmitter } = require('node:events');
const { workerBlob } = threads.workerData;
const MAIN = '/tfjs-wasm-threaded-main.js';
let mainText = '';
Object.assign(globalThis, {
  commonjsGlobal: globalThis,
  require$$0: fs,
  require$$1: require('node:path'),
  require$$3: require('node:perf_hooks'),
  require$$4: require('node:os'),
  __dirname: process.cwd(),
});
const port = new EventEmitter();
port.postMessage = (message, transfer) => threads.parentPort.postMessage(message, transfer);
const facade = { ...threads, parentPort: port };
const files = { ...fs, readFileSync: (file, ...rest) => (file === MAIN ? mainText : fs.readFileSync(file, ...rest)) };
const load = (id) => (id === 'worker_threads' || id === 'node:worker_threads' ? facade : id === 'fs' || id === 'node:fs' ? files : require(id));
let queue = workerBlob.text().then((code) => new Function('require', '__filename', code)(load, MAIN));
threads.parentPort.on('message', (data) => {
  queue = queue.then(async () => {
    if (data !== null && typeof data === 'object' && data.cmd === 'load' && typeof data.urlOrBlob === 'object' && data.urlOrBlob !== null) {
      mainText = await data.urlOrBlob.text();
      data.urlOrBlob = MAIN;
    }
    port.emit('message', data);
  });
});
`;

interface NodeWorker {
  ref(): void;
  unref(): void;
}
interface NodeWorkerThreads {
  Worker: new (filename: string | URL, options?: Record<string, unknown>) => NodeWorker;
}
interface NodeBuffer {
  resolveObjectURL(id: string): Blob | undefined;
}
interface NodeProcess {
  getBuiltinModule?(id: string): unknown;
}

/**
 * The process's Node flags less `--input-type`, which would make the eval'd bootstrap an ES module,
 * and less V8's WebAssembly feature flags (`--experimental-wasm-relaxed-simd` on Node 20), which a
 * worker refuses (ERR_WORKER_INVALID_EXEC_ARGV) and gets anyway: V8's flags are per process.
 */
function commonJsExecArgv(): string[] {
  const args = (globalThis as { process?: { execArgv?: string[] } }).process?.execArgv ?? [];
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--input-type') i++;
    else if (!arg.startsWith('--input-type=') && !/^--(experimental-)?wasm-/.test(arg)) out.push(arg);
  }
  return out;
}

let shimInstalled = false;
/** Logical cores reported to the wasm module's `emscripten_num_logical_cores`, 0 for the truth. */
let reportedCores = 0;

/**
 * tfjs' C++ caps XNNPACK's pool at `emscripten_num_logical_cores() / 2` (it assumes two
 * hyperthreads per core), which in Node is `os.cpus().length / 2`: 1 thread on a 2-core machine.
 * Only for that caller (recognised by its stack frame), os.cpus() answers 2 x threads entries.
 */
function patchCoreCount(os: { cpus(): unknown[] }): void {
  const real = os.cpus;
  const patched = function cpus(this: unknown): unknown[] {
    const list = real.call(os);
    if (
      reportedCores <= list.length ||
      list.length === 0 ||
      !/_emscripten_num_logical_cores/.test(new Error().stack ?? '')
    )
      return list;
    return Array.from({ length: reportedCores }, (_, i) => list[i % list.length]);
  };
  os.cpus = patched;
}

/** Installs the `globalThis.Worker` shim once (Node only). Returns false outside Node. */
function installNodeWorkerShim(): boolean {
  if (shimInstalled) return true;
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (proc?.getBuiltinModule === undefined) return false;
  const threads = proc.getBuiltinModule('node:worker_threads') as NodeWorkerThreads;
  const buffer = proc.getBuiltinModule('node:buffer') as NodeBuffer;
  patchCoreCount(proc.getBuiltinModule('node:os') as { cpus(): unknown[] });
  const Base = threads.Worker;
  class BlobWorker extends Base {
    private readonly pooled: boolean;

    constructor(filename: string | URL, options?: Record<string, unknown>) {
      const href = String(filename);
      const workerBlob = href.startsWith('blob:') ? buffer.resolveObjectURL(href) : undefined;
      if (href.startsWith('blob:') && workerBlob === undefined) throw new Error(`wasm threads: no Blob behind ${href}`);
      if (workerBlob === undefined) super(filename, options);
      else super(BOOTSTRAP, { ...options, eval: true, workerData: { workerBlob }, execArgv: commonJsExecArgv() });
      this.pooled = workerBlob !== undefined;
      if (this.pooled) this.unref();
    }

    /**
     * XNNPACK's pool threads live as long as the backend, and Emscripten ref()s a worker while its
     * pthread runs, which would keep Node alive for ever. The main thread blocks (Atomics.wait)
     * while they work, so the workers never need to hold the event loop open themselves.
     */
    override ref(): void {
      if (!this.pooled) super.ref();
    }
  }
  // The Emscripten glue assigns `global.Worker = worker_threads.Worker` just before creating its
  // pool, so the shim is an accessor that keeps answering BlobWorker.
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    get: () => BlobWorker,
    set: () => {},
  });
  shimInstalled = true;
  return true;
}

function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === 'string';
}

/**
 * Chooses how many threads the wasm backend's XNNPACK uses. Call it after importing
 * `@tensorflow/tfjs-backend-wasm` and before `tf.setBackend('wasm')`:
 *
 * ```ts
 * import * as wasm from '@tensorflow/tfjs-backend-wasm';
 * configureWasmThreads(2, { setThreadsCount: wasm.setThreadsCount });
 * await tf.setBackend('wasm');
 * ```
 *
 * `threads` 1 selects the single-threaded SIMD build (tfjs' default in Node). In Node, threads
 * run on `worker_threads`; they are unref'd while idle, so the process still exits by itself.
 */
export function configureWasmThreads(threads: number, options: WasmThreadsOptions = {}): WasmThreadsSetup {
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`threads must be a positive integer, got ${threads}`);
  // engine().registry holds initialised backends only (tf.findBackend would start initialising one).
  if (engine().registry['wasm'] !== undefined) {
    throw new Error(
      'configureWasmThreads: the wasm backend is already initialised; call it before tf.setBackend("wasm")',
    );
  }
  const threaded = threads > 1;
  try {
    env().set(FLAG, threaded);
  } catch {
    throw new Error('configureWasmThreads: import @tensorflow/tfjs-backend-wasm first (its flags are not registered)');
  }
  const nodeShim = threaded && isNode() ? installNodeWorkerShim() : false;
  if (threaded && isNode() && !nodeShim) {
    env().set(FLAG, false);
    throw new Error('configureWasmThreads: this Node has no process.getBuiltinModule (needs Node >= 20.16)');
  }
  if (nodeShim) reportedCores = 2 * threads;
  options.setThreadsCount?.(threads);
  return { threads, threaded, nodeShim };
}

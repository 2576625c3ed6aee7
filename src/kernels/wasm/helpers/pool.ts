/**
 * A small worker pool for the package's SIMD module (./native.ts), like XNNPACK's pthreadpool:
 * N - 1 workers (N: the wasm backend's thread count) each instantiate the same compiled module
 * over the same shared WebAssembly.Memory, so a call's pointers mean the same thing on every
 * thread. The caller splits a call into chunks of independent items (image rows, channel groups,
 * Winograd positions ...: every exported function the pool runs takes `begin, end` as its last two
 * arguments and writes only its items' outputs), wakes the workers through a control block in a
 * separate SharedArrayBuffer, takes chunks itself and waits for the rest (Atomics.wait where the
 * thread may block, spinning on a browser's main thread, where it may not). Chunks are claimed in
 * any order by any thread, so results are bitwise identical for any thread count: no item's sum is
 * ever split.
 *
 * The pool starts lazily, on the first call that could use it; until its workers are up (and
 * wherever memory is not shared or workers cannot start) calls run on the calling thread alone.
 * Node workers are `worker_threads` started from a source string (`eval`), unref'd so that a
 * process exits by itself; browsers get the same source as a Blob URL (the package ships compiled
 * and the demo is bundled, so there is no worker file to point at).
 */

/** Control block layout (Int32 indices). */
const FN = 0;
const NARGS = 1;
const ITEMS = 2;
const CHUNKS = 3;
/** The job's number (21 bits, wrapping). */
const JOB = 4;
/** The job's number times CHUNK_SPAN plus the chunks not yet claimed: a claim from another job fails. */
const NEXT = 5;
const DONE = 6;
const FAILED = 7;
const CHUNK_SPAN = 512;
const JOB_MASK = 0x1fffff;
const MAX_WORKERS = 63;
/** Per worker: a counter it waits on (bumped to wake it), then its ready flag. */
const SLOTS = 8;
const READY = SLOTS + MAX_WORKERS;
const ARGS_BYTES = 4 * 256;
const MAX_ARGS = 32;
const CONTROL_BYTES = ARGS_BYTES + 8 * MAX_ARGS;

/**
 * Claims chunks of the posted job until none is left and runs them; returns the first error. A
 * thread that reads the job late (after the caller has moved on) claims nothing: each claim is a
 * compare-exchange on NEXT, which carries the job's number, and a successful claim proves the
 * arguments read before it were that job's (the caller rewrites them only once every chunk is done).
 */
function work(c: Int32Array, args: Float64Array, fns: Fn[]): unknown {
  const tag = Atomics.load(c, JOB) * CHUNK_SPAN;
  const fn = fns[c[FN] as number] as Fn;
  const a = Array.from(args.subarray(0, c[NARGS]));
  const items = c[ITEMS] as number;
  const chunks = c[CHUNKS] as number;
  let error: unknown;
  for (;;) {
    const next = Atomics.load(c, NEXT);
    const left = next - tag;
    if (!(left > 0 && left < CHUNK_SPAN)) return error;
    if (Atomics.compareExchange(c, NEXT, next, next - 1) !== next) continue;
    const k = chunks - left;
    try {
      fn(...a, Math.floor((items * k) / chunks), Math.floor((items * (k + 1)) / chunks));
    } catch (e) {
      error ??= e;
      Atomics.store(c, FAILED, 1);
    }
    if (Atomics.add(c, DONE, 1) + 1 === chunks) Atomics.notify(c, DONE);
  }
}

/**
 * Runs in each worker (a classic script in browsers, `eval` in Node: CommonJS or ES module alike):
 * {@link work} written out again (the worker gets no bundled code), then the wait loop.
 */
const WORKER_SOURCE = `
'use strict';
function work(c, args, fns) {
  const tag = Atomics.load(c, ${JOB}) * ${CHUNK_SPAN};
  const fn = fns[c[${FN}]];
  const a = Array.from(args.subarray(0, c[${NARGS}]));
  const items = c[${ITEMS}];
  const chunks = c[${CHUNKS}];
  for (;;) {
    const next = Atomics.load(c, ${NEXT});
    const left = next - tag;
    if (!(left > 0 && left < ${CHUNK_SPAN})) return;
    if (Atomics.compareExchange(c, ${NEXT}, next, next - 1) !== next) continue;
    const k = chunks - left;
    try {
      fn(...a, Math.floor((items * k) / chunks), Math.floor((items * (k + 1)) / chunks));
    } catch {
      Atomics.store(c, ${FAILED}, 1);
    }
    if (Atomics.add(c, ${DONE}, 1) + 1 === chunks) Atomics.notify(c, ${DONE});
  }
}
function serve(data) {
  const { module, memory, control, slot, names } = data;
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const fns = names.map((name) => exports[name]);
  const c = new Int32Array(control);
  const args = new Float64Array(control, ${ARGS_BYTES}, ${MAX_ARGS});
  const wake = ${SLOTS} + slot;
  let seen = Atomics.load(c, wake);
  Atomics.store(c, ${READY} + slot, 1);
  for (;;) {
    Atomics.wait(c, wake, seen);
    seen = Atomics.load(c, wake);
    work(c, args, fns);
  }
}
if (typeof process === 'object' && process !== null && typeof process.getBuiltinModule === 'function') {
  process.getBuiltinModule('node:worker_threads').parentPort.once('message', serve);
} else {
  self.onmessage = (event) => serve(event.data);
}
`;

type Fn = (...args: number[]) => void;

interface NodeWorker {
  unref(): void;
  on(event: 'error', listener: (error: unknown) => void): void;
  postMessage(message: unknown): void;
}
interface NodeWorkerThreads {
  Worker: new (source: string, options: { eval: true; execArgv: string[] }) => NodeWorker;
}
interface PostTarget {
  postMessage(message: unknown): void;
}

function nodeWorkerThreads(): NodeWorkerThreads | undefined {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?(id: string): unknown } })
    .process;
  if (typeof proc?.versions?.node !== 'string' || proc.getBuiltinModule === undefined) return undefined;
  return proc.getBuiltinModule('node:worker_threads') as NodeWorkerThreads;
}

/** Starts one worker on WORKER_SOURCE; `undefined` where workers are unavailable. */
function startWorker(onError: () => void): PostTarget | undefined {
  const threads = nodeWorkerThreads();
  if (threads !== undefined) {
    // No flags: the source needs none, and a worker refuses V8's (e.g. --experimental-wasm-relaxed-simd on Node 20).
    const worker = new threads.Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    worker.on('error', onError);
    worker.unref();
    return worker;
  }
  const BrowserWorker = (globalThis as { Worker?: new (url: string) => Worker }).Worker;
  if (BrowserWorker === undefined || typeof URL.createObjectURL !== 'function') return undefined;
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  try {
    const worker = new BrowserWorker(url);
    worker.addEventListener('error', onError);
    return worker;
  } finally {
    // The worker has fetched (or is fetching) its script: the URL may go.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}

let blockingWaitAllowed: boolean | undefined;
/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
function canBlock(): boolean {
  if (blockingWaitAllowed === undefined) {
    try {
      // The value differs, so this returns at once where waiting is allowed, and throws where it is not.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      blockingWaitAllowed = true;
    } catch {
      blockingWaitAllowed = false;
    }
  }
  return blockingWaitAllowed;
}

/** One job for {@link WasmPool.run}: `fn(...args, begin, end)` over `[0, items)` in `chunks` pieces. */
export interface PoolJob {
  /** The export's name. */
  readonly fn: string;
  /** Its arguments before `begin, end` (pointers, integers, float32s: all exact in a float64). */
  readonly args: readonly number[];
  readonly items: number;
  /**
   * How to cut the items: `'threads'`, one chunk per thread (each chunk rereads shared inputs, e.g.
   * the whole batch, so fewer is better), or `'fine'` (4 per thread, for balance).
   */
  readonly chunks: 'threads' | 'fine';
}

/** The workers of one shared memory. */
export class WasmPool {
  private readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  private readonly c = new Int32Array(this.control);
  private readonly args = new Float64Array(this.control, ARGS_BYTES, MAX_ARGS);
  private readonly names: string[];
  private readonly fns: Fn[];
  private readonly ready: number[] = [];
  private readonly dead = new Set<number>();
  private readonly workers: number;
  private job = 0;

  /** Starts `workers` workers (at most 63) for `module` over `memory`; `exports` is the calling thread's instance. */
  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, exports: WebAssembly.Exports, workers: number) {
    this.names = WebAssembly.Module.exports(module)
      .filter((e) => e.kind === 'function')
      .map((e) => e.name);
    this.fns = this.names.map((name) => exports[name] as Fn);
    const count = Math.min(workers, MAX_WORKERS);
    for (let slot = 0; slot < count; slot++) {
      try {
        const worker = startWorker(() => this.dead.add(slot));
        if (worker === undefined) break;
        worker.postMessage({ module, memory, control: this.control, slot, names: this.names });
      } catch {
        break; // workers unavailable here: the jobs run on the threads that did start
      }
    }
    this.workers = count;
  }

  /** Threads a job may run on now: the caller and the workers that are up. */
  get threads(): number {
    return 1 + this.readyWorkers().length;
  }

  private readyWorkers(): number[] {
    if (this.ready.length + this.dead.size < this.workers) {
      for (let slot = 0; slot < this.workers; slot++) {
        if (!this.ready.includes(slot) && !this.dead.has(slot) && Atomics.load(this.c, READY + slot) === 1)
          this.ready.push(slot);
      }
    }
    return this.ready.filter((slot) => !this.dead.has(slot));
  }

  /**
   * Runs `job` on the calling thread and up to `maxThreads - 1` workers that are up; returns when
   * every chunk is done.
   */
  run(job: PoolJob, maxThreads: number): void {
    const index = this.names.indexOf(job.fn);
    if (index < 0) throw new Error(`native module: no export ${job.fn}`);
    if (job.args.length > MAX_ARGS) throw new Error(`native module: ${job.fn} has more than ${MAX_ARGS} arguments`);
    const helpers = job.items > 1 ? this.readyWorkers().slice(0, maxThreads - 1) : [];
    const threads = 1 + helpers.length;
    if (threads === 1) {
      (this.fns[index] as Fn)(...job.args, 0, job.items);
      return;
    }
    const c = this.c;
    const chunks = Math.min(job.items, job.chunks === 'threads' ? threads : 4 * threads);
    this.job = (this.job + 1) & JOB_MASK;
    c[FN] = index;
    c[NARGS] = job.args.length;
    c[ITEMS] = job.items;
    c[CHUNKS] = chunks;
    this.args.set(job.args);
    Atomics.store(c, DONE, 0);
    Atomics.store(c, FAILED, 0);
    Atomics.store(c, JOB, this.job);
    Atomics.store(c, NEXT, this.job * CHUNK_SPAN + chunks);
    for (const slot of helpers) {
      Atomics.add(c, SLOTS + slot, 1);
      Atomics.notify(c, SLOTS + slot, 1);
    }
    const error = work(c, this.args, this.fns);
    // Only the chunks claimed need waiting for: a worker that has not woken yet claims nothing.
    // The wait has no timeout: a claimed chunk always ends in DONE, since a worker runs it inside
    // try (a trap is caught), allocates nothing while it runs, and is never terminated; only the
    // whole process ending, which ends this wait too, could stop it half-way.
    const block = canBlock();
    for (let done = Atomics.load(c, DONE); done < chunks; done = Atomics.load(c, DONE)) {
      if (block) Atomics.wait(c, DONE, done);
    }
    if (error !== undefined) throw error;
    if (Atomics.load(c, FAILED) !== 0) throw new Error(`native module: ${job.fn} failed on a pool worker`);
  }
}

let threadsOverride: number | undefined;

/**
 * Sets the pool's thread count instead of the backend's (`undefined`: the backend's again), for
 * tests that compare thread counts in one process. Pools already started keep their workers and
 * use at most that many of them.
 */
export function overridePoolThreads(threads: number | undefined): void {
  threadsOverride = threads;
}

/** The override of {@link overridePoolThreads}, if any. */
export function poolThreadsOverride(): number | undefined {
  return threadsOverride;
}

/**
 * The native kernels for Node: the addon native/node/build.sh compiles into
 * `prebuilds/linux-x64/digit-recognizer.node` (inside the npm tarball; installing never builds).
 * It runs the convolutions and matmuls of the wasm backend on every core with the widest SIMD the
 * CPU has (AVX-512, AVX2+FMA, or the x86-64 baseline, picked when it loads), on tfjs' own wasm
 * heap: the routes named `native` in ../wasm/ pass it heap offsets, so nothing is copied.
 *
 * Browsers and bundlers never see it: Node's loader is reached through `process.getBuiltinModule`
 * behind a Node check, not by an import. Wherever the addon cannot load (another OS or CPU, a
 * browser, `DIGIT_RECOGNIZER_NATIVE=0`, {@link configureNativeKernels} `{ enabled: false }`), the
 * routes after `native` run: WebAssembly, as before. A binary that is there but fails to load is
 * reported once, in one line on stderr.
 */

/** What the addon exports (native/node/addon.c). Offsets count float32 elements of the heap. */
export interface NativeAddon {
  info(): { isa: string; threads: number; isas: string[] };
  configure(threads: number, isa: string | null): void;
  /** geometry: [batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW, padTop, padLeft] */
  conv2d(
    heap: Float32Array,
    geometry: Int32Array,
    x: number,
    filter: number,
    bias: number,
    y: number,
    relu: boolean,
  ): void;
  conv2dBackpropInput(heap: Float32Array, geometry: Int32Array, dy: number, filter: number, dx: number): void;
  conv2dBackpropFilter(heap: Float32Array, geometry: Int32Array, x: number, dy: number, dw: number): void;
  /** geometry: [batch, m, n, k, aBatched, bBatched, transposeA, transposeB] */
  matmul(heap: Float32Array, geometry: Int32Array, a: number, b: number, c: number): void;
  /** y[r][c] = x[r][c] · scale[c] + shift[c] */
  scaleShift(
    heap: Float32Array,
    x: number,
    y: number,
    rows: number,
    channels: number,
    scale: Float32Array,
    shift: Float32Array,
  ): void;
}

/** The SIMD paths the addon has, widest first. */
export type NativeIsa = 'avx512' | 'avx2' | 'sse2';

/** Whether the native kernels run, and if not, why. */
export type NativeKernelStatus =
  | {
      readonly on: true;
      /** The SIMD path in use. */
      readonly isa: NativeIsa;
      /** Threads the kernels run on, the calling one included. */
      readonly threads: number;
      /** The paths this CPU can run, widest first. */
      readonly isas: readonly NativeIsa[];
    }
  | { readonly on: false; readonly why: string };

/** Options of {@link configureNativeKernels}; each left as it is when omitted. */
export interface NativeKernelOptions {
  /** Use the native kernels where they load (default: on, unless `DIGIT_RECOGNIZER_NATIVE=0`). */
  readonly enabled?: boolean;
  /** Threads, the calling one included (default: the cores this process may use). */
  readonly threads?: number;
  /** A narrower SIMD path than the widest the CPU has, or `'auto'` for the widest (for tests and benches). */
  readonly isa?: NativeIsa | 'auto';
}

const BINARY = 'prebuilds/linux-x64/digit-recognizer.node';

interface NodeProcess {
  versions?: { node?: string };
  platform?: string;
  arch?: string;
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
}

let loaded: { addon: NativeAddon } | { why: string } | undefined;
/** Why the kernels are turned off; `undefined` while on, `null` until the environment is read. */
let turnedOff: string | undefined | null = null;

function nodeProcess(): NodeProcess | undefined {
  const proc = (globalThis as { process?: NodeProcess }).process;
  return typeof proc?.versions?.node === 'string' ? proc : undefined;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

function load(): { addon: NativeAddon } | { why: string } {
  const proc = nodeProcess();
  if (proc === undefined) return { why: 'not in Node (WebAssembly runs instead)' };
  if (proc.platform !== 'linux' || proc.arch !== 'x64')
    return { why: `no prebuilt binary for ${proc.platform}-${proc.arch} (linux-x64 only)` };
  const builtin = proc.getBuiltinModule;
  if (builtin === undefined) return { why: 'this Node has no process.getBuiltinModule (needs Node >= 20.16)' };
  const { createRequire } = builtin('node:module') as typeof import('node:module');
  const { existsSync } = builtin('node:fs') as typeof import('node:fs');
  const { fileURLToPath } = builtin('node:url') as typeof import('node:url');
  const { availableParallelism } = builtin('node:os') as typeof import('node:os');
  // src/kernels/addon/load.ts and dist/kernels/addon/load.js both sit three folders below the package root.
  const path = fileURLToPath(new URL(`../../../${BINARY}`, import.meta.url));
  if (!existsSync(path)) return { why: `${BINARY} is missing (in a clone: npm run build:native, which needs gcc)` };
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    addon.configure(Math.max(1, Math.min(64, availableParallelism())), null);
    return { addon };
  } catch (error) {
    const why = `${BINARY} did not load: ${firstLine(error)}`;
    // One line on stderr, once: a broken install should be seen, but is no reason to stop.
    console.warn(`digit-recognizer: native kernels off, WebAssembly runs instead (${why})`);
    return { why };
  }
}

function loadOnce(): { addon: NativeAddon } | { why: string } {
  loaded ??= load();
  return loaded;
}

function offReason(): string | undefined {
  if (turnedOff === null)
    turnedOff =
      nodeProcess()?.env?.['DIGIT_RECOGNIZER_NATIVE'] === '0' ? 'turned off by DIGIT_RECOGNIZER_NATIVE=0' : undefined;
  return turnedOff;
}

/** The addon, when it is loaded and enabled; `undefined` otherwise (the `native` routes then do not apply). */
export function nativeAddon(): NativeAddon | undefined {
  if (offReason() !== undefined) return undefined;
  const result = loadOnce();
  return 'addon' in result ? result.addon : undefined;
}

/**
 * Whether the native kernels run here, on which SIMD path and how many threads; or why not.
 * `digit-recognizer info` prints it.
 */
export function nativeKernelStatus(): NativeKernelStatus {
  const off = offReason();
  if (off !== undefined) return { on: false, why: off };
  const result = loadOnce();
  if (!('addon' in result)) return { on: false, why: result.why };
  const { isa, threads, isas } = result.addon.info();
  return { on: true, isa: isa as NativeIsa, threads, isas: isas as NativeIsa[] };
}

/**
 * Turns the native kernels on or off, and sets their threads and SIMD path; returns the status
 * after the change. Takes effect from the next kernel call. Throws a RangeError for a thread
 * count outside 1-64 or a path this CPU cannot run.
 */
export function configureNativeKernels(options: NativeKernelOptions): NativeKernelStatus {
  if (
    options.threads !== undefined &&
    !(Number.isInteger(options.threads) && options.threads >= 1 && options.threads <= 64)
  )
    throw new RangeError(`native kernels: threads must be an integer from 1 to 64, got ${options.threads}`);
  if (options.enabled === false) turnedOff = 'turned off by --no-native or configureNativeKernels({ enabled: false })';
  if (options.enabled === true) turnedOff = undefined;
  const result = loadOnce();
  if ('addon' in result && (options.threads !== undefined || options.isa !== undefined)) {
    const { threads, isa, isas } = result.addon.info();
    const wanted = options.isa === undefined ? isa : options.isa === 'auto' ? null : options.isa;
    if (wanted !== null && !isas.includes(wanted))
      throw new RangeError(`native kernels: this CPU cannot run '${wanted}' (it runs ${isas.join(', ')})`);
    result.addon.configure(options.threads ?? threads, wanted);
  }
  return nativeKernelStatus();
}

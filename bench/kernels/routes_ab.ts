/**
 * Same speed after the kernels' reorganisation into route tables: each zoo network's training step
 * with the wasm kernels of a base commit (`--base`, default the commit before the reorganisation)
 * against the working tree's, in one process. The base's `src/kernels/` is extracted with
 * `git show` into bench/.out/routes_ab/<base>/ (imports that leave src/kernels/ are re-exported
 * from the working tree, so both arms share tfjs, the model code and the batch-norm layer), and
 * the two arms take turns in tfjs' kernel registry: stock kernels back, then the arm's
 * registration.
 *
 * First a check that both arms compute the same step: per network, a fresh model (seed 1), one
 * trainOnBatch on the same batch with Math.random seeded (dropout's masks), then the loss and every
 * weight compared bit for bit. Then the timing: per network, `--rounds` rounds, each running both
 * arms (the order alternating), each arm one warm-up step then `--steps` timed steps; the medians
 * of the rounds' ms/step and their ratio. Prints a markdown table and writes the figures, with
 * date, machine, load and command, to bench/.out/routes_ab/results.json.
 *
 * Run by hand, alone on the machine (its figures are only worth quoting from an idle one):
 * `npm run bench -- bench/kernels/routes_ab.ts [--base REV] [--threads 2] [--rounds 8] [--steps 3]
 * [--batch 64] [--archs seed,compact,lean,strong]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { wasmKernels } from '../../src/kernels/wasm/register_all_kernels.js';
import { configureWasmThreads } from '../../src/kernels/wasm_threads.js';
import * as current from '../../src/kernels/wasm_training.js';
import { buildDigitCnn } from '../../src/model/build.js';
import { startBench } from '../lib/setup.js';

/** The commit the reorganisation started from. */
const BEFORE_ROUTE_TABLES = '06a28fe1c5f8b71f33eec5a28f679fcba81024b1';

const bench = await startBench(import.meta.url, {
  about:
    "a training step of each zoo network on an earlier commit's kernels against the working tree's, in one process",
  backend: 'none',
  options: {
    base: { type: 'string', default: BEFORE_ROUTE_TABLES },
    rounds: { type: 'string', default: '8' },
    steps: { type: 'string', default: '3' },
    batch: { type: 'string', default: '64' },
    archs: { type: 'string', default: 'seed,compact,lean,strong' },
  },
});
const flags = { ...bench.flags, threads: String(bench.threads) };
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = join(ROOT, 'bench/.out/routes_ab');
const [ROUNDS, STEPS, BATCH] = [Number(flags.rounds), Number(flags.steps), Number(flags.batch)];
const ARCHS = flags.archs.split(',');

interface Arm {
  readonly name: 'base' | 'current';
  registerWasmTrainingKernels(): void;
  readyWasmTrainingKernels(): Promise<void>;
}

const git = (...args: string[]): string => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });

/** The base commit's src/kernels/ under bench/.out, its imports from outside src/kernels/ re-exported from the working tree. */
async function extractBase(rev: string): Promise<Arm> {
  const full = git('rev-parse', '--verify', `${rev}^{commit}`).trim();
  const dir = join(OUT, full.slice(0, 12));
  const outside = new Set<string>();
  for (const path of git('ls-tree', '-r', '--name-only', full, 'src/kernels').split('\n').filter(Boolean)) {
    const text = git('show', `${full}:${path}`);
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
    for (const [, spec] of text.matchAll(/from '(\.\.?\/[^']+)'/g)) {
      const resolved = relative(ROOT, resolve(ROOT, dirname(path), spec as string));
      if (!resolved.startsWith('src/kernels/')) outside.add(resolved);
    }
  }
  for (const path of outside) {
    const shim = join(dir, path.replace(/\.js$/, '.ts'));
    mkdirSync(dirname(shim), { recursive: true });
    const to = relative(dirname(shim), join(ROOT, path)).replace(/\\/g, '/');
    writeFileSync(shim, `export * from '${to.startsWith('.') ? to : `./${to}`}';\n`);
  }
  const module = (await import(pathToFileURL(join(dir, 'src/kernels/wasm_training.ts')).href)) as Omit<Arm, 'name'>;
  return {
    name: 'base',
    registerWasmTrainingKernels: () => module.registerWasmTrainingKernels(),
    readyWasmTrainingKernels: () => module.readyWasmTrainingKernels(),
  };
}

configureWasmThreads(Number(flags.threads), { setThreadsCount: wasm.setThreadsCount });
await tf.setBackend('wasm');
await tf.ready();

// Both arms register the same kernel names; the stock ones are kept to put back between turns.
const names = wasmKernels.map((k) => k.kernelName);
const stock = new Map(names.map((name) => [name, tf.getKernel(name, 'wasm')]));
function install(arm: Arm): void {
  for (const name of names) {
    if (tf.getKernel(name, 'wasm') !== undefined) tf.unregisterKernel(name, 'wasm');
    const config = stock.get(name);
    if (config !== undefined) tf.registerKernel(config);
  }
  arm.registerWasmTrainingKernels();
  // Each arm's own functions must be the ones registered, or the comparison would compare nothing.
  const ours = new Set(wasmKernels.map((k) => k.kernelFunc));
  for (const name of names) {
    const func = tf.getKernel(name, 'wasm')?.kernelFunc;
    const own =
      arm.name === 'current'
        ? func !== undefined && ours.has(func)
        : func !== undefined && !ours.has(func) && func !== stock.get(name)?.kernelFunc;
    if (!own) throw new Error(`routes_ab: the ${arm.name} arm's ${name} is not installed`);
  }
}

const base = await extractBase(flags.base);
const arms: Arm[] = [base, { name: 'current', ...current }];
for (const arm of arms) {
  install(arm);
  await arm.readyWasmTrainingKernels();
}

function batchOf(seed: number): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  return tf.tidy(() => ({
    xs: tf.randomUniform([BATCH, 28, 28, 1], 0, 1, 'float32', seed) as tf.Tensor4D,
    ys: tf.cast(
      tf.oneHot(tf.randomUniform([BATCH], 0, 10, 'int32', seed + 1) as tf.Tensor1D, 10),
      'float32',
    ) as tf.Tensor2D,
  }));
}

/** Math.random as a fixed sequence while `body` runs: tfjs seeds each dropout mask from it. */
async function seededRandom<T>(body: () => Promise<T>): Promise<T> {
  const real = Math.random;
  let s = 12345;
  Math.random = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  try {
    return await body();
  } finally {
    Math.random = real;
  }
}

/** One step of a fresh `arch` from seed 1 on `arm`: the loss and every weight after it. */
async function firstStep(arch: string, arm: Arm): Promise<Float32Array[]> {
  install(arm);
  const { xs, ys } = batchOf(7);
  const model = buildDigitCnn({ architecture: arch, seed: 1 });
  try {
    const loss = await seededRandom(async () => (await model.trainOnBatch(xs, ys)) as number);
    return [
      Float32Array.of(loss),
      ...(await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array))),
    ];
  } finally {
    tf.dispose([xs, ys]);
    model.dispose();
  }
}

const median = (a: readonly number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number;

const results: { arch: string; identical: boolean; baseMs: number; currentMs: number; ratio: number }[] = [];
console.log(
  `## Training step, base ${flags.base.slice(0, 12)} against the working tree, batch ${BATCH}, ${flags.threads} thread(s), medians of ${ROUNDS} rounds of ${STEPS} steps\n`,
);
console.log('| net | identical step | base ms/step | current ms/step | current / base |\n|---|---|---:|---:|---:|');
for (const arch of ARCHS) {
  const [a, b] = [await firstStep(arch, base), await firstStep(arch, arms[1] as Arm)];
  const identical = a.length === b.length && a.every((w, i) => w.every((v, j) => Object.is(v, b[i]?.[j])));

  const model = buildDigitCnn({ architecture: arch, seed: 1 });
  const { xs, ys } = batchOf(9);
  const times = new Map<string, number[]>(arms.map((arm) => [arm.name, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const arm of round % 2 === 0 ? arms : [...arms].reverse()) {
        install(arm);
        await model.trainOnBatch(xs, ys); // warm-up after the switch
        const started = performance.now();
        for (let i = 0; i < STEPS; i++) await model.trainOnBatch(xs, ys);
        times.get(arm.name)?.push((performance.now() - started) / STEPS);
      }
    }
  } finally {
    tf.dispose([xs, ys]);
    model.dispose();
  }
  const [baseMs, currentMs] = [median(times.get('base') ?? []), median(times.get('current') ?? [])];
  results.push({ arch, identical, baseMs, currentMs, ratio: currentMs / baseMs });
  console.log(
    `| ${arch} | ${identical ? 'yes' : 'NO'} | ${baseMs.toFixed(1)} | ${currentMs.toFixed(1)} | ${(currentMs / baseMs).toFixed(3)} |`,
  );
}
install(arms[1] as Arm);

const table = bench.results.table(
  'steps',
  `Training step, batch ${BATCH}, ${flags.threads} threads, medians of ${ROUNDS} rounds of ${STEPS} steps, arms alternating; base = the kernels of that commit (HEAD: the same code, a control for the harness)`,
  [
    { key: 'base', label: 'base' },
    { key: 'net', label: 'net' },
    { key: 'identical', label: 'identical step' },
    { key: 'baseMs', label: 'base ms/step', digits: 1 },
    { key: 'currentMs', label: 'current ms/step', digits: 1 },
    { key: 'ratio', label: 'current / base', digits: 3 },
  ],
);
const baseName = flags.base === BEFORE_ROUTE_TABLES ? 'before the route tables' : flags.base;
for (const r of results) {
  table.row({
    base: baseName,
    net: r.arch,
    identical: r.identical ? 'yes' : 'NO',
    baseMs: r.baseMs,
    currentMs: r.currentMs,
    ratio: r.ratio,
  });
}
await bench.results.save([{ table: 'steps', keys: ['base', 'net'] }]);
if (results.some((r) => !r.identical)) process.exitCode = 1;

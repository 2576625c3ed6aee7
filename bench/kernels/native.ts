/**
 * The native kernels (the `native` routes, the Node addon of native/node/) against the portable
 * path (the same tables with `native` off: WebAssembly SIMD and XNNPACK): each network's training
 * step and prediction, the two arms swapped every few steps in one process (medians, batch 64);
 * then the step on each SIMD path this CPU runs (`--isas`), to show what the wider vectors buy.
 * Run by hand, alone: `npm run bench -- bench/kernels/native.ts [--threads 2] [--rounds 6] [--archs seed,compact,lean,strong]`.
 */
import * as tf from '@tensorflow/tfjs-core';

import { configureNativeKernels, nativeKernelStatus, type NativeIsa } from '../../src/kernels/addon/load.js';
import { overrideKernelRoutes } from '../../src/kernels/routes.js';
import { buildDigitCnn } from '../../src/model/build.js';
import { alternateSteps, median, stepColumns, stepRow } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: 'training steps and predictions with the native kernels against the portable path, in one process',
  backend: 'wasm',
  options: {
    rounds: { type: 'string', default: '6' },
    archs: { type: 'string', default: 'seed,compact,lean,strong' },
    isas: { type: 'boolean', default: true },
  },
});
const flags = bench.flags;
const status = nativeKernelStatus();
if (!status.on) throw new Error(`bench/kernels/native.ts: the native kernels are off here (${status.why})`);
configureNativeKernels({ threads: bench.threads });
const B = 64;
const ROUNDS = Number(flags.rounds);
const ARCHS = flags.archs.split(',');

let restore: (() => void) | undefined;
const arms = {
  wasm: () => {
    restore ??= overrideKernelRoutes({ '*': { native: 'off' } });
  },
  native: () => {
    restore?.();
    restore = undefined;
  },
};

const steps = bench.results.table(
  'steps',
  `Training step, batch ${B}, ${bench.threads} threads, native ${status.isa}: the two arms swapped every 3 steps, medians of ${ROUNDS} rounds`,
  stepColumns('wasm', 'native'),
);
for (const arch of ARCHS) {
  const t = await alternateSteps(arch, arms, ROUNDS, { batch: B });
  steps.row(stepRow(arch, t.wasm, t.native, B));
}
arms.native();

/** Median ms to predict 1,024 images (batch 256) with each arm, alternating. */
async function alternatePredictions(arch: string): Promise<Record<keyof typeof arms, number>> {
  const model = buildDigitCnn({ architecture: arch, seed: 1 });
  const xs = tf.randomUniform([1024, 28, 28, 1]);
  const times: Record<keyof typeof arms, number[]> = { wasm: [], native: [] };
  const predict = (): void => tf.tidy(() => void (model.predict(xs, { batchSize: 256 }) as tf.Tensor).dataSync());
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of ['wasm', 'native'] as const) {
        arms[name]();
        predict();
        const started = performance.now();
        predict();
        times[name].push(performance.now() - started);
      }
    }
  } finally {
    arms.native();
    xs.dispose();
    model.dispose();
  }
  return { wasm: median(times.wasm), native: median(times.native) };
}

const predictions = bench.results.table(
  'predict',
  `Prediction of 1,024 images (batch 256), ${bench.threads} threads, native ${status.isa}, medians of ${ROUNDS} rounds`,
  [
    { key: 'net', label: 'net' },
    { key: 'wasm', label: 'wasm (images/s)', digits: 0 },
    { key: 'native', label: 'native (images/s)', digits: 0 },
    { key: 'ratio', label: 'ratio', digits: 2, suffix: 'x' },
  ],
);
for (const arch of ARCHS) {
  const t = await alternatePredictions(arch);
  predictions.row({ net: arch, wasm: 1024_000 / t.wasm, native: 1024_000 / t.native, ratio: t.wasm / t.native });
}

if (flags.isas && status.isas.length > 1) {
  const byIsa = bench.results.table(
    'isas',
    `Training step on each SIMD path this CPU runs, batch ${B}, ${bench.threads} threads, swapped every 3 steps, medians of ${ROUNDS} rounds`,
    [{ key: 'net', label: 'net' }, ...status.isas.map((isa) => ({ key: isa, label: `${isa} (images/s)`, digits: 0 }))],
  );
  for (const arch of ARCHS) {
    const paths = Object.fromEntries(
      status.isas.map((isa) => [isa, () => void configureNativeKernels({ isa })]),
    ) as Record<NativeIsa, () => void>;
    const t = await alternateSteps(arch, paths, ROUNDS, { batch: B });
    byIsa.row({ net: arch, ...Object.fromEntries(status.isas.map((isa) => [isa, (B / t[isa]) * 1000])) });
  }
  configureNativeKernels({ isa: 'auto' });
}
await bench.results.save();

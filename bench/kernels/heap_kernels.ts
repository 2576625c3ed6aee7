/**
 * Same-process A/B of the heap kernels (src/kernels/wasm/helpers/): stock wasm `Sum`, `Mean` and
 * `MaxPoolGrad` against ours, swapped every few steps so both see the same machine load.
 * Run by hand: `npm run bench -- bench/kernels/heap_kernels.ts [--threads 2] [--archs lean,strong,seed] [--rounds 6]`.
 * The other training kernels (convolution gradients, matmuls, Tile) are ours in both arms.
 */
import * as tf from '@tensorflow/tfjs-core';

import { buildDigitCnn } from '../../src/model/build.js';
import { registerWasmTrainingKernels } from '../../src/kernels/wasm_training.js';
import { median, stepColumns, stepRow } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: "a training step with wasm's stock Sum, Mean and MaxPoolGrad against the package's heap kernels",
  backend: 'wasm-stock',
  options: {
    archs: { type: 'string', default: 'lean,strong,seed' },
    rounds: { type: 'string', default: '6' },
  },
});
const flags = bench.flags;
const SWAPPED = ['Sum', 'Mean', 'MaxPoolGrad'];
const B = 64;
const STEPS = 3;

const kernels = (): tf.KernelConfig[] => SWAPPED.map((k) => tf.getKernel(k, 'wasm')!);
const stock = kernels();
registerWasmTrainingKernels();
const ours = kernels();
const use = (set: tf.KernelConfig[]): void => {
  for (const k of set) {
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel(k);
  }
};
const table = bench.results.table(
  'steps',
  `Training step, batch ${B}, ${bench.threads} threads, the kernels swapped every ${STEPS} steps, medians of ${flags.rounds} rounds`,
  stepColumns('stock', 'ours'),
);
for (const arch of flags.archs.split(',')) {
  const model = buildDigitCnn({ architecture: arch, seed: 1 });
  const xs = tf.randomUniform([B, 28, 28, 1]);
  const ys = tf.cast(tf.oneHot(tf.randomUniform([B], 0, 10, 'int32') as tf.Tensor1D, 10), 'float32');
  const times: Record<'stock' | 'ours', number[]> = { stock: [], ours: [] };
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const [name, set] of [
      ['stock', stock],
      ['ours', ours],
    ] as const) {
      use(set);
      await model.trainOnBatch(xs, ys); // warm-up after the swap
      const started = performance.now();
      for (let i = 0; i < STEPS; i++) await model.trainOnBatch(xs, ys);
      times[name].push((performance.now() - started) / STEPS);
    }
  }
  const [s, o] = [median(times.stock), median(times.ours)];
  table.row(stepRow(arch, s, o, B));
  tf.dispose([xs, ys]);
  model.dispose();
}
await bench.results.save();

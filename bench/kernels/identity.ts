/**
 * A training step with wasm's stock `Identity` (a copy; tfjs-core clones every tensor it saves for
 * backprop) against the package's, which shares the input's buffer: each network's step with the
 * two kernels swapped in turn every 3 steps, in one process (medians, batch 64).
 * Run by hand: `npm run bench -- bench/kernels/identity.ts [--threads 2] [--rounds 8] [--archs compact,lean,strong]`.
 */
import * as tf from '@tensorflow/tfjs-core';

import { registerWasmTrainingKernels } from '../../src/kernels/wasm_training.js';
import { alternateSteps, stepColumns, stepRow } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: "a training step with wasm's stock Identity (a copy) against the package's, which shares the input's buffer",
  backend: 'wasm-stock',
  options: {
    rounds: { type: 'string', default: '8' },
    archs: { type: 'string', default: 'compact,lean,strong' },
  },
});
const flags = bench.flags;
const stock = tf.getKernel('Identity', 'wasm');
registerWasmTrainingKernels();
const shared = tf.getKernel('Identity', 'wasm');
if (stock === undefined || shared === undefined || stock.kernelFunc === shared.kernelFunc)
  throw new Error('expected the stock and the package Identity');
function use(config: tf.KernelConfig): void {
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel(config);
}
const B = 64;
const steps = bench.results.table(
  'steps',
  `Training step, batch ${B}, ${bench.threads} threads, the two kernels swapped every 3 steps, medians of ${flags.rounds} rounds`,
  stepColumns('copy', 'shared'),
);
for (const arch of flags.archs.split(',')) {
  const t = await alternateSteps(arch, { copy: () => use(stock), shared: () => use(shared) }, Number(flags.rounds), {
    batch: B,
  });
  steps.row(stepRow(arch, t.copy, t.shared, B));
}
use(shared);
await bench.results.save();

/**
 * A training step with wasm's stock `Identity` (a copy; tfjs-core clones every tensor it saves for
 * backprop) against the package's, which shares the input's buffer: each network's step with the
 * two kernels swapped in turn every 3 steps, in one process (medians, batch 64).
 * Run by hand: `npm run bench -- bench/kernels/identity.ts [--threads 2] [--rounds 8] [--archs compact,lean,strong]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from 'node:util';

import { configureWasmThreads } from '../../src/kernels/wasm_threads.js';
import { registerWasmTrainingKernels } from '../../src/kernels/wasm_training.js';
import { alternateSteps, stepRow } from '../lib/ab.js';

const { values: flags } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '8' },
    archs: { type: 'string', default: 'compact,lean,strong' },
  },
});
configureWasmThreads(Number(flags.threads), { setThreadsCount: wasm.setThreadsCount });
await tf.setBackend('wasm');
await tf.ready();
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
console.log(`## Identity: copy vs shared buffer, batch ${B}, wasm, ${flags.threads} thread(s)\n`);
console.log('| net | copy ms/step | shared ms/step | images/s copy / shared | ratio |\n|---|---:|---:|---:|---:|');
for (const arch of flags.archs.split(',')) {
  const t = await alternateSteps(arch, { copy: () => use(stock), shared: () => use(shared) }, Number(flags.rounds), {
    batch: B,
  });
  console.log(stepRow(arch, t.copy, t.shared, B));
}
use(shared);

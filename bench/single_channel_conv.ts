/**
 * Both gradients of the zoo's first layers (one input channel) on the wasm backend, the general
 * routes (Winograd for seed's 5x5 filter gradient, im2col + matmul for the 3x3 ones, a transposed
 * convolution for the input gradient) against WebAssembly SIMD (native/single_channel_conv.c):
 * each kernel alone, through tfjs' registry (median ms of 15 calls on fresh operands, and the largest difference
 * between the two routes relative to the largest value), then a training step of each network
 * with the SIMD route off and on, alternating every 3 steps in one process.
 * Run by hand: `npm run bench -- bench/single_channel_conv.ts [--threads 2] [--rounds 8] [--archs seed,compact,lean,strong]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from 'node:util';

import { overrideKernelRoutes } from '../src/kernels/routes.js';
import { isNativeBackend, prepareNativeKernels } from '../src/kernels/wasm/helpers/native.js';
import { configureWasmThreads } from '../src/kernels/wasm_threads.js';
import { registerWasmTrainingKernels } from '../src/kernels/wasm_training.js';
import { alternateSteps, stepRow, timeKernel } from './ab.js';

const { values: flags } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '8' },
    archs: { type: 'string', default: 'seed,compact,lean,strong' },
  },
});
configureWasmThreads(Number(flags.threads), { setThreadsCount: wasm.setThreadsCount });
await tf.setBackend('wasm');
await tf.ready();
registerWasmTrainingKernels();
const backend = tf.backend();
if (!isNativeBackend(backend)) throw new Error('needs the wasm backend');
await prepareNativeKernels(backend);

function relativeDifference(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let magnitude = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    magnitude = Math.max(magnitude, Math.abs(b[i]!));
  }
  return diff / magnitude;
}

const B = 64;
const LAYERS: { name: string; filter: [number, number, number, number]; pad: 'same' | 'valid' }[] = [
  { name: 'seed conv1 5x5 valid, 100', filter: [5, 5, 1, 100], pad: 'valid' },
  { name: 'compact/strong conv1 3x3 valid, 32', filter: [3, 3, 1, 32], pad: 'valid' },
  { name: 'lean conv1 3x3 same, 32', filter: [3, 3, 1, 32], pad: 'same' },
];
console.log(`## First-layer gradients, batch ${B}, wasm, ${flags.threads} thread(s)\n`);
console.log('| layer | gradient | general ms | SIMD ms | ratio | difference |\n|---|---|---:|---:|---:|---:|');
for (const layer of LAYERS) {
  const x = tf.randomUniform([B, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
  const filter = tf.randomNormal(layer.filter, 0, 0.1, 'float32', 2) as tf.Tensor4D;
  const y = tf.conv2d(x, filter, 1, layer.pad);
  const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
  y.dispose();
  const conv = { strides: 1, pad: layer.pad, dataFormat: 'NHWC' };
  const kernels = {
    filter: (d: tf.Tensor) =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: d }, { ...conv, filterShape: layer.filter }) as tf.Tensor,
    input: (d: tf.Tensor) =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy: d, filter }, { ...conv, inputShape: x.shape }) as tf.Tensor,
  };
  for (const [which, run] of Object.entries(kernels)) {
    overrideKernelRoutes({ '*': { 'one-channel-simd': 'off' } });
    const general = await timeKernel(dy, run);
    overrideKernelRoutes({ '*': { 'one-channel-simd': 'auto' } });
    const simd = await timeKernel(dy, run);
    console.log(
      `| ${layer.name} | ${which} | ${general.ms.toFixed(2)} | ${simd.ms.toFixed(2)} | ${(general.ms / simd.ms).toFixed(1)}x | ${relativeDifference(simd.out, general.out).toExponential(1)} |`,
    );
  }
  tf.dispose([x, filter, dy]);
}

console.log('\n| net | general ms/step | SIMD ms/step | images/s general / SIMD | ratio |\n|---|---:|---:|---:|---:|');
for (const arch of flags.archs.split(',')) {
  const t = await alternateSteps(
    arch,
    {
      general: () => overrideKernelRoutes({ '*': { 'one-channel-simd': 'off' } }),
      simd: () => overrideKernelRoutes({ '*': { 'one-channel-simd': 'auto' } }),
    },
    Number(flags.rounds),
    { batch: B },
  );
  console.log(stepRow(arch, t.general, t.simd, B));
}
overrideKernelRoutes({ '*': { 'one-channel-simd': 'auto' } });

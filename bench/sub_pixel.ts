/**
 * The input gradient of the zoo's strided convolutions (`strong`'s two 5x5/2 layers) on the wasm
 * backend: dy·Wᵀ + col2im against the sub-pixel route (one stride-1 convolution per output phase,
 * src/kernels/wasm/conv2d_backprop_input.ts): each kernel alone through tfjs' registry (median ms of 15 calls on
 * fresh copies of dy, and the largest difference between the two relative to the largest value),
 * then a `strong` training step with the route off and as registered (`'auto'`), alternating every 3 steps in one process.
 * Run by hand: `npm run bench -- bench/sub_pixel.ts [--threads 2] [--rounds 8]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from 'node:util';

import { configureWasmThreads } from '../src/kernels/wasm_threads.js';
import { overrideKernelRoutes } from '../src/kernels/routes.js';
import { registerWasmTrainingKernels } from '../src/kernels/wasm_training.js';
import { alternateSteps, stepRow, timeKernel } from './ab.js';

const { values: flags } = parseArgs({
  options: { threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: '8' } },
});
configureWasmThreads(Number(flags.threads), { setThreadsCount: wasm.setThreadsCount });
await tf.setBackend('wasm');
await tf.ready();
registerWasmTrainingKernels();

const B = 64;
const LAYERS: { name: string; x: [number, number, number, number]; filter: [number, number, number, number] }[] = [
  { name: 'strong conv3 5x5/2 same, 24x24x32 -> 12x12x32', x: [B, 24, 24, 32], filter: [5, 5, 32, 32] },
  { name: '5x5/2 same, 16x16x64 -> 8x8x64 (not in the zoo)', x: [B, 16, 16, 64], filter: [5, 5, 64, 64] },
  { name: 'strong conv6 5x5/2 same, 8x8x64 -> 4x4x64', x: [B, 8, 8, 64], filter: [5, 5, 64, 64] },
];
console.log(`## Strided input gradients, batch ${B}, wasm, ${flags.threads} thread(s)\n`);
console.log('| layer | dy·Wᵀ + col2im ms | sub-pixel ms | ratio | difference |\n|---|---:|---:|---:|---:|');
for (const layer of LAYERS) {
  const filter = tf.randomNormal(layer.filter, 0, 0.1, 'float32', 2);
  const dy = tf.randomNormal([B, layer.x[1] / 2, layer.x[2] / 2, layer.filter[3]], 0, 1, 'float32', 3);
  const run = (d: tf.Tensor): tf.Tensor =>
    tf
      .engine()
      .runKernel(
        'Conv2DBackpropInput',
        { dy: d, filter },
        { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: layer.x },
      ) as tf.Tensor;
  overrideKernelRoutes({ Conv2DBackpropInput: { 'sub-pixel': 'off' } });
  const col2im = await timeKernel(dy, run);
  overrideKernelRoutes({ Conv2DBackpropInput: { 'sub-pixel': 'force' } });
  const subPixel = await timeKernel(dy, run);
  let diff = 0;
  let magnitude = 0;
  col2im.out.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - subPixel.out[i]!));
    magnitude = Math.max(magnitude, Math.abs(v));
  });
  console.log(
    `| ${layer.name} | ${col2im.ms.toFixed(2)} | ${subPixel.ms.toFixed(2)} | ${(col2im.ms / subPixel.ms).toFixed(1)}x | ${(diff / magnitude).toExponential(1)} |`,
  );
  tf.dispose([filter, dy]);
}

console.log(
  '\n| net | col2im ms/step | sub-pixel ms/step | images/s col2im / sub-pixel | ratio |\n|---|---:|---:|---:|---:|',
);
const t = await alternateSteps(
  'strong',
  {
    col2im: () => overrideKernelRoutes({ Conv2DBackpropInput: { 'sub-pixel': 'off' } }),
    subPixel: () => overrideKernelRoutes({ Conv2DBackpropInput: { 'sub-pixel': 'auto' } }),
  },
  Number(flags.rounds),
  { batch: B },
);
console.log(stepRow('strong', t.col2im, t.subPixel, B));
overrideKernelRoutes({ Conv2DBackpropInput: { 'sub-pixel': 'auto' } });

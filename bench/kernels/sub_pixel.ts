/**
 * The input gradient of the zoo's strided convolutions (`strong`'s two 5x5/2 layers) on the wasm
 * backend: dy·Wᵀ + col2im against the sub-pixel route (one stride-1 convolution per output phase,
 * src/kernels/wasm/conv2d_backprop_input.ts): each kernel alone through tfjs' registry (median ms of 15 calls on
 * fresh copies of dy, and the largest difference between the two relative to the largest value),
 * then a `strong` training step with the route off and as registered (`'auto'`), alternating every 3 steps in one process.
 * Run by hand: `npm run bench -- bench/kernels/sub_pixel.ts [--threads 2] [--rounds 8]`.
 */
import * as tf from '@tensorflow/tfjs-core';

import { overrideKernelRoutes } from '../../src/kernels/routes.js';
import { alternateSteps, relativeDifference, stepColumns, stepRow, timeKernel } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: 'the input gradient of strided convolutions on wasm: dy·Wᵀ + col2im against the sub-pixel route',
  backend: 'wasm',
  options: { rounds: { type: 'string', default: '8' } },
});
const flags = bench.flags;

const B = 64;
const LAYERS: { name: string; x: [number, number, number, number]; filter: [number, number, number, number] }[] = [
  { name: 'strong conv3 5x5/2 same, 24x24x32 -> 12x12x32', x: [B, 24, 24, 32], filter: [5, 5, 32, 32] },
  { name: '5x5/2 same, 16x16x64 -> 8x8x64 (not in the zoo)', x: [B, 16, 16, 64], filter: [5, 5, 64, 64] },
  { name: 'strong conv6 5x5/2 same, 8x8x64 -> 4x4x64', x: [B, 8, 8, 64], filter: [5, 5, 64, 64] },
];
const kernels = bench.results.table(
  'kernel',
  `Strided input gradients alone, batch ${B}, ${bench.threads} threads, median ms of 15 calls on fresh copies of dy`,
  [
    { key: 'layer', label: 'layer' },
    { key: 'col2im', label: 'dy·Wᵀ + col2im (ms)', digits: 2 },
    { key: 'subPixel', label: 'sub-pixel (ms)', digits: 2 },
    { key: 'ratio', label: 'ratio', digits: 1, suffix: 'x' },
    { key: 'difference', label: 'largest difference (of the largest value)' },
  ],
);
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
  kernels.row({
    layer: layer.name,
    col2im: col2im.ms,
    subPixel: subPixel.ms,
    ratio: col2im.ms / subPixel.ms,
    difference: relativeDifference(subPixel.out, col2im.out).toExponential(1),
  });
  tf.dispose([filter, dy]);
}

const steps = bench.results.table(
  'steps',
  `Training step, batch ${B}, ${bench.threads} threads, the route off and as registered, alternating every 3 steps, medians of ${flags.rounds} rounds`,
  stepColumns('col2im', 'sub-pixel'),
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
steps.row(stepRow('strong', t.col2im, t.subPixel, B));
overrideKernelRoutes({ Conv2DBackpropInput: { 'sub-pixel': 'auto' } });
await bench.results.save();

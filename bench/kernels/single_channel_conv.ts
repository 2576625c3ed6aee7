/**
 * Both gradients of the zoo's first layers (one input channel) on the wasm backend, the general
 * routes (Winograd for seed's 5x5 filter gradient, im2col + matmul for the 3x3 ones, a transposed
 * convolution for the input gradient) against WebAssembly SIMD (native/single_channel_conv.c):
 * each kernel alone, through tfjs' registry (median ms of 15 calls on fresh operands, and the largest difference
 * between the two routes relative to the largest value), then a training step of each network
 * with the SIMD route off and on, alternating every 3 steps in one process.
 * Run by hand: `npm run bench -- bench/kernels/single_channel_conv.ts [--threads 2] [--rounds 8] [--archs seed,compact,lean,strong]`.
 */
import * as tf from '@tensorflow/tfjs-core';

import { overrideKernelRoutes } from '../../src/kernels/routes.js';
import { isNativeBackend, prepareNativeKernels } from '../../src/kernels/wasm/helpers/native.js';
import { alternateSteps, relativeDifference, stepColumns, stepRow, timeKernel } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: "both gradients of the zoo's one-channel first layers on wasm: the general routes against WebAssembly SIMD",
  backend: 'wasm',
  options: {
    rounds: { type: 'string', default: '8' },
    archs: { type: 'string', default: 'seed,compact,lean,strong' },
  },
});
const flags = bench.flags;
const backend = tf.backend();
if (!isNativeBackend(backend)) throw new Error('needs the wasm backend');
await prepareNativeKernels(backend);

const B = 64;
const LAYERS: { name: string; filter: [number, number, number, number]; pad: 'same' | 'valid' }[] = [
  { name: 'seed conv1 5x5 valid, 100', filter: [5, 5, 1, 100], pad: 'valid' },
  { name: 'compact/strong conv1 3x3 valid, 32', filter: [3, 3, 1, 32], pad: 'valid' },
  { name: 'lean conv1 3x3 same, 32', filter: [3, 3, 1, 32], pad: 'same' },
];
const kernelTable = bench.results.table(
  'kernel',
  `First-layer gradients alone, batch ${B}, ${bench.threads} threads, median ms of 15 calls on fresh operands`,
  [
    { key: 'layer', label: 'layer' },
    { key: 'gradient', label: 'gradient' },
    { key: 'general', label: 'general (ms)', digits: 2 },
    { key: 'simd', label: 'SIMD (ms)', digits: 2 },
    { key: 'ratio', label: 'ratio', digits: 1, suffix: 'x' },
    { key: 'difference', label: 'largest difference (of the largest value)' },
  ],
);
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
    kernelTable.row({
      layer: layer.name,
      gradient: which,
      general: general.ms,
      simd: simd.ms,
      ratio: general.ms / simd.ms,
      difference: relativeDifference(simd.out, general.out).toExponential(1),
    });
  }
  tf.dispose([x, filter, dy]);
}

const steps = bench.results.table(
  'steps',
  `Training step, batch ${B}, ${bench.threads} threads, the SIMD route off and on, alternating every 3 steps, medians of ${flags.rounds} rounds`,
  stepColumns('general', 'SIMD'),
);
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
  steps.row(stepRow(arch, t.general, t.simd, B));
}
overrideKernelRoutes({ '*': { 'one-channel-simd': 'auto' } });
await bench.results.save();

/**
 * Same-process A/B of the Winograd route (src/kernels/wasm/helpers/winograd.ts) against the direct one
 * (XNNPACK convolutions), switched every round so both see the same machine load:
 * 1. the seed net's conv2 kernels alone (`[64,24,24,100]` 5x5 -> 50 channels): forward, input
 *    gradient, filter gradient, read back included;
 * 2. a full seed-net training step (trainOnBatch, batch 64);
 * 3. prediction (model.predict, batch 256).
 * With `--filter 3`, Winograd F(4x4, 3x3) against the direct route instead, the 5x5 route on in
 * both arms:
 * 1. each 3x3 stride-1 layer of `compact`, `lean` and `strong` with at least 1,024 channel pairs:
 *    forward, input gradient and filter gradient;
 * 2. a full training step (trainOnBatch, batch 64) of `lean` and `strong`.
 * Run by hand: `npm run bench -- bench/kernels/winograd.ts [--threads 2] [--rounds 5] [--filter 5|3]`.
 */
import * as tf from '@tensorflow/tfjs-core';

import { buildDigitCnn } from '../../src/model/build.js';
import { registerWasmTrainingKernels } from '../../src/kernels/wasm_training.js';
import { overrideKernelRoutes } from '../../src/kernels/routes.js';
import { median } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: 'the Winograd route for stride-1 5x5 (or, with --filter 3, 3x3) convolutions against XNNPACK direct ones',
  backend: 'wasm',
  options: {
    rounds: { type: 'string', default: '5' },
    filter: { type: 'string', default: '5' },
  },
  name: (flags) => (flags.filter === '3' ? 'winograd_3x3' : 'winograd'),
});
const flags = bench.flags;
const ROUNDS = Number(flags.rounds);
const B = 64;

const arms = [
  ['direct', false],
  ['winograd', true],
] as const;

/** ms of one call of `f` (result read back), median of 3 after a warm-up. */
function time(f: () => tf.Tensor): number {
  const ts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const r = f();
    r.dataSync();
    ts.push(performance.now() - t0);
    r.dispose();
  }
  return median(ts.slice(1));
}

/** The seed net's 5x5 conv2 kernels, then the seed net end to end. */
async function seedNet(): Promise<void> {
  // 1. Kernels. Filters and dy are fresh buffers every call, as in training (XNNPACK caches packed weights per buffer).
  const x = tf.randomNormal([B, 24, 24, 100]) as tf.Tensor4D;
  const w = tf.randomNormal([5, 5, 100, 50], 0, 0.05) as tf.Tensor4D;
  const bias = tf.zeros([50]) as tf.Tensor1D;
  const dy = tf.randomNormal([B, 20, 20, 50]) as tf.Tensor4D;
  const fresh = <T extends tf.Tensor>(t: T): T => tf.add(t, 0) as T;
  const kernels: Record<string, () => tf.Tensor> = {
    'forward (FusedConv2D + ReLU)': () =>
      tf.tidy(() => tf.fused.conv2d({ x, filter: fresh(w), bias, activation: 'relu', strides: 1, pad: 'valid' })),
    'input gradient': () => tf.tidy(() => tf.conv2dTranspose(fresh(dy), fresh(w), [B, 24, 24, 100], 1, 'valid')),
    'filter gradient': () =>
      tf.tidy(
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x, dy: fresh(dy) },
              { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [5, 5, 100, 50] },
            ) as tf.Tensor,
      ),
  };
  const MFLOP = (B * 20 * 20 * 50 * 5 * 5 * 100 * 2) / 1e6;
  const kernelTimes: Record<string, Record<string, number[]>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [arm, on] of arms) {
      registerWasmTrainingKernels({ winograd: on });
      for (const [name, f] of Object.entries(kernels)) ((kernelTimes[name] ??= {})[arm] ??= []).push(time(f));
    }
  }
  const kernelTable = bench.results.table(
    'kernels',
    `The seed net's conv2 kernels, batch ${B}, ${bench.threads} threads, medians of ${ROUNDS} rounds; GFLOP/s count the direct convolution's FLOPs for both`,
    [
      { key: 'kernel', label: 'seed conv2 kernel' },
      { key: 'direct', label: 'direct (ms)', digits: 1 },
      { key: 'directGflops', label: 'GFLOP/s', digits: 0 },
      { key: 'winograd', label: 'Winograd (ms)', digits: 1 },
      { key: 'winogradGflops', label: 'direct-equivalent GFLOP/s', digits: 0 },
      { key: 'ratio', label: 'ratio', digits: 2, suffix: 'x' },
    ],
  );
  for (const [name, t] of Object.entries(kernelTimes)) {
    const [d, v] = [median(t.direct!), median(t.winograd!)];
    kernelTable.row({
      kernel: name,
      direct: d,
      directGflops: MFLOP / d,
      winograd: v,
      winogradGflops: MFLOP / v,
      ratio: d / v,
    });
  }
  tf.dispose([x, w, bias, dy]);

  // 2 and 3. The seed net end to end.
  const model = buildDigitCnn({ architecture: 'seed', seed: 1 });
  const xs = tf.randomUniform([B, 28, 28, 1]);
  const ys = tf.cast(tf.oneHot(tf.randomUniform([B], 0, 10, 'int32') as tf.Tensor1D, 10), 'float32');
  const batch = tf.randomUniform([256, 28, 28, 1]);
  const step: Record<string, number[]> = { direct: [], winograd: [] };
  const predict: Record<string, number[]> = { direct: [], winograd: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [arm, on] of arms) {
      registerWasmTrainingKernels({ winograd: on });
      await model.trainOnBatch(xs, ys); // warm-up after the switch
      let t0 = performance.now();
      for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
      step[arm]!.push((performance.now() - t0) / 3);
      t0 = performance.now();
      const p = model.predict(batch) as tf.Tensor;
      p.dataSync();
      predict[arm]!.push(performance.now() - t0);
      p.dispose();
    }
  }
  const [sd, sw] = [median(step.direct!), median(step.winograd!)];
  const [pd, pw] = [median(predict.direct!), median(predict.winograd!)];
  const net = bench.results.table('seed', `The seed net, ${bench.threads} threads, medians of ${ROUNDS} rounds`, [
    { key: 'what', label: 'seed net' },
    { key: 'direct', label: 'direct', digits: 1 },
    { key: 'winograd', label: 'Winograd', digits: 1 },
    { key: 'ratio', label: 'ratio', digits: 2, suffix: 'x' },
  ]);
  net.row({ what: `training step, batch ${B} (ms)`, direct: sd, winograd: sw, ratio: sd / sw });
  net.row({ what: 'training images/s', direct: (B / sd) * 1000, winograd: (B / sw) * 1000, ratio: null });
  net.row({ what: 'predict, batch 256 (ms)', direct: pd, winograd: pw, ratio: pd / pw });
  net.row({ what: 'prediction images/s', direct: (256 / pd) * 1000, winograd: (256 / pw) * 1000, ratio: null });
  net.row({
    what: '28,000 test images (s)',
    direct: ((28000 / 256) * pd) / 1000,
    winograd: ((28000 / 256) * pw) / 1000,
    ratio: null,
  });
}

/** The zoo's wide 3x3 layers, then `lean` and `strong` end to end, with only the 3x3 route switched. */
async function threeByThree(): Promise<void> {
  // Every 3x3 stride-1 layer of the zoo with at least 1,024 channel pairs: [input side, in, out, padding].
  const LAYERS: [string, number, number, number, 'same' | 'valid'][] = [
    ['compact conv2', 13, 32, 64, 'valid'],
    ['lean conv2', 14, 32, 64, 'valid'],
    ['lean conv3', 12, 64, 64, 'valid'],
    ['lean conv4', 5, 64, 128, 'valid'],
    ['strong conv2', 26, 32, 32, 'valid'],
    ['strong conv4', 12, 32, 64, 'valid'],
    ['strong conv5', 10, 64, 64, 'valid'],
  ];

  // Filters and dy are fresh buffers every call, as in training (XNNPACK caches packed weights per buffer).
  const fresh = <T extends tf.Tensor>(t: T): T => tf.add(t, 0) as T;
  const layerTable = bench.results.table(
    'layers',
    `3x3 layers, batch ${B}, ${bench.threads} threads, ms per kernel, medians of ${ROUNDS} rounds`,
    [
      { key: 'layer', label: 'layer' },
      { key: 'output', label: 'output' },
      ...['forward', 'input', 'filter'].flatMap((k) => [
        { key: `${k}Direct`, label: `${k === 'forward' ? 'forward' : `${k} gradient`}, direct (ms)`, digits: 1 },
        { key: `${k}Winograd`, label: 'Winograd (ms)', digits: 1 },
        { key: `${k}Ratio`, label: 'ratio', digits: 2, suffix: 'x' },
      ]),
    ],
  );
  for (const [name, side, cin, cout, pad] of LAYERS) {
    const out = pad === 'same' ? side : side - 2;
    const x = tf.randomNormal([B, side, side, cin]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, cin, cout], 0, 0.05) as tf.Tensor4D;
    const dy = tf.randomNormal([B, out, out, cout]) as tf.Tensor4D;
    const kernels: Record<string, () => tf.Tensor> = {
      forward: () => tf.tidy(() => tf.conv2d(x, fresh(w), 1, pad)),
      input: () => tf.tidy(() => tf.conv2dTranspose(fresh(dy), fresh(w), [B, side, side, cin], 1, pad)),
      filter: () =>
        tf.tidy(
          () =>
            tf
              .engine()
              .runKernel(
                'Conv2DBackpropFilter',
                { x, dy: fresh(dy) },
                { strides: 1, pad, dataFormat: 'NHWC', filterShape: [3, 3, cin, cout] },
              ) as tf.Tensor,
        ),
    };
    const times: Record<string, Record<string, number[]>> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [arm, on] of arms) {
        overrideKernelRoutes({ '*': { 'winograd-3x3': on ? 'auto' : 'off' } });
        for (const [kernel, f] of Object.entries(kernels)) ((times[kernel] ??= {})[arm] ??= []).push(time(f));
      }
    }
    const cells: Record<string, number> = {};
    for (const [kernel, t] of Object.entries(times)) {
      const [d, v] = [median(t.direct!), median(t.winograd!)];
      Object.assign(cells, { [`${kernel}Direct`]: d, [`${kernel}Winograd`]: v, [`${kernel}Ratio`]: d / v });
    }
    layerTable.row({ layer: `${name} [${side},${side},${cin}] -> ${cout}`, output: `${out}x${out}`, ...cells });
    tf.dispose([x, w, dy]);
  }

  const steps = bench.results.table(
    'steps',
    `Training step, batch ${B}, ${bench.threads} threads, medians of ${ROUNDS} rounds of 3 steps`,
    [
      { key: 'net', label: 'net' },
      { key: 'direct', label: 'direct (ms)', digits: 1 },
      { key: 'winograd', label: 'Winograd 3x3 (ms)', digits: 1 },
      { key: 'ratio', label: 'ratio', digits: 2, suffix: 'x' },
    ],
  );
  for (const architecture of ['lean', 'strong']) {
    const model = buildDigitCnn({ architecture, seed: 1 });
    const xs = tf.randomUniform([B, 28, 28, 1]);
    const ys = tf.cast(tf.oneHot(tf.randomUniform([B], 0, 10, 'int32') as tf.Tensor1D, 10), 'float32');
    const step: Record<string, number[]> = { direct: [], winograd: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [arm, on] of arms) {
        overrideKernelRoutes({ '*': { 'winograd-3x3': on ? 'auto' : 'off' } });
        await model.trainOnBatch(xs, ys); // warm-up after the switch
        const t0 = performance.now();
        for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
        step[arm]!.push((performance.now() - t0) / 3);
      }
    }
    const [d, v] = [median(step.direct!), median(step.winograd!)];
    steps.row({ net: architecture, direct: d, winograd: v, ratio: d / v });
    tf.dispose([xs, ys]);
    model.dispose();
  }
  overrideKernelRoutes({ '*': { 'winograd-5x5': 'auto', 'winograd-3x3': 'auto' } });
}

await (flags.filter === '3' ? threeByThree() : seedNet());
await bench.results.save();

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
 * Run by hand: `npm run bench -- bench/winograd.ts [--threads 2] [--rounds 5] [--filter 5|3]`. Prints markdown tables.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from 'node:util';

import { buildDigitCnn } from '../src/model/build.js';
import { registerWasmTrainingKernels } from '../src/kernels/wasm_training.js';
import { configureWasmThreads } from '../src/kernels/wasm_threads.js';
import { overrideKernelRoutes } from '../src/kernels/routes.js';

const { values: flags } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    filter: { type: 'string', default: '5' },
  },
});
const ROUNDS = Number(flags.rounds);
const B = 64;

configureWasmThreads(Number(flags.threads), { setThreadsCount: wasm.setThreadsCount });
await tf.setBackend('wasm');
await tf.ready();
registerWasmTrainingKernels();

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
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
  console.log(`seed conv2, batch ${B}, ${flags.threads} thread(s), medians of ${ROUNDS} rounds:\n`);
  console.log(
    '| kernel | direct ms | GFLOP/s | Winograd ms | direct-equivalent GFLOP/s | ratio |\n|---|---:|---:|---:|---:|---:|',
  );
  for (const [name, t] of Object.entries(kernelTimes)) {
    const [d, v] = [median(t.direct!), median(t.winograd!)];
    console.log(
      `| ${name} | ${d.toFixed(1)} | ${(MFLOP / d).toFixed(0)} | ${v.toFixed(1)} | ${(MFLOP / v).toFixed(0)} | ${(d / v).toFixed(2)}x |`,
    );
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
  console.log(`\nseed net, ${flags.threads} thread(s), medians of ${ROUNDS} rounds:\n`);
  console.log('| | direct | Winograd | ratio |\n|---|---:|---:|---:|');
  console.log(`| training step, batch ${B} (ms) | ${sd.toFixed(0)} | ${sw.toFixed(0)} | ${(sd / sw).toFixed(2)}x |`);
  console.log(`| training images/s | ${((B / sd) * 1000).toFixed(1)} | ${((B / sw) * 1000).toFixed(1)} | |`);
  console.log(`| predict, batch 256 (ms) | ${pd.toFixed(0)} | ${pw.toFixed(0)} | ${(pd / pw).toFixed(2)}x |`);
  console.log(`| prediction images/s | ${((256 / pd) * 1000).toFixed(0)} | ${((256 / pw) * 1000).toFixed(0)} | |`);
  console.log(
    `| 28,000 test images (s) | ${(((28000 / 256) * pd) / 1000).toFixed(1)} | ${(((28000 / 256) * pw) / 1000).toFixed(1)} | |`,
  );
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
  console.log(
    `3x3 layers, batch ${B}, ${flags.threads} thread(s), ms per kernel, medians of ${ROUNDS} rounds (direct / Winograd):\n`,
  );
  console.log(
    '| layer | output | forward | ratio | input gradient | ratio | filter gradient | ratio |\n|---|---|---:|---:|---:|---:|---:|---:|',
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
    const cells = Object.values(times).map((t) => {
      const [d, v] = [median(t.direct!), median(t.winograd!)];
      return `${d.toFixed(1)} / ${v.toFixed(1)} | ${(d / v).toFixed(2)}x`;
    });
    console.log(`| ${name} [${side},${side},${cin}] -> ${cout} | ${out}x${out} | ${cells.join(' | ')} |`);
    tf.dispose([x, w, dy]);
  }

  console.log(`\nTraining step, batch ${B}, ${flags.threads} thread(s), medians of ${ROUNDS} rounds of 3 steps:\n`);
  console.log('| net | direct ms | Winograd ms | ratio |\n|---|---:|---:|---:|');
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
    console.log(`| ${architecture} | ${d.toFixed(1)} | ${v.toFixed(1)} | ${(d / v).toFixed(2)}x |`);
    tf.dispose([xs, ys]);
    model.dispose();
  }
  overrideKernelRoutes({ '*': { 'winograd-5x5': 'auto', 'winograd-3x3': 'auto' } });
}

await (flags.filter === '3' ? threeByThree() : seedNet());

/**
 * Same-process comparison of the fused training batch norm (src/model/batch_norm.ts): the `lean`
 * and `strong` nets' training step with the fused kernels unregistered (`stock`: the layer then
 * takes tfjs-layers' own route, moments + batchNorm, autodiffed), registered with the TypeScript
 * arithmetic over the heap (`fused`), and registered with the SIMD module (`simd`,
 * native/batch_norm.c), swapped every few steps so every arm sees the same machine load. Also
 * counts kernel calls per step.
 * Run by hand: `npm run bench -- bench/kernels/batch_norm.ts [--threads 2] [--archs lean,strong] [--rounds 6]`.
 */
import * as tf from '@tensorflow/tfjs-core';

import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD } from '../../src/model/batch_norm.js';
import { buildDigitCnn } from '../../src/model/build.js';
import { overrideKernelRoutes } from '../../src/kernels/routes.js';
import { median } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about:
    "a training step with tfjs-layers' own batch norm, the fused kernels in TypeScript and the fused kernels in SIMD",
  backend: 'wasm',
  options: {
    archs: { type: 'string', default: 'lean,strong' },
    rounds: { type: 'string', default: '6' },
  },
});
const flags = bench.flags;
const B = 64;
const STEPS = 3;

const fusedKernels = [BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD].map((k) => tf.getKernel(k, 'wasm')!);
const registered = (on: boolean): void =>
  fusedKernels.forEach((k) => (on ? tf.registerKernel(k) : tf.unregisterKernel(k.kernelName, 'wasm')));
const arms = {
  stock: (): void => registered(false),
  fused: (): void => {
    registered(true);
    overrideKernelRoutes({ [BATCH_NORM_TRAINING]: { simd: 'off' }, [BATCH_NORM_TRAINING_GRAD]: { simd: 'off' } });
  },
  simd: (): void => {
    overrideKernelRoutes({ [BATCH_NORM_TRAINING]: { simd: 'auto' }, [BATCH_NORM_TRAINING_GRAD]: { simd: 'auto' } });
  },
};
type Arm = keyof typeof arms;
const ARMS = Object.keys(arms) as Arm[];
const table = bench.results.table(
  'steps',
  `Training step, batch ${B}, ${bench.threads} threads, the three routes swapped every ${STEPS} steps, medians of ${flags.rounds} rounds`,
  [
    { key: 'net', label: 'net' },
    { key: 'stockCalls', label: 'kernel calls per step, stock' },
    { key: 'fusedCalls', label: 'fused' },
    { key: 'stock', label: 'stock (ms/step)', digits: 1 },
    { key: 'fused', label: 'fused, TypeScript (ms/step)', digits: 1 },
    { key: 'simd', label: 'fused, SIMD (ms/step)', digits: 1 },
    { key: 'simdVsFused', label: 'SIMD vs TypeScript', digits: 2, suffix: 'x' },
    { key: 'simdVsStock', label: 'SIMD vs stock', digits: 2, suffix: 'x' },
  ],
);
for (const arch of flags.archs.split(',')) {
  const model = buildDigitCnn({ architecture: arch, seed: 1 });
  const xs = tf.randomUniform([B, 28, 28, 1]);
  const ys = tf.cast(tf.oneHot(tf.randomUniform([B], 0, 10, 'int32') as tf.Tensor1D, 10), 'float32');
  const times: Record<Arm, number[]> = { stock: [], fused: [], simd: [] };
  const calls: Record<Arm, number> = { stock: 0, fused: 0, simd: 0 };
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const arm of ARMS) {
      arms[arm]();
      // Warm-up after the swap; its profile gives the kernel count.
      if (round === 0)
        calls[arm] = (
          await tf.profile(async () => {
            await model.trainOnBatch(xs, ys);
          })
        ).kernels.length;
      else await model.trainOnBatch(xs, ys);
      const started = performance.now();
      for (let i = 0; i < STEPS; i++) await model.trainOnBatch(xs, ys);
      times[arm].push((performance.now() - started) / STEPS);
    }
  }
  const [s, f, v] = [median(times.stock), median(times.fused), median(times.simd)];
  table.row({
    net: arch,
    stockCalls: calls.stock,
    fusedCalls: calls.fused,
    stock: s,
    fused: f,
    simd: v,
    simdVsFused: f / v,
    simdVsStock: s / v,
  });
  tf.dispose([xs, ys]);
  model.dispose();
}
await bench.results.save();

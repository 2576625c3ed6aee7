/**
 * Seed-net training speed on the tfjs `cpu` backend (pure JS), stock kernels vs this package's
 * (src/kernels/cpu_training.ts), and the per-kernel times behind it. Run by hand:
 * `npm run bench -- bench/kernels/cpu.ts [--stock-steps 1] [--steps 5] [--batch 8] [--big-batch 64]`.
 *
 * - Training: `trainOnBatch` steps of the seed net (Adam) on random images, first with the stock
 *   kernels (slow: about a minute per step at batch 8, so only `stock-steps` steps, after no
 *   warm-up), then with ours (median of `steps` steps after one warm-up step), same weights.
 * - Kernels: the seed net's kernels called directly, ours vs stock on the same inputs. The stock
 *   kernels run once at batch 2 (their conv2 filter gradient alone takes ~8 s per image); ours run
 *   at batch 2 and at `big-batch` (median of 3 after one warm-up). GFLOP/s = 2 * MACs / time.
 * Pass `--stock-steps 0` to skip the stock training steps.
 */
import * as tf from '@tensorflow/tfjs-core';

import { registerCpuTrainingKernels } from '../../src/kernels/cpu_training.js';
import { buildDigitCnn } from '../../src/model/build.js';
import { median } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: "seed-net training steps and kernels on tfjs' cpu backend, stock kernels against this package's",
  backend: 'cpu-stock',
  options: {
    'stock-steps': { type: 'string', default: '1' },
    steps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '8' },
    'big-batch': { type: 'string', default: '64' },
  },
});
const flags = bench.flags;
const STOCK_STEPS = Number(flags['stock-steps']);
const STEPS = Number(flags.steps);
const BATCH = Number(flags.batch);
const BIG_BATCH = Number(flags['big-batch']);
const KERNEL_BATCH = 2;

const NAMES = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', '_FusedMatMul'];
const stock = new Map<string, tf.KernelConfig>();
for (const name of NAMES) {
  const config = tf.getKernel(name, 'cpu');
  if (config !== undefined) stock.set(name, config);
}

// ---- seed-net training steps -------------------------------------------------------------------

const init = buildDigitCnn({ architecture: 'seed', seed: 1, compile: false });
const weights = init.getWeights().map((w) => tf.clone(w));
init.dispose();

/** Seconds per trainOnBatch step for `steps` steps after `warmup` untimed ones. */
async function trainSteps(batch: number, steps: number, warmup: number): Promise<number[]> {
  const model = buildDigitCnn({ architecture: 'seed', seed: 1 });
  model.setWeights(weights);
  const xs = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 5);
  const ys = tf.tidy(() =>
    tf.cast(tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 6) as tf.Tensor1D, 10), 'float32'),
  );
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    await model.trainOnBatch(xs, ys);
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  tf.dispose([xs, ys]);
  model.dispose();
  return times;
}

const training = bench.results.table(
  'training',
  `Seed-net trainOnBatch on the cpu backend (Adam), seconds per step (stock: ${STOCK_STEPS} step(s) without warm-up; ours: ${STEPS} after one)`,
  [
    { key: 'kernels', label: 'kernels' },
    { key: 'batch', label: 'batch', digits: 0 },
    { key: 'seconds', label: 's per step' },
    { key: 'imagesPerSecond', label: 'images/s', digits: 2 },
    { key: 'speedUp', label: 'speed-up', digits: 0, suffix: 'x' },
  ],
);
let stockImagesPerSecond = NaN;
if (STOCK_STEPS > 0) {
  const t = await trainSteps(BATCH, STOCK_STEPS, 0);
  stockImagesPerSecond = BATCH / median(t);
  training.row({
    kernels: 'stock',
    batch: BATCH,
    seconds: t.map((s) => s.toFixed(1)).join(', '),
    imagesPerSecond: stockImagesPerSecond,
    speedUp: 1,
  });
}
registerCpuTrainingKernels();
for (const batch of [BATCH, BIG_BATCH]) {
  const t = await trainSteps(batch, STEPS, 1);
  const ips = batch / median(t);
  training.row({
    kernels: 'ours',
    batch,
    seconds: t.map((s) => s.toFixed(2)).join(', '),
    imagesPerSecond: ips,
    speedUp: Number.isNaN(stockImagesPerSecond) ? null : ips / stockImagesPerSecond,
  });
}

// ---- per-kernel times --------------------------------------------------------------------------

interface Disposer {
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

function timeKernel(
  config: tf.KernelConfig,
  inputs: tf.NamedTensorInfoMap,
  attrs: object,
  runs: number,
  warmup: number,
): number {
  const backend = tf.backend();
  const times: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const t0 = performance.now();
    const out = config.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
    const t1 = performance.now();
    for (const info of Array.isArray(out) ? out : [out]) (backend as unknown as Disposer).disposeData(info.dataId);
    if (i >= warmup) times.push(t1 - t0);
  }
  return median(times);
}

interface KernelCase {
  name: string;
  kernel: string;
  macs: (b: number) => number;
  make: (b: number) => { inputs: Record<string, tf.Tensor>; attrs: object };
}

const r = (shape: number[]): tf.Tensor => tf.randomUniform(shape, -0.5, 0.5);
const convCase = (name: string, x: number[], f: number[], y: number[]): KernelCase[] => {
  const macs = (b: number): number =>
    b * (y[0] as number) * (y[1] as number) * (y[2] as number) * (f[0] as number) * (f[1] as number) * (f[2] as number);
  const conv = { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1 };
  return [
    {
      name: `${name} FusedConv2D (+bias, relu)`,
      kernel: 'FusedConv2D',
      macs,
      make: (b) => ({
        inputs: { x: r([b, ...x]), filter: r(f), bias: r([f[3] as number]) },
        attrs: { ...conv, activation: 'relu' },
      }),
    },
    {
      name: `${name} Conv2DBackpropFilter`,
      kernel: 'Conv2DBackpropFilter',
      macs,
      make: (b) => ({ inputs: { x: r([b, ...x]), dy: r([b, ...y]) }, attrs: { ...conv, filterShape: f } }),
    },
    {
      name: `${name} Conv2DBackpropInput`,
      kernel: 'Conv2DBackpropInput',
      macs,
      make: (b) => ({ inputs: { dy: r([b, ...y]), filter: r(f) }, attrs: { ...conv, inputShape: [b, ...x] } }),
    },
  ];
};
const CASES: KernelCase[] = [
  ...convCase('conv1', [28, 28, 1], [5, 5, 1, 100], [24, 24, 100]),
  ...convCase('conv2', [24, 24, 100], [5, 5, 100, 50], [20, 20, 50]),
  {
    name: 'dense1 _FusedMatMul x·W (+bias, relu)',
    kernel: '_FusedMatMul',
    macs: (b) => b * 20000 * 128,
    make: (b) => ({
      inputs: { a: r([b, 20000]), b: r([20000, 128]), bias: r([128]) },
      attrs: { transposeA: false, transposeB: false, activation: 'relu' },
    }),
  },
  {
    name: 'dense1 dx = dy·Wᵀ',
    kernel: 'BatchMatMul',
    macs: (b) => b * 20000 * 128,
    make: (b) => ({ inputs: { a: r([b, 128]), b: r([20000, 128]) }, attrs: { transposeA: false, transposeB: true } }),
  },
  {
    name: 'dense1 dW = xᵀ·dy',
    kernel: 'BatchMatMul',
    macs: (b) => b * 20000 * 128,
    make: (b) => ({ inputs: { a: r([b, 20000]), b: r([b, 128]) }, attrs: { transposeA: true, transposeB: false } }),
  },
];

const kernelTable = bench.results.table(
  'kernels',
  `Kernels called directly (stock: 1 run at batch ${KERNEL_BATCH}; ours: median of 5 at batch ${KERNEL_BATCH} and of 3 at batch ${BIG_BATCH}); FLOPs = 2 x MACs`,
  [
    { key: 'kernel', label: 'kernel' },
    { key: 'stockMs', label: `stock ms (b=${KERNEL_BATCH})`, digits: 0 },
    { key: 'stockGflops', label: 'GFLOP/s', digits: 2 },
    { key: 'oursMs', label: `ours ms (b=${KERNEL_BATCH})`, digits: 1 },
    { key: 'oursGflops', label: 'GFLOP/s', digits: 2 },
    { key: 'speedUp', label: 'speed-up', digits: 0, suffix: 'x' },
    { key: 'bigMs', label: `ours ms (b=${BIG_BATCH})`, digits: 0 },
    { key: 'bigGflops', label: 'GFLOP/s', digits: 2 },
  ],
);
const gflops = (macs: number, ms: number): number => (2 * macs) / (ms * 1e6);
for (const c of CASES) {
  const ours = tf.getKernel(c.kernel, 'cpu');
  const stockConfig = stock.get(c.kernel);
  if (ours === undefined || stockConfig === undefined) throw new Error(`no cpu kernel ${c.kernel}`);
  const small = c.make(KERNEL_BATCH);
  const stockMs = timeKernel(stockConfig, small.inputs, small.attrs, 1, 0);
  const oursMs = timeKernel(ours, small.inputs, small.attrs, 5, 1);
  tf.dispose(Object.values(small.inputs));
  const big = c.make(BIG_BATCH);
  const bigMs = timeKernel(ours, big.inputs, big.attrs, 3, 1);
  tf.dispose(Object.values(big.inputs));
  kernelTable.row({
    kernel: c.name,
    stockMs,
    stockGflops: gflops(c.macs(KERNEL_BATCH), stockMs),
    oursMs,
    oursGflops: gflops(c.macs(KERNEL_BATCH), oursMs),
    speedUp: stockMs / oursMs,
    bigMs,
    bigGflops: gflops(c.macs(BIG_BATCH), bigMs),
  });
}
await bench.results.save();

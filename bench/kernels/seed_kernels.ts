/**
 * Times the wasm kernels a conv-net training step runs, for the seed net at batch 64.
 * Run by hand: `npm run bench -- bench/kernels/seed_kernels.ts [--runs 7]`.
 *
 * Each row: median of RUNS timed calls after WARMUP untimed ones, GFLOP/s = 2 * MACs / time.
 */
import * as tf from '@tensorflow/tfjs-core';

import { registerWasmTrainingKernels } from '../../src/kernels/wasm_training.js';
import { median } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: "the wasm kernels of a seed-net training step called directly, stock and this package's",
  backend: 'wasm-stock',
  threads: 1,
  options: { runs: { type: 'string', default: '7' } },
});
const WARMUP = 2;
const RUNS = Number(bench.flags.runs);

interface Row {
  name: string;
  macs: number;
  ms: number;
}

interface Disposer {
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/**
 * Times a kernel config called directly (wasm kernels run synchronously). Inputs named in
 * `fresh` are cloned (untimed) before every call: XNNPACK caches packed weights per filter /
 * right-hand-side buffer, and in training the weights and dy are new buffers every step.
 */
function timeKernel(
  config: tf.KernelConfig,
  inputs: Record<string, tf.Tensor>,
  attrs: tf.NamedAttrMap,
  fresh: string[] = [],
): number {
  const backend = tf.backend();
  const times: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const clones: tf.Tensor[] = [];
    const callInputs: tf.NamedTensorInfoMap = { ...inputs };
    for (const name of fresh) {
      const copy = tf.add(inputs[name] as tf.Tensor, 0); // a new buffer (tf.clone would share it)
      clones.push(copy);
      callInputs[name] = copy;
    }
    const t0 = performance.now();
    const out = config.kernelFunc({ inputs: callInputs, backend, attrs });
    const t1 = performance.now();
    for (const info of Array.isArray(out) ? out : [out]) (backend as unknown as Disposer).disposeData(info.dataId);
    tf.dispose(clones);
    if (i >= WARMUP) times.push(t1 - t0);
  }
  return median(times);
}

function kernel(name: string): tf.KernelConfig {
  const config = tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`no wasm kernel ${name}`);
  return config;
}

function random(shape: number[]): tf.Tensor {
  return tf.randomUniform(shape, -0.5, 0.5);
}

const stockBackpropInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
const stockMatMul = tf.getKernel('BatchMatMul', 'wasm');
registerWasmTrainingKernels();

const rows: Row[] = [];
const B = 64;
const convs = [
  { name: 'conv1', x: [B, 28, 28, 1], f: [5, 5, 1, 100], y: [B, 24, 24, 100] },
  { name: 'conv2', x: [B, 24, 24, 100], f: [5, 5, 100, 50], y: [B, 20, 20, 50] },
];
for (const c of convs) {
  const x = random(c.x);
  const f = random(c.f);
  const dy = random(c.y);
  const [, oh, ow, co] = c.y as [number, number, number, number];
  const [kh, kw, ci] = c.f as [number, number, number];
  const macs = B * oh * ow * co * kh * kw * ci;
  const convAttrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1 } as tf.NamedAttrMap;
  rows.push({
    name: `${c.name} Conv2D forward`,
    macs,
    ms: timeKernel(kernel('Conv2D'), { x, filter: f }, convAttrs, ['filter']),
  });
  rows.push({
    name: `${c.name} Conv2DBackpropFilter (ours)`,
    macs,
    ms: timeKernel(
      kernel('Conv2DBackpropFilter'),
      { x, dy },
      { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: c.f },
      ['x', 'dy'],
    ),
  });
  const inputAttrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', inputShape: c.x } as tf.NamedAttrMap;
  if (stockBackpropInput !== undefined) {
    rows.push({
      name: `${c.name} Conv2DBackpropInput (stock)`,
      macs,
      ms: timeKernel(stockBackpropInput, { dy, filter: f }, inputAttrs, ['dy', 'filter']),
    });
  }
  rows.push({
    name: `${c.name} Conv2DBackpropInput (ours)`,
    macs,
    ms: timeKernel(kernel('Conv2DBackpropInput'), { dy, filter: f }, inputAttrs, ['dy', 'filter']),
  });
  tf.dispose([x, f, dy]);
}

// Dense layer 20000 -> 128 (flattened conv2 output): forward and the two gradient products.
{
  const x = random([B, 20000]);
  const w = random([20000, 128]);
  const dy = random([B, 128]);
  const macs = B * 20000 * 128;
  const ours = kernel('BatchMatMul');
  const t = (name: string, a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): void => {
    const attrs = { transposeA, transposeB };
    if (stockMatMul !== undefined && (transposeA || transposeB)) {
      rows.push({ name: `${name} (stock)`, macs, ms: timeKernel(stockMatMul, { a, b }, attrs, ['a', 'b']) });
    }
    rows.push({
      name: transposeA || transposeB ? `${name} (ours)` : name,
      macs,
      ms: timeKernel(ours, { a, b }, attrs, ['a', 'b']),
    });
  };
  t('dense forward x·W [64,20000]x[20000,128]', x, w, false, false);
  t('dense dx = dy·Wᵀ (transposeB)', dy, w, false, true);
  t('dense dW = xᵀ·dy (transposeA)', x, dy, true, false);
  rows.push({
    name: 'Transpose x [64,20000] (part of ours above)',
    macs: 0,
    ms: timeKernel(kernel('Transpose'), { x }, { perm: [1, 0] }),
  });
  tf.dispose([x, w, dy]);
}

const table = bench.results.table(
  'kernels',
  `Seed-net kernels at batch ${B}, ${bench.threads} thread(s), median of ${RUNS} timed calls after ${WARMUP} warm-up; FLOPs = 2 x MACs`,
  [
    { key: 'kernel', label: 'kernel' },
    { key: 'ms', label: 'ms', digits: 1 },
    { key: 'gflops', label: 'GFLOP/s', digits: 1 },
  ],
);
for (const r of rows)
  table.row({ kernel: r.name, ms: r.ms, gflops: r.macs === 0 ? null : (2 * r.macs) / (r.ms * 1e6) });
await bench.results.save();

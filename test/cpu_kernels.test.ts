import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { buildDigitCnn, registerCpuTrainingKernels, registerWasmTrainingKernels, trainDigits } from 'digit-recognizer';

import { syntheticDigits } from './helpers.js';
import {
  CONV_CASES,
  MATMUL_CASES,
  float64FilterGrad,
  type ConvCase,
  oneHot,
  relativeError,
  seedNet,
  sizeOf,
  values,
} from './kernel_reference.js';

const REPLACED = [
  'Conv2D',
  'FusedConv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'BatchMatMul',
  '_FusedMatMul',
] as const;
type Replaced = (typeof REPLACED)[number];

const TOLERANCE = 1e-5;

async function use(backend: 'cpu' | 'wasm'): Promise<void> {
  expect(await tf.setBackend(backend)).toBe(true);
  await tf.ready();
}

/** The stock cpu kernels, captured before ours replace them. */
const stock = new Map<Replaced, tf.KernelConfig>();

/** Runs a kernel config directly on the cpu backend; returns the output's values and shape, and frees it. */
function runKernel(
  config: tf.KernelConfig | undefined,
  inputs: tf.NamedTensorInfoMap,
  attrs: object,
): { data: Float32Array; shape: number[] } {
  if (config === undefined) throw new Error('kernel not registered');
  const backend = tf.backend();
  const out = config.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  const info = Array.isArray(out) ? (out[0] as tf.TensorInfo) : out;
  const data = (backend.readSync(info.dataId) as Float32Array).slice();
  backend.disposeData(info.dataId);
  return { data, shape: info.shape };
}

/** Ours vs stock on the same inputs: same shape, values within tolerance. */
function expectSame(name: Replaced, inputs: tf.NamedTensorInfoMap, attrs: object, tolerance = TOLERANCE): void {
  const ours = runKernel(tf.getKernel(name, 'cpu'), inputs, attrs);
  const ref = runKernel(stock.get(name), inputs, attrs);
  expect(ours.shape).toEqual(ref.shape);
  expect(relativeError(ours.data, ref.data)).toBeLessThan(tolerance);
}

const CASES: ConvCase[] = [
  ...CONV_CASES,
  {
    name: 'explicit padding, stride 2',
    x: [2, 10, 9, 3],
    filter: [3, 3, 3, 6],
    strides: 2,
    pad: [
      [0, 0],
      [2, 1],
      [0, 3],
      [0, 0],
    ],
  },
];

/** Gradients of the mean cross-entropy wrt every trainable weight, then three SGD trainOnBatch losses. */
async function seedNetRun(
  weights: Float32Array[],
  batch: number,
): Promise<{ grads: Float32Array[]; losses: number[] }> {
  const model = seedNet();
  model.setWeights(weights.map((w, i) => tf.tensor(w, model.getWeights()[i]?.shape)));
  const xs = tf.tensor4d(
    values(batch * 784, 7).map((v) => v + 0.5),
    [batch, 28, 28, 1],
  );
  const ys = oneHot(batch, 8);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(
    () =>
      tf.mean(tfl.metrics.categoricalCrossentropy(ys, model.apply(xs, { training: true }) as tf.Tensor)) as tf.Scalar,
    vars,
  );
  const out: Float32Array[] = [];
  for (const v of vars) out.push((await (grads[v.name] as tf.Tensor).data()) as Float32Array);
  tf.dispose([value, Object.values(grads)]);
  // Steps of 0.01: after one of 0.05 a conv1 unit lies within 3e-7 (of the largest) of zero, its side
  // is float32 rounding's choice, and on one of the wasm routes it flipped and moved the third loss by
  // 1.3e-4 (measured); at 0.01 the cpu backend and both wasm routes agree to 1e-7.
  model.compile({ optimizer: tf.train.sgd(0.01), loss: 'categoricalCrossentropy' });
  const losses: number[] = [];
  for (let i = 0; i < 3; i++) losses.push((await model.trainOnBatch(xs, ys)) as number);
  tf.dispose([xs, ys]);
  model.dispose();
  return { grads: out, losses };
}

describe('cpu training kernels', () => {
  beforeAll(async () => {
    await use('cpu');
    for (const name of REPLACED) {
      const config = tf.getKernel(name, 'cpu');
      if (config !== undefined) stock.set(name, config);
    }
  });

  it('are registered by trainDigits on the cpu backend', async () => {
    await use('cpu');
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')?.kernelFunc).toBe(stock.get('Conv2DBackpropFilter')?.kernelFunc);
    const model = buildDigitCnn({ architecture: 'compact', seed: 3 });
    await trainDigits(model, syntheticDigits(40), { epochs: 1, batchSize: 16 });
    model.dispose();
    for (const name of REPLACED)
      expect(tf.getKernel(name, 'cpu')?.kernelFunc, name).not.toBe(stock.get(name)?.kernelFunc);
  });

  it('register idempotently, without warnings', () => {
    const warn = vi.spyOn(console, 'warn');
    try {
      registerCpuTrainingKernels();
      const ours = REPLACED.map((name) => tf.getKernel(name, 'cpu')?.kernelFunc);
      ours.forEach((f, i) => expect(f).not.toBe(stock.get(REPLACED[i] as Replaced)?.kernelFunc));
      registerCpuTrainingKernels();
      registerCpuTrainingKernels();
      expect(REPLACED.map((name) => tf.getKernel(name, 'cpu')?.kernelFunc)).toEqual(ours);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  describe.each(CASES)('conv2d $name', (c) => {
    it('forward, input and filter gradients match the stock kernels', () => {
      registerCpuTrainingKernels();
      const x = tf.tensor4d(values(sizeOf(c.x), 1), c.x);
      const f = tf.tensor4d(values(sizeOf(c.filter), 2), c.filter);
      const outShape = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad).outShape;
      const dy = tf.tensor(values(sizeOf(outShape), 3), outShape);
      const bias = tf.tensor1d(values(c.filter[3], 4));
      try {
        const conv = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
        expectSame('Conv2D', { x, filter: f }, conv);
        expectSame('FusedConv2D', { x, filter: f, bias }, { ...conv, activation: 'relu' });
        expectSame(
          'Conv2DBackpropInput',
          { dy, filter: f },
          { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x },
        );
        const filterAttrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter };
        if (c.float64FilterReference === true) {
          const got = runKernel(tf.getKernel('Conv2DBackpropFilter', 'cpu'), { x, dy }, filterAttrs);
          expect(got.shape).toEqual(c.filter);
          expect(
            relativeError(got.data, float64FilterGrad(c, x.dataSync() as Float32Array, dy.dataSync() as Float32Array)),
          ).toBeLessThan(TOLERANCE);
        } else {
          expectSame('Conv2DBackpropFilter', { x, dy }, filterAttrs);
        }
      } finally {
        tf.dispose([x, f, dy, bias]);
      }
    });
  });

  it('fuse bias and every in-place activation as the stock FusedConv2D does, and fall back for prelu, NCHW and dilation 2', () => {
    registerCpuTrainingKernels();
    const x = tf.tensor4d(values(2 * 9 * 9 * 3, 5), [2, 9, 9, 3]);
    const f = tf.tensor4d(
      values(3 * 3 * 3 * 4, 6).map((v) => v * 4),
      [3, 3, 3, 4],
    );
    const bias = tf.tensor1d(values(4, 7));
    const scalarBias = tf.tensor1d([0.3]);
    const alpha = tf.tensor1d(values(4, 8));
    const xNchw = tf.tensor4d(values(2 * 3 * 9 * 9, 9), [2, 3, 9, 9]);
    try {
      const conv = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
      for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid']) {
        expectSame('FusedConv2D', { x, filter: f, bias }, { ...conv, activation });
      }
      expectSame(
        'FusedConv2D',
        { x, filter: f, bias: scalarBias },
        { ...conv, activation: 'leakyrelu', leakyreluAlpha: 0.1 },
      );
      expectSame('FusedConv2D', { x, filter: f }, { ...conv, activation: 'linear' });
      expectSame(
        'FusedConv2D',
        { x, filter: f, bias, preluActivationWeights: alpha },
        { ...conv, activation: 'prelu' },
      );
      expectSame('Conv2D', { x, filter: f }, { ...conv, dilations: 2 });
      expectSame('Conv2D', { x: xNchw, filter: f }, { ...conv, dataFormat: 'NCHW' });
    } finally {
      tf.dispose([x, f, bias, scalarBias, alpha, xNchw]);
    }
  });

  it.each([
    ...MATMUL_CASES,
    { a: [2, 3, 5, 6], b: [3, 6, 9], ta: false, tb: false },
    { a: [1, 1], b: [1, 1], ta: false, tb: false },
  ])(
    'BatchMatMul and _FusedMatMul $a x $b (transposeA=$ta, transposeB=$tb) match the stock kernels',
    ({ a, b, ta, tb }) => {
      registerCpuTrainingKernels();
      const ta_ = tf.tensor(values(sizeOf(a), 21), a);
      const tb_ = tf.tensor(values(sizeOf(b), 22), b);
      const n = tb ? (b[b.length - 2] as number) : (b[b.length - 1] as number);
      const bias = tf.tensor1d(values(n, 23));
      try {
        expectSame('BatchMatMul', { a: ta_, b: tb_ }, { transposeA: ta, transposeB: tb });
        expectSame('_FusedMatMul', { a: ta_, b: tb_, bias }, { transposeA: ta, transposeB: tb, activation: 'relu' });
      } finally {
        tf.dispose([ta_, tb_, bias]);
      }
    },
  );

  it('leak no tensors or buffers over repeated gradients', async () => {
    await use('cpu');
    registerCpuTrainingKernels();
    const x = tf.tensor4d(values(2 * 11 * 11 * 3, 31), [2, 11, 11, 3]);
    const f = tf.tensor4d(values(3 * 3 * 3 * 4, 32), [3, 3, 3, 4]);
    const w = tf.tensor2d(values(6 * 6 * 4 * 5, 33), [6 * 6 * 4, 5]);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.matMul(tf.reshape(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')), [2, -1]), c)),
    );
    tf.dispose(grads([x, f, w])); // warm-up
    const before = tf.memory();
    for (let i = 0; i < 5; i++) tf.dispose(grads([x, f, w]));
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([x, f, w]);
  });

  it('give the seed net the gradients and trainOnBatch losses of the wasm backend', async () => {
    await use('cpu');
    registerCpuTrainingKernels();
    const init = seedNet();
    const weights = await Promise.all(init.getWeights().map(async (w) => (await w.data()) as Float32Array));
    init.dispose();
    const got = await seedNetRun(weights, 4);
    await use('wasm');
    registerWasmTrainingKernels();
    const ref = await seedNetRun(weights, 4);
    await use('cpu');
    expect(got.grads.length).toBe(8);
    got.grads.forEach((g, i) =>
      expect(relativeError(g, ref.grads[i] as Float32Array), `weight ${i}`).toBeLessThan(1e-4),
    );
    expect(got.losses[2] as number).toBeLessThan(got.losses[0] as number);
    got.losses.forEach((loss, i) =>
      expect(Math.abs(loss - (ref.losses[i] as number)) / (ref.losses[i] as number), `step ${i}`).toBeLessThan(1e-4),
    );
  });
});

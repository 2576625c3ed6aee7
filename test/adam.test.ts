/**
 * `DigitAdamOptimizer` (src/model/adam.ts): tfjs' Adam with one `DigitAdam` kernel per variable
 * on wasm. It must train to the same bits as tfjs' own Adam, save and load as `Adam`, and be tfjs'
 * optimizer unchanged where the kernel is missing.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';

import { readyWasmTrainingKernels } from '../src/kernels/wasm_training.js';
import { buildDigitCnn } from '../src/model/build.js';
import { DigitAdamOptimizer } from '../src/model/adam.js';
import { traceKernelRoutes } from '../src/kernels/routes.js';
import { oneHot, values } from './kernel_reference.js';

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  await readyWasmTrainingKernels();
});

/** The weights of `compact` trained 3 steps with `optimizer`. */
async function train(optimizer: tf.Optimizer): Promise<Float32Array[]> {
  const model = buildDigitCnn({ architecture: 'compact', seed: 4, compile: { optimizer } });
  // compact's dropout draws unseeded masks: the layer is switched off by a zero rate here.
  for (const layer of model.layers)
    if (layer.getClassName() === 'Dropout') (layer as unknown as { rate: number }).rate = 0;
  const xs = tf.tensor4d(
    values(32 * 784, 3).map((v) => v + 0.5),
    [32, 28, 28, 1],
  );
  const ys = oneHot(32, 4);
  for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
  const weights = model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
  tf.dispose([xs, ys]);
  model.dispose();
  return weights;
}

describe('DigitAdamOptimizer', () => {
  it("trains to the same bits as tfjs' Adam, one DigitAdam call per variable", async () => {
    const reference = await train(tf.train.adam(0.01));
    const { result: fused, routes } = await traceKernelRoutes(() => train(new DigitAdamOptimizer(0.01, 0.9, 0.999)));
    expect(routes.filter((r) => r.kernel === 'DigitAdam').length).toBe(3 * reference.length);
    expect(fused.length).toBe(reference.length);
    fused.forEach((w, i) => expect(w, `weight ${i}`).toEqual(reference[i]));
  });

  it('saves as Adam, with the same moments', async () => {
    const optimizer = new DigitAdamOptimizer(0.01, 0.9, 0.999);
    expect(optimizer.getClassName()).toBe('Adam');
    await train(optimizer);
    const saved = await optimizer.getWeights();
    expect(saved.map((w) => w.name).filter((n) => n.endsWith('/m')).length).toBeGreaterThan(0);
    tf.dispose(saved.map((w) => w.tensor));
  });

  it("is tfjs' Adam on a backend without the kernel", async () => {
    await tf.setBackend('cpu');
    try {
      // A small dense problem: the cpu backend's convolutions would take minutes.
      const fit = (optimizer: tf.Optimizer): Float32Array => {
        const w = tf.variable(tf.tensor2d(values(40, 8), [8, 5]));
        const x = tf.tensor2d(values(48, 9), [6, 8]);
        for (let i = 0; i < 4; i++) optimizer.minimize(() => tf.sum(tf.square(tf.matMul(x, w))) as tf.Scalar);
        const out = w.dataSync().slice() as Float32Array;
        tf.dispose([w, x]);
        return out;
      };
      const reference = fit(tf.train.adam(0.01));
      const { result, routes } = await traceKernelRoutes(() => fit(new DigitAdamOptimizer(0.01, 0.9, 0.999)));
      expect(routes.filter((r) => r.kernel === 'DigitAdam')).toEqual([]);
      expect(result).toEqual(reference);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});

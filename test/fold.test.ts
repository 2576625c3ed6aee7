/**
 * Batch norms folded into the convolutions for prediction (src/prediction/fold.ts): the folded
 * copy predicts what the model predicts, to float32 rounding, with fewer layers, and leaks nothing.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';

import { readyWasmTrainingKernels } from '../src/kernels/wasm_training.js';
import { buildDigitCnn } from '../src/model/build.js';
import { foldBatchNorms } from '../src/prediction/fold.js';
import { predictDigits } from '../src/prediction/predict.js';
import { syntheticDigits } from './helpers.js';

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  await readyWasmTrainingKernels();
});

/** A model whose batch norms hold statistics of their own: a few training steps first. */
async function trained(architecture: string): Promise<tfl.LayersModel> {
  const model = buildDigitCnn({ architecture, seed: 3 });
  const data = syntheticDigits(64, 5);
  const xs = tf.tensor4d(
    Float32Array.from(data.pixels, (v) => v / 255),
    [64, 28, 28, 1],
  );
  const ys = tf.cast(tf.oneHot(tf.tensor1d(Array.from(data.labels!), 'int32'), 10), 'float32');
  for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
  tf.dispose([xs, ys]);
  return model;
}

describe('foldBatchNorms', () => {
  it.each(['lean', 'strong'])(
    '%s: the folded copy predicts the same, with each conv, batch norm and ReLU as one layer',
    async (arch) => {
      const model = await trained(arch);
      const xs = tf.randomUniform([40, 28, 28, 1], 0, 1, 'float32', 9);
      const before = tf.memory().numTensors;
      const folded = foldBatchNorms(model)!;
      expect(folded).toBeDefined();
      const countOf = (m: tfl.LayersModel, name: string) => m.layers.filter((l) => l.getClassName() === name).length;
      expect(countOf(folded, 'BatchNormalization')).toBe(0);
      expect(countOf(folded, 'Conv2D')).toBe(countOf(model, 'Conv2D'));
      expect(folded.layers.length).toBeLessThan(model.layers.length);
      const [a, b] = [model, folded].map((m) => tf.tidy(() => (m.predict(xs) as tf.Tensor).dataSync()));
      for (let i = 0; i < a!.length; i++) expect(Math.abs(a![i]! - b![i]!)).toBeLessThan(1e-5);
      folded.dispose();
      expect(tf.memory().numTensors).toBe(before);
      xs.dispose();
      model.dispose();
    },
  );

  it('leaves a model with nothing to fold alone', () => {
    const seed = buildDigitCnn({ architecture: 'seed', seed: 1 });
    expect(foldBatchNorms(seed)).toBeUndefined();
    seed.dispose();
  });

  it('predictDigits folds, frees the copy, and keeps its labels', async () => {
    const model = await trained('strong');
    const data = syntheticDigits(300, 11);
    const before = tf.memory().numTensors;
    const got = await predictDigits(model, data, { keepProbabilities: true });
    expect(tf.memory().numTensors).toBe(before);
    const xs = tf.tensor4d(
      Float32Array.from(data.pixels, (v) => v / 255),
      [300, 28, 28, 1],
    );
    const reference = tf.tidy(() => (model.predict(xs, { batchSize: 300 }) as tf.Tensor).dataSync());
    for (let i = 0; i < reference.length; i++)
      expect(Math.abs(got.probabilities![i]! - reference[i]!)).toBeLessThan(1e-5);
    xs.dispose();
    model.dispose();
  });
});

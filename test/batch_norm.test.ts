import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, expectTypeOf, it } from 'vitest';

import {
  BATCH_NORM_TRAINING,
  BATCH_NORM_TRAINING_GRAD,
  batchNormalization,
  batchNormTraining,
} from '../src/model/batch_norm.js';
import { registerCpuTrainingKernels } from '../src/kernels/cpu_training.js';
import { registerWasmTrainingKernels } from '../src/kernels/wasm_training.js';
import { overrideKernelRoutes, traceKernelRoutes } from '../src/kernels/routes.js';
import { oneHot, relativeError, values } from './kernel_reference.js';

const BACKENDS = ['cpu', 'wasm'] as const;

async function use(backend: 'cpu' | 'wasm'): Promise<void> {
  expect(await tf.setBackend(backend)).toBe(true);
  await tf.ready();
  registerCpuTrainingKernels();
  registerWasmTrainingKernels();
}

/** tfjs-layers' own training batch norm: moments, then batchNorm, all autodiffed. */
function stockTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  return [tf.batchNorm(x, mean, variance, beta, gamma, epsilon), mean, variance];
}

async function data(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

/** A batch norm's inputs of `shape`, channels last, and loss weights of the same shape, from seeds `seed` on. */
function layerInputs(
  shape: number[],
  seed: number,
): { x: tf.Tensor; gamma: tf.Tensor1D; beta: tf.Tensor1D; weights: tf.Tensor } {
  const channels = shape[shape.length - 1] as number;
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    // An offset mean and uneven scales per channel, like conv outputs.
    x: tf.add(tf.mul(tf.tensor(values(size, seed), shape), 3), tf.tensor1d(values(channels, seed + 1))),
    gamma: tf.add(tf.tensor1d(values(channels, seed + 2)), 1) as tf.Tensor1D,
    beta: tf.tensor1d(values(channels, seed + 3)),
    weights: tf.tensor(values(size, seed + 4), shape),
  };
}

describe('fused training batch norm kernels', () => {
  for (const backend of BACKENDS) {
    it(`match moments + batchNorm and their autodiffed gradient on ${backend}`, async () => {
      await use(backend);
      // Channels in fours take the SIMD route on wasm, with rows that do and do not fill its 16-row blocks.
      for (const shape of [
        [4, 5, 5, 3],
        [7, 6],
        [3, 3, 2, 9],
        [3, 5, 8],
        [5, 7, 7, 32],
        [37, 12],
      ]) {
        const { x, gamma, beta, weights } = layerInputs(shape, 1);
        const loss =
          (f: typeof stockTraining) =>
          (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Scalar =>
            tf.sum(tf.mul(f(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3)[0], weights));

        const fused = batchNormTraining(x, gamma, beta, 1e-3);
        const stock = stockTraining(x, gamma, beta, 1e-3);
        for (let i = 0; i < 3; i++) {
          expect(
            relativeError(await data(fused[i] as tf.Tensor), await data(stock[i] as tf.Tensor)),
            `output ${i} of [${shape.join(',')}]`,
          ).toBeLessThan(1e-5);
        }
        const fusedGrads = tf.grads(loss(batchNormTraining))([x, gamma, beta]);
        const stockGrads = tf.grads(loss(stockTraining))([x, gamma, beta]);
        for (const [i, name] of ['dx', 'dgamma', 'dbeta'].entries()) {
          expect(
            relativeError(await data(fusedGrads[i] as tf.Tensor), await data(stockGrads[i] as tf.Tensor)),
            `${name} of [${shape.join(',')}]`,
          ).toBeLessThan(1e-4);
        }
        tf.dispose([x, gamma, beta, weights, ...fused, ...stock, ...fusedGrads, ...stockGrads]);
      }
    });
  }

  it('also differentiates through the batch mean and variance it returns', async () => {
    await use('cpu');
    const x = tf.tensor(values(60, 6), [5, 4, 3]);
    const gamma = tf.tensor1d([1, 2, 0.5]);
    const beta = tf.tensor1d([0, 1, -1]);
    const w = tf.tensor(values(60, 7), [5, 4, 3]);
    const loss =
      (f: typeof stockTraining) =>
      (a: tf.Tensor): tf.Scalar => {
        const [y, mean, variance] = f(a, gamma, beta, 1e-3);
        return tf.addN([tf.sum(tf.mul(y, w)), tf.sum(tf.mul(mean, 3)), tf.sum(tf.mul(variance, -2))]) as tf.Scalar;
      };
    const fused = tf.grad(loss(batchNormTraining))(x);
    const stock = tf.grad(loss(stockTraining))(x);
    expect(relativeError(await data(fused), await data(stock))).toBeLessThan(1e-4);
    tf.dispose([x, gamma, beta, w, fused, stock]);
  });

  it('spends no kernels on the statistics when nothing differentiates them (tfjs-core passes zeros for them)', async () => {
    for (const backend of BACKENDS) {
      await use(backend);
      const { x, gamma, beta, weights } = layerInputs([4, 5, 5, 8], 3);
      const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(batchNormTraining(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3)[0], weights)),
      );
      const profile = await tf.profile(() => grads([x, gamma, beta]));
      const names = profile.kernels.map((k) => k.name);
      expect(names, backend).toContain(BATCH_NORM_TRAINING_GRAD);
      // x - mean and the divisions by N are what adding the statistics' gradients would cost.
      expect(
        names.filter((n) => n === 'Sub' || n === 'RealDiv'),
        backend,
      ).toEqual([]);
      tf.dispose([x, gamma, beta, weights, profile.result as tf.Tensor[]]);
    }
  });

  it('keeps the variance of a channel whose mean is far from zero', async () => {
    await use('wasm');
    const n = 4096;
    // One channel takes the TypeScript route, four the SIMD one.
    for (const channels of [1, 4]) {
      const noise = values(n * channels, 8);
      const x = tf.tensor2d(
        Float32Array.from(noise, (v) => 1000 + v * 0.01),
        [n, channels],
      );
      const all = x.dataSync();
      const [y, m, v] = batchNormTraining(
        x,
        tf.ones([channels]) as tf.Tensor1D,
        tf.zeros([channels]) as tf.Tensor1D,
        1e-12,
      );
      const [ys, ms, vs] = [await data(y), await data(m), await data(v)];
      for (let c = 0; c < channels; c++) {
        const column = Float64Array.from({ length: n }, (_, r) => all[r * channels + c] as number);
        const mean = column.reduce((a, b) => a + b, 0) / n;
        const variance = column.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
        expect(
          Math.abs((vs[c] as number) - variance) / variance,
          `variance of channel ${c} of ${channels}`,
        ).toBeLessThan(1e-3);
        expect(ms[c]).toBeCloseTo(mean, 3);
        expect(column.reduce((a, _, r) => a + (ys[r * channels + c] as number) ** 2, 0) / n).toBeCloseTo(1, 2);
      }
      tf.dispose([x, y, m, v]);
    }
  });

  it('runs channels in fours through the SIMD module on wasm, as the TypeScript route computes them', async () => {
    await use('wasm');
    const simdOff = { [BATCH_NORM_TRAINING]: { simd: 'off' }, [BATCH_NORM_TRAINING_GRAD]: { simd: 'off' } } as const;
    for (const shape of [
      [5, 7, 7, 32],
      [37, 12],
      [3, 3, 128],
    ]) {
      const { x, gamma, beta, weights } = layerInputs(shape, 21);
      const loss = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(batchNormTraining(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3)[0], weights));
      const run = async (simd: boolean): Promise<tf.Tensor[]> => {
        const restore = simd ? (): void => {} : overrideKernelRoutes(simdOff);
        try {
          const { result, routes } = await traceKernelRoutes(() => [
            ...batchNormTraining(x, gamma, beta, 1e-3),
            ...tf.grads(loss)([x, gamma, beta]),
          ]);
          // The route really ran: both kernels took it (the loss's own batch norm included).
          const taken = new Set(
            routes.filter((r) => r.kernel.startsWith('DigitBatchNorm')).map((r) => `${r.kernel}:${r.route}`),
          );
          const route = simd ? 'simd' : 'heap';
          expect([...taken].sort(), `[${shape.join(',')}]`).toEqual([
            `${BATCH_NORM_TRAINING}:${route}`,
            `${BATCH_NORM_TRAINING_GRAD}:${route}`,
          ]);
          return result;
        } finally {
          restore();
        }
      };
      const simd = await run(true);
      const typescript = await run(false);
      for (const [i, name] of ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'].entries()) {
        expect(
          relativeError(await data(simd[i] as tf.Tensor), await data(typescript[i] as tf.Tensor)),
          `${name} of [${shape.join(',')}]`,
        ).toBeLessThan(1e-5);
      }
      tf.dispose([x, gamma, beta, weights, ...simd, ...typescript]);
    }
    // Channels that are not a multiple of 4 stay on the TypeScript route.
    const { routes } = await traceKernelRoutes(() =>
      tf.tidy(() => batchNormTraining(tf.zeros([4, 6]), tf.ones([6]), tf.zeros([6]), 1e-3)),
    );
    expect(routes.map((r) => r.route)).toEqual(['heap']);
  });

  it('rejects a gamma that does not match the channels', async () => {
    await use('cpu');
    expect(() =>
      batchNormTraining(tf.zeros([2, 3]), tf.ones([4]) as tf.Tensor1D, tf.zeros([4]) as tf.Tensor1D, 1e-3),
    ).toThrow(/matching gamma.*\[2,3\].*\[4\]/);
  });
});

/** conv -> batch norm -> dense, weights from `seed`, with the given batch-norm factory. */
function tinyNet(bn: (args: { momentum: number }) => tfl.layers.Layer): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [8, 8, 1],
        filters: 4,
        kernelSize: 3,
        useBias: false,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      }),
      bn({ momentum: 0.9 }),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.flatten(),
      tfl.layers.dense({
        units: 10,
        activation: 'softmax',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  return model;
}

describe('batchNormalization layer', () => {
  for (const backend of BACKENDS) {
    it(`trains like tfl.layers.batchNormalization on ${backend}, through the fused kernels`, async () => {
      await use(backend);
      const ours = tinyNet(batchNormalization);
      const stock = tinyNet((args) => tfl.layers.batchNormalization(args));
      const xs = tf.tensor4d(values(16 * 64, 9), [16, 8, 8, 1]);
      const ys = oneHot(16, 10);
      const kernels = new Set<string>();
      for (let step = 0; step < 3; step++) {
        let oursLoss = NaN;
        const profile = await tf.profile(async () => {
          oursLoss = (await ours.trainOnBatch(xs, ys)) as number;
        });
        for (const k of profile.kernels) kernels.add(k.name);
        expect(oursLoss).toBeCloseTo((await stock.trainOnBatch(xs, ys)) as number, 4);
      }
      expect(kernels).toContain(BATCH_NORM_TRAINING);
      expect(kernels).toContain(BATCH_NORM_TRAINING_GRAD);
      expect(kernels).not.toContain('FusedBatchNorm');
      // Trainable weights and the moving mean and variance.
      const oursWeights = ours.getWeights();
      const stockWeights = stock.getWeights();
      expect(oursWeights.length).toBe(7); // conv kernel; gamma, beta, moving mean, moving variance; dense kernel, bias
      for (let i = 0; i < oursWeights.length; i++) {
        expect(
          relativeError(await data(oursWeights[i] as tf.Tensor), await data(stockWeights[i] as tf.Tensor)),
          `weight ${i}`,
        ).toBeLessThan(1e-4);
      }
      tf.dispose([xs, ys]);
      ours.dispose();
      stock.dispose();
    });
  }

  it('leaks no tensors in a training step', async () => {
    await use('wasm');
    const model = tinyNet(batchNormalization);
    const xs = tf.tensor4d(values(8 * 64, 14), [8, 8, 8, 1]);
    const ys = oneHot(8, 15);
    await model.trainOnBatch(xs, ys); // creates the optimizer's slots
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('falls back to the stock layer where the kernels are not registered', async () => {
    await use('cpu');
    tf.unregisterKernel(BATCH_NORM_TRAINING, 'cpu');
    tf.unregisterKernel(BATCH_NORM_TRAINING_GRAD, 'cpu');
    try {
      const model = tinyNet(batchNormalization);
      const xs = tf.tensor4d(values(8 * 64, 10), [8, 8, 8, 1]);
      const ys = oneHot(8, 11);
      const profile = await tf.profile(async () => model.trainOnBatch(xs, ys));
      const names = profile.kernels.map((k) => k.name);
      expect(names).toContain('FusedBatchNorm');
      expect(names).not.toContain(BATCH_NORM_TRAINING);
      tf.dispose([xs, ys]);
      model.dispose();
    } finally {
      registerCpuTrainingKernels();
    }
    expect(tf.getKernel(BATCH_NORM_TRAINING, 'cpu')).toBeDefined();
  });

  it('saves as a plain BatchNormalization that stock tfjs-layers loads and predicts with alike', async () => {
    await use('wasm');
    const model = tinyNet(batchNormalization);
    const xs = tf.tensor4d(values(8 * 64, 12), [8, 8, 8, 1]);
    await model.trainOnBatch(xs, oneHot(8, 13));
    const json = model.toJSON(null, false) as { config: { layers: { class_name: string }[] } };
    expect(json.config.layers.map((l) => l.class_name)).toContain('BatchNormalization');
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts as tf.io.ModelArtifacts));
    expect(loaded.layers[1]?.getClassName()).toBe('BatchNormalization');
    const a = model.predict(xs) as tf.Tensor;
    const b = loaded.predict(xs) as tf.Tensor;
    expect(relativeError(await data(a), await data(b))).toBeLessThan(1e-6);
    tf.dispose([xs, a, b]);
    model.dispose();
    loaded.dispose();
  });

  it('leaves automatic layer names as tfjs-layers numbers them', () => {
    const ours = batchNormalization();
    const stock = tfl.layers.batchNormalization();
    const n = Number(/^batch_normalization_BatchNormalization(\d+)$/.exec(ours.name)?.[1]);
    expect(n).toBeGreaterThan(0);
    expect(stock.name).toBe(`batch_normalization_BatchNormalization${n + 1}`);
  });

  it('is typed as the tfjs-layers factory is', () => {
    expectTypeOf(batchNormalization)
      .parameter(0)
      .toEqualTypeOf<Parameters<typeof tfl.layers.batchNormalization>[0] | undefined>();
    expectTypeOf(batchNormalization).returns.toEqualTypeOf<ReturnType<typeof tfl.layers.batchNormalization>>();
  });
});

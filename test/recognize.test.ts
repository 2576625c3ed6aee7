import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  buildDigitCnn,
  loadMnist,
  preprocessDigitImage,
  recognizeDigits,
  type DigitDataset,
  type DigitImageInput,
  type DigitRecognition,
} from 'digit-recognizer';
import { useBackend } from './helpers.js';

/** MNIST test image `i` drawn dark on a light 3x-scaled 84x84 RGBA picture, as a canvas or photo would be. */
function asPicture(data: DigitDataset, i: number): { data: Uint8ClampedArray; width: number; height: number } {
  const rgba = new Uint8ClampedArray(84 * 84 * 4);
  for (let y = 0; y < 84; y++)
    for (let x = 0; x < 84; x++) {
      const v = 255 - (data.pixels[i * 784 + Math.floor(y / 3) * 28 + Math.floor(x / 3)] as number);
      rgba.set([v, v, v, 255], (y * 84 + x) * 4);
    }
  return { data: rgba, width: 84, height: 84 };
}

describe('recognizeDigits', () => {
  let test: DigitDataset;
  let model: ReturnType<typeof buildDigitCnn>;
  beforeAll(async () => {
    await useBackend('cpu');
    model = buildDigitCnn({ architecture: 'compact', seed: 4 });
    test = await loadMnist({ split: 'test' });
  });

  it('reads grey arrays, ImageData and canvases through the same preprocessing and model', async () => {
    const grey = test.pixels.slice(0, 784);
    const picture = asPicture(test, 0);
    const canvas = {
      width: 84,
      height: 84,
      getContext: (id: '2d') => (id === '2d' ? { getImageData: () => picture } : null),
    };
    const [a, b, c] = await recognizeDigits([grey, picture, canvas], { model });
    const direct = tf.tidy(() => {
      const image = preprocessDigitImage(picture.data, 84, 84);
      return (
        model.predict(
          tf.tensor4d(
            Float32Array.from(image, (v) => v / 255),
            [1, 28, 28, 1],
          ),
        ) as tf.Tensor
      ).dataSync();
    });
    for (let k = 0; k < 10; k++) expect(c!.probabilities[k]).toBeCloseTo(direct[k]!, 6);
    expect(b!.probabilities).toEqual(c!.probabilities);
    expect(a!.probabilities.length).toBe(10);
    for (const r of [a!, b!, c!]) {
      expect(r.probabilities.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 5);
      expect(r.confidence).toBe(Math.max(...r.probabilities));
      expect(r.probabilities[r.label]).toBe(r.confidence);
    }
    // One input gives one result, not a list.
    const one = await recognizeDigits(picture, { model });
    expect(one.probabilities).toEqual(b!.probabilities);
  });

  it('refuses a grey array that is not 28x28 and a canvas without a 2d context', async () => {
    await expect(recognizeDigits(new Uint8Array(100), { model })).rejects.toThrow(/784 bytes \(28x28\), got 100/);
    const dead = { width: 1, height: 1, getContext: () => null };
    await expect(recognizeDigits([dead], { model })).rejects.toThrow(/input 0: the canvas has no 2d context/);
  });

  it('is typed: one input gives one recognition, a list gives a list', () => {
    expectTypeOf(recognizeDigits).toBeCallableWith(new Uint8Array(784));
    const single = (x: DigitImageInput) => recognizeDigits(x);
    const many = (x: DigitImageInput[]) => recognizeDigits(x);
    expectTypeOf(single).returns.resolves.toEqualTypeOf<DigitRecognition>();
    expectTypeOf(many).returns.resolves.toEqualTypeOf<DigitRecognition[]>();
  });
});

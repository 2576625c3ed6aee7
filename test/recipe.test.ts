import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  augmentImage,
  augmentRanges,
  buildDigitCnn,
  cosineSchedule,
  digitPresets,
  digitRecipes,
  getDigitRecipe,
  type DigitRecipe,
  getDigitArchitecture,
  oneCycleSchedule,
  predictDigits,
  trainDigits,
  type AugmentOptions,
  type DigitPreset,
  type ElasticOptions,
  type LearningRateSchedule,
} from 'digit-recognizer';
import { syntheticDigits, useBackend } from './helpers.js';

/** mulberry32, as the library seeds its streams; any uniform stream would do. */
function seededStream(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function centreOfMass(img: Float32Array): [number, number] {
  let m = 0,
    sx = 0,
    sy = 0;
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++) {
      const v = img[y * 28 + x]!;
      m += v;
      sx += v * x;
      sy += v * y;
    }
  return [sx / m, sy / m];
}

describe('augmentImage', () => {
  const pixels = syntheticDigits(1).pixels;

  it('is the identity with zero ranges', () => {
    const out = new Float32Array(784);
    augmentImage(pixels, 0, out, 0, { rotation: 0, shift: 0, zoom: 0 }, () => 0.5);
    for (let i = 0; i < 784; i++) expect(out[i]).toBeCloseTo(pixels[i]! / 255, 6);
  });

  it('shifts, rotates and zooms within its ranges', () => {
    const out = new Float32Array(784);
    const base = new Float32Array(784);
    augmentImage(pixels, 0, base, 0, { rotation: 0, shift: 0, zoom: 0 }, () => 0.5);
    // random() = 1 gives the largest positive shift in both directions.
    const draws = [0.5, 0.5, 1, 1];
    augmentImage(pixels, 0, out, 0, { rotation: 0, shift: 2, zoom: 0 }, () => draws.shift()!);
    const [bx, by] = centreOfMass(base);
    const [ox, oy] = centreOfMass(out);
    expect(ox - bx).toBeCloseTo(2, 0);
    expect(oy - by).toBeCloseTo(2, 0);
    const ink = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
    const zoomed = new Float32Array(784);
    const zoomDraws = [0.5, 1, 0.5, 0.5];
    augmentImage(pixels, 0, zoomed, 0, { rotation: 0, shift: 0, zoom: 0.2 }, () => zoomDraws.shift()!);
    // Area grows with the square of the zoom (1.44), less what bilinear blur and the frame cut off.
    expect(ink(zoomed) / ink(base)).toBeGreaterThan(1.25);
    expect(ink(zoomed) / ink(base)).toBeLessThan(1.5);
  });

  it('fills in defaults', () => {
    expect(augmentRanges()).toEqual({ rotation: 10, shift: 2.5, zoom: 0.1 });
    expect(augmentRanges({ rotation: 5 })).toEqual({ rotation: 5, shift: 2.5, zoom: 0.1 });
    expect(augmentRanges({ elastic: false })).toEqual({ rotation: 10, shift: 2.5, zoom: 0.1 });
    expect(augmentRanges({ elastic: { alpha: 34, sigma: 4 } })).toEqual({
      rotation: 10,
      shift: 2.5,
      zoom: 0.1,
      elastic: { alpha: 34, sigma: 4 },
    });
    expectTypeOf<AugmentOptions['elastic']>().toEqualTypeOf<ElasticOptions | false | undefined>();
  });

  it('refuses ranges it cannot honour', () => {
    expect(() => augmentRanges({ rotation: -1 })).toThrow(/augment\.rotation must be a finite number >= 0, got -1/);
    expect(() => augmentRanges({ shift: Number.NaN })).toThrow(RangeError);
    expect(() => augmentRanges({ zoom: 1 })).toThrow(/augment\.zoom must be below 1/);
    expect(() => augmentRanges({ elastic: { alpha: 34, sigma: 0 } })).toThrow(
      /augment\.elastic\.sigma must be a finite number > 0, got 0/,
    );
    expect(() => augmentRanges({ elastic: { alpha: Infinity, sigma: 4 } })).toThrow(/augment\.elastic\.alpha/);
  });
});

describe('elastic distortion', () => {
  const pixels = syntheticDigits(1).pixels;
  const still = { rotation: 0, shift: 0, zoom: 0 };
  const run = (ranges: Parameters<typeof augmentRanges>[0], seed: number): Float32Array => {
    const out = new Float32Array(784);
    augmentImage(pixels, 0, out, 0, augmentRanges(ranges), seededStream(seed));
    return out;
  };

  it('moves ink, stretching it by no more than a smooth field can, the same way for the same seed', () => {
    const base = run(still, 1);
    const bent = run({ ...still, elastic: { alpha: 34, sigma: 4 } }, 1);
    const ink = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
    let changed = 0;
    for (let i = 0; i < 784; i++) if (Math.abs(bent[i]! - base[i]!) > 0.05) changed++;
    expect(changed).toBeGreaterThan(40);
    expect(ink(bent) / ink(base)).toBeGreaterThan(0.7);
    expect(ink(bent) / ink(base)).toBeLessThan(1.4);
    expect(Array.from(run({ ...still, elastic: { alpha: 34, sigma: 4 } }, 1))).toEqual(Array.from(bent));
    expect(Array.from(run({ ...still, elastic: { alpha: 34, sigma: 4 } }, 2))).not.toEqual(Array.from(bent));
  });

  it('is the identity at alpha 0 and leaves the affine draws as they were', () => {
    const base = run(still, 1);
    const flat = run({ ...still, elastic: { alpha: 0, sigma: 4 } }, 1);
    for (let i = 0; i < 784; i++) expect(flat[i]).toBeCloseTo(base[i]!, 6);
    const affine = run({}, 5);
    const nearlyAffine = run({ elastic: { alpha: 1e-6, sigma: 2 } }, 5);
    for (let i = 0; i < 784; i++) expect(nearlyAffine[i]).toBeCloseTo(affine[i]!, 4);
  });

  it('moves a pixel by about 1.7 px on average at alpha 34, sigma 4', () => {
    const dot = new Uint8Array(784);
    dot[14 * 28 + 14] = 255;
    const random = seededStream(9);
    const out = new Float32Array(784);
    let total = 0;
    for (let t = 0; t < 300; t++) {
      augmentImage(dot, 0, out, 0, augmentRanges({ ...still, elastic: { alpha: 34, sigma: 4 } }), random);
      const [x, y] = centreOfMass(out);
      total += Math.hypot(x - 14, y - 14);
    }
    expect(total / 300).toBeGreaterThan(1.3);
    expect(total / 300).toBeLessThan(2.1);
  });

  it('is smoother with a larger sigma', () => {
    // A field with small sigma is rough: neighbouring pixels move apart, so the image changes more for the same alpha.
    const base = run(still, 3);
    const diff = (a: Float32Array) => a.reduce((s, v, i) => s + Math.abs(v - base[i]!), 0);
    const rough = diff(run({ ...still, elastic: { alpha: 34, sigma: 1 } }, 3));
    const smooth = diff(run({ ...still, elastic: { alpha: 34, sigma: 8 } }, 3));
    expect(rough).toBeGreaterThan(smooth);
  });
});

describe('learning-rate schedules', () => {
  it('one-cycle warms up, peaks, then anneals', () => {
    const s = oneCycleSchedule(0.01, 0.25);
    const total = 101;
    expect(s(0, total)).toBeCloseTo(0.0004, 6);
    expect(s(25, total)).toBeCloseTo(0.01, 6);
    expect(s(100, total)).toBeLessThan(1e-6);
    for (let i = 26; i < total; i++) expect(s(i, total)).toBeLessThanOrEqual(s(i - 1, total));
  });

  it('cosine decays after warm-up', () => {
    const s = cosineSchedule(0.1, 10, 0.01);
    expect(s(0, 110)).toBeCloseTo(0.01, 6);
    expect(s(9, 110)).toBeCloseTo(0.1, 6);
    expect(s(109, 110)).toBeCloseTo(0.001, 6);
    expectTypeOf(s).toEqualTypeOf<LearningRateSchedule>();
  });
});

describe('training recipe and prediction options', () => {
  beforeAll(() => useBackend('wasm'));

  it('trains with augmentation, label smoothing and a schedule', async () => {
    const data = syntheticDigits(400);
    const model = buildDigitCnn({ architecture: 'compact', seed: 1 });
    const rates: number[] = [];
    const result = await trainDigits(model, data, {
      epochs: 2,
      batchSize: 40,
      augment: { rotation: 5, shift: 1, zoom: 0.05, elastic: { alpha: 20, sigma: 4 } },
      labelSmoothing: 0.1,
      learningRate: oneCycleSchedule(0.005),
      onProgress: () => void rates.push((model.optimizer as unknown as { learningRate: number }).learningRate),
    });
    expect(result.bestValue).toBeGreaterThan(0.8);
    expect(Math.max(...rates)).toBeCloseTo(0.005, 3);
    expect(rates.at(-1)!).toBeLessThan(0.0001);
    await expect(trainDigits(model, data, { labelSmoothing: 1 })).rejects.toThrow(RangeError);
    model.dispose();
  });

  it('averages ensembles and test-time views', async () => {
    const data = syntheticDigits(60);
    const a = buildDigitCnn({ architecture: 'compact', seed: 1 });
    const b = buildDigitCnn({ architecture: 'compact', seed: 2 });
    const pa = await predictDigits(a, data, { keepProbabilities: true });
    const pb = await predictDigits(b, data, { keepProbabilities: true });
    const both = await predictDigits([a, b], data, { keepProbabilities: true, batchSize: 16 });
    for (let i = 0; i < 600; i++)
      expect(both.probabilities![i]).toBeCloseTo((pa.probabilities![i]! + pb.probabilities![i]!) / 2, 5);
    const tta = await predictDigits(a, data, { tta: true, keepProbabilities: true });
    expect(tta.count).toBe(60);
    expect(Array.from(tta.probabilities!)).not.toEqual(Array.from(pa.probabilities!));
    for (let i = 0; i < 60; i++) {
      const sum = tta.probabilities!.subarray(i * 10, i * 10 + 10).reduce((s, v) => s + v, 0);
      expect(sum).toBeCloseTo(1, 4);
    }
    const before = tf.memory().numTensors;
    await predictDigits([a, b], data, { tta: true });
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
    b.dispose();
  });
});

describe('digitPresets and digitRecipes', () => {
  it('lists the budgets fast, default and best, and a recipe for each planned network', () => {
    const presets = digitPresets();
    expect(presets.map((p) => [p.name, p.minutes])).toEqual([
      ['fast', 2],
      ['default', 15],
      ['best', 120],
    ]);
    const recipes = digitRecipes();
    expect(recipes.map((r) => r.architecture)).toEqual(['strong', 'lean', 'compact']);
    for (const r of recipes) {
      expect(getDigitArchitecture(r.architecture).name).toBe(r.architecture);
      expect(r.fullEpochs).toBeGreaterThanOrEqual(r.minEpochs);
      expect(getDigitRecipe(r.architecture)).toBe(r);
    }
    expect(() => getDigitRecipe('seed')).toThrow(/has no built-in recipe; recipes exist for strong, lean, compact/);
    expectTypeOf(presets).toEqualTypeOf<readonly DigitPreset[]>();
    expectTypeOf(recipes).toEqualTypeOf<readonly DigitRecipe[]>();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { createDigitDataset, PIXELS_PER_IMAGE, type DigitDataset } from '../data/dataset.js';
import { buildDigitCnn } from '../model/build.js';
import { predictDigits } from '../prediction/predict.js';
import { augmentRanges } from './augment.js';
import { batchDataset } from './batches.js';
import { median } from './median.js';
import type { DigitRecipeCost } from './plan.js';
import type { DigitRecipe } from './recipes.js';
import { prepareTraining } from './train.js';

/** Options of {@link calibrateDigitRecipe}. */
export interface CalibrateDigitRecipeOptions {
  /** Training steps before timing starts (kernel set-up, caches). Default 3. */
  readonly warmupSteps?: number;
  /** Timed training steps. Default 6. */
  readonly steps?: number;
  /** Images predicted for timing, after one warm-up batch. Default 512. */
  readonly predictImages?: number;
  /** Seconds on a monotonic clock. Default `performance.now() / 1000`. */
  readonly clock?: () => number;
}

/**
 * Measures what `recipe` costs on this machine and backend: a few real training steps of its
 * network, through the same batches, augmentation and optimiser `trainDigits` uses, and a real
 * prediction pass. Takes about a second per network; the model is disposed afterwards.
 */
export async function calibrateDigitRecipe(
  recipe: DigitRecipe,
  data: DigitDataset,
  options: CalibrateDigitRecipeOptions = {},
): Promise<DigitRecipeCost> {
  const clock = options.clock ?? (() => performance.now() / 1000);
  const warmup = options.warmupSteps ?? 3;
  const steps = options.steps ?? 6;
  const images = Math.min(data.count, (warmup + steps) * recipe.batchSize);
  if (data.labels === undefined || images < recipe.batchSize) {
    throw new RangeError(`${data.source}: calibration needs at least ${recipe.batchSize} labelled images`);
  }
  const model = buildDigitCnn({ architecture: recipe.architecture, seed: 1 });
  try {
    await prepareTraining(model);
    const indices = Uint32Array.from({ length: images }, (_, i) => i);
    const augment = recipe.augment === false ? undefined : augmentRanges(recipe.augment);
    const batches = batchDataset(data, indices, {
      batchSize: recipe.batchSize,
      seed: 1,
      shuffle: false,
      augment,
      labelSmoothing: recipe.labelSmoothing,
    });
    const iterator = await batches.iterator();
    // Seconds per image of each timed step, and their median rather than the mean: on a shared
    // host a single step can run a third slower than its neighbours, and one such step in six
    // moves a mean far more than the budget's margin.
    const perImage: number[] = [];
    for (let i = 0; ; i++) {
      const started = clock();
      const next = await iterator.next();
      if (next.done === true) break;
      const { xs, ys } = next.value;
      // trainOnBatch reads the loss back, so the step has really run when it resolves.
      await model.trainOnBatch(xs, ys);
      tf.dispose([xs, ys]);
      if (i >= warmup) perImage.push((clock() - started) / xs.shape[0]);
    }
    const trainSecondsPerImage = median(perImage);

    const predictCount = Math.min(data.count, options.predictImages ?? 512);
    const batchSize = 256;
    const first = Math.min(batchSize, predictCount);
    await predictDigits(model, subsetOf(data, first), { batchSize });
    const t = clock();
    await predictDigits(model, subsetOf(data, predictCount), { batchSize });
    const predictSecondsPerImage = (clock() - t) / predictCount;
    if (!(trainSecondsPerImage > 0 && predictSecondsPerImage > 0)) {
      throw new RangeError(`${recipe.architecture}: calibration measured no time; is the clock monotonic?`);
    }
    return { trainSecondsPerImage, predictSecondsPerImage };
  } finally {
    model.optimizer?.dispose();
    model.dispose();
  }
}

function subsetOf(data: DigitDataset, count: number): DigitDataset {
  return createDigitDataset(data.pixels.subarray(0, count * PIXELS_PER_IMAGE), undefined, data.source);
}

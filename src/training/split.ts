import { createDigitDataset, NUM_CLASSES, PIXELS_PER_IMAGE, type DigitDataset } from '../data/dataset.js';
import { seededRandom, shuffleInPlace } from './random.js';

/** Image indices of a train/validation split. */
export interface DigitSplit {
  readonly train: Uint32Array;
  readonly validation: Uint32Array;
}

/**
 * Splits labelled data into train and validation indices, stratified: each
 * digit contributes `fraction` of its images to validation (rounded), chosen by
 * a seeded shuffle, so class balance and the split itself are reproducible.
 */
export function stratifiedSplit(labels: Uint8Array, fraction: number, seed: number): DigitSplit {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`validation fraction must be in [0, 1), got ${fraction}`);
  const random = seededRandom(seed);
  const byClass: number[][] = Array.from({ length: NUM_CLASSES }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i] as number]?.push(i);
  const train: number[] = [];
  const validation: number[] = [];
  for (const indices of byClass) {
    shuffleInPlace(indices, random);
    const take = Math.round(indices.length * fraction);
    validation.push(...indices.slice(0, take));
    train.push(...indices.slice(take));
  }
  // Sorted so the validation set keeps the file order; training order is reshuffled every epoch anyway.
  return { train: Uint32Array.from(train).sort(), validation: Uint32Array.from(validation).sort() };
}

/** A new dataset holding copies of the images at `indices`. */
export function subsetDataset(
  dataset: DigitDataset,
  indices: ArrayLike<number>,
  source = dataset.source,
): DigitDataset {
  const pixels = new Uint8Array(indices.length * PIXELS_PER_IMAGE);
  const labels = dataset.labels === undefined ? undefined : new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i] as number;
    pixels.set(dataset.pixels.subarray(index * PIXELS_PER_IMAGE, (index + 1) * PIXELS_PER_IMAGE), i * PIXELS_PER_IMAGE);
    if (labels !== undefined) labels[i] = dataset.labels?.[index] as number;
  }
  return createDigitDataset(pixels, labels, source);
}

import * as tf from '@tensorflow/tfjs-core';
import { IMAGE_SIZE, NUM_CLASSES, PIXELS_PER_IMAGE, type DigitDataset } from '../data/dataset.js';
import { augmentImage, type AugmentRanges } from './augment.js';
import { seededRandom, shuffleInPlace } from './random.js';

/** The minimal dataset shape `LayersModel.fitDataset` consumes: `size` batches per `iterator()`. */
export interface BatchDataset {
  readonly size: number;
  iterator(): Promise<{ next(): Promise<IteratorResult<{ xs: tf.Tensor4D; ys: tf.Tensor2D }>> }>;
  /** Selects the epoch whose order the next `iterator()` serves (fitDataset calls `onEpochBegin` first). */
  setEpoch(epoch: number): void;
  /** Ends the current epoch after `steps` batches (a budget's last, shortened epoch); `size` by default. */
  setEpochSteps(steps: number): void;
}

/** How batches are made. */
export interface BatchOptions {
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  /** Random affine distortions, or undefined for the images as they are. */
  readonly augment: AugmentRanges | undefined;
  /** Label smoothing: the true class gets `1 - s + s/10`, the others `s/10`. */
  readonly labelSmoothing: number;
}

/**
 * Serves `indices` of `dataset` in batches, in an order (and with augmentation
 * draws) that depend only on the seed and the epoch number, so a run resumed
 * at epoch k sees exactly the batches an uninterrupted run would. Each batch is
 * filled straight from the uint8 pixels into one float buffer: no per-image
 * arrays or tensors.
 */
export function batchDataset(dataset: DigitDataset, indices: Uint32Array, options: BatchOptions): BatchDataset {
  const labels = dataset.labels;
  if (labels === undefined) throw new TypeError(`${dataset.source}: training needs labelled data`);
  const { batchSize, seed, shuffle, augment, labelSmoothing } = options;
  const order = Uint32Array.from(indices);
  const scale = 1 / 255;
  const off = labelSmoothing / NUM_CLASSES;
  const on = 1 - labelSmoothing + off;
  let epoch = 0;
  const size = Math.ceil(order.length / batchSize);
  let steps = size;
  return {
    size,
    setEpoch: (e) => {
      epoch = e;
      steps = size;
    },
    setEpochSteps: (n) => {
      steps = Math.min(size, n);
    },
    iterator: async () => {
      if (shuffle) {
        order.set(indices);
        shuffleInPlace(order, seededRandom(seed * 1_000_003 + epoch));
      }
      const random = seededRandom(seed * 7_919 + epoch * 104_729 + 1);
      let position = 0;
      let served = 0;
      return {
        next: async () => {
          if (position >= order.length || served >= steps) return { done: true, value: undefined };
          served++;
          const n = Math.min(batchSize, order.length - position);
          // A fresh buffer per batch: the cpu backend keeps a reference to the array it is given.
          const xs = new Float32Array(n * PIXELS_PER_IMAGE);
          const ys = new Float32Array(n * NUM_CLASSES).fill(off);
          for (let i = 0; i < n; i++) {
            const image = order[position + i] as number;
            const src = image * PIXELS_PER_IMAGE;
            const dst = i * PIXELS_PER_IMAGE;
            if (augment !== undefined) augmentImage(dataset.pixels, src, xs, dst, augment, random);
            else for (let p = 0; p < PIXELS_PER_IMAGE; p++) xs[dst + p] = (dataset.pixels[src + p] as number) * scale;
            ys[i * NUM_CLASSES + (labels[image] as number)] = on;
          }
          position += n;
          return {
            done: false,
            value: { xs: tf.tensor4d(xs, [n, IMAGE_SIZE, IMAGE_SIZE, 1]), ys: tf.tensor2d(ys, [n, NUM_CLASSES]) },
          };
        },
      };
    },
  };
}

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE, NUM_CLASSES, PIXELS_PER_IMAGE, pixelsToFloats, type DigitDataset } from '../data/dataset.js';
import { readyWasmTrainingKernels } from '../kernels/wasm_training.js';
import { foldBatchNorms } from './fold.js';
import type { DigitPredictions } from './predictions.js';

/** Options of {@link predictDigits}. */
export interface PredictDigitsOptions {
  /** Images per forward pass. Default 256. */
  readonly batchSize?: number;
  /** Keep all ten probabilities per image (`probabilities`). Default false. */
  readonly keepProbabilities?: boolean;
  /** Called after each batch with images done and total. */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Test-time augmentation: also predict shifted copies of each image and average all views'
   * probabilities. `true` is 5 views (the image and its one-pixel shifts left, right, up and down),
   * a number 1..9 that many views (6..9 add the diagonal shifts), `false` or 1 the image alone.
   * Each view costs a full prediction pass, for a gain that is small when there is one
   * (bench/recipes/holdout_errors.ts scores saved models with and without it). Default false.
   */
  readonly tta?: boolean | number;
}

/** The views test-time augmentation averages, in the order they are taken. */
const TTA_SHIFTS: readonly (readonly [number, number])[] = [
  [0, 0],
  [1, 0],
  [-1, 0],
  [0, 1],
  [0, -1],
  [1, 1],
  [-1, -1],
  [1, -1],
  [-1, 1],
];

/** The number of views a `tta` option asks for. */
export function ttaViewCount(tta: boolean | number | undefined): number {
  if (tta === undefined || tta === false) return 1;
  if (tta === true) return 5;
  if (!(Number.isInteger(tta) && tta >= 1 && tta <= TTA_SHIFTS.length)) {
    throw new RangeError(`tta must be a boolean or a number of views from 1 to ${TTA_SHIFTS.length}, got ${tta}`);
  }
  return tta;
}

/**
 * Predicts the digit of every image with one model or an ensemble (their
 * probabilities averaged), batch by batch so memory stays bounded.
 */
export async function predictDigits(
  models: tfl.LayersModel | readonly tfl.LayersModel[],
  data: DigitDataset,
  options: PredictDigitsOptions = {},
): Promise<DigitPredictions> {
  const list = Array.isArray(models) ? models : [models as tfl.LayersModel];
  if (list.length === 0) throw new RangeError('predictDigits needs at least one model');
  // On wasm, the faster convolution kernels (Winograd for 5x5 and 3x3 layers, bench/kernels/winograd.ts) serve prediction too.
  if (tf.getBackend() === 'wasm') await readyWasmTrainingKernels();
  const batchSize = options.batchSize ?? 256;
  const count = data.count;
  const labels = new Uint8Array(count);
  const confidences = new Float32Array(count);
  const probabilities = options.keepProbabilities === true ? new Float32Array(count * NUM_CLASSES) : undefined;
  const views = TTA_SHIFTS.slice(0, ttaViewCount(options.tta));
  // Each model's batch norms folded into its convolutions: one pass per layer instead of three (./fold.ts).
  const folded = list.map((m) => foldBatchNorms(m));
  const nets = list.map((m, i) => folded[i] ?? m);
  try {
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const pixels = data.pixels.subarray(start * PIXELS_PER_IMAGE, (start + n) * PIXELS_PER_IMAGE);
      const probs = tf.tidy(() => {
        const outputs: tf.Tensor2D[] = [];
        for (const [dx, dy] of views) {
          // A fresh array per view: the cpu backend keeps a reference to the array it is given.
          const floats = dx === 0 && dy === 0 ? pixelsToFloats(pixels) : shiftedFloats(pixels, n, dx, dy);
          const xs = tf.tensor4d(floats, [n, IMAGE_SIZE, IMAGE_SIZE, 1]);
          // One forward pass of the whole batch: model.predict would otherwise split it into its default 32s.
          for (const m of nets) outputs.push(m.predict(xs, { batchSize: n }) as tf.Tensor2D);
        }
        return outputs.length === 1 ? (outputs[0] as tf.Tensor2D) : tf.div(tf.addN(outputs), outputs.length);
      });
      const values = await probs.data();
      probs.dispose();
      for (let i = 0; i < n; i++) {
        let best = 0;
        let bestP = -1;
        for (let c = 0; c < NUM_CLASSES; c++) {
          const p = values[i * NUM_CLASSES + c] as number;
          if (p > bestP) {
            bestP = p;
            best = c;
          }
        }
        labels[start + i] = best;
        confidences[start + i] = bestP;
      }
      probabilities?.set(values.subarray(0, n * NUM_CLASSES) as Float32Array, start * NUM_CLASSES);
      options.onProgress?.(start + n, count);
    }
  } finally {
    for (const f of folded) f?.dispose();
  }
  return { count, labels, confidences, ...(probabilities === undefined ? {} : { probabilities }) };
}

/** `n` images shifted by (dx, dy) pixels, zero-filled at the edges, as floats 0..1. */
function shiftedFloats(pixels: Uint8Array, n: number, dx: number, dy: number): Float32Array {
  const out = new Float32Array(n * PIXELS_PER_IMAGE);
  const k = 1 / 255;
  for (let i = 0; i < n; i++) {
    const base = i * PIXELS_PER_IMAGE;
    for (let y = Math.max(0, dy); y < Math.min(IMAGE_SIZE, IMAGE_SIZE + dy); y++) {
      for (let x = Math.max(0, dx); x < Math.min(IMAGE_SIZE, IMAGE_SIZE + dx); x++) {
        out[base + y * IMAGE_SIZE + x] = (pixels[base + (y - dy) * IMAGE_SIZE + (x - dx)] as number) * k;
      }
    }
  }
  return out;
}

/** Fraction of `predictions` equal to `labels`. */
export function accuracy(predictions: DigitPredictions, labels: Uint8Array): number {
  if (labels.length !== predictions.count)
    throw new RangeError(`${labels.length} labels for ${predictions.count} predictions`);
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === predictions.labels[i]) right++;
  return labels.length === 0 ? 0 : right / labels.length;
}

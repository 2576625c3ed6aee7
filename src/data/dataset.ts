import * as tf from '@tensorflow/tfjs-core';

/** Side of a digit image in pixels. */
export const IMAGE_SIZE = 28;
/** Pixels per image (28 x 28). */
export const PIXELS_PER_IMAGE = IMAGE_SIZE * IMAGE_SIZE;
/** Number of classes (digits 0..9). */
export const NUM_CLASSES = 10;

/**
 * A set of 28x28 grey-scale digit images held compactly: one byte per pixel and
 * one byte per label, as in the Kaggle CSV (0 = background, 255 = ink).
 */
export interface DigitDataset {
  /** Number of images. */
  readonly count: number;
  /** `count * 784` pixels, image after image, row-major. */
  readonly pixels: Uint8Array;
  /** `count` labels 0..9, or `undefined` for unlabelled data (Kaggle's test.csv). */
  readonly labels: Uint8Array | undefined;
  /** Where the data came from, for messages and run records. */
  readonly source: string;
  /**
   * Makes tensors for TensorFlow.js: `xs` of shape `[n, 28, 28, 1]` scaled to 0..1,
   * and for labelled data `ys`, one-hot `[n, 10]`. The caller disposes them.
   */
  toTensors(range?: DigitRange): DigitTensors;
}

/** A half-open range of image indices `[start, end)`. */
export interface DigitRange {
  readonly start?: number;
  readonly end?: number;
}

export interface DigitTensors {
  readonly xs: tf.Tensor4D;
  /** One-hot labels; absent when the dataset is unlabelled. */
  readonly ys: tf.Tensor2D | undefined;
}

/** Wraps pixel and label arrays as a {@link DigitDataset}. The arrays are used, not copied. */
export function createDigitDataset(pixels: Uint8Array, labels: Uint8Array | undefined, source: string): DigitDataset {
  if (pixels.length % PIXELS_PER_IMAGE !== 0) {
    throw new RangeError(`pixels length ${pixels.length} is not a multiple of ${PIXELS_PER_IMAGE}`);
  }
  const count = pixels.length / PIXELS_PER_IMAGE;
  if (labels !== undefined && labels.length !== count) {
    throw new RangeError(`${labels.length} labels for ${count} images`);
  }
  return {
    count,
    pixels,
    labels,
    source,
    toTensors(range: DigitRange = {}): DigitTensors {
      const start = range.start ?? 0;
      const end = range.end ?? count;
      if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= count)) {
        throw new RangeError(`range [${start}, ${end}) outside 0..${count}`);
      }
      const n = end - start;
      return {
        xs: tf.tensor4d(pixelsToFloats(pixels.subarray(start * PIXELS_PER_IMAGE, end * PIXELS_PER_IMAGE)), [
          n,
          IMAGE_SIZE,
          IMAGE_SIZE,
          1,
        ]),
        ys: labels === undefined ? undefined : tf.tensor2d(oneHot(labels.subarray(start, end)), [n, NUM_CLASSES]),
      };
    },
  };
}

/** Scales bytes 0..255 to floats 0..1 into `out` (allocated when omitted). */
export function pixelsToFloats(pixels: Uint8Array, out: Float32Array = new Float32Array(pixels.length)): Float32Array {
  const scale = 1 / 255;
  for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i] as number) * scale;
  return out;
}

function oneHot(labels: Uint8Array): Float32Array {
  const out = new Float32Array(labels.length * NUM_CLASSES);
  for (let i = 0; i < labels.length; i++) out[i * NUM_CLASSES + (labels[i] as number)] = 1;
  return out;
}

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE, NUM_CLASSES, PIXELS_PER_IMAGE } from '../data/dataset.js';
import { preprocessDigitImage, type PreprocessDigitOptions } from '../data/preprocess.js';
import { loadPretrainedDigitModel } from '../model/pretrained.js';

/** RGBA pixels with their size: an `ImageData`, or anything shaped like one. */
export interface DigitImageData {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

/** A canvas (`HTMLCanvasElement`, `OffscreenCanvas`) or anything that hands out its pixels the same way. */
export interface DigitCanvas {
  readonly width: number;
  readonly height: number;
  getContext(contextId: '2d'): { getImageData(x: number, y: number, w: number, h: number): DigitImageData } | null;
}

/**
 * What {@link recognizeDigits} reads: a canvas, `ImageData`, or a 28x28 grey image (784 bytes, 0
 * background, 255 ink, as in MNIST and the competition's CSVs).
 */
export type DigitImageInput = DigitCanvas | DigitImageData | Uint8Array | Uint8ClampedArray;

/** One recognised digit. */
export interface DigitRecognition {
  readonly label: number;
  /** The probability of `label`. */
  readonly confidence: number;
  /** All ten class probabilities, digit 0 first. */
  readonly probabilities: Float32Array;
}

/** Options of {@link recognizeDigits}. */
export interface RecognizeDigitsOptions {
  /** The model(s) to use, averaged. Default: the package's pretrained model, loaded once. */
  readonly model?: tfl.LayersModel | readonly tfl.LayersModel[];
  /** How pictures are turned into 28x28 images (see `preprocessDigitImage`). */
  readonly preprocess?: PreprocessDigitOptions;
}

let pretrained: Promise<tfl.LayersModel> | undefined;

/**
 * Reads handwritten digits: each picture goes through `preprocessDigitImage` (crop, scale to 20x20,
 * centre of mass to the centre, as MNIST did) and then the model. Uses the pretrained model inside
 * the package unless `options.model` is given, so an app needs no training and no network. Works on
 * any backend the app has set up.
 */
export async function recognizeDigits(
  input: DigitImageInput,
  options?: RecognizeDigitsOptions,
): Promise<DigitRecognition>;
export async function recognizeDigits(
  inputs: readonly DigitImageInput[],
  options?: RecognizeDigitsOptions,
): Promise<DigitRecognition[]>;
export async function recognizeDigits(
  input: DigitImageInput | readonly DigitImageInput[],
  options: RecognizeDigitsOptions = {},
): Promise<DigitRecognition | DigitRecognition[]> {
  const single = !Array.isArray(input);
  const list = (single ? [input] : input) as readonly DigitImageInput[];
  const pixels = new Float32Array(list.length * PIXELS_PER_IMAGE);
  list.forEach((item, i) => {
    const image = toMnistImage(item, options.preprocess ?? {}, i);
    for (let p = 0; p < PIXELS_PER_IMAGE; p++) pixels[i * PIXELS_PER_IMAGE + p] = (image[p] as number) / 255;
  });
  const models = options.model ?? (await (pretrained ??= loadPretrainedDigitModel()));
  const all = Array.isArray(models) ? models : [models as tfl.LayersModel];
  const probs = tf.tidy(() => {
    const xs = tf.tensor4d(pixels, [list.length, IMAGE_SIZE, IMAGE_SIZE, 1]);
    const outs = all.map((m) => m.predict(xs) as tf.Tensor2D);
    return outs.length === 1 ? outs[0]! : tf.div(tf.addN(outs), outs.length);
  });
  const values = (await probs.data()) as Float32Array;
  probs.dispose();
  const results = list.map((_, i) => {
    const probabilities = values.slice(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    let label = 0;
    for (let c = 1; c < NUM_CLASSES; c++)
      if ((probabilities[c] as number) > (probabilities[label] as number)) label = c;
    return { label, confidence: probabilities[label] as number, probabilities };
  });
  return single ? results[0]! : results;
}

function toMnistImage(item: DigitImageInput, options: PreprocessDigitOptions, index: number): Uint8Array {
  if (item instanceof Uint8Array || item instanceof Uint8ClampedArray) {
    if (item.length !== PIXELS_PER_IMAGE) {
      throw new RangeError(`input ${index}: a grey image must have 784 bytes (28x28), got ${item.length}`);
    }
    const rgba = new Uint8Array(PIXELS_PER_IMAGE * 4);
    for (let p = 0; p < PIXELS_PER_IMAGE; p++) {
      const v = item[p] as number;
      rgba[p * 4] = rgba[p * 4 + 1] = rgba[p * 4 + 2] = v;
      rgba[p * 4 + 3] = 255;
    }
    return preprocessDigitImage(rgba, IMAGE_SIZE, IMAGE_SIZE, { polarity: 'light-ink', ...options });
  }
  if ('getContext' in item) {
    const context = item.getContext('2d');
    if (context === null) throw new TypeError(`input ${index}: the canvas has no 2d context`);
    const image = context.getImageData(0, 0, item.width, item.height);
    return preprocessDigitImage(image.data, image.width, image.height, options);
  }
  return preprocessDigitImage(item.data, item.width, item.height, options);
}

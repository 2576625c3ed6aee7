import * as tfl from '@tensorflow/tfjs-layers';
import { MNIST_DATA_VERSION } from '../data/mnist.js';
import { DigitModelError } from '../errors.js';

/** Where a model's training images came from, as `trainDigits` records it in the model's metadata. */
export interface DigitModelProvenance {
  /** The training data's `source` (a file, an archive member, or `mnist-data@VERSION:train`). */
  readonly trainedOn: string;
  /**
   * True when those were MNIST's training images, which include most of the Kaggle competition's
   * test images: such a model must not write a competition submission.
   */
  readonly mnistTrain: boolean;
}

/** The metadata key (`model.json`'s `userDefinedMetadata`) holding a {@link DigitModelProvenance}. */
export const PROVENANCE_KEY = 'digitRecognizer';

/** The `source` of `loadMnist({ split: 'train' })`, and of the subsets made from it. */
export const MNIST_TRAIN_SOURCE = `mnist-data@${MNIST_DATA_VERSION}:train`;

/** Records in `model`'s metadata (saved with it) that it is being trained on data from `source`. */
export function setTrainingProvenance(model: tfl.LayersModel, source: string): void {
  const provenance: DigitModelProvenance = {
    trainedOn: source,
    mnistTrain: source.startsWith('mnist-data@') && source.includes(':train'),
  };
  // A Sequential trains (and its callbacks save) the LayersModel it wraps: mark both.
  const inner = (model as unknown as { model?: unknown }).model;
  for (const m of inner instanceof tfl.LayersModel ? [model, inner] : [model]) {
    const metadata = (m.getUserDefinedMetadata() ?? {}) as Record<string, unknown>;
    m.setUserDefinedMetadata({ ...metadata, [PROVENANCE_KEY]: provenance });
  }
}

/** What a model's metadata says of its training data, when it says anything. */
export function trainingProvenance(model: tfl.LayersModel): DigitModelProvenance | undefined {
  const value = (model.getUserDefinedMetadata() as Record<string, unknown> | undefined)?.[PROVENANCE_KEY];
  if (typeof value !== 'object' || value === null) return undefined;
  const { trainedOn, mnistTrain } = value as Record<string, unknown>;
  if (typeof trainedOn !== 'string' || typeof mnistTrain !== 'boolean') return undefined;
  return { trainedOn, mnistTrain };
}

/**
 * Throws {@link DigitModelError} `MNIST_TRAINED` when `model` was trained on MNIST's training images:
 * its predictions of the competition's test images would be built on having seen most of them.
 */
export function assertNotMnistTrained(model: tfl.LayersModel, target: string): void {
  if (trainingProvenance(model)?.mnistTrain !== true) return;
  throw new DigitModelError(
    'MNIST_TRAINED',
    target,
    "was trained on MNIST's training images, which include most of the competition's test images, so it must not write a submission; train on the competition's train.csv instead",
  );
}

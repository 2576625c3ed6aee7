import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DigitModelError } from '../errors.js';
import { assertDigitModel } from './load.js';
import { MNIST_TRAIN_SOURCE, PROVENANCE_KEY, type DigitModelProvenance } from './provenance.js';
import { PRETRAINED } from './pretrained_weights.js';

/** How the model inside the package was made (`examples/pretrained.ts` writes it with the weights). */
export interface PretrainedDigitModelInfo {
  readonly architecture: string;
  readonly parameters: number;
  /** What it was trained on: MNIST's training set, so never a source of competition submissions. */
  readonly trainingData: string;
  readonly recipe: string;
  readonly weights: string;
  /** Accuracy of the shipped (quantized) weights on MNIST's 10,000 test images. */
  readonly mnistTestAccuracy: number;
  /** The command that trains and writes it again. */
  readonly command: string;
}

/** The shipped model as the generated module holds it: tfjs model artifacts with base64 weights. */
export interface PretrainedModelData {
  readonly info: PretrainedDigitModelInfo;
  readonly modelTopology: object;
  readonly weightSpecs: readonly tf.io.WeightsManifestEntry[];
  readonly weightsBase64: string;
}

/**
 * The package's pretrained digit classifier (see {@link pretrainedDigitModelInfo} for its recipe and
 * MNIST test accuracy), built from weights inside the package: no network, no file path, so bundlers
 * need nothing extra. Each call returns a new model; `dispose()` it when done.
 *
 * It was trained on MNIST's 60,000 training images, which include most of the Kaggle competition's
 * test images: use it in apps, never for a competition submission.
 */
export async function loadPretrainedDigitModel(): Promise<tfl.LayersModel> {
  const data = PRETRAINED;
  if (data === undefined)
    throw new DigitModelError('BAD_JSON', 'pretrained model', 'this build of the package has no pretrained weights');
  const weightData = Uint8Array.from(atob(data.weightsBase64), (c) => c.charCodeAt(0)).buffer;
  const model = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: data.modelTopology,
      weightSpecs: [...data.weightSpecs],
      weightData,
      userDefinedMetadata: { [PROVENANCE_KEY]: PROVENANCE },
    }),
  );
  assertDigitModel(model, 'pretrained model');
  return model;
}

const PROVENANCE: DigitModelProvenance = { trainedOn: MNIST_TRAIN_SOURCE, mnistTrain: true };

/** How the pretrained model was trained, and its accuracy on MNIST's test images. */
export function pretrainedDigitModelInfo(): PretrainedDigitModelInfo | undefined {
  return PRETRAINED?.info;
}

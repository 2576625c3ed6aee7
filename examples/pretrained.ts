/**
 * Trains the model that ships inside the package (`loadPretrainedDigitModel`) and writes it into
 * `src/model/pretrained_weights.ts`:
 *
 *   npm run pretrained [-- --epochs N --seed N --out DIR]
 *
 * 1. Train `strong` with its built-in recipe (`getDigitRecipe('strong')`) (augmentation, label smoothing, one-cycle) on all
 *    60,000 of MNIST's training images, with no hold-out: the model keeps its epoch with the lowest
 *    training loss. The run is resumable (DIR/train-state/), as `npm run kaggle` runs are.
 * 2. Quantize every weight tensor of 1,024 values or more to uint8 (per tensor, min + scale: tfjs
 *    decodes it on load), keep the small ones (batch-norm statistics, biases) as float32.
 * 3. Score the quantized model on MNIST's 10,000 test images, which took no part in training, and
 *    refuse to write the module when it scores under 99.6 %.
 *
 * MNIST's training images include most of the Kaggle competition's test images, so this model
 * must never produce a competition submission; the CLI refuses to (see docs/api.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  accuracy,
  buildDigitCnn,
  CheckpointBestCallback,
  getDigitRecipe,
  fileTrainingState,
  loadMnist,
  MNIST_DATA_VERSION,
  oneCycleSchedule,
  predictDigits,
  quantizeWeights,
  trainDigits,
  writeFileAtomic,
  type DigitRecipe,
  type PretrainedDigitModelInfo,
} from 'digit-recognizer';
import { intFlag, parseFlags, runScript, useBackend } from './cli.js';

const USAGE = 'usage: npm run pretrained -- [--epochs N] [--seed N] [--out DIR] [--threads N]';
const MODULE = resolve(import.meta.dirname, '../src/model/pretrained_weights.ts');
const MIN_TEST_ACCURACY = 0.996;

runScript('pretrained', async () => {
  const flags = parseFlags(
    {
      epochs: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string', default: 'out/pretrained' },
      threads: { type: 'string' },
    },
    USAGE,
  );
  const epochs = intFlag(flags.epochs, 'epochs', 18);
  const seed = intFlag(flags.seed, 'seed', 1, 0);
  const out = resolve(flags.out);
  const recipe = getDigitRecipe('strong');
  await useBackend('wasm', flags.threads);
  const [train, test] = await Promise.all([loadMnist({ split: 'train' }), loadMnist({ split: 'test' })]);
  mkdirSync(out, { recursive: true });

  // 1. Train.
  const model = buildDigitCnn({ architecture: 'strong', seed });
  const result = await trainDigits(model, train, {
    validationSplit: 0,
    epochs,
    batchSize: recipe.batchSize,
    seed,
    augment: recipe.augment,
    labelSmoothing: recipe.labelSmoothing,
    learningRate: oneCycleSchedule(recipe.maxLearningRate),
    checkpoint: new CheckpointBestCallback({ monitor: 'loss' }),
    state: fileTrainingState(join(out, 'train-state')),
    onProgress: (p) => {
      if (p.record === undefined) return;
      const r = p.record;
      process.stderr.write(
        `epoch ${r.epoch}/${epochs}: loss ${r.loss.toFixed(4)} acc ${r.acc.toFixed(4)} (${r.seconds.toFixed(0)} s, ${r.imagesPerSecond.toFixed(0)} img/s)\n`,
      );
    },
  });
  const float32Accuracy = accuracy(await predictDigits(model, test), test.labels!);

  // 2. Quantize, and reload the quantized model exactly as the package will.
  const artifacts = await captureArtifacts(model);
  const quantized = quantizeWeights(artifacts, { minElements: 1024 });
  const reloaded = await tfl.loadLayersModel(tf.io.fromMemory(quantized));

  // 3. Score on MNIST's test images.
  const testAccuracy = accuracy(await predictDigits(reloaded, test), test.labels!);
  const percent = (v: number): string => `${(v * 100).toFixed(2)} %`;
  process.stderr.write(
    `MNIST test accuracy: ${percent(float32Accuracy)} float32, ${percent(testAccuracy)} quantized (best epoch ${result.bestEpoch})\n`,
  );
  if (testAccuracy < MIN_TEST_ACCURACY) {
    throw new Error(`the quantized model scores ${percent(testAccuracy)}, under ${percent(MIN_TEST_ACCURACY)}`);
  }
  const info: PretrainedDigitModelInfo = {
    architecture: 'strong',
    parameters: model.countParams(),
    trainingData: `mnist-data@${MNIST_DATA_VERSION} training set (60,000 images)`,
    recipe: `strong's built-in recipe: Adam, one-cycle peak ${recipe.maxLearningRate}, augmentation ${augmentText(recipe.augment)}, label smoothing ${recipe.labelSmoothing}, batch ${recipe.batchSize}; ${epochs} epochs, seed ${seed}, no hold-out (lowest training loss kept: epoch ${result.bestEpoch})`,
    weights: 'uint8 per tensor (tensors under 1,024 values float32)',
    mnistTestAccuracy: Number(testAccuracy.toFixed(4)),
    command: `npm run pretrained -- --epochs ${epochs} --seed ${seed}`,
  };
  await writeFileAtomic(MODULE, renderPretrainedModule(quantized, info));
  process.stderr.write(`wrote ${MODULE}\n`);
});

function augmentText(augment: DigitRecipe['augment']): string {
  if (augment === false) return 'none';
  return `(rotation ${augment.rotation ?? 10}, shift ${augment.shift ?? 2.5}, zoom ${augment.zoom ?? 0.1})`;
}

/** The generated module: the quantized artifacts, with the weights as one base64 string. */
function renderPretrainedModule(artifacts: tf.io.ModelArtifacts, info: PretrainedDigitModelInfo): string {
  const data = {
    info,
    modelTopology: artifacts.modelTopology,
    weightSpecs: artifacts.weightSpecs,
    weightsBase64: Buffer.from(artifacts.weightData as ArrayBuffer).toString('base64'),
  };
  return [
    "// Generated by examples/pretrained.ts (npm run pretrained): the package's pretrained model. Do not edit.",
    "import type { PretrainedModelData } from './pretrained.js';",
    '',
    `export const PRETRAINED: PretrainedModelData | undefined = ${JSON.stringify(data)};`,
    '',
  ].join('\n');
}

/** The model's topology, weight specs and bytes, as `model.save` hands them to a destination. */
async function captureArtifacts(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (captured === undefined) throw new Error('model.save handed over nothing');
  return captured;
}

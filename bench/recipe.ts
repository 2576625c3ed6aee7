/**
 * Screens one training recipe on the competition's train.csv: trains on the
 * example's stratified 90 % (split seed 42, as `npm run kaggle` makes it) and
 * prints one JSON line with the hold-out accuracy of the best epoch's model
 * (chosen on that same hold-out, as the example does), with and without
 * test-time augmentation, per-epoch validation accuracy and speed.
 * Run by hand, one recipe per run (dropout is unseeded: repeat with --seed):
 *
 *   npx tsx bench/recipe.ts --arch compact --epochs 5 --aug affine [--ls 0.05] [--lr 0.004] [--seed 43]
 *   npx tsx bench/recipe.ts --arch compact --epochs 4 --aug elastic --alpha 34 --sigma 4
 *   npx tsx bench/recipe.ts --arch lean --epochs 7 --aug affine --ls 0.05 --dropout-scale 0.5
 *
 * `--dropout-scale S` multiplies every dropout rate of the network by S (0 removes dropout).
 *
 * Pseudo-labelling: `--teacher DIR` (repeatable) predicts test.csv with those
 * saved models (their probabilities averaged) and adds every test image whose
 * predicted digit has at least `--conf` probability, labelled with it, to the
 * training images. The hold-out stays untouched.
 *
 *   npx tsx bench/recipe.ts --arch lean --epochs 5 --aug affine --ls 0.05 --teacher out/best-model --conf 0.9
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { accuracy, buildDigitCnn, createDigitDataset, loadDigitModel, oneCycleSchedule, PIXELS_PER_IMAGE, predictDigits, stratifiedSplit, subsetDataset, trainDigits, type AugmentOptions } from '../src/index.js';
import { loadKaggleData, useBackend } from '../examples/cli.js';

const ZIP = resolve(import.meta.dirname, '../../shared/data/digit-recognizer.zip');
const { values: f } = parseArgs({
  options: {
    arch: { type: 'string', default: 'compact' },
    epochs: { type: 'string', default: '4' },
    aug: { type: 'string', default: 'none' },
    lr: { type: 'string', default: '0.004' },
    ls: { type: 'string', default: '0' },
    seed: { type: 'string', default: '42' },
    alpha: { type: 'string', default: '34' },
    sigma: { type: 'string', default: '4' },
    teacher: { type: 'string', multiple: true },
    conf: { type: 'string', default: '0.9' },
    'dropout-scale': { type: 'string', default: '1' },
  },
});
if (!existsSync(ZIP)) throw new Error(`${ZIP} is needed`);
await useBackend('wasm');
const started = performance.now();
const data = await loadKaggleData(ZIP, undefined);
const seed = Number(f.seed);
const split = stratifiedSplit(data.train.labels!, 0.1, 42);
const holdOut = subsetDataset(data.train, split.validation, 'train.csv (hold-out)');
let teacherHoldOut: number | undefined;
const train = f.teacher === undefined ? subsetDataset(data.train, split.train, 'train.csv (90 %)') : await withPseudoLabels(f.teacher, Number(f.conf));
const affine = { rotation: 10, shift: 2.5, zoom: 0.1 };
const augment: AugmentOptions | false = f.aug === 'none' ? false : f.aug === 'affine' ? affine : { ...affine, elastic: { alpha: Number(f.alpha), sigma: Number(f.sigma) } };
const dropoutScale = Number(f['dropout-scale']);
const model = buildDigitCnn({
  architecture: f.arch!,
  seed,
  layers: (layers) => layers.map((l) => (l.getClassName() === 'Dropout'
    ? tfl.layers.dropout({ rate: (l.getConfig() as { rate: number }).rate * dropoutScale })
    : l)),
});
const result = await trainDigits(model, train, {
  validationData: holdOut,
  epochs: Number(f.epochs),
  batchSize: 64,
  seed,
  augment,
  labelSmoothing: Number(f.ls),
  learningRate: oneCycleSchedule(Number(f.lr)),
});
const plain = accuracy(await predictDigits(model, holdOut), holdOut.labels!);
const tta = accuracy(await predictDigits(model, holdOut, { tta: true }), holdOut.labels!);
console.log(JSON.stringify({
  ...f,
  trainImages: train.count,
  ...(teacherHoldOut === undefined ? {} : { teacherHoldOut }),
  minutes: Number(((performance.now() - started) / 60_000).toFixed(2)),
  holdOut: plain,
  holdOutTta: tta,
  epochAccuracy: result.history.map((h) => h.val_acc),
  imagesPerSecond: result.history.map((h) => Math.round(h.imagesPerSecond)),
}));

/** The 90 % split plus the test images the teachers label with at least `minConfidence`. */
async function withPseudoLabels(dirs: readonly string[], minConfidence: number) {
  const teachers = [];
  for (const d of dirs) teachers.push(await loadDigitModel(d));
  teacherHoldOut = accuracy(await predictDigits(teachers, holdOut), holdOut.labels!);
  const predicted = await predictDigits(teachers, data.test);
  const kept: number[] = [];
  for (let i = 0; i < predicted.count; i++) if (predicted.confidences[i]! >= minConfidence) kept.push(i);
  const labelled = subsetDataset(data.train, split.train);
  const pseudo = subsetDataset(data.test, kept);
  const pixels = new Uint8Array((labelled.count + pseudo.count) * PIXELS_PER_IMAGE);
  pixels.set(labelled.pixels);
  pixels.set(pseudo.pixels, labelled.pixels.length);
  const labels = new Uint8Array(labelled.count + pseudo.count);
  labels.set(labelled.labels!);
  labels.set(kept.map((j) => predicted.labels[j]!), labelled.count);
  teachers.forEach((t) => t.dispose());
  return createDigitDataset(pixels, labels, `train.csv (90 %) + ${kept.length} pseudo-labelled test images`);
}

/**
 * Screens one training recipe on the competition's train.csv: trains on the
 * example's stratified 90 % (split seed 42, as `npm run kaggle` makes it) and
 * prints one JSON line with the hold-out accuracy of the best epoch's model
 * (chosen on that same hold-out, as the example does), with and without
 * test-time augmentation, per-epoch validation accuracy and speed.
 * Run by hand, one recipe per run (dropout is unseeded: repeat with --seed):
 *
 *   npm run bench -- bench/recipes/recipe.ts --arch compact --epochs 5 --aug affine [--ls 0.05] [--lr 0.004] [--seed 43]
 *   npm run bench -- bench/recipes/recipe.ts --arch compact --epochs 4 --aug elastic --alpha 34 --sigma 4
 *   npm run bench -- bench/recipes/recipe.ts --arch lean --epochs 7 --aug affine --ls 0.05 --dropout-scale 0.5
 *
 * `--dropout-scale S` multiplies every dropout rate of the network by S (0 removes dropout).
 * `--rotation D --shift P --zoom Z` set the affine ranges (degrees, pixels, fraction); those not
 * given keep the library's defaults (10, 2.5, 0.1), and a bad one is refused in one line:
 *
 *   npm run bench -- bench/recipes/recipe.ts --arch lean --epochs 12 --aug affine --ls 0.05 --rotation 15 --shift 3.5 --zoom 0.15
 *
 * Weight averaging, measured in the same run as the plain recipe (it does not
 * change training): `--ema 0.998,0.999` keeps an exponential moving average
 * of every weight (batch-norm statistics included) per decay, updated after
 * each step; `--swa-from E` averages the weights at the end of epochs E..last.
 * Each average is scored on the hold-out after every epoch (`averages` in the
 * JSON line), and once more at the end after re-estimating the batch-norm
 * statistics for the averaged weights (`reestimated`, on a second line, with
 * the last epoch's own weights treated the same way as the control).
 *
 *   npm run bench -- bench/recipes/recipe.ts --arch lean --epochs 7 --aug affine --ls 0.05 --ema 0.998,0.999 --swa-from 4
 *
 * Snapshot ensembles (Huang et al. 2017): `--cycles K` repeats the one-cycle schedule K times over
 * the epochs (each cycle epochs / K long, so K must divide them), keeps the weights at the end of
 * every cycle, and also scores the average of those K snapshots' probabilities on the hold-out
 * (`snapshots` in the JSON line: each snapshot alone, then their average). K models for the price
 * of one run, each trained for a K-th of it.
 *
 *   npm run bench -- bench/recipes/recipe.ts --arch lean --epochs 8 --aug affine --ls 0.05 --cycles 2
 *
 * Pseudo-labelling: `--teacher DIR` (repeatable) predicts test.csv with those
 * saved models (their probabilities averaged) and adds every test image whose
 * predicted digit has at least `--conf` probability, labelled with it, to the
 * training images. The hold-out stays untouched.
 *
 *   npm run bench -- bench/recipes/recipe.ts --arch lean --epochs 5 --aug affine --ls 0.05 --teacher out/best-model --conf 0.9
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  accuracy,
  augmentRanges,
  buildDigitCnn,
  createDigitDataset,
  loadDigitModel,
  oneCycleSchedule,
  PIXELS_PER_IMAGE,
  predictDigits,
  stratifiedSplit,
  subsetDataset,
  trainDigits,
  type AugmentOptions,
  type AugmentRanges,
  type DigitDataset,
} from '../../src/index.js';
import { loadKaggleData } from '../../examples/cli.js';
import { ROOT } from '../lib/results.js';
import { startBench } from '../lib/setup.js';

const ZIP = resolve(ROOT, '../shared/data/digit-recognizer.zip');
const bench = await startBench(import.meta.url, {
  about: "screens of training recipes on the competition's hold-out (split seed 42), one row per recipe and seed",
  backend: 'wasm',
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
    rotation: { type: 'string' },
    shift: { type: 'string' },
    zoom: { type: 'string' },
    ema: { type: 'string' },
    'swa-from': { type: 'string' },
    cycles: { type: 'string', default: '1' },
  },
});
const f = bench.flags;
if (!existsSync(ZIP)) {
  process.stderr.write(`bench/recipes/recipe.ts: ${ZIP} is needed\n`);
  process.exit(1);
}
const cycles = Number(f.cycles);
if (!(Number.isInteger(cycles) && cycles >= 1 && Number(f.epochs) % cycles === 0)) {
  process.stderr.write(`bench/recipes/recipe.ts: --cycles must divide --epochs (${f.epochs}), got ${f.cycles}\n`);
  process.exit(1);
}
/** The affine ranges with the library's defaults filled in; a bad one ends the bench in one line. */
function checkedRanges(options: AugmentOptions): AugmentRanges {
  try {
    return augmentRanges(options);
  } catch (error) {
    process.stderr.write(`bench/recipes/recipe.ts: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
const rangesGiven = f.rotation !== undefined || f.shift !== undefined || f.zoom !== undefined;
const affine = checkedRanges({
  ...(f.rotation === undefined ? {} : { rotation: Number(f.rotation) }),
  ...(f.shift === undefined ? {} : { shift: Number(f.shift) }),
  ...(f.zoom === undefined ? {} : { zoom: Number(f.zoom) }),
});
const started = performance.now();
const data = await loadKaggleData(ZIP, undefined);
const seed = Number(f.seed);
const split = stratifiedSplit(data.train.labels!, 0.1, 42);
const holdOut = subsetDataset(data.train, split.validation, 'train.csv (hold-out)');
let teacherHoldOut: number | undefined;
const train =
  f.teacher === undefined
    ? subsetDataset(data.train, split.train, 'train.csv (90 %)')
    : await withPseudoLabels(f.teacher, Number(f.conf));
const augment: AugmentOptions | false =
  f.aug === 'none'
    ? false
    : f.aug === 'affine'
      ? affine
      : { ...affine, elastic: { alpha: Number(f.alpha), sigma: Number(f.sigma) } };
const dropoutScale = Number(f['dropout-scale']);
const model = buildDigitCnn({
  architecture: f.arch!,
  seed,
  layers: (layers) =>
    layers.map((l) =>
      l.getClassName() === 'Dropout'
        ? tfl.layers.dropout({ rate: (l.getConfig() as { rate: number }).rate * dropoutScale })
        : l,
    ),
});
/** Running weight averages of `net`, each scored on the hold-out at every epoch's end. */
class WeightAverages extends tfl.Callback {
  readonly scores: Record<string, number[]> = {};
  private readonly emas: { decay: number; weights: tf.Variable[] }[];
  private swa: { sum: tf.Variable[]; count: number } | undefined;
  private last: tf.Tensor[] = [];

  constructor(
    private readonly net: tfl.LayersModel,
    decays: readonly number[],
    private readonly swaFrom: number | undefined,
  ) {
    super();
    this.emas = decays.map((decay) => ({ decay, weights: net.getWeights().map((w) => tf.variable(w.clone(), false)) }));
  }

  override async onBatchEnd(): Promise<void> {
    const current = this.net.getWeights();
    tf.tidy(() => {
      for (const { decay, weights } of this.emas) {
        weights.forEach((v, i) => v.assign(tf.add(tf.mul(v, decay), tf.mul(current[i]!, 1 - decay))));
      }
    });
  }

  override async onEpochEnd(epoch: number): Promise<void> {
    tf.dispose(this.last);
    this.last = this.net.getWeights().map((w) => w.clone());
    for (const { decay, weights } of this.emas) await this.score(`ema ${decay}`, weights);
    if (this.swaFrom === undefined || epoch + 1 < this.swaFrom) return;
    const current = this.net.getWeights();
    if (this.swa === undefined) this.swa = { sum: current.map((w) => tf.variable(w.clone(), false)), count: 1 };
    else {
      tf.tidy(() => this.swa!.sum.forEach((v, i) => v.assign(tf.add(v, current[i]!))));
      this.swa.count++;
    }
    const mean = this.swa.sum.map((v) => tf.div(v, this.swa!.count));
    await this.score(`swa from ${this.swaFrom}`, mean);
    tf.dispose(mean);
  }

  /**
   * Hold-out accuracy of the last epoch's weights and of each final average,
   * after re-estimating the batch-norm statistics on `data`: forward passes in
   * training mode over 40 batches of 500 images, so the moving averages
   * (momentum 0.9) settle on statistics of the weights being scored.
   */
  async reestimated(data: DigitDataset): Promise<Record<string, number>> {
    const candidates: [string, tf.Tensor[]][] = [
      ['last epoch', this.last],
      ...this.emas.map(({ decay, weights }): [string, tf.Tensor[]] => [`ema ${decay}`, weights]),
    ];
    const mean = this.swa === undefined ? undefined : this.swa.sum.map((v) => tf.div(v, this.swa!.count));
    if (mean !== undefined) candidates.push([`swa from ${this.swaFrom}`, mean]);
    const result: Record<string, number> = {};
    for (const [name, weights] of candidates) {
      this.net.setWeights(weights.map((w) => w.clone()));
      for (let b = 0; b < 40; b++) {
        const n = 500;
        const xs = new Float32Array(n * PIXELS_PER_IMAGE);
        for (let i = 0; i < xs.length; i++)
          xs[i] = data.pixels[(b * n * PIXELS_PER_IMAGE + i) % data.pixels.length]! / 255;
        tf.tidy(() => {
          this.net.apply(tf.tensor4d(xs, [n, 28, 28, 1]), { training: true });
        });
      }
      result[name] = accuracy(await predictDigits(this.net, holdOut), holdOut.labels!);
    }
    tf.dispose(mean);
    return result;
  }

  /** Hold-out accuracy with `weights` swapped in, then the training weights back. */
  private async score(name: string, weights: readonly tf.Tensor[]): Promise<void> {
    const saved = this.net.getWeights().map((w) => w.clone());
    this.net.setWeights(weights as tf.Tensor[]);
    (this.scores[name] ??= []).push(accuracy(await predictDigits(this.net, holdOut), holdOut.labels!));
    this.net.setWeights(saved);
    tf.dispose(saved);
  }
}

/** The weights at the end of each cycle of a cyclic schedule. */
class Snapshots extends tfl.Callback {
  readonly weights: tf.Tensor[][] = [];

  constructor(
    private readonly net: tfl.LayersModel,
    private readonly cycleEpochs: number,
  ) {
    super();
  }

  override async onEpochEnd(epoch: number): Promise<void> {
    if ((epoch + 1) % this.cycleEpochs === 0) this.weights.push(this.net.getWeights().map((w) => w.clone()));
  }

  /** Hold-out accuracy of each snapshot, then of their averaged probabilities; the weights are left as found. */
  async score(): Promise<number[]> {
    const saved = this.net.getWeights().map((w) => w.clone());
    const truth = holdOut.labels!;
    const sum = new Float32Array(holdOut.count * 10);
    const scores: number[] = [];
    for (const w of this.weights) {
      this.net.setWeights(w);
      const p = await predictDigits(this.net, holdOut, { keepProbabilities: true });
      scores.push(accuracy(p, truth));
      p.probabilities!.forEach((v, i) => (sum[i]! += v));
    }
    this.net.setWeights(saved);
    tf.dispose(saved);
    let right = 0;
    for (let i = 0; i < holdOut.count; i++) {
      const row = sum.subarray(i * 10, i * 10 + 10);
      if (row.indexOf(Math.max(...row)) === truth[i]) right++;
    }
    return [...scores, right / holdOut.count];
  }
}

const cycleEpochs = Number(f.epochs) / cycles;
const snapshots = cycles > 1 ? new Snapshots(model, cycleEpochs) : undefined;
const oneCycle = oneCycleSchedule(Number(f.lr));
const averages =
  f.ema === undefined && f['swa-from'] === undefined
    ? undefined
    : new WeightAverages(
        model,
        f.ema === undefined ? [] : f.ema.split(',').map(Number),
        f['swa-from'] === undefined ? undefined : Number(f['swa-from']),
      );
const result = await trainDigits(model, train, {
  callbacks: [...(averages === undefined ? [] : [averages]), ...(snapshots === undefined ? [] : [snapshots])],
  validationData: holdOut,
  epochs: Number(f.epochs),
  batchSize: 64,
  seed,
  augment,
  labelSmoothing: Number(f.ls),
  learningRate:
    cycles === 1
      ? oneCycle
      : (step, total) => {
          const length = total / cycles;
          return oneCycle(step % length, length);
        },
});
const snapshotScores = snapshots === undefined ? undefined : await snapshots.score();
const plain = accuracy(await predictDigits(model, holdOut), holdOut.labels!);
const tta = accuracy(await predictDigits(model, holdOut, { tta: true }), holdOut.labels!);
const { results: _results, 'allow-load': _allowLoad, threads: _threads, ...recipe } = f;
console.log(
  JSON.stringify({
    ...recipe,
    trainImages: train.count,
    ...(teacherHoldOut === undefined ? {} : { teacherHoldOut }),
    minutes: Number(((performance.now() - started) / 60_000).toFixed(2)),
    holdOut: plain,
    holdOutTta: tta,
    epochAccuracy: result.history.map((h) => h.val_acc),
    imagesPerSecond: result.history.map((h) => Math.round(h.imagesPerSecond)),
    ...(averages === undefined ? {} : { averages: averages.scores }),
    ...(snapshotScores === undefined ? {} : { snapshots: snapshotScores }),
  }),
);
// A second line, so the first survives whatever happens here.
const reestimated = averages === undefined ? undefined : await averages.reestimated(train);
if (reestimated !== undefined) console.log(JSON.stringify({ reestimated }));

const rates = result.history.map((h) => Math.round(h.imagesPerSecond));
const extras = [
  f.teacher === undefined ? '' : `teachers ${f.teacher.join(', ')} at ${f.conf}`,
  f.ema === undefined ? '' : `ema ${f.ema}`,
  f['swa-from'] === undefined ? '' : `swa from ${f['swa-from']}`,
  f.aug === 'elastic' ? `alpha ${f.alpha}, sigma ${f.sigma}` : '',
  f.aug !== 'none' && rangesGiven ? `rotation ${affine.rotation}°, shift ${affine.shift} px, zoom ${affine.zoom}` : '',
  cycles === 1 ? '' : `${cycles} cycles, snapshots averaged`,
].filter((e) => e !== '');
bench.results
  .table('screens', 'Recipes screened on the hold-out (best epoch, chosen on the same hold-out)', [
    { key: 'arch', label: 'network' },
    { key: 'epochs', label: 'epochs', digits: 0 },
    { key: 'aug', label: 'augmentation' },
    { key: 'lr', label: 'peak learning rate' },
    { key: 'ls', label: 'label smoothing' },
    { key: 'dropoutScale', label: 'dropout scale' },
    { key: 'extras', label: 'other settings' },
    { key: 'seed', label: 'seed', digits: 0 },
    { key: 'trainImages', label: 'training images', digits: 0 },
    { key: 'minutes', label: 'wall time (min)', digits: 1 },
    { key: 'imagesPerSecond', label: 'images/s' },
    { key: 'holdoutAccuracy', label: 'hold-out accuracy', digits: 2, suffix: ' %' },
    { key: 'holdoutTta', label: 'with TTA', digits: 2, suffix: ' %' },
    { key: 'snapshotsAveraged', label: 'snapshots averaged', digits: 2, suffix: ' %' },
  ])
  .row({
    arch: f.arch,
    epochs: Number(f.epochs),
    aug: f.aug,
    lr: f.lr,
    ls: f.ls,
    dropoutScale: f['dropout-scale'],
    extras: extras.join('; '),
    seed,
    trainImages: train.count,
    minutes: (performance.now() - started) / 60_000,
    imagesPerSecond: `${Math.min(...rates)}-${Math.max(...rates)}`,
    holdoutAccuracy: plain * 100,
    holdoutTta: tta * 100,
    snapshotsAveraged: snapshotScores === undefined ? null : snapshotScores.at(-1)! * 100,
  });
await bench.results.save([
  { table: 'screens', keys: ['arch', 'epochs', 'aug', 'lr', 'ls', 'dropoutScale', 'extras', 'seed'] },
]);

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
  labels.set(
    kept.map((j) => predicted.labels[j]!),
    labelled.count,
  );
  teachers.forEach((t) => t.dispose());
  return createDigitDataset(pixels, labels, `train.csv (90 %) + ${kept.length} pseudo-labelled test images`);
}

/**
 * Which hold-out images do trained models get wrong, and do they agree? Loads
 * saved models (the `best-model*` folders `npm run kaggle` writes), scores each
 * on the example's stratified hold-out of train.csv (split seed 42), with and
 * without test-time augmentation, and the average of all of them; then lists
 * every misread image by its train.csv line, most shared errors first. An
 * image that every model misreads is a floor no recipe of this kind gets under.
 * Run by hand:
 *
 *   npm run bench -- bench/recipes/holdout_errors.ts --model out/best-model-1 --model out/best-model-2 [--png errors.png] [--views 1,3,5,9]
 *
 * `--views` also scores each model with each number of test-time views (1-9, `predictDigits`' `tta`)
 * and times the hold-out's prediction with them: what a view costs against what it buys.
 * `--png` draws the misread images with the averaged models' predictions. It is
 * a picture of competition data: keep it out of the repository. The results file
 * holds the accuracies and counts only, not which images.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  accuracy,
  loadDigitModel,
  predictDigits,
  renderPredictionGrid,
  stratifiedSplit,
  subsetDataset,
  writeFileAtomic,
} from '../../src/index.js';
import { loadKaggleData } from '../../examples/cli.js';
import { ROOT } from '../lib/results.js';
import { startBench } from '../lib/setup.js';

const ZIP = resolve(ROOT, '../shared/data/digit-recognizer.zip');
const bench = await startBench(import.meta.url, {
  about: "trained models' accuracy on the competition's hold-out (split seed 42), and how many images they all misread",
  backend: 'wasm',
  options: { model: { type: 'string', multiple: true }, png: { type: 'string' }, views: { type: 'string' } },
});
const f = bench.flags;
const stop = (problem: string): never => {
  process.stderr.write(`bench/recipes/holdout_errors.ts: ${problem}\n`);
  process.exit(1);
};
if (!existsSync(ZIP)) stop(`${ZIP} is needed`);
if (f.model === undefined) stop('give at least one --model DIR');
const dirs = f.model!;
const viewCounts = (f.views ?? '')
  .split(',')
  .filter((v) => v !== '')
  .map(Number);
if (viewCounts.some((v) => !(Number.isInteger(v) && v >= 1 && v <= 9)))
  stop(`--views takes numbers 1-9, got ${f.views}`);
const data = await loadKaggleData(ZIP, undefined);
const split = stratifiedSplit(data.train.labels!, 0.1, 42);
const holdOut = subsetDataset(data.train, split.validation, 'train.csv (hold-out)');
const truth = holdOut.labels!;
const models = [];
for (const dir of dirs) models.push(await loadDigitModel(dir));

const scores = bench.results.table('models', 'Hold-out accuracy of each model and of their average', [
  { key: 'model', label: 'model' },
  { key: 'holdoutAccuracy', label: 'hold-out', digits: 2, suffix: ' %' },
  { key: 'holdoutTta', label: 'with TTA', digits: 2, suffix: ' %' },
]);
const misreadBy = new Map<number, string[]>();
for (let k = 0; k < models.length; k++) {
  const plain = await predictDigits(models[k]!, holdOut);
  const tta = await predictDigits(models[k]!, holdOut, { tta: true });
  for (let i = 0; i < holdOut.count; i++) {
    if (plain.labels[i] !== truth[i])
      (misreadBy.get(i) ?? misreadBy.set(i, []).get(i)!).push(`#${k + 1}: ${plain.labels[i]}`);
  }
  scores.row({
    model: dirs[k]!,
    holdoutAccuracy: accuracy(plain, truth) * 100,
    holdoutTta: accuracy(tta, truth) * 100,
  });
}
if (viewCounts.length > 0) {
  const byViews = bench.results.table('views', 'Hold-out accuracy and prediction time by test-time views', [
    { key: 'model', label: 'model' },
    { key: 'views', label: 'views', digits: 0 },
    { key: 'holdoutAccuracy', label: 'hold-out', digits: 2, suffix: ' %' },
    { key: 'errors', label: 'misread', digits: 0 },
    { key: 'seconds', label: `seconds for ${holdOut.count} images`, digits: 2 },
  ]);
  for (let k = 0; k < models.length; k++) {
    await predictDigits(models[k]!, subsetDataset(holdOut, [0, 1, 2, 3], 'warm-up'));
    for (const views of viewCounts) {
      const started = performance.now();
      const p = await predictDigits(models[k]!, holdOut, { tta: views });
      const seconds = (performance.now() - started) / 1000;
      const acc = accuracy(p, truth);
      byViews.row({
        model: dirs[k]!,
        views,
        holdoutAccuracy: acc * 100,
        errors: Math.round((1 - acc) * holdOut.count),
        seconds,
      });
    }
  }
}
const averaged = await predictDigits(models, holdOut);
scores.row({
  model: `all ${models.length} averaged`,
  holdoutAccuracy: accuracy(averaged, truth) * 100,
  holdoutTta: accuracy(await predictDigits(models, holdOut, { tta: true }), truth) * 100,
});

const order = [...misreadBy.keys()].sort((a, b) => misreadBy.get(b)!.length - misreadBy.get(a)!.length || a - b);
const byAll = order.filter((i) => misreadBy.get(i)!.length === models.length).length;
bench.results
  .table('floor', `Misread images of the ${holdOut.count} held out`, [
    { key: 'models', label: 'models', digits: 0 },
    { key: 'byAny', label: 'misread by at least one', digits: 0 },
    { key: 'byAll', label: 'misread by all', digits: 0 },
    { key: 'floor', label: 'error floor', digits: 2, suffix: ' %' },
  ])
  .row({ models: models.length, byAny: order.length, byAll, floor: (100 * byAll) / holdOut.count });
// train.csv line = image index + 2 (the header is line 1).
for (const i of order)
  console.log(`train.csv line ${split.validation[i]! + 2}: label ${truth[i]}, read as ${misreadBy.get(i)!.join(', ')}`);

if (f.png !== undefined && order.length > 0) {
  const misread = subsetDataset(holdOut, order, 'misread hold-out images');
  const grid = renderPredictionGrid(misread, await predictDigits(models, misread), {
    count: order.length,
    title: 'misread hold-out images',
  });
  await writeFileAtomic(f.png, grid.png);
  console.log(`wrote ${f.png}`);
}
await bench.results.save();

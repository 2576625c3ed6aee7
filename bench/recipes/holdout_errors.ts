/**
 * Which hold-out images do trained models get wrong, and do they agree? Loads
 * saved models (the `best-model*` folders `npm run kaggle` writes), scores each
 * on the example's stratified hold-out of train.csv (split seed 42), with and
 * without test-time augmentation, and the average of all of them; then lists
 * every misread image by its train.csv line, most shared errors first. An
 * image that every model misreads is a floor no recipe of this kind gets under.
 * Run by hand:
 *
 *   npm run bench -- bench/recipes/holdout_errors.ts --model out/best-model-1 --model out/best-model-2 [--png errors.png]
 *
 * `--png` draws the misread images with the averaged models' predictions. It is
 * a picture of competition data: keep it out of the repository.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  accuracy,
  loadDigitModel,
  predictDigits,
  renderPredictionGrid,
  stratifiedSplit,
  subsetDataset,
  writeFileAtomic,
} from '../../src/index.js';
import { loadKaggleData, useBackend } from '../../examples/cli.js';

const ZIP = resolve(import.meta.dirname, '../../../shared/data/digit-recognizer.zip');
const { values: f } = parseArgs({ options: { model: { type: 'string', multiple: true }, png: { type: 'string' } } });
if (!existsSync(ZIP)) throw new Error(`${ZIP} is needed`);
if (f.model === undefined) throw new Error('give at least one --model DIR');
await useBackend('wasm');
const data = await loadKaggleData(ZIP, undefined);
const split = stratifiedSplit(data.train.labels!, 0.1, 42);
const holdOut = subsetDataset(data.train, split.validation, 'train.csv (hold-out)');
const truth = holdOut.labels!;
const models = [];
for (const dir of f.model) models.push(await loadDigitModel(dir));

const pct = (v: number): string => `${(v * 100).toFixed(2)} %`;
const misreadBy = new Map<number, string[]>();
for (let k = 0; k < models.length; k++) {
  const plain = await predictDigits(models[k]!, holdOut);
  const tta = await predictDigits(models[k]!, holdOut, { tta: true });
  for (let i = 0; i < holdOut.count; i++) {
    if (plain.labels[i] !== truth[i])
      (misreadBy.get(i) ?? misreadBy.set(i, []).get(i)!).push(`#${k + 1}: ${plain.labels[i]}`);
  }
  console.log(`model #${k + 1} ${f.model[k]}: ${pct(accuracy(plain, truth))}, with TTA ${pct(accuracy(tta, truth))}`);
}
const averaged = await predictDigits(models, holdOut);
console.log(
  `all ${models.length} averaged: ${pct(accuracy(averaged, truth))}, with TTA ${pct(accuracy(await predictDigits(models, holdOut, { tta: true }), truth))}`,
);

const order = [...misreadBy.keys()].sort((a, b) => misreadBy.get(b)!.length - misreadBy.get(a)!.length || a - b);
const byAll = order.filter((i) => misreadBy.get(i)!.length === models.length).length;
console.log(
  `${order.length} images misread by at least one model, ${byAll} by all ${models.length} (a floor of ${pct(byAll / holdOut.count)} error on this hold-out)`,
);
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

/**
 * Writes the example's validation rows of train.csv (a stratified 10 % split, seed 42: what
 * `npm run kaggle` holds out) as a JSON list of row indices, for bench/peers/pytorch_zoo.py.
 * Run by hand: `npm run bench -- bench/peers/write_split.ts ../shared/data/digit-recognizer.zip split.json [--seed 42]`.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { loadDigitCsv } from '../../src/data/csv.js';
import { stratifiedSplit } from '../../src/training/split.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { seed: { type: 'string', default: '42' } },
});
const [zip, out] = positionals;
if (zip === undefined || out === undefined)
  throw new Error('usage: npm run bench -- bench/peers/write_split.ts ZIP OUT.json [--seed N]');
const train = await loadDigitCsv(zip, { member: 'train.csv' });
const split = stratifiedSplit(train.labels!, 0.1, Number(values.seed));
writeFileSync(out, JSON.stringify([...split.validation]));
console.log(`wrote ${split.validation.length} validation rows of ${train.count} to ${out}`);

/**
 * Parsing benchmark: `npm run bench -- bench/data/parse.ts [path/to/digit-recognizer.zip] [--runs 5]`.
 *
 * Times, as the median of `--runs` runs, on Kaggle's train.csv taken from the zip:
 * inflating the member alone (fflate), our loadDigitCsv on the inflated bytes,
 * loadDigitCsv straight from the zip bytes (streaming inflate + parse), and
 * csv-parse/sync on the same inflated bytes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { unzipSync } from 'fflate';

import { loadDigitCsv } from '../../src/data/csv.js';
import { median } from '../lib/ab.js';
import { ROOT } from '../lib/results.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: "loading Kaggle's train.csv: the byte scanner, from the zip, fflate's inflate alone and csv-parse",
  backend: 'none',
  positionals: true,
  options: { runs: { type: 'string', default: '5' } },
});
const RUNS = Number(bench.flags.runs);
const zipPath = bench.positionals[0] ?? resolve(ROOT, '../shared/data/digit-recognizer.zip');
if (!existsSync(zipPath)) {
  process.stderr.write(`bench/data/parse.ts: no ${zipPath}; pass the path of digit-recognizer.zip\n`);
  process.exit(1);
}

const zipBytes = new Uint8Array(readFileSync(zipPath));
const unzipTrain = (): Uint8Array => {
  const csv = unzipSync(zipBytes, { filter: (f) => f.name === 'train.csv' })['train.csv'];
  if (csv === undefined) throw new Error('train.csv missing from the zip');
  return csv;
};
const csv = unzipTrain();

async function time(label: string, run: () => unknown, runs = RUNS): Promise<{ label: string; ms: number[] }> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    ms.push(performance.now() - start);
  }
  return { label, ms };
}

// One warm-up so the JIT has compiled the scanner before timing.
await loadDigitCsv(csv);

const results = [
  await time('`loadDigitCsv` on train.csv bytes, parse only', async () => {
    const ds = await loadDigitCsv(csv);
    if (ds.count !== 42000) throw new Error(`got ${ds.count} rows`);
  }),
  await time("`loadDigitCsv(zip, { member: 'train.csv' })`, streaming inflate + parse", async () => {
    const ds = await loadDigitCsv(zipBytes, { member: 'train.csv' });
    if (ds.count !== 42000) throw new Error(`got ${ds.count} rows`);
  }),
  await time('fflate `unzipSync` of train.csv alone (inflate only)', unzipTrain),
  await time('csv-parse/sync on the same bytes (strings only, no validation)', () => {
    const rows = parse(csv) as string[][];
    if (rows.length !== 42001) throw new Error(`got ${rows.length} rows`);
  }),
];

const table = bench.results.table(
  'parse',
  `Kaggle's train.csv (42,000 rows, ${(csv.length / 1e6).toFixed(1)} MB), ${RUNS} runs each`,
  [
    { key: 'step', label: 'step' },
    { key: 'median', label: 'median (ms)', digits: 0 },
    { key: 'min', label: 'min (ms)', digits: 0 },
    { key: 'max', label: 'max (ms)', digits: 0 },
  ],
);
for (const { label, ms } of results)
  table.row({ step: label, median: median(ms), min: Math.min(...ms), max: Math.max(...ms) });
await bench.results.save();

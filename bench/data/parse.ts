/**
 * Parsing benchmark: `npm run bench -- bench/data/parse.ts [path/to/digit-recognizer.zip]`.
 *
 * Times, as the median of 5 runs, on Kaggle's train.csv taken from the zip:
 * inflating the member alone (fflate), our loadDigitCsv on the inflated bytes,
 * loadDigitCsv straight from the zip bytes (streaming inflate + parse), and
 * csv-parse/sync on the same inflated bytes. Prints a markdown table.
 */
import { readFileSync, existsSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { unzipSync } from 'fflate';
import { loadDigitCsv } from '../../src/data/csv.js';

const RUNS = 5;
const zipPath = process.argv[2] ?? new URL('../../../shared/data/digit-recognizer.zip', import.meta.url).pathname;
if (!existsSync(zipPath)) {
  console.error(`no ${zipPath}; pass the path of digit-recognizer.zip`);
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

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

// One warm-up so the JIT has compiled the scanner before timing.
await loadDigitCsv(csv);

const results = [
  await time('fflate unzipSync train.csv (inflate only)', unzipTrain),
  await time('loadDigitCsv(Uint8Array of train.csv) (parse only)', async () => {
    const ds = await loadDigitCsv(csv);
    if (ds.count !== 42000) throw new Error(`got ${ds.count} rows`);
  }),
  await time('loadDigitCsv(zip bytes, { member: "train.csv" }) (streaming inflate + parse)', async () => {
    const ds = await loadDigitCsv(zipBytes, { member: 'train.csv' });
    if (ds.count !== 42000) throw new Error(`got ${ds.count} rows`);
  }),
  await time('csv-parse/sync(train.csv bytes) (parse only, strings)', () => {
    const rows = parse(csv) as string[][];
    if (rows.length !== 42001) throw new Error(`got ${rows.length} rows`);
  }),
];

console.log(`\ntrain.csv: ${(csv.length / 1e6).toFixed(1)} MB, ${RUNS} runs, Node ${process.version}\n`);
console.log('| step | median ms | min ms | max ms |');
console.log('| --- | ---: | ---: | ---: |');
for (const { label, ms } of results) {
  console.log(
    `| ${label} | ${median(ms).toFixed(0)} | ${Math.min(...ms).toFixed(0)} | ${Math.max(...ms).toFixed(0)} |`,
  );
}

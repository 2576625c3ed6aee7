/**
 * The presets end to end (`npm run kaggle -- --preset P`), side by side with the canonical PyTorch
 * MNIST recipe in the same run: wall time and hold-out accuracy on the competition's train.csv
 * (10 % stratified split, same seed for all) and, with `--mnist`, on MNIST (its 10,000 test images
 * scored too).
 *
 *   npm run bench -- bench/recipes/presets.ts [--presets fast,default,best] [--mnist | --data mnist] [--no-pytorch]
 *
 * `--mnist` measures each preset on both data sets (competition first); `--data mnist` on MNIST
 * alone, so that a two-hour `best` fits one sitting per data set.
 *
 * Results go to bench/results/presets.json, merged: a run replaces the rows (preset and data) it
 * measured and keeps the others with their own runs, so `best` can be measured on its own day.
 * PyTorch comes from Debian's python3-torch (/usr/bin/python3).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { ROOT } from '../lib/results.js';
import { startBench } from '../lib/setup.js';

const ZIP = resolve(ROOT, '../shared/data/digit-recognizer.zip');
const OUT = join(ROOT, 'bench/.out/presets');
const bench = await startBench(import.meta.url, {
  about: "the presets' wall time and accuracy end to end, on the competition's train.csv and on MNIST",
  backend: 'none',
  options: {
    presets: { type: 'string', default: 'fast,default' },
    mnist: { type: 'boolean', default: false },
    data: { type: 'string', default: 'kaggle' },
    'no-pytorch': { type: 'boolean', default: false },
    // For a quick check that the script runs; such figures say nothing about the presets.
    'train-limit': { type: 'string' },
  },
});
const values = bench.flags;
if (!existsSync(ZIP)) {
  process.stderr.write(`bench/recipes/presets.ts: ${ZIP} is needed\n`);
  process.exit(1);
}
mkdirSync(OUT, { recursive: true });

interface Row {
  recipe: string;
  preset: string | null;
  data: 'kaggle' | 'mnist';
  minutes: number;
  validation: number | null;
  test: number | null;
  note: string;
}
const rows: Row[] = [];

function runPreset(preset: string, data: string | undefined): void {
  const out = join(OUT, `${preset}-${data === undefined ? 'mnist' : 'kaggle'}`);
  rmSync(out, { recursive: true, force: true });
  const started = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=digit-recognizer-source',
      join(ROOT, 'examples/kaggle.ts'),
      '--preset',
      preset,
      '--out',
      out,
      ...(data === undefined ? [] : ['--data', data]),
      ...(values['train-limit'] === undefined ? [] : ['--train-limit', values['train-limit']]),
    ],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const minutes = (performance.now() - started) / 60_000;
  if (r.status !== 0) throw new Error(`preset ${preset} failed with ${r.status}`);
  const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as {
    validationAccuracy: number;
    testAccuracy: number | null;
    models: { steps: number; epochSeconds: number[] }[];
    recipe: { architecture: string; tta: number };
    plan: { architecture: string; epochs: number; ensemble: number; ttaViews: number; events: unknown[] } | null;
  };
  rows.push({
    recipe: `ours --preset ${preset}`,
    preset,
    data: data === undefined ? 'mnist' : 'kaggle',
    minutes,
    validation: record.validationAccuracy,
    test: record.testAccuracy,
    note: `${planNote(record)}${values['train-limit'] === undefined ? '' : `, first ${values['train-limit']} training rows only`}`,
  });
}

/** What the budget planned and what ran: network, models, epochs, test-time views, re-plans. */
function planNote(record: {
  models: { epochSeconds: number[] }[];
  recipe: { architecture: string; tta: number };
  plan: { epochs: number; ensemble: number; ttaViews: number; events: unknown[] } | null;
}): string {
  const ran = `${record.recipe.architecture} x ${record.models.length}, ${record.models.map((m) => m.epochSeconds.length).join('+')} epochs, ${record.recipe.tta} view(s)`;
  if (record.plan === null) return ran;
  const p = record.plan;
  return `planned ${p.ensemble} x ${p.epochs} epochs, ${p.ttaViews} view(s); ran ${ran}; ${p.events.length} re-plan(s)`;
}

function runPytorch(): void {
  const started = performance.now();
  const r = spawnSync(
    '/usr/bin/python3',
    [join(ROOT, 'bench/peers/pytorch_mnist.py'), ZIP, '--no-results', '--allow-load'],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const minutes = (performance.now() - started) / 60_000;
  if (r.status !== 0) {
    rows.push({
      recipe: 'PyTorch MNIST example',
      preset: null,
      data: 'kaggle',
      minutes: NaN,
      validation: null,
      test: null,
      note: 'python3-torch not available',
    });
    return;
  }
  process.stdout.write(r.stdout);
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
    final_val_acc: number;
    torch: string;
    threads: number;
  };
  rows.push({
    recipe: 'PyTorch MNIST example (14 epochs)',
    preset: null,
    data: 'kaggle',
    minutes,
    validation: last.final_val_acc,
    test: null,
    note: `torch ${last.torch}, ${last.threads} threads`,
  });
}

const sets = values.mnist ? ['kaggle', 'mnist'] : values.data.split(',');
for (const set of sets)
  if (set !== 'kaggle' && set !== 'mnist') {
    process.stderr.write(`bench/recipes/presets.ts: --data takes kaggle, mnist or both, not "${set}"\n`);
    process.exit(1);
  }
for (const preset of values.presets.split(',')) {
  if (sets.includes('kaggle')) runPreset(preset, ZIP);
  if (sets.includes('mnist')) runPreset(preset, undefined);
}
if (!values['no-pytorch']) runPytorch();

const torch = rows.find((r) => r.preset === null && !Number.isNaN(r.minutes));
const percent = (v: number | null): number | null => (v === null ? null : v * 100);
const presets = bench.results.table('presets', 'Each preset end to end (`npm run kaggle -- --preset P`)', [
  { key: 'preset', label: 'preset' },
  { key: 'data', label: 'data' },
  { key: 'minutes', label: 'wall time (min)', digits: 1 },
  { key: 'holdoutAccuracy', label: 'hold-out accuracy', digits: 2, suffix: ' %' },
  { key: 'mnistTestAccuracy', label: 'MNIST test accuracy', digits: 2, suffix: ' %' },
  { key: 'vsPytorch', label: 'time vs PyTorch in the same run', digits: 2, suffix: 'x' },
  { key: 'notes', label: 'notes' },
]);
for (const r of rows) {
  if (r.preset === null) continue;
  presets.row({
    preset: r.preset,
    data: r.data,
    minutes: r.minutes,
    holdoutAccuracy: percent(r.validation),
    mnistTestAccuracy: percent(r.test),
    vsPytorch: torch === undefined || r.data !== 'kaggle' ? null : r.minutes / torch.minutes,
    notes: r.note,
  });
}
const peers = bench.results.table('peers', 'The PyTorch MNIST example on the same split, in a presets run', [
  { key: 'recipe', label: 'recipe' },
  { key: 'data', label: 'data' },
  { key: 'minutes', label: 'wall time (min)', digits: 1 },
  { key: 'holdoutAccuracy', label: 'hold-out accuracy', digits: 2, suffix: ' %' },
  { key: 'notes', label: 'notes' },
]);
for (const r of rows) {
  if (r.preset === null && !Number.isNaN(r.minutes))
    peers.row({
      recipe: r.recipe,
      data: r.data,
      minutes: r.minutes,
      holdoutAccuracy: percent(r.validation),
      notes: r.note,
    });
}
await bench.results.save([
  { table: 'presets', keys: ['preset', 'data'] },
  { table: 'peers', keys: ['recipe', 'data'] },
]);

/**
 * Presets side by side with the canonical PyTorch MNIST recipe, in one run on
 * this machine: wall time and held-out validation accuracy on the competition's
 * train.csv (10 % stratified split, same seed for all).
 *
 *   npm run bench -- bench/recipes/presets.ts [--presets fast,default] [--mnist] [--no-pytorch]
 *
 * --mnist also trains each preset on MNIST's 60,000 and scores MNIST's 10,000
 * test images. PyTorch comes from Debian's python3-torch (/usr/bin/python3).
 * Prints a markdown table; results belong in docs/benchmarks.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '../..');
const ZIP = resolve(ROOT, '../shared/data/digit-recognizer.zip');
const OUT = join(ROOT, 'bench/.out/presets');
const { values } = parseArgs({
  options: {
    presets: { type: 'string', default: 'fast,default' },
    mnist: { type: 'boolean', default: false },
    'no-pytorch': { type: 'boolean', default: false },
  },
});
if (!existsSync(ZIP)) throw new Error(`${ZIP} is needed`);
mkdirSync(OUT, { recursive: true });

interface Row {
  recipe: string;
  data: string;
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
    ],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const minutes = (performance.now() - started) / 60_000;
  if (r.status !== 0) throw new Error(`preset ${preset} failed with ${r.status}`);
  const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as {
    validationAccuracy: number;
    testAccuracy: number | null;
    models: unknown[];
    settings: { epochs: number };
  };
  rows.push({
    recipe: `ours --preset ${preset}`,
    data: data === undefined ? 'MNIST 60k/10k' : 'Kaggle train.csv',
    minutes,
    validation: record.validationAccuracy,
    test: record.testAccuracy,
    note: `${record.models.length} model(s), ${record.settings.epochs} epochs`,
  });
}

function runPytorch(): void {
  const started = performance.now();
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'bench/peers/pytorch_mnist.py'), ZIP], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const minutes = (performance.now() - started) / 60_000;
  if (r.status !== 0) {
    rows.push({
      recipe: 'PyTorch MNIST example',
      data: 'Kaggle train.csv',
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
    data: 'Kaggle train.csv',
    minutes,
    validation: last.final_val_acc,
    test: null,
    note: `torch ${last.torch}, ${last.threads} threads`,
  });
}

for (const preset of values.presets.split(',')) {
  runPreset(preset, ZIP);
  if (values.mnist) runPreset(preset, undefined);
}
if (!values['no-pytorch']) runPytorch();

const pct = (v: number | null): string => (v === null ? '' : `${(v * 100).toFixed(2)} %`);
const torch = rows.find((r) => r.recipe.startsWith('PyTorch'));
console.log(
  `\n${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.versions.node}\n`,
);
console.log('| recipe | data | wall time | validation accuracy | MNIST test accuracy | time vs PyTorch | notes |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) {
  const ratio = torch === undefined || Number.isNaN(torch.minutes) ? '' : `${(r.minutes / torch.minutes).toFixed(2)}x`;
  console.log(
    `| ${r.recipe} | ${r.data} | ${r.minutes.toFixed(1)} min | ${pct(r.validation)} | ${pct(r.test)} | ${ratio} | ${r.note} |`,
  );
}

/**
 * The benchmark harness: results files, the docs generated from them (`npm run bench:report`), the
 * results writer as a real bench run uses it, and the Python peers' writer.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digitPresets } from 'digit-recognizer';

import { loadVerdict, MAX_START_LOAD } from '../bench/lib/machine.js';
import { presetFigures } from '../bench/lib/preset_figures.js';
import { renderDoc } from '../bench/lib/report.js';
import {
  checkResults,
  listResults,
  mergeResults,
  parseResults,
  readResults,
  ResultsError,
  serializeResults,
  type ResultsFile,
} from '../bench/lib/results.js';
import { tempDir } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..');

function tsx(args: string[], cwd = ROOT) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--conditions=digit-recognizer-source', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_lifecycle_event: '' },
  });
}

/** A copy of the docs and results under a temp root, for the report to check or rewrite. */
function copyOfDocs(): string {
  const root = tempDir('digit-bench-report-');
  cpSync(join(ROOT, 'docs'), join(root, 'docs'), { recursive: true });
  cpSync(join(ROOT, 'README.md'), join(root, 'README.md'));
  mkdirSync(join(root, 'bench'));
  cpSync(join(ROOT, 'bench/results'), join(root, 'bench/results'), { recursive: true });
  return root;
}

async function editResults(root: string, name: string, edit: (file: ResultsFile) => ResultsFile): Promise<void> {
  const path = join(root, 'bench/results', `${name}.json`);
  writeFileSync(path, await serializeResults(edit(parseResults(readFileSync(path, 'utf8'), name))));
}

const minimal = (): ResultsFile => ({
  schema: 1,
  bench: 'kernels/max_pool',
  about: 'an example',
  runs: [
    {
      date: '2026-12-01T10:00:00Z',
      machine: { cpu: 'AMD EPYC', cores: 2, memoryGiB: 24 },
      load: { start: 0.1, end: 0.9 },
      versions: { node: '20.20.2', tfjs: '4.22.0' },
      command: 'npm run bench -- bench/kernels/max_pool.ts',
    },
  ],
  tables: [
    {
      id: 'steps',
      title: 'Steps',
      columns: [
        { key: 'net', label: 'net' },
        { key: 'ms', label: 'ms', digits: 1 },
      ],
      rows: [{ cells: { net: 'lean', ms: 150.25 } }],
    },
  ],
});

describe('the docs and bench/results', () => {
  it('agree: npm run bench:report -- --check passes on the repository', () => {
    const run = tsx(['bench/report.ts', '--check']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('the docs agree with bench/results');
  });

  it('every results file follows the schema and is formatted as the writer formats it', async () => {
    const names = listResults();
    expect(names).toContain('presets');
    for (const name of names) {
      const text = readFileSync(join(ROOT, 'bench/results', `${name}.json`), 'utf8');
      expect(await serializeResults(parseResults(text, name)), name).toBe(text);
    }
  });

  it('a changed figure fails the check, naming the doc line and the region, and the report rewrites the table', async () => {
    const root = copyOfDocs();
    await editResults(root, 'max_pool', (file) => ({
      ...file,
      tables: file.tables.map((t) =>
        t.id !== 'kernel'
          ? t
          : { ...t, rows: t.rows.map((r, i) => (i === 0 ? { ...r, cells: { ...r.cells, simd: 9.87 } } : r)) },
      ),
    }));
    const check = tsx(['bench/report.ts', '--check', '--root', root]);
    expect(check.status).toBe(1);
    expect(check.stderr.trim().split('\n')).toHaveLength(1);
    expect(check.stderr).toMatch(
      /docs\/benchmarks\.md:\d+: bench-table max_pool#kernel \(line \d+\) disagrees with bench\/results\/max_pool\.json/,
    );

    const write = tsx(['bench/report.ts', '--root', root]);
    expect(write.status).toBe(0);
    expect(write.stdout).toContain('rewrote docs/benchmarks.md');
    expect(readFileSync(join(root, 'docs/benchmarks.md'), 'utf8')).toMatch(/\|\s+9\.87 \|/);
    expect(tsx(['bench/report.ts', '--check', '--root', root]).status).toBe(0);
  });

  it('a table edited by hand in the doc fails the check', () => {
    const root = copyOfDocs();
    const doc = join(root, 'docs/benchmarks.md');
    const text = readFileSync(doc, 'utf8');
    const edited = text.replace('| 2.44x |', '| 2.54x |');
    expect(edited).not.toBe(text);
    writeFileSync(doc, edited);
    const check = tsx(['bench/report.ts', '--check', '--root', root]);
    expect(check.status).toBe(1);
    expect(check.stderr).toMatch(/bench-table winograd#kernels .*expected ".*2\.44x.*", found ".*2\.54x/);
  });

  it('a region naming a missing results file or table, or left open, fails with its line', () => {
    const root = copyOfDocs();
    const doc = join(root, 'docs/benchmarks.md');
    const text = readFileSync(doc, 'utf8');
    writeFileSync(doc, `${text}\n<!-- bench-table nosuch#steps -->\n<!-- /bench-table -->\n`);
    const missing = tsx(['bench/report.ts', '--check', '--root', root]);
    expect(missing.status).toBe(1);
    const line = text.split('\n').length + 1;
    expect(missing.stderr).toContain(`docs/benchmarks.md:${line}: bench-table nosuch#steps: bench/results/nosuch.json`);

    writeFileSync(doc, `${text}\n<!-- bench-table max_pool#nosuch -->\n<!-- /bench-table -->\n`);
    expect(tsx(['bench/report.ts', '--check', '--root', root]).stderr).toContain('has no table "nosuch"');

    writeFileSync(doc, `${text}\n<!-- bench-table max_pool#steps -->\n`);
    expect(tsx(['bench/report.ts', '--check', '--root', root]).stderr).toContain(
      `docs/benchmarks.md:${line}: bench-table max_pool#steps has no <!-- /bench-table --> after it`,
    );
  });

  it('an invalid results file fails the check, naming the file and the field', () => {
    const root = copyOfDocs();
    const path = join(root, 'bench/results/identity.json');
    const file = JSON.parse(readFileSync(path, 'utf8')) as { runs: { date?: string }[] };
    delete file.runs[0]!.date;
    writeFileSync(path, JSON.stringify(file));
    const check = tsx(['bench/report.ts', '--check', '--root', root]);
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('bench/results/identity.json: runs[0].date: expected a non-empty string');
  });

  it('renders a single figure into a bench-value region', async () => {
    const text =
      'It took <!-- bench-value presets#presets preset=default data=mnist minutes -->?<!-- /bench-value --> min.\n';
    const out = await renderDoc(text, 'README.md', (name) => readResults(name));
    const figure = presetFigures(readResults('presets')).find((f) => f.preset === 'default' && f.data === 'mnist')!;
    expect(out).toBe(text.replace('?', figure.minutes.toFixed(1)));
    await expect(
      renderDoc(text.replace('preset=default', 'preset=nosuch'), 'README.md', (name) => readResults(name)),
    ).rejects.toThrow('0 rows of presets#presets match preset=nosuch data=mnist');
  });
});

describe('the results format', () => {
  it('names the first field that breaks the schema', () => {
    const bad = (edit: (f: ResultsFile & Record<string, unknown>) => void): string => {
      const file = JSON.parse(JSON.stringify(minimal())) as ResultsFile & Record<string, unknown>;
      edit(file);
      try {
        checkResults(file, 'x.json');
      } catch (error) {
        expect(error).toBeInstanceOf(ResultsError);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(() => checkResults(minimal(), 'x.json')).not.toThrow();
    expect(bad((f) => ((f.runs[0] as { date: string }).date = 'yesterday'))).toBe(
      'x.json: runs[0].date: expected YYYY-MM-DD, got "yesterday"',
    );
    expect(bad((f) => ((f.runs[0] as { load: unknown }).load = { start: null, end: null }))).toBe(
      'x.json: runs[0].load: a run without a measured load needs a note saying what is known',
    );
    expect(bad((f) => ((f.tables[0]!.rows as unknown[])[0] = { run: 3, cells: {} }))).toBe(
      'x.json: tables[0].rows[0].run: expected a run index below 1',
    );
    expect(bad((f) => ((f.tables[0]!.rows as unknown[])[0] = { cells: { speed: 1 } }))).toBe(
      'x.json: tables[0].rows[0].cells.speed: is not one of the columns',
    );
    expect(bad((f) => ((f as Record<string, unknown>)['schema'] = 2))).toBe('x.json: schema: expected 1');
  });

  it('merging keeps the rows a run did not measure again, with their own runs', () => {
    const old = minimal();
    const oldRun = old.runs[0]!;
    const withRows = (file: ResultsFile, rows: ResultsFile['tables'][number]['rows']): ResultsFile => ({
      ...file,
      tables: [{ ...file.tables[0]!, rows }],
    });
    const before = withRows(old, [{ cells: { net: 'lean', ms: 150 } }, { cells: { net: 'strong', ms: 300 } }]);
    const freshRun = { ...oldRun, date: '2026-12-02T10:00:00Z' };
    const fresh = withRows({ ...old, runs: [freshRun] }, [{ cells: { net: 'lean', ms: 140 } }]);
    const merged = mergeResults(before, fresh, 'steps', ['net']);
    expect(merged.runs).toEqual([freshRun, oldRun]);
    expect(merged.tables[0]!.rows).toEqual([
      { run: 1, cells: { net: 'strong', ms: 300 } },
      { run: 0, cells: { net: 'lean', ms: 140 } },
    ]);
  });

  it('the presets file gives every built-in preset its figures on both data sets', () => {
    const figures = presetFigures(readResults('presets'));
    for (const preset of digitPresets()) {
      const kaggle = figures.find((f) => f.preset === preset.name && f.data === 'kaggle');
      const mnist = figures.find((f) => f.preset === preset.name && f.data === 'mnist');
      expect(kaggle?.minutes, preset.name).toBeGreaterThan(0);
      expect(mnist?.mnistTestAccuracy, preset.name).toBeGreaterThan(90);
      expect(kaggle?.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });
});

describe('the results writer', () => {
  it('refuses a busy machine unless allowed, and says so', () => {
    expect(loadVerdict(MAX_START_LOAD, false)).toEqual({ ok: true });
    const refused = loadVerdict(1.5, false);
    expect(refused.ok).toBe(false);
    expect(refused.warning).toContain('--allow-load');
    const allowed = loadVerdict(1.5, true);
    expect(allowed.ok).toBe(true);
    expect(allowed.warning).toContain('started at load 1.5');
  });

  it('a real bench run writes a valid, formatted file with its machine, load and command', async () => {
    const dir = tempDir('digit-bench-writer-');
    const path = join(dir, 'augment.json');
    const run = tsx(['bench/data/augment.ts', '--images', '16', '--rounds', '1', '--allow-load', '--results', path]);
    expect(run.status, run.stderr).toBe(0);
    const text = readFileSync(path, 'utf8');
    const file = parseResults(text, path);
    expect(await serializeResults(file)).toBe(text);
    expect(file.bench).toBe('data/augment');
    const [record] = file.runs;
    expect(record!.command).toMatch(/ bench\/data\/augment\.ts --images 16 --rounds 1 --allow-load --results /);
    expect(record!.machine.cores).toBeGreaterThan(0);
    expect(typeof record!.load.start).toBe('number');
    expect(typeof record!.load.end).toBe('number');
    expect(record!.versions['tfjs']).toBe('4.22.0');
    expect(file.tables.map((t) => t.id)).toEqual(['cost', 'displacement']);
    expect(file.tables[0]!.rows[0]!.cells['affine']).toBeGreaterThan(0);
  });

  it('a bench given an unknown flag prints one line and exits 1', () => {
    const run = tsx(['bench/data/augment.ts', '--nosuch']);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain("bench/data/augment.ts: Unknown option '--nosuch'");
  });

  const python = spawnSync('python3', ['--version']).status === 0;
  it.skipIf(!python)("the Python peers' writer produces a file the report accepts", () => {
    const dir = tempDir('digit-bench-python-');
    const path = join(dir, 'peer.json');
    const script = [
      'import argparse, sys',
      `sys.path.insert(0, ${JSON.stringify(join(ROOT, 'bench/peers'))})`,
      'import bench_results',
      'ap = argparse.ArgumentParser()',
      'bench_results.add_arguments(ap)',
      'args = ap.parse_args()',
      `r = bench_results.start(${JSON.stringify(join(ROOT, 'bench/peers/pytorch_seed.py'))}, 'a check', args, {'torch': 'none'})`,
      "t = r.table('seed', 'Seed', [{'key': 'threads', 'label': 'threads', 'digits': 0}, {'key': 'train', 'label': 'train', 'digits': 1}])",
      't.row(threads=2, train=151.54)',
      'r.save()',
    ].join('\n');
    const run = spawnSync('python3', ['-c', script, '--allow-load', '--results', path], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const file = parseResults(readFileSync(path, 'utf8'), path);
    expect(file.bench).toBe('peers/pytorch_seed');
    expect(file.runs[0]!.versions).toMatchObject({ torch: 'none' });
    expect(file.tables[0]!.rows[0]!.cells).toEqual({ threads: 2, train: 151.5 });
  });
});

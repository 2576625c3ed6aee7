/**
 * The whole Kaggle "Digit Recognizer" pipeline, step by step like the original
 * notebook: load -> build -> train with a best-model checkpoint -> reload the
 * best model -> predict the test set -> write submission.csv -> draw the
 * predictions.
 *
 *   npm run kaggle -- [--data PATH] [--out DIR] [--model NAME] [--epochs N]
 *                     [--train-limit N] [--backend wasm|cpu] [--seed N] [--batch-size N]
 *
 * PATH is the competition zip, a folder with train.csv and test.csv, or omitted
 * for the embedded MNIST (whose test labels are known, so real test accuracy is
 * printed).
 *
 * Runs are resumable: after every epoch the training state goes to
 * DIR/train-state/, so re-running the same command after a crash, `kill -9` or
 * Ctrl-C continues from the last completed epoch. Re-running a finished run
 * says so instead of retraining; `--force` starts over.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  accuracy,
  buildDigitCnn,
  CheckpointBestCallback,
  fileTrainingState,
  getDigitArchitecture,
  MNIST_SHA256,
  loadDigitModel,
  predictDigits,
  renderPredictionGrid,
  trainDigits,
  VERSION,
  writeFileAtomic,
  writeSubmission,
  type DigitEpochRecord,
} from 'digit-recognizer';
import { intFlag, loadKaggleData, parseFlags, ProgressBar, runScript, UsageError, useBackend } from './cli.js';

const USAGE = 'usage: npm run kaggle -- [--data PATH] [--out DIR] [--model NAME] [--epochs N] [--train-limit N] [--backend wasm|cpu] [--seed N] [--batch-size N] [--force]';

runScript('kaggle', async () => {
  const flags = parseFlags({
    data: { type: 'string' },
    out: { type: 'string', default: 'out' },
    model: { type: 'string', default: 'seed' },
    epochs: { type: 'string' },
    'train-limit': { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    seed: { type: 'string' },
    'batch-size': { type: 'string' },
    force: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  }, USAGE);
  if (flags.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const epochs = intFlag(flags.epochs, 'epochs', 3);
  const seed = intFlag(flags.seed, 'seed', 42, 0);
  const batchSize = intFlag(flags['batch-size'], 'batch-size', 64);
  const trainLimit = flags['train-limit'] === undefined ? undefined : intFlag(flags['train-limit'], 'train-limit', 0, 100);
  const out = resolve(flags.out);
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${flags.out} is a file, expected a folder`);
  const architecture = getDigitArchitecture(flags.model);
  const bar = new ProgressBar();
  const started = performance.now();
  const settings = { data: flags.data === undefined ? null : resolve(flags.data), model: architecture.name, epochs, batchSize, seed, trainLimit: trainLimit ?? null, backend: flags.backend };
  const finished = finishedRun(out, settings);
  if (finished !== undefined && flags.force !== true) {
    bar.line(`${flags.out} already holds this finished run (${finished}); nothing to do. Use --force to train again.`);
    return;
  }

  // 1. Load the data. Everything the user gave is checked before anything is written.
  await useBackend(flags.backend);
  let t = performance.now();
  const data = await loadKaggleData(flags.data, trainLimit);
  bar.line(`loaded ${data.train.count} training and ${data.test.count} test images from ${data.description} in ${seconds(t)} s (backend ${tf.getBackend()})`);

  // 2. Build the network.
  const model = buildDigitCnn({ architecture, seed });
  bar.line(`model ${architecture.name}: ${model.countParams().toLocaleString('en-US')} parameters`);

  // 3. Train, keeping the best epoch on disk and the run's state after every epoch.
  mkdirSync(out, { recursive: true });
  const bestDir = join(out, 'best-model');
  const state = fileTrainingState(join(out, 'train-state'));
  if (flags.force === true) {
    await state.clear();
    rmSync(join(out, 'run.json'), { force: true });
  }
  const checkpoint = new CheckpointBestCallback({ destination: bestDir });
  let history: readonly DigitEpochRecord[] = [];
  const interrupt = new AbortController();
  process.once('SIGINT', () => {
    bar.line('interrupted: finishing this batch; press Ctrl-C again to quit at once');
    interrupt.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const training = await trainDigits(model, data.train, {
    epochs,
    batchSize,
    seed,
    checkpoint,
    state,
    signal: interrupt.signal,
    onProgress: async (p) => {
      const text = `epoch ${p.epoch}/${p.epochs} batch ${p.batch}/${p.batches} loss ${p.loss.toFixed(4)} acc ${p.acc.toFixed(4)} ${p.imagesPerSecond.toFixed(0)} img/s`;
      if (p.phase === 'batch') bar.update(p.batch / p.batches, text);
      else if (p.record !== undefined) {
        history = p.history ?? [];
        await writeFileAtomic(join(out, 'history.csv'), historyCsv(history));
        const r = p.record;
        bar.line(`epoch ${r.epoch}/${p.epochs}: loss ${r.loss.toFixed(4)} acc ${r.acc.toFixed(4)} val_loss ${r.val_loss?.toFixed(4)} val_acc ${r.val_acc?.toFixed(4)} (${r.seconds.toFixed(1)} s, ${r.imagesPerSecond.toFixed(0)} img/s)`);
      }
    },
  });
  if (training.resumedEpochs > 0) bar.line(`resumed after epoch ${training.resumedEpochs} from ${state.description}`);
  if (training.stopped) {
    bar.line(`stopped after epoch ${training.history.length}; run the same command to resume`);
    process.exit(130);
  }
  history = training.history;
  await writeFileAtomic(join(out, 'history.csv'), historyCsv(history));
  bar.line(`best epoch ${training.bestEpoch}: ${training.monitor} ${training.bestValue.toFixed(4)}, saved to ${bestDir}`);
  model.dispose();
  checkpoint.dispose();

  // 4. Reload the best model from disk, as a later session would.
  const best = await loadDigitModel(bestDir);

  // 5. Predict the test set.
  t = performance.now();
  const predictions = await predictDigits(best, data.test, { onProgress: (done, total) => bar.update(done / total, `predicting ${done}/${total}`) });
  const predictSeconds = (performance.now() - t) / 1000;
  bar.line(`predicted ${predictions.count} test images in ${predictSeconds.toFixed(1)} s (${(predictions.count / predictSeconds).toFixed(0)} img/s)`);
  const testAccuracy = data.test.labels === undefined ? undefined : accuracy(predictions, data.test.labels);
  if (testAccuracy !== undefined) bar.line(`test accuracy ${(testAccuracy * 100).toFixed(2)} % on ${predictions.count} labelled test images`);

  // 6. Write the submission.
  await writeSubmission(predictions, join(out, 'submission.csv'));

  // 7. Draw the first 40 test digits with their predicted labels.
  const grid = renderPredictionGrid(data.test, predictions, { count: 40, title: `${architecture.name}: predicted labels` });
  await writeFileAtomic(join(out, 'predictions.png'), grid.png);
  await writeFileAtomic(join(out, 'predictions.svg'), grid.svg);

  await writeFileAtomic(join(out, 'run.json'), `${JSON.stringify({
    command: ['npm run kaggle --', ...process.argv.slice(2)].join(' '),
    versions: { 'digit-recognizer': VERSION, tfjs: tf.version_core, backend: tf.getBackend(), node: process.versions.node },
    complete: true,
    settings,
    data: { description: data.description, sha256: dataHashes(flags.data) },
    options: { model: architecture.name, epochs, batchSize, seed, trainLimit: trainLimit ?? null },
    resumedEpochs: training.resumedEpochs,
    trainImages: training.trainCount,
    validationImages: training.validationCount,
    bestEpoch: training.bestEpoch,
    [`best_${training.monitor}`]: training.bestValue,
    testAccuracy: testAccuracy ?? null,
    seconds: { total: Number(seconds(started)), predict: Number(predictSeconds.toFixed(2)), epochs: history.map((h) => Number(h.seconds.toFixed(2))) },
  }, null, 2)}\n`);
  bar.line(`wrote ${out}/{best-model/, history.csv, submission.csv, predictions.png, predictions.svg, run.json} in ${seconds(started)} s`);
});

/** A summary of the finished run in `out` made with `settings`, if there is one. */
function finishedRun(out: string, settings: object): string | undefined {
  try {
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { complete?: boolean; settings?: object; bestEpoch?: number; testAccuracy?: number | null };
    if (record.complete !== true || JSON.stringify(record.settings) !== JSON.stringify(settings)) return undefined;
    return `best epoch ${record.bestEpoch}${record.testAccuracy == null ? '' : `, test accuracy ${(record.testAccuracy * 100).toFixed(2)} %`}`;
  } catch {
    return undefined;
  }
}

/** SHA-256 of the data files, for the run record (MNIST's are fixed and verified on load). */
function dataHashes(path: string | undefined): Record<string, string> {
  if (path === undefined) return { ...MNIST_SHA256 };
  const files = statSync(path).isDirectory() ? readdirSync(path).filter((f) => /^(train|test)\.csv(\.gz)?$/.test(f)).map((f) => join(path, f)) : [path];
  return Object.fromEntries(files.map((f) => [f, createHash('sha256').update(readFileSync(f)).digest('hex')]));
}

function historyCsv(history: readonly DigitEpochRecord[]): string {
  const cell = (v: number | undefined): string => (v === undefined ? '' : String(Number(v.toFixed(6))));
  const rows = history.map((h) => [h.epoch, cell(h.seconds), cell(h.imagesPerSecond), cell(h.loss), cell(h.acc), cell(h.val_loss), cell(h.val_acc)].join(','));
  return `epoch,seconds,images_per_second,loss,acc,val_loss,val_acc\n${rows.join('\n')}\n`;
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}

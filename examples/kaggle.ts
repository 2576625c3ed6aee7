/**
 * The whole Kaggle "Digit Recognizer" pipeline, step by step like the original
 * notebook: load -> build -> train with a best-model checkpoint -> reload the
 * best model -> predict the test set -> write submission.csv -> draw the
 * predictions.
 *
 *   npm run kaggle -- [--data PATH] [--out DIR] [--preset fast|default|best]
 *                     [--model NAME] [--epochs N] [--ensemble K] [--holdout F] [--train-limit N]
 *                     [--backend wasm|cpu] [--seed N] [--batch-size N] [--max-rows N] [--force]
 *
 * A preset is a whole recipe (network, epochs, augmentation, schedule,
 * ensemble, test-time augmentation); `--model NAME` trains that network with a
 * plain recipe instead, as the original notebook did.
 *
 * A stratified 10 % of the labelled images is held out to pick each model's
 * best epoch and to score the final predictor. `--holdout 0` trains on all of
 * them, as one does for a final submission once the recipe is settled: each
 * model then keeps its epoch with the lowest training loss (with a one-cycle
 * schedule, almost always the last) and no validation accuracy is printed.
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
  DEFAULT_MAX_ROWS,
  DigitModelError,
  digitPresets,
  fileTrainingState,
  getDigitArchitecture,
  MNIST_SHA256,
  loadDigitModel,
  oneCycleSchedule,
  predictDigits,
  renderPredictionGrid,
  stratifiedSplit,
  subsetDataset,
  sweepStaleTempFiles,
  trainDigits,
  VERSION,
  writeFileAtomic,
  writeSubmission,
  type DigitEpochRecord,
  type TrainDigitsResult,
} from 'digit-recognizer';
import {
  csvLimits,
  fractionFlag,
  intFlag,
  loadKaggleData,
  MAX_ROWS_FLAG,
  parseFlags,
  ProgressBar,
  runScript,
  THREADS_FLAG,
  UsageError,
  useBackend,
} from './cli.js';

const USAGE =
  'usage: npm run kaggle -- [--data PATH] [--out DIR] [--preset fast|default|best] [--model NAME] [--epochs N] [--ensemble K] [--holdout F] [--train-limit N] [--backend wasm|cpu] [--threads N] [--seed N] [--batch-size N] [--max-rows N] [--force]';

runScript('kaggle', async () => {
  const flags = parseFlags(
    {
      data: { type: 'string' },
      out: { type: 'string', default: 'out' },
      preset: { type: 'string', default: 'default' },
      model: { type: 'string' },
      epochs: { type: 'string' },
      ensemble: { type: 'string' },
      holdout: { type: 'string' },
      'train-limit': { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
      seed: { type: 'string' },
      'batch-size': { type: 'string' },
      ...THREADS_FLAG,
      ...MAX_ROWS_FLAG,
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (flags.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const preset = digitPresets().find((p) => p.name === flags.preset);
  if (preset === undefined)
    throw new UsageError(
      `--preset must be one of ${digitPresets()
        .map((p) => p.name)
        .join(', ')}, got "${flags.preset}"`,
    );
  // --model picks a plain recipe for that network (no augmentation); the preset's settings stay for the rest.
  const custom = flags.model !== undefined;
  const architecture = getDigitArchitecture(flags.model ?? preset.architecture);
  const epochs = intFlag(flags.epochs, 'epochs', custom ? 3 : preset.epochs);
  const ensemble = intFlag(flags.ensemble, 'ensemble', custom ? 1 : preset.ensemble);
  const seed = intFlag(flags.seed, 'seed', 42, 0);
  const holdout = fractionFlag(flags.holdout, 'holdout', 0.1, 0.5);
  const batchSize = intFlag(flags['batch-size'], 'batch-size', preset.batchSize);
  const trainLimit =
    flags['train-limit'] === undefined ? undefined : intFlag(flags['train-limit'], 'train-limit', 0, 100);
  const recipe = custom
    ? { augment: false as const, labelSmoothing: 0, tta: false, learningRate: undefined }
    : {
        augment: preset.augment,
        labelSmoothing: preset.labelSmoothing,
        tta: preset.tta,
        learningRate: oneCycleSchedule(preset.maxLearningRate),
      };
  const out = resolve(flags.out);
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new UsageError(`--out ${flags.out} is a file, expected a folder`);
  const bar = new ProgressBar();
  const started = performance.now();
  const settings = {
    data: flags.data === undefined ? null : resolve(flags.data),
    preset: custom ? null : preset.name,
    model: architecture.name,
    epochs,
    ensemble,
    holdout,
    batchSize,
    seed,
    trainLimit: trainLimit ?? null,
    backend: flags.backend,
  };
  const finished = finishedRun(out, settings);
  if (finished !== undefined && flags.force !== true) {
    bar.line(`${flags.out} already holds this finished run (${finished}); nothing to do. Use --force to train again.`);
    return;
  }
  if (!custom) {
    const pct = (v: number): string => (v * 100).toFixed(2);
    const m = flags.data === undefined ? preset.measuredOnMnist : preset.measured;
    const expected =
      m === undefined
        ? `not yet benchmarked on ${flags.data === undefined ? 'MNIST' : 'the competition data'}`
        : `expect about ${m.minutes} min and ${'testAccuracy' in m ? `${pct(m.testAccuracy)} % on MNIST's test images` : `${pct(m.validationAccuracy)} % validation accuracy`} on a 2-core laptop (docs/benchmarks.md, ${m.date})`;
    const overrides = (['epochs', 'ensemble', 'holdout', 'batch-size', 'train-limit'] as const)
      .filter((f) => flags[f] !== undefined && !(f === 'holdout' && holdout === 0.1))
      .map((f) => `--${f}`);
    bar.line(
      `preset ${preset.name}: ${preset.description}; ${expected}${overrides.length === 0 ? '' : ` for the preset as is, not with ${overrides.join(' ')}`}`,
    );
  }

  // 1. Load the data. Everything the user gave is checked before anything is written.
  await useBackend(flags.backend, flags.threads);
  let t = performance.now();
  const data = await loadKaggleData(flags.data, trainLimit, csvLimits(flags['max-rows'], DEFAULT_MAX_ROWS));
  bar.line(
    `loaded ${data.train.count} training and ${data.test.count} test images from ${data.description} in ${seconds(t)} s (backend ${tf.getBackend()})`,
  );

  // One stratified hold-out shared by every ensemble member, so the ensemble itself can be scored on it.
  const split = holdout === 0 ? undefined : stratifiedSplit(data.train.labels!, holdout, seed);
  const trainSet = split === undefined ? data.train : subsetDataset(data.train, split.train, data.train.source);
  const validationSet =
    split === undefined || split.validation.length === 0
      ? undefined
      : subsetDataset(data.train, split.validation, `${data.train.source} (validation)`);
  if (validationSet === undefined)
    bar.line(
      `no hold-out: training on all ${trainSet.count} labelled images; each model keeps its epoch with the lowest training loss`,
    );

  mkdirSync(out, { recursive: true });
  await sweepStaleTempFiles(out);
  if (flags.force === true) rmSync(join(out, 'run.json'), { force: true });
  const interrupt = new AbortController();
  process.once('SIGINT', () => {
    bar.line('interrupted: finishing this batch; press Ctrl-C again to quit at once');
    interrupt.abort();
    process.once('SIGINT', () => process.exit(130));
  });

  const members: { bestDir: string; training: TrainDigitsResult; history: readonly DigitEpochRecord[] }[] = [];
  for (let k = 0; k < ensemble; k++) {
    const suffix = ensemble === 1 ? '' : `-${k + 1}`;
    const label = ensemble === 1 ? '' : `model ${k + 1}/${ensemble}: `;

    // 2. Build the network.
    const model = buildDigitCnn({ architecture, seed: seed + k });
    bar.line(`${label}${architecture.name}: ${model.countParams().toLocaleString('en-US')} parameters`);

    // 3. Train, keeping the best epoch on disk and the run's state after every epoch.
    const bestDir = join(out, `best-model${suffix}`);
    const state = fileTrainingState(join(out, `train-state${suffix}`));
    if (flags.force === true) await state.clear();
    const checkpoint = new CheckpointBestCallback({
      destination: bestDir,
      ...(validationSet === undefined ? { monitor: 'loss' } : {}),
    });
    const historyFile = join(out, `history${suffix}.csv`);
    const training = await trainDigits(model, trainSet, {
      ...(validationSet === undefined ? { validationSplit: 0 } : { validationData: validationSet }),
      epochs,
      batchSize,
      seed: seed + k,
      checkpoint,
      state,
      signal: interrupt.signal,
      augment: recipe.augment,
      labelSmoothing: recipe.labelSmoothing,
      ...(recipe.learningRate === undefined ? {} : { learningRate: recipe.learningRate }),
      onProgress: async (p) => {
        const text = `${label}epoch ${p.epoch}/${p.epochs} batch ${p.batch}/${p.batches} loss ${p.loss.toFixed(4)} acc ${p.acc.toFixed(4)} ${p.imagesPerSecond.toFixed(0)} img/s`;
        if (p.phase === 'batch') bar.update(p.batch / p.batches, text);
        else if (p.record !== undefined) {
          await writeFileAtomic(historyFile, historyCsv(p.history ?? []));
          const r = p.record;
          const validation =
            r.val_acc === undefined ? '' : ` val_loss ${r.val_loss?.toFixed(4)} val_acc ${r.val_acc.toFixed(4)}`;
          bar.line(
            `${label}epoch ${r.epoch}/${p.epochs}: loss ${r.loss.toFixed(4)} acc ${r.acc.toFixed(4)}${validation} (${r.seconds.toFixed(1)} s, ${r.imagesPerSecond.toFixed(0)} img/s)`,
          );
        }
      },
    }).catch((error: unknown) => {
      // The library's refusal names the state folder; only the script knows its own way out.
      if (error instanceof DigitModelError && error.target === state.description)
        throw new UsageError(`${error.message}, or add --force to start over`);
      throw error;
    });
    if (training.resumedEpochs > 0)
      bar.line(`${label}resumed after epoch ${training.resumedEpochs} from ${state.description}`);
    if (training.stopped) {
      bar.line(
        `stopped after epoch ${training.history.length}${ensemble === 1 ? '' : ` of model ${k + 1}`}; run the same command to resume`,
      );
      process.exit(130);
    }
    await writeFileAtomic(historyFile, historyCsv(training.history));
    bar.line(
      `${label}best epoch ${training.bestEpoch}: ${training.monitor} ${training.bestValue.toFixed(4)}, saved to ${bestDir}`,
    );
    members.push({ bestDir, training, history: training.history });
    model.dispose();
    checkpoint.dispose();
  }

  // 4. Reload the best models from disk, as a later session would.
  const best = [];
  for (const m of members) best.push(await loadDigitModel(m.bestDir));

  // 5. Score the final predictor (ensemble and TTA included) on the held-out split, then predict the test set.
  let validationAccuracy: number | undefined;
  if (validationSet !== undefined) {
    validationAccuracy = accuracy(await predictDigits(best, validationSet, { tta: recipe.tta }), validationSet.labels!);
    bar.line(
      `validation accuracy ${(validationAccuracy * 100).toFixed(2)} % on ${validationSet.count} held-out images${best.length > 1 || recipe.tta ? ` (${best.length} model(s)${recipe.tta ? ', TTA' : ''})` : ''}`,
    );
  }
  t = performance.now();
  const predictions = await predictDigits(best, data.test, {
    tta: recipe.tta,
    onProgress: (done, total) => bar.update(done / total, `predicting ${done}/${total}`),
  });
  const predictSeconds = (performance.now() - t) / 1000;
  bar.line(
    `predicted ${predictions.count} test images in ${predictSeconds.toFixed(1)} s (${(predictions.count / predictSeconds).toFixed(0)} img/s)`,
  );
  const testAccuracy = data.test.labels === undefined ? undefined : accuracy(predictions, data.test.labels);
  if (testAccuracy !== undefined)
    bar.line(`test accuracy ${(testAccuracy * 100).toFixed(2)} % on ${predictions.count} labelled test images`);

  // 6. Write the submission.
  await writeSubmission(predictions, join(out, 'submission.csv'));

  // 7. Draw the first 40 test digits with their predicted labels.
  const grid = renderPredictionGrid(data.test, predictions, {
    count: 40,
    title: `${architecture.name}${ensemble > 1 ? ` x${ensemble}` : ''}: predicted labels`,
  });
  await writeFileAtomic(join(out, 'predictions.png'), grid.png);
  await writeFileAtomic(join(out, 'predictions.svg'), grid.svg);

  const first = members[0]!.training;
  await writeFileAtomic(
    join(out, 'run.json'),
    `${JSON.stringify(
      {
        command: ['npm run kaggle --', ...process.argv.slice(2)].join(' '),
        versions: {
          'digit-recognizer': VERSION,
          tfjs: tf.version_core,
          backend: tf.getBackend(),
          node: process.versions.node,
        },
        complete: true,
        settings,
        data: { description: data.description, sha256: dataHashes(flags.data) },
        recipe: {
          augment: recipe.augment,
          labelSmoothing: recipe.labelSmoothing,
          tta: recipe.tta,
          maxLearningRate: custom ? null : preset.maxLearningRate,
        },
        trainImages: first.trainCount,
        validationImages: first.validationCount,
        models: members.map((m) => ({
          dir: m.bestDir,
          bestEpoch: m.training.bestEpoch,
          [`best_${m.training.monitor}`]: m.training.bestValue,
          resumedEpochs: m.training.resumedEpochs,
          epochSeconds: m.history.map((h) => Number(h.seconds.toFixed(2))),
        })),
        bestEpoch: first.bestEpoch,
        resumedEpochs: first.resumedEpochs,
        [`best_${first.monitor}`]: first.bestValue,
        validationAccuracy: validationAccuracy ?? null,
        testAccuracy: testAccuracy ?? null,
        seconds: { total: Number(seconds(started)), predict: Number(predictSeconds.toFixed(2)) },
      },
      null,
      2,
    )}\n`,
  );
  bar.line(
    `wrote ${out}/{best-model${ensemble > 1 ? '-*' : ''}/, history${ensemble > 1 ? '-*' : ''}.csv, submission.csv, predictions.png, predictions.svg, run.json} in ${seconds(started)} s`,
  );
});

/** A summary of the finished run in `out` made with `settings`, if there is one. */
function finishedRun(out: string, settings: object): string | undefined {
  try {
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as {
      complete?: boolean;
      settings?: object;
      bestEpoch?: number;
      testAccuracy?: number | null;
    };
    if (record.complete !== true || JSON.stringify(record.settings) !== JSON.stringify(settings)) return undefined;
    return `best epoch ${record.bestEpoch}${record.testAccuracy == null ? '' : `, test accuracy ${(record.testAccuracy * 100).toFixed(2)} %`}`;
  } catch {
    return undefined;
  }
}

/** SHA-256 of the data files, for the run record (MNIST's are fixed and verified on load). */
function dataHashes(path: string | undefined): Record<string, string> {
  if (path === undefined) return { ...MNIST_SHA256 };
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => /^(train|test)\.csv(\.gz)?$/.test(f))
        .map((f) => join(path, f))
    : [path];
  return Object.fromEntries(files.map((f) => [f, createHash('sha256').update(readFileSync(f)).digest('hex')]));
}

function historyCsv(history: readonly DigitEpochRecord[]): string {
  const cell = (v: number | undefined): string => (v === undefined ? '' : String(Number(v.toFixed(6))));
  const rows = history.map((h) =>
    [
      h.epoch,
      cell(h.seconds),
      cell(h.imagesPerSecond),
      cell(h.loss),
      cell(h.acc),
      cell(h.val_loss),
      cell(h.val_acc),
    ].join(','),
  );
  return `epoch,seconds,images_per_second,loss,acc,val_loss,val_acc\n${rows.join('\n')}\n`;
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}

/**
 * The whole Kaggle "Digit Recognizer" pipeline, step by step like the original notebook: load ->
 * plan -> build -> train with a best-model checkpoint -> reload the best models -> predict the
 * test set -> write submission.csv -> draw the predictions, the training curves and the hold-out's mistakes.
 *
 *   npm run kaggle -- [--data PATH] [--preset fast|default|best | --minutes N] [--out DIR] ...
 *   npm run kaggle -- --help                                      (every flag)
 *
 * A preset is a time budget for the whole command (2, 15 or 120 minutes): the planner calibrates
 * this machine on a few real steps of each network and picks the network, epochs, number of models
 * and test-time views that fit, and the budget re-plans while training if the host slows down (or,
 * early in the first model, picks another network when the run's speed shows the calibration wrong).
 * `--epochs N` (with `--arch`, `--ensemble`, `--tta`) fixes a run instead; `--model NAME` trains
 * that network with the original notebook's plain recipe.
 *
 * PATH is the competition zip, a folder with train.csv and test.csv, or omitted for the embedded
 * MNIST (whose test labels are known, so real test accuracy is printed). A stratified 10 % of the
 * labelled images is held out to pick each model's best epoch and score the run; `--holdout 0`
 * trains on all of them.
 *
 * Runs are resumable: re-running the same command after a crash, `kill -9` or Ctrl-C continues
 * from the last completed epoch with the same plan; a finished run says so instead of retraining.
 * One run at a time uses an --out folder: a second is refused, naming the first's process.
 * The plumbing (flags, plan, Ctrl-C, progress, run.json) is in ./kaggle_run.ts.
 */
import { join } from 'node:path';
import {
  accuracy,
  buildDigitCnn,
  CheckpointBestCallback,
  loadDigitModel,
  predictDigits,
  renderConfusionMatrix,
  renderPredictionGrid,
  renderTrainingCurves,
  trainDigits,
  writeFileAtomic,
  writeSubmission,
  type DigitEpochRecord,
  type DigitPredictions,
} from 'digit-recognizer';
import { runKaggle } from './kaggle_run.js';

runKaggle(async (run) => {
  // 1. Load the data, and hold out a stratified share of the labelled images, the same for every model.
  const data = await run.loadData();
  const { train, validation } = run.holdOut(data.train);

  // 2. Plan: which network, how many epochs, models and test-time views fit the budget on this machine.
  const plan = await run.makePlan(train, validation, data.test);

  const bestDirs: string[] = [];
  const histories: { label: string; history: DigitEpochRecord[] }[] = [];
  for (let k = 0; k < plan.models; k++) {
    // 3. Build the network.
    const model = buildDigitCnn({ architecture: plan.architecture, seed: run.seed + k });
    run.log(`${run.label(k)}${plan.architecture.name}: ${model.countParams().toLocaleString('en-US')} parameters`);

    // 4. Train it, keeping the best epoch on disk and the run's state after every epoch.
    const checkpoint = new CheckpointBestCallback({
      destination: run.bestDir(k),
      monitor: validation === undefined ? 'loss' : 'val_acc',
    });
    const state = await run.state(k);
    const training = await trainDigits(model, train, {
      ...plan.trainingOptions(k),
      ...(validation === undefined ? { validationSplit: 0 } : { validationData: validation }),
      seed: run.seed + k,
      checkpoint,
      state,
      signal: run.signal,
      onProgress: run.progress(k),
    }).catch(run.stateError(state));
    // 4b. The first model's steps weigh the calibration: when this machine trains so much faster or
    //     slower than calibrated that another network fits the budget better, the budget stopped it
    //     early; the plan is made again on the measured speed, once, and training starts over.
    if (await plan.repicked(k)) {
      model.dispose();
      checkpoint.dispose();
      k = -1;
      continue;
    }
    await run.trained(k, training);
    bestDirs.push(run.bestDir(k));
    histories.push({ label: `model ${k + 1}`, history: training.history });
    model.dispose();
    checkpoint.dispose();
  }

  // 5. Reload the best models from disk, as a later session would.
  const best = [];
  for (const dir of bestDirs) best.push(await loadDigitModel(dir));
  const tta = plan.finalViews();

  // 6. Score the final predictor (every model and view averaged) on the hold-out, then predict the test set.
  let validationAccuracy: number | undefined;
  let validationPredictions: DigitPredictions | undefined;
  if (validation !== undefined) {
    validationPredictions = await predictDigits(best, validation, { tta });
    validationAccuracy = accuracy(validationPredictions, validation.labels!);
    run.log(
      `validation accuracy ${(validationAccuracy * 100).toFixed(2)} % on ${validation.count} held-out images (${best.length} model(s), ${tta} view(s))`,
    );
  }
  const started = performance.now();
  const predictions = await predictDigits(best, data.test, { tta, onProgress: run.predicting });
  const predictSeconds = (performance.now() - started) / 1000;
  run.log(`predicted ${predictions.count} test images in ${predictSeconds.toFixed(1)} s`);
  const testAccuracy = data.test.labels === undefined ? undefined : accuracy(predictions, data.test.labels);
  if (testAccuracy !== undefined) {
    run.log(`test accuracy ${(testAccuracy * 100).toFixed(2)} % on ${predictions.count} labelled test images`);
  }

  // 7. Write the submission.
  await writeSubmission(predictions, join(run.out, 'submission.csv'));

  // 8. Draw: the first 40 test digits with their predicted labels, the training curves, and what the hold-out misread.
  const name = `${plan.architecture.name}${best.length > 1 ? ` x${best.length}` : ''}`;
  const pictures = {
    predictions: renderPredictionGrid(data.test, predictions, { count: 40, title: `${name}: predicted labels` }),
    history: renderTrainingCurves(histories.length === 1 ? histories[0]!.history : histories, {
      title: `${name}: training`,
    }),
    ...(validationPredictions === undefined
      ? {}
      : { confusion: renderConfusionMatrix(validation!, validationPredictions, { title: `${name}: hold-out` }) }),
  };
  for (const [file, picture] of Object.entries(pictures)) {
    await writeFileAtomic(join(run.out, `${file}.png`), picture.png);
    await writeFileAtomic(join(run.out, `${file}.svg`), picture.svg);
  }

  await run.finish({
    validationAccuracy,
    testAccuracy,
    predictSeconds,
    views: tta,
    outputs: [
      `best-model${best.length > 1 ? '-*' : ''}/`,
      `history${best.length > 1 ? '-*' : ''}.csv`,
      'submission.csv',
      ...Object.keys(pictures).flatMap((file) => [`${file}.png`, `${file}.svg`]),
    ],
  });
});

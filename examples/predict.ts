/**
 * Predicts a test set with one or more saved models (probabilities averaged)
 * and writes a Kaggle submission.
 *
 *   npm run predict -- --model DIR/best-model [--model ANOTHER] --data PATH --out FILE.csv [--backend wasm|cpu]
 *
 * PATH is the competition zip (its test.csv is used), a folder with test.csv,
 * or a CSV file (plain or .gz) in Kaggle's test or train format.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { accuracy, loadDigitCsv, loadDigitModel, predictDigits, writeSubmission } from 'digit-recognizer';
import { parseFlags, ProgressBar, runScript, UsageError, useBackend } from './cli.js';

const USAGE = 'usage: npm run predict -- --model DIR [--model DIR ...] --data PATH --out FILE.csv [--backend wasm|cpu]';

runScript('predict', async () => {
  const flags = parseFlags({
    model: { type: 'string', multiple: true },
    data: { type: 'string' },
    out: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    help: { type: 'boolean', short: 'h' },
  }, USAGE);
  if (flags.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (flags.model === undefined || flags.model.length === 0) throw new UsageError(`--model is required; see --help`);
  if (flags.data === undefined) throw new UsageError(`--data is required; see --help`);
  if (flags.out === undefined) throw new UsageError(`--out is required; see --help`);
  const bar = new ProgressBar();
  await useBackend(flags.backend);

  const models = [];
  for (const dir of flags.model) models.push(await loadDigitModel(dir));
  const data = await loadTestData(flags.data);
  const started = performance.now();
  const predictions = await predictDigits(models, data, { onProgress: (done, total) => bar.update(done / total, `predicting ${done}/${total}`) });
  const secs = (performance.now() - started) / 1000;
  bar.line(`predicted ${predictions.count} images with ${models.length} model(s) in ${secs.toFixed(1)} s (${(predictions.count / secs).toFixed(0)} img/s, backend ${tf.getBackend()})`);
  if (data.labels !== undefined) bar.line(`accuracy ${(accuracy(predictions, data.labels) * 100).toFixed(2)} % against the file's labels`);
  await writeSubmission(predictions, flags.out);
  bar.line(`wrote ${flags.out} (${predictions.count} rows)`);
});

async function loadTestData(path: string) {
  if (!existsSync(path)) throw new UsageError(`--data ${path}: no such file or folder`);
  if (statSync(path).isDirectory()) {
    for (const name of ['test.csv', 'test.csv.gz']) if (existsSync(join(path, name))) return loadDigitCsv(join(path, name));
    throw new UsageError(`--data ${path}: folder has no test.csv`);
  }
  const isZip = (await import('node:fs')).readFileSync(path).subarray(0, 4).toString('latin1') === 'PK\x03\x04';
  return loadDigitCsv(path, isZip ? { member: 'test.csv' } : {});
}

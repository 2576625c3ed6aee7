/**
 * Predicts a test set with one or more saved models (probabilities averaged)
 * and writes a Kaggle submission.
 *
 *   npm run predict -- --model DIR/best-model [--model ANOTHER] --data PATH --out FILE.csv [--tta] [--backend wasm|cpu] [--chunk-rows N] [--max-rows N]
 *
 * PATH is the competition zip (its test.csv is used), a folder with test.csv,
 * or a CSV file (plain or .gz) in Kaggle's test or train format. The CSV is
 * streamed in chunks of rows, so memory stays flat however many rows it has,
 * and the submission appears only once complete (Ctrl-C leaves nothing behind).
 * --tta averages five shifted views of each image, as a budget's TTA plan does.
 *
 * `--model pretrained` is the model inside the package. It, and any model trained on MNIST's
 * training images (the embedded default data), is refused for an unlabelled CSV: MNIST's training
 * images include most of the competition's test images. A labelled CSV is scored instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  loadDigitModel,
  loadPretrainedDigitModel,
  predictDigitCsv,
  sweepStaleTempFiles,
  type PredictDigitCsvProgress,
} from 'digit-recognizer';
import {
  commandName,
  csvLimits,
  intFlag,
  MAX_ROWS_FLAG,
  parseFlags,
  ProgressBar,
  runScript,
  THREADS_FLAG,
  UsageError,
  useBackend,
} from './cli.js';

const USAGE = [
  `usage: ${commandName('predict')} --model DIR [--model DIR ...] --data PATH --out FILE.csv [--tta] [--backend wasm|cpu] [--threads N] [--no-native] [--chunk-rows N] [--max-rows N]`,
  '',
  '  --model DIR     a saved model folder (e.g. out/best-model); several are averaged; `pretrained` is the packaged model',
  '  --data PATH     the competition zip (its test.csv), a folder with test.csv, or a CSV (plain or .gz)',
  '  --out FILE.csv  the submission to write (ImageId,Label), written whole or not at all',
  '  --tta           average five shifted views of each image',
  '  --backend NAME  wasm (default) or cpu; --threads N sets wasm threads',
  '  --no-native     WebAssembly kernels only, not the native ones (also DIGIT_RECOGNIZER_NATIVE=0)',
  '  --chunk-rows N  rows predicted at a time (default 4096): memory stays flat whatever the file size',
  '  --max-rows N    most rows read (default 1,000,000): a larger file is refused',
].join('\n');

/** Rows predicted at most unless --max-rows says otherwise: 35 times Kaggle's test.csv (memory stays flat anyway). */
const DEFAULT_PREDICT_ROWS = 1_000_000;

runScript('predict', async () => {
  const flags = parseFlags(
    {
      model: { type: 'string', multiple: true },
      data: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
      ...THREADS_FLAG,
      'chunk-rows': { type: 'string' },
      ...MAX_ROWS_FLAG,
      tta: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (flags.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (flags.model === undefined || flags.model.length === 0) throw new UsageError(`--model is required; see --help`);
  if (flags.data === undefined) throw new UsageError(`--data is required; see --help`);
  if (flags.out === undefined) throw new UsageError(`--out is required; see --help`);
  const chunkRows = intFlag(flags['chunk-rows'], 'chunk-rows', 4096);
  const bounds = csvLimits(flags['max-rows'], DEFAULT_PREDICT_ROWS);
  const bar = new ProgressBar();
  await useBackend(flags.backend, flags.threads, !flags['no-native']);

  const models = [];
  for (const dir of flags.model)
    models.push(dir === 'pretrained' ? await loadPretrainedDigitModel() : await loadDigitModel(dir));
  const { path, member } = await locateTestData(flags.data);

  // Ctrl-C stops between chunks; the library then removes its temp file.
  const controller = new AbortController();
  const interrupt = (): void => controller.abort(new UsageError('interrupted; nothing was written'));
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let lastLine = performance.now();
  const onProgress = ({ rows, bytesRead, totalBytes, seconds }: PredictDigitCsvProgress): void => {
    const rate = `${(rows / Math.max(seconds, 1e-3)).toFixed(0)} img/s`;
    bar.update(totalBytes === undefined ? 0 : bytesRead / totalBytes, `predicting: ${rows} rows, ${rate}`);
    // On a pipe the bar is silent: a line every 10 seconds instead.
    if (process.stderr.isTTY !== true && performance.now() - lastLine > 10_000) {
      lastLine = performance.now();
      bar.line(
        `predicting: ${rows} rows${totalBytes === undefined ? '' : ` (${((bytesRead / totalBytes) * 100).toFixed(0)} %)`}, ${rate}`,
      );
    }
  };
  // A submission a killed run left half-written beside --out goes first.
  await sweepStaleTempFiles(dirname(resolve(flags.out)), { names: [basename(flags.out)] });
  const result = await predictDigitCsv(models, path, {
    member,
    chunkRows,
    ...bounds,
    tta: flags.tta === true,
    destination: flags.out,
    onProgress,
    signal: controller.signal,
  });
  const secs = result.seconds;
  bar.line(
    `predicted ${result.count} images with ${models.length} model(s)${flags.tta === true ? ' and 5 test-time views' : ''} in ${secs.toFixed(1)} s (${(result.count / secs).toFixed(0)} img/s, backend ${tf.getBackend()})`,
  );
  if (result.accuracy !== undefined)
    bar.line(`accuracy ${(result.accuracy * 100).toFixed(2)} % against the file's labels`);
  bar.line(`wrote ${flags.out} (${result.count} rows)`);
});

/** The CSV to read: a folder's test.csv(.gz), the zip's test.csv member, or the file itself. */
async function locateTestData(path: string): Promise<{ path: string; member: string | undefined }> {
  if (!existsSync(path)) throw new UsageError(`--data ${path}: no such file or folder`);
  if (statSync(path).isDirectory()) {
    for (const name of ['test.csv', 'test.csv.gz'])
      if (existsSync(join(path, name))) return { path: join(path, name), member: undefined };
    throw new UsageError(`--data ${path}: folder has no test.csv`);
  }
  // Only the first bytes are read here: the file may be larger than memory.
  const handle = await open(path, 'r');
  const head = new Uint8Array(4);
  try {
    await handle.read(head, 0, 4, 0);
  } finally {
    await handle.close();
  }
  const isZip = head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4;
  return { path, member: isZip ? 'test.csv' : undefined };
}

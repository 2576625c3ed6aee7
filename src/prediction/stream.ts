/**
 * Streaming prediction: a test CSV of any size is read in row chunks, each
 * chunk is predicted, and the submission rows are streamed to a temp file that
 * replaces the destination only once every row is done. Memory stays at about
 * one chunk of pixels plus the model, whatever the number of rows.
 *
 * @module
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { streamDigitCsv, type DigitCsvSource, type StreamDigitCsvOptions } from '../data/csv.js';
import { DigitOutputError } from '../errors.js';
import { assertNotMnistTrained } from '../model/provenance.js';
import { nodeModules, tempFileName, toOutputError } from '../io/node.js';
import { predictDigits } from './predict.js';
import { SUBMISSION_HEADER } from './submission.js';

/** Options of {@link predictDigitCsv}: those of {@link streamDigitCsv} plus prediction and output settings. */
export interface PredictDigitCsvOptions extends StreamDigitCsvOptions {
  /**
   * Submission file to write (Node only), `ImageId,Label` rows as
   * {@link formatSubmission} makes them. Rows stream to a temp file beside it,
   * renamed over `destination` at the very end; on any error (bad row, full
   * disk, abort) the temp file is removed and `destination` is left untouched.
   * Without it nothing is written and the labels are only returned. Unlabelled rows (a competition's
   * test.csv) are refused for a model trained on MNIST's training images (`MNIST_TRAINED`; see
   * `trainingProvenance`), since those include most of the competition's test images.
   */
  readonly destination?: string;
  /** Images per forward pass. Default 256. */
  readonly batchSize?: number;
  /** Test-time augmentation, as {@link predictDigits}' `tta` (`true`: five views per image, averaged). Default false. */
  readonly tta?: boolean | number;
  /** Required number of rows (28,000 for Kaggle's test.csv); another count is `BAD_PREDICTIONS` and nothing is written. */
  readonly expectedRows?: number;
  /** Called after each chunk. */
  readonly onProgress?: (progress: PredictDigitCsvProgress) => void;
  /** Stops between chunks, removing the temp file, and rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/** Where a {@link predictDigitCsv} run stands. */
export interface PredictDigitCsvProgress {
  /** Rows predicted so far. */
  readonly rows: number;
  /** Uncompressed CSV bytes read so far. */
  readonly bytesRead: number;
  /** Uncompressed CSV size when known (not for gzip or streams). */
  readonly totalBytes: number | undefined;
  /** Seconds since the start. */
  readonly seconds: number;
}

/** What {@link predictDigitCsv} did. */
export interface PredictDigitCsvResult {
  /** Rows predicted. */
  readonly count: number;
  /** Predicted digit per row, in file order (one byte per row). */
  readonly labels: Uint8Array;
  /** For a labelled CSV (train.csv layout): the fraction predicted right; otherwise `undefined`. */
  readonly accuracy: number | undefined;
  /** The CSV's name (path, `archive.zip:member`...). */
  readonly source: string;
  /** The submission written, when `destination` was given. */
  readonly destination: string | undefined;
  /** Seconds taken. */
  readonly seconds: number;
}

/**
 * Predicts every row of a digit CSV with one model or an ensemble
 * (probabilities averaged, as {@link predictDigits}) in chunks of
 * `chunkRows`, streaming the submission to `destination` atomically. Use it
 * instead of {@link loadDigitCsv} + {@link predictDigits} +
 * {@link writeSubmission} for files too large to hold in memory; the labels
 * are the same.
 *
 * @example
 * ```ts
 * const result = await predictDigitCsv(model, 'test.csv', {
 *   destination: 'submission.csv',
 *   onProgress: ({ rows }) => console.log(rows),
 * });
 * ```
 * @throws {DigitInputError} for the CSV, as {@link loadDigitCsv}, naming the
 * line and column; nothing is written.
 * @throws {DigitOutputError} `NO_DIRECTORY`, `IS_DIRECTORY`, `NOT_WRITABLE`,
 * `NO_SPACE` for the destination, `BAD_PREDICTIONS` for a row count other than
 * `expectedRows` or an empty input; nothing partial is left behind.
 */
export async function predictDigitCsv(
  models: tfl.LayersModel | readonly tfl.LayersModel[],
  source: DigitCsvSource,
  options: PredictDigitCsvOptions = {},
): Promise<PredictDigitCsvResult> {
  const { destination, expectedRows, signal } = options;
  if (expectedRows !== undefined && !(Number.isInteger(expectedRows) && expectedRows >= 1)) {
    throw new RangeError(`expectedRows is ${String(expectedRows)}, expected a positive integer`);
  }
  signal?.throwIfAborted();
  const started = performance.now();
  const writer = destination === undefined ? undefined : await AtomicTextWriter.open(destination);
  try {
    let labels = new Uint8Array(1024);
    let count = 0;
    let right = 0;
    let labelled = false;
    let name = '';
    const list = Array.isArray(models) ? models : [models as tfl.LayersModel];
    for await (const chunk of streamDigitCsv(source, options)) {
      signal?.throwIfAborted();
      name = chunk.source;
      // Unlabelled rows written as a submission: a model that saw MNIST's training images has seen most of
      // the competition's test images. Labelled rows are an evaluation, which any model may do.
      if (writer !== undefined && chunk.labels === undefined) {
        for (const [i, m] of list.entries()) assertNotMnistTrained(m, list.length === 1 ? 'model' : `model ${i + 1}`);
      }
      const predictions = await predictDigits(models, chunk, {
        tta: options.tta ?? false,
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      });
      if (count + chunk.count > labels.length) {
        const grown = new Uint8Array(Math.max(labels.length * 2, count + chunk.count));
        grown.set(labels.subarray(0, count));
        labels = grown;
      }
      labels.set(predictions.labels, count);
      if (chunk.labels !== undefined) {
        labelled = true;
        for (let i = 0; i < chunk.count; i++) if (chunk.labels[i] === predictions.labels[i]) right++;
      }
      if (writer !== undefined) {
        const lines = new Array<string>(chunk.count + (count === 0 ? 1 : 0));
        let k = 0;
        if (count === 0) lines[k++] = SUBMISSION_HEADER;
        for (let i = 0; i < chunk.count; i++) lines[k++] = `${chunk.offset + i + 1},${predictions.labels[i] as number}`;
        await writer.write(`${lines.join('\n')}\n`);
      }
      count += chunk.count;
      options.onProgress?.({
        rows: count,
        bytesRead: chunk.bytesRead,
        totalBytes: chunk.totalBytes,
        seconds: (performance.now() - started) / 1000,
      });
    }
    const target = destination ?? 'submission';
    if (count === 0)
      throw new DigitOutputError('BAD_PREDICTIONS', target, 'no predictions: a submission needs at least one row');
    if (expectedRows !== undefined && count !== expectedRows) {
      throw new DigitOutputError(
        'BAD_PREDICTIONS',
        target,
        `${count} predictions, expected ${expectedRows} rows (one per test image)`,
      );
    }
    await writer?.commit();
    return {
      count,
      labels: labels.slice(0, count),
      accuracy: labelled ? right / count : undefined,
      source: name,
      destination,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    await writer?.abort();
    throw error;
  }
}

/**
 * Streams text to a temp file beside `target` and renames it over `target` on
 * {@link commit}; {@link abort} removes it. File system errors become
 * {@link DigitOutputError}s naming `target`.
 */
class AtomicTextWriter {
  private constructor(
    private readonly target: string,
    private readonly temp: string,
    private readonly handle: import('node:fs/promises').FileHandle,
    private readonly fs: typeof import('node:fs/promises'),
  ) {}

  static async open(target: string): Promise<AtomicTextWriter> {
    const { fs, path } = await nodeModules(target);
    const dir = path.dirname(path.resolve(target));
    const dirStat = await fs.stat(dir).catch(() => undefined);
    if (dirStat === undefined) throw new DigitOutputError('NO_DIRECTORY', target, `directory ${dir} does not exist`);
    if (!dirStat.isDirectory()) throw new DigitOutputError('NO_DIRECTORY', target, `${dir} is not a directory`);
    const targetStat = await fs.stat(target).catch(() => undefined);
    if (targetStat?.isDirectory() === true)
      throw new DigitOutputError('IS_DIRECTORY', target, 'is a directory, expected a file path');
    const temp = path.join(dir, tempFileName(path.basename(target)));
    try {
      return new AtomicTextWriter(target, temp, await fs.open(temp, 'wx'), fs);
    } catch (error) {
      throw toOutputError(error, target);
    }
  }

  async write(text: string): Promise<void> {
    try {
      await this.handle.writeFile(text);
    } catch (error) {
      throw toOutputError(error, this.target);
    }
  }

  async commit(): Promise<void> {
    try {
      await this.handle.sync();
      await this.handle.close();
      await this.fs.rename(this.temp, this.target);
    } catch (error) {
      throw toOutputError(error, this.target);
    }
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await this.fs.rm(this.temp, { force: true }).catch(() => undefined);
  }
}

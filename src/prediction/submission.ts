/**
 * Kaggle submission files: `ImageId,Label` then one row per test image, ImageId
 * counting from 1. Text is built in memory (works in browsers); a file path
 * writes it atomically under Node.
 */
import { DigitOutputError } from '../errors.js';
import { writeFileAtomic } from '../io/node.js';
import type { DigitPredictions } from './predictions.js';

/** The header line of a Digit Recognizer submission, without its newline. */
export const SUBMISSION_HEADER = 'ImageId,Label';

/** Checks on a submission before it is built or written. */
export interface SubmissionOptions {
  /** Required number of rows (28,000 for Kaggle's test.csv); another count is rejected as `BAD_PREDICTIONS`. */
  readonly expectedRows?: number;
}

/**
 * Builds the submission CSV text: `ImageId,Label`, then `1,<label>`, `2,<label>`
 * and so on, LF line ends and a final newline. Throws a {@link DigitOutputError}
 * with code `BAD_PREDICTIONS` when there are no labels, a label is not an
 * integer 0..9 (the message names its ImageId), or the row count differs from
 * `options.expectedRows`.
 *
 * @param predictions Predictions, or the predicted labels alone in test-set order.
 * @param name What to call the output in error messages (a path or `submission`).
 */
export function formatSubmission(
  predictions: DigitPredictions | ArrayLike<number>,
  options: SubmissionOptions = {},
  name = 'submission',
): string {
  const labels = submissionLabels(predictions, name);
  if (labels.length === 0)
    throw new DigitOutputError('BAD_PREDICTIONS', name, 'no predictions: a submission needs at least one row');
  const expected = options.expectedRows;
  if (expected !== undefined) {
    if (!Number.isInteger(expected) || expected < 1) {
      throw new RangeError(`expectedRows is ${String(expected)}, expected a positive integer`);
    }
    if (labels.length !== expected) {
      throw new DigitOutputError(
        'BAD_PREDICTIONS',
        name,
        `${labels.length} predictions, expected ${expected} rows (one per test image)`,
      );
    }
  }
  const rows = new Array<string>(labels.length + 1);
  rows[0] = SUBMISSION_HEADER;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label > 9) {
      throw new DigitOutputError(
        'BAD_PREDICTIONS',
        name,
        `ImageId ${i + 1}: label ${String(label)} is not a digit 0..9`,
      );
    }
    rows[i + 1] = `${i + 1},${label}`;
  }
  rows.push('');
  return rows.join('\n');
}

/**
 * Builds the submission CSV (see {@link formatSubmission}) and returns its text.
 * When `destination` is given (Node only) the text is also written there
 * atomically: nothing is written when validation fails, and an existing file is
 * replaced only by the complete new one. Write problems throw
 * {@link DigitOutputError} (`NO_DIRECTORY`, `IS_DIRECTORY`, `NOT_WRITABLE`, `NO_SPACE`).
 * In a browser, call it without a destination and save or upload the text.
 *
 * @example
 * ```ts
 * await writeSubmission(predictions, 'submission.csv', { expectedRows: 28_000 });
 * ```
 */
export async function writeSubmission(
  predictions: DigitPredictions | ArrayLike<number>,
  destination?: string,
  options: SubmissionOptions = {},
): Promise<string> {
  const text = formatSubmission(predictions, options, destination ?? 'submission');
  if (destination !== undefined) await writeFileAtomic(destination, text);
  return text;
}

function submissionLabels(predictions: DigitPredictions | ArrayLike<number>, name: string): ArrayLike<unknown> {
  if (typeof predictions !== 'object' || predictions === null) {
    throw new DigitOutputError('BAD_PREDICTIONS', name, 'predictions must be DigitPredictions or an array of labels');
  }
  if ('labels' in predictions && 'confidences' in predictions) {
    const { labels, count } = predictions;
    if (typeof labels !== 'object' || labels === null || typeof labels.length !== 'number') {
      throw new DigitOutputError('BAD_PREDICTIONS', name, 'predictions.labels is not an array of labels');
    }
    if (count !== labels.length) {
      throw new DigitOutputError(
        'BAD_PREDICTIONS',
        name,
        `predictions.count is ${count} but there are ${labels.length} labels`,
      );
    }
    return labels;
  }
  if (typeof (predictions as ArrayLike<number>).length !== 'number') {
    throw new DigitOutputError('BAD_PREDICTIONS', name, 'predictions must be DigitPredictions or an array of labels');
  }
  return predictions as ArrayLike<number>;
}

/** Counts of true digit against predicted digit, and the mix-ups ranked: the numbers behind a confusion picture. */
import { NUM_CLASSES } from '../data/dataset.js';
import type { DigitPredictions } from './predictions.js';

/** Images of digit `label` read as `predicted` (`label !== predicted`). */
export interface DigitConfusionPair {
  readonly label: number;
  readonly predicted: number;
  readonly count: number;
}

/** What {@link confusionMatrix} returns. */
export interface DigitConfusionMatrix {
  /** `counts[label][predicted]`: images of true digit `label` predicted as `predicted`; 10 rows of 10. */
  readonly counts: readonly (readonly number[])[];
  /** Images of each true digit (row sums). */
  readonly labelTotals: readonly number[];
  /** Images predicted as each digit (column sums). */
  readonly predictedTotals: readonly number[];
  readonly total: number;
  /** Images on the diagonal. */
  readonly correct: number;
  /** `correct / total`; NaN for no images. */
  readonly accuracy: number;
  /** Every mix-up that happened, most frequent first; ties by true digit, then predicted digit. */
  readonly pairs: readonly DigitConfusionPair[];
  /** Indices of the misread images, ascending. */
  readonly misread: readonly number[];
}

/**
 * Tallies true labels against predicted ones. Throws `RangeError` when the
 * two differ in length or hold a value outside 0..9, `TypeError` for
 * arguments of the wrong kind.
 *
 * @param labels The true digits.
 * @param predictions Predictions for the same images in the same order, or their labels alone.
 */
export function confusionMatrix(labels: Uint8Array, predictions: DigitPredictions | Uint8Array): DigitConfusionMatrix {
  if (!(labels instanceof Uint8Array)) throw new TypeError('labels must be a Uint8Array of digits 0..9');
  const predicted = predictions instanceof Uint8Array ? predictions : predictions?.labels;
  if (!(predicted instanceof Uint8Array)) {
    throw new TypeError('predictions must be DigitPredictions or a Uint8Array of predicted digits');
  }
  if (predicted.length !== labels.length) {
    throw new RangeError(`${predicted.length} predictions for ${labels.length} labels`);
  }
  const counts = Array.from({ length: NUM_CLASSES }, () => new Array<number>(NUM_CLASSES).fill(0));
  const misread: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    const guess = predicted[i] as number;
    if (label >= NUM_CLASSES) throw new RangeError(`labels[${i}] is ${label}, expected a digit 0..9`);
    if (guess >= NUM_CLASSES) throw new RangeError(`predictions[${i}] is ${guess}, expected a digit 0..9`);
    (counts[label] as number[])[guess]! += 1;
    if (label !== guess) misread.push(i);
  }
  const pairs: DigitConfusionPair[] = [];
  const labelTotals: number[] = [];
  const predictedTotals = new Array<number>(NUM_CLASSES).fill(0);
  let correct = 0;
  counts.forEach((row, label) => {
    labelTotals.push(row.reduce((sum, n) => sum + n, 0));
    row.forEach((count, guess) => {
      predictedTotals[guess]! += count;
      if (label === guess) correct += count;
      else if (count > 0) pairs.push({ label, predicted: guess, count });
    });
  });
  // Rows then columns is already the tie order; a stable sort keeps it.
  pairs.sort((a, b) => b.count - a.count);
  return {
    counts,
    labelTotals,
    predictedTotals,
    total: labels.length,
    correct,
    accuracy: labels.length === 0 ? Number.NaN : correct / labels.length,
    pairs,
    misread,
  };
}

/** What a model predicted for a set of images, compactly. */
export interface DigitPredictions {
  /** Number of images. */
  readonly count: number;
  /** Predicted digit per image, 0..9. */
  readonly labels: Uint8Array;
  /** Probability of the predicted digit per image, 0..1. */
  readonly confidences: Float32Array;
  /** All ten class probabilities per image (`count * 10`), when kept. */
  readonly probabilities?: Float32Array;
}

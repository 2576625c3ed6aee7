import type { AugmentOptions } from './augment.js';

/** A complete training recipe: what the example's `--preset` selects. */
export interface DigitPreset {
  readonly name: string;
  readonly description: string;
  /** Registered architecture to train. */
  readonly architecture: string;
  readonly epochs: number;
  readonly batchSize: number;
  /** Models trained with consecutive seeds and averaged (1 = a single model). */
  readonly ensemble: number;
  /** Peak learning rate of a one-cycle schedule. */
  readonly maxLearningRate: number;
  readonly augment: AugmentOptions | false;
  readonly labelSmoothing: number;
  /** Test-time augmentation when predicting. */
  readonly tta: boolean;
  /**
   * What the recipe achieved in `docs/benchmarks.md` on the benchmark machine
   * (2-core AMD Zen 5) with the competition's train.csv (10 % held out), or
   * undefined until measured.
   */
  readonly measured?: { readonly minutes: number; readonly validationAccuracy: number; readonly date: string };
  /** The same for MNIST: trained on its 60,000 images, scored on its 10,000 test images. */
  readonly measuredOnMnist?: { readonly minutes: number; readonly testAccuracy: number; readonly date: string };
}

const PRESETS: readonly DigitPreset[] = Object.freeze([
  {
    name: 'fast',
    description: 'compact CNN, 5 epochs with augmentation and a one-cycle schedule: a first submission in minutes',
    architecture: 'compact',
    epochs: 5,
    batchSize: 64,
    ensemble: 1,
    maxLearningRate: 0.004,
    // Without augmentation compact levels off at 98.9-99.0 %; with it 5 epochs gave 99.10-99.33 % in four runs (docs/benchmarks.md).
    augment: { rotation: 10, shift: 2.5, zoom: 0.1 },
    labelSmoothing: 0,
    tta: false,
    measured: { minutes: 2.6, validationAccuracy: 0.9926, date: '2026-11-24' },
    measuredOnMnist: { minutes: 4.0, testAccuracy: 0.9937, date: '2026-11-24' },
  },
  {
    name: 'default',
    description: 'batch-normalised CNN with pooling (lean), 7 epochs with augmentation and a one-cycle schedule',
    architecture: 'lean',
    epochs: 7,
    batchSize: 64,
    ensemble: 1,
    maxLearningRate: 0.004,
    augment: { rotation: 10, shift: 2.5, zoom: 0.1 },
    labelSmoothing: 0.05,
    tta: false,
    measured: { minutes: 8.6, validationAccuracy: 0.9943, date: '2026-11-24' },
    measuredOnMnist: { minutes: 11.6, testAccuracy: 0.9959, date: '2026-11-24' },
  },
  {
    name: 'best',
    description:
      'ensemble of 2 strong batch-normalised CNNs, 15 epochs each with augmentation, averaged with test-time augmentation',
    architecture: 'strong',
    // 2 x 10 epochs gave 99.50 % in 69.2 min; 15 epochs fill the 2-hour budget with room for a slower machine (docs/benchmarks.md).
    epochs: 15,
    batchSize: 64,
    ensemble: 2,
    maxLearningRate: 0.004,
    augment: { rotation: 10, shift: 2.5, zoom: 0.1 },
    labelSmoothing: 0.05,
    tta: true,
    measured: { minutes: 89.1, validationAccuracy: 0.9957, date: '2026-11-24' },
    measuredOnMnist: { minutes: 104.3, testAccuracy: 0.9969, date: '2026-11-25' },
  },
]);

/** The built-in training presets: `fast`, `default` and `best`. */
export function digitPresets(): readonly DigitPreset[] {
  return PRESETS;
}

import { DigitModelError } from '../errors.js';
import type { AugmentOptions } from './augment.js';

/**
 * How one network is trained when a budget planner picks it: everything but the number of epochs and
 * models, which the planner sizes to the time there is. Every recipe runs Adam under a one-cycle
 * schedule peaking at `maxLearningRate`.
 */
export interface DigitRecipe {
  /** Registered architecture (see `getDigitArchitecture`). */
  readonly architecture: string;
  readonly batchSize: number;
  /** Peak learning rate of the one-cycle schedule. */
  readonly maxLearningRate: number;
  readonly augment: AugmentOptions | false;
  readonly labelSmoothing: number;
  /** Fewest epochs this network is worth training for: below it the planner takes a smaller network. */
  readonly minEpochs: number;
  /**
   * Epochs after which a second model of the ensemble pays more than more epochs of this one: the
   * planner splits a longer budget into models of at least this many epochs.
   */
  readonly fullEpochs: number;
}

const AUGMENT: AugmentOptions = Object.freeze({ rotation: 10, shift: 2.5, zoom: 0.1 });

// Ordered from the most accurate network to the cheapest: the planner takes the first one whose
// `minEpochs` fit the budget. The thresholds follow the hold-out screening by epochs
// (docs/benchmarks-history.md, "Screening the zoo on a GPU"): `strong` draws level with `lean`
// trained for twice the epochs only at about 10-12 of its own; below that the planner is better
// off with the cheaper network, as `default`'s runs 5 and 6 in docs/benchmarks.md ("Presets") show.
const RECIPES: readonly DigitRecipe[] = Object.freeze([
  {
    architecture: 'strong',
    batchSize: 64,
    maxLearningRate: 0.004,
    augment: AUGMENT,
    labelSmoothing: 0.05,
    minEpochs: 12,
    fullEpochs: 15,
  },
  {
    architecture: 'lean',
    batchSize: 64,
    maxLearningRate: 0.004,
    augment: AUGMENT,
    labelSmoothing: 0.05,
    minEpochs: 4,
    fullEpochs: 10,
  },
  {
    architecture: 'compact',
    batchSize: 64,
    maxLearningRate: 0.004,
    augment: AUGMENT,
    labelSmoothing: 0,
    minEpochs: 2,
    fullEpochs: 8,
  },
]);

/** The built-in recipes, most accurate network first: what the planner chooses from by default. */
export function digitRecipes(): readonly DigitRecipe[] {
  return RECIPES;
}

/** The built-in recipe for `architecture`, or a typed error naming the ones there are. */
export function getDigitRecipe(architecture: string): DigitRecipe {
  const found = RECIPES.find((r) => r.architecture === architecture);
  if (found === undefined) {
    const known = RECIPES.map((r) => r.architecture).join(', ');
    throw new DigitModelError(
      'UNKNOWN_ARCHITECTURE',
      architecture,
      `has no built-in recipe; recipes exist for ${known}`,
    );
  }
  return found;
}

import { DigitModelError } from '../errors.js';
import { digitRecipes, type DigitRecipe } from './recipes.js';

/** What one network costs on this machine, measured by `calibrateDigitRecipe` (or given by you). */
export interface DigitRecipeCost {
  /** Seconds per training image: forward, backward, optimiser step and augmentation. */
  readonly trainSecondsPerImage: number;
  /** Seconds per predicted image, for one model and one view. */
  readonly predictSecondsPerImage: number;
}

/** Options of {@link planDigitTraining}. */
export interface PlanDigitTrainingOptions {
  /** The whole budget, in seconds, counted from `startedAt`: loading, training, prediction, outputs. */
  readonly seconds: number;
  readonly trainImages: number;
  /** Held-out images scored after every epoch and at the end (0 for none). */
  readonly validationImages: number;
  /** Images to predict at the end. */
  readonly testImages: number;
  /**
   * What each recipe costs here. Called for the recipes in order, most accurate first, until one
   * fits, so only the networks that matter are calibrated: pass `(r) => calibrateDigitRecipe(r, data)`.
   */
  readonly measure: (recipe: DigitRecipe) => DigitRecipeCost | Promise<DigitRecipeCost>;
  /** The candidates, most accurate first. Default {@link digitRecipes}. */
  readonly recipes?: readonly DigitRecipe[];
  /** Only this network. */
  readonly architecture?: string;
  /** Exactly this many models (default: as many as the budget fills with models of `fullEpochs`). */
  readonly ensemble?: number;
  /** Exactly this many test-time views (1 = none; default: the planner's rule, see `ttaShare`). */
  readonly ttaViews?: number;
  /** Seconds on a monotonic clock. Default `performance.now() / 1000`. */
  readonly clock?: () => number;
  /** Clock reading when the budget began (the command's start). Default: the clock when called. */
  readonly startedAt?: number;
  /** Fraction of the budget held back for the host's noise. Default 0.03. */
  readonly margin?: number;
  /**
   * Largest share of the budget that test-time augmentation (5 views instead of 1) may add to the
   * final prediction for the planner to use it. Default {@link TTA_SHARE}.
   */
  readonly ttaShare?: number;
}

/** A plan: what to train and predict so the whole run ends within its budget on this machine. */
export interface DigitPlan {
  readonly recipe: DigitRecipe;
  readonly epochs: number;
  readonly ensemble: number;
  /** Views per test image (1: no test-time augmentation). */
  readonly ttaViews: number;
  readonly cost: DigitRecipeCost;
  readonly budgetSeconds: number;
  /** Clock reading the budget counts from, and the clock the plan was made with. */
  readonly startedAt: number;
  readonly clock: () => number;
  /** Seconds already spent when the plan was made (loading, calibration). */
  readonly elapsedSeconds: number;
  readonly trainImages: number;
  readonly validationImages: number;
  readonly testImages: number;
  /** The planned seconds of each part; `total` includes `elapsedSeconds`. */
  readonly estimate: DigitPlanEstimate;
  /**
   * What the planner chose from, so that a run can re-plan on the speed it measures
   * ({@link replanDigitTraining}). Absent from plans made by hand or saved by older versions.
   */
  readonly candidates?: DigitPlanCandidates;
}

/** The planner's candidates and rules, kept with a plan. */
export interface DigitPlanCandidates {
  /** Every candidate in the planner's order, most accurate first, with its cost where it was measured. */
  readonly recipes: readonly { readonly recipe: DigitRecipe; readonly cost?: DigitRecipeCost }[];
  readonly margin: number;
  readonly ttaShare: number;
  /** The ensemble size and test-time views asked for, if any. */
  readonly ensemble?: number;
  readonly ttaViews?: number;
}

/** Options of {@link replanDigitTraining}. */
export interface ReplanDigitTrainingOptions {
  /**
   * The step time the run measured over the one calibrated (2: steps take twice as long). Every
   * candidate's cost is scaled by it: the calibration's error is taken to be the same for every network.
   */
  readonly speed: number;
  /** Measures a candidate the first plan did not (same contract as the planner's `measure`). */
  readonly measure: (recipe: DigitRecipe) => DigitRecipeCost | Promise<DigitRecipeCost>;
}

/** Where a plan's seconds go. */
export interface DigitPlanEstimate {
  readonly training: number;
  /** Scoring the hold-out after every epoch. */
  readonly validation: number;
  /** Scoring the hold-out and predicting the test images at the end, every model and view. */
  readonly prediction: number;
  /** Checkpoints, states, reloading models and writing outputs. */
  readonly overhead: number;
  readonly total: number;
}

/** Test-time views the planner uses when it uses any (the centre and four one-pixel shifts). */
export const TTA_VIEWS = 5;
/** Default {@link PlanDigitTrainingOptions.ttaShare}. */
export const TTA_SHARE = 0.04;
/** Seconds a finished run spends reloading each model and writing its outputs. */
export const RESERVE_SECONDS = { fixed: 2, perModel: 0.5 } as const;
/** Seconds each epoch spends saving the checkpoint and the training state. */
export const EPOCH_OVERHEAD_SECONDS = 0.3;

/**
 * Plans a training run that fills `seconds` on this machine: the most accurate recipe whose
 * `minEpochs` fit, then as many models of at least `fullEpochs` as fit (one model takes every epoch
 * that fits when two would not), then test-time augmentation when it costs under `ttaShare` of the
 * budget. A budget too small for the cheapest recipe is refused with a {@link DigitModelError}
 * (`BUDGET_TOO_SMALL`) that names the smallest budget that would do.
 */
export async function planDigitTraining(options: PlanDigitTrainingOptions): Promise<DigitPlan> {
  const clock = options.clock ?? (() => performance.now() / 1000);
  const startedAt = options.startedAt ?? clock();
  const margin = options.margin ?? 0.03;
  const ttaShare = options.ttaShare ?? TTA_SHARE;
  if (!(options.seconds > 0)) throw new RangeError(`the budget must be positive, got ${options.seconds} s`);
  for (const key of ['ensemble', 'ttaViews'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1))
      throw new RangeError(`${key} must be an integer >= 1, got ${v}`);
  }
  let recipes = options.recipes ?? digitRecipes();
  if (options.architecture !== undefined) recipes = recipes.filter((r) => r.architecture === options.architecture);
  if (recipes.length === 0) {
    throw new DigitModelError('UNKNOWN_ARCHITECTURE', options.architecture ?? 'recipes', 'no recipe to plan with');
  }
  const candidates: DigitPlanCandidates = {
    recipes: recipes.map((recipe) => ({ recipe })),
    margin,
    ttaShare,
    ...(options.ensemble === undefined ? {} : { ensemble: options.ensemble }),
    ...(options.ttaViews === undefined ? {} : { ttaViews: options.ttaViews }),
  };
  return pick(candidates, options.measure, {
    seconds: options.seconds,
    trainImages: options.trainImages,
    validationImages: options.validationImages,
    testImages: options.testImages,
    clock,
    startedAt,
  });
}

/**
 * Plans again, from the same candidates and budget, at the speed a run has measured: what the run
 * does when its first steps show the calibration was wrong by more than the budget can absorb
 * (see `DigitBudget`'s `repick`). The time already spent counts; the plan it returns starts now.
 */
export async function replanDigitTraining(plan: DigitPlan, options: ReplanDigitTrainingOptions): Promise<DigitPlan> {
  const speed = options.speed;
  if (!(speed > 0 && Number.isFinite(speed))) throw new RangeError(`speed must be a positive number, got ${speed}`);
  if (plan.candidates === undefined) throw new RangeError('this plan has no candidates to re-plan with');
  const scaled = (cost: DigitRecipeCost): DigitRecipeCost => ({
    trainSecondsPerImage: cost.trainSecondsPerImage * speed,
    predictSecondsPerImage: cost.predictSecondsPerImage * speed,
  });
  const known = new Map(plan.candidates.recipes.map((c) => [c.recipe.architecture, c.cost]));
  return pick(
    plan.candidates,
    async (recipe) => scaled(known.get(recipe.architecture) ?? (await options.measure(recipe))),
    {
      seconds: plan.budgetSeconds,
      trainImages: plan.trainImages,
      validationImages: plan.validationImages,
      testImages: plan.testImages,
      clock: plan.clock,
      startedAt: plan.startedAt,
    },
  );
}

/**
 * Whether planning again at `speed` would pick another network: a more accurate candidate that
 * was measured now fits, or the planned one, continued, no longer reaches its `minEpochs` while a
 * cheaper candidate exists. `keptSeconds` is the training the current model has already done,
 * which continuing keeps and starting over loses. For `DigitBudget`.
 */
export function wouldRepick(plan: DigitPlan, speed: number, keptSeconds: number): boolean {
  const c = plan.candidates;
  if (c === undefined) return false;
  const at = c.recipes.findIndex((r) => r.recipe.architecture === plan.recipe.architecture);
  if (at < 0) return false;
  const available = plan.budgetSeconds * (1 - c.margin) - (plan.clock() - plan.startedAt);
  const shape: FitOptions = {
    trainImages: plan.trainImages,
    validationImages: plan.validationImages,
    testImages: plan.testImages,
    ...(c.ensemble === undefined ? {} : { ensemble: c.ensemble }),
    ...(c.ttaViews === undefined ? {} : { ttaViews: c.ttaViews }),
  };
  const fits = (recipe: DigitRecipe, cost: DigitRecipeCost, seconds: number): boolean =>
    fitRecipe(
      recipe,
      {
        trainSecondsPerImage: cost.trainSecondsPerImage * speed,
        predictSecondsPerImage: cost.predictSecondsPerImage * speed,
      },
      shape,
      seconds,
      c.ttaShare * plan.budgetSeconds,
    ) !== undefined;
  for (const { recipe, cost } of c.recipes.slice(0, at))
    if (cost !== undefined && fits(recipe, cost, available)) return true;
  return at < c.recipes.length - 1 && !fits(plan.recipe, plan.cost, available + keptSeconds);
}

interface Counts {
  readonly seconds: number;
  readonly trainImages: number;
  readonly validationImages: number;
  readonly testImages: number;
  readonly clock: () => number;
  readonly startedAt: number;
}

/** The planner: the first candidate, in order, whose `minEpochs` fit what is left of the budget. */
async function pick(
  candidates: DigitPlanCandidates,
  measure: (recipe: DigitRecipe) => DigitRecipeCost | Promise<DigitRecipeCost>,
  counts: Counts,
): Promise<DigitPlan> {
  const { clock, startedAt, margin, ttaShare } = { ...counts, ...candidates };
  const shape = { ...counts, ...candidates };
  const measured: { recipe: DigitRecipe; cost?: DigitRecipeCost }[] = candidates.recipes.map((c) => ({ ...c }));
  let smallest: { seconds: number; what: string } | undefined;
  for (const entry of measured) {
    const recipe = entry.recipe;
    const cost = await measure(recipe);
    entry.cost = cost;
    const elapsed = clock() - startedAt;
    const fit = fitRecipe(recipe, cost, shape, counts.seconds * (1 - margin) - elapsed, ttaShare * counts.seconds);
    if (fit !== undefined) {
      return Object.freeze({
        recipe,
        cost,
        budgetSeconds: counts.seconds,
        startedAt,
        clock,
        elapsedSeconds: elapsed,
        trainImages: counts.trainImages,
        validationImages: counts.validationImages,
        testImages: counts.testImages,
        ...fit,
        estimate: { ...fit.estimate, total: fit.estimate.total + elapsed },
        candidates: { ...candidates, recipes: measured },
      });
    }
    const need = (estimateRun(cost, shape, recipe.minEpochs, 1, 1).total + elapsed) / (1 - margin);
    if (smallest === undefined || need < smallest.seconds) {
      smallest = { seconds: need, what: `${recipe.architecture}, ${recipe.minEpochs} epochs` };
    }
  }
  const minutes = (s: number): string => `${Math.ceil((s / 60) * 10) / 10} min`;
  throw new DigitModelError(
    'BUDGET_TOO_SMALL',
    'budget',
    `${minutes(counts.seconds)} is below this machine's minimum for ${counts.trainImages} training images: ${minutes(smallest!.seconds)} (${smallest!.what})`,
  );
}

/** What fitting a recipe reads of the planner's options. */
type FitOptions = Pick<
  PlanDigitTrainingOptions,
  'trainImages' | 'validationImages' | 'testImages' | 'ensemble' | 'ttaViews'
>;

interface Fit {
  readonly epochs: number;
  readonly ensemble: number;
  readonly ttaViews: number;
  readonly estimate: DigitPlanEstimate;
}

/** The largest run of `recipe` within `available` seconds, or undefined when `minEpochs` do not fit. */
function fitRecipe(
  recipe: DigitRecipe,
  cost: DigitRecipeCost,
  options: FitOptions,
  available: number,
  ttaAllowance: number,
): Fit | undefined {
  const perEpoch = epochSeconds(cost, options);
  const fitWith = (ensemble: number, views: number): Fit | undefined => {
    const fixed = estimateRun(cost, options, 0, ensemble, views).total;
    const totalEpochs = Math.floor((available - fixed) / perEpoch);
    const epochs = Math.floor(totalEpochs / ensemble);
    if (epochs < recipe.minEpochs) return undefined;
    return { epochs, ensemble, ttaViews: views, estimate: estimateRun(cost, options, epochs, ensemble, views) };
  };
  const ensembleFor = (views: number): number => {
    if (options.ensemble !== undefined) return options.ensemble;
    const fixed = estimateRun(cost, options, 0, 1, views).total;
    const totalEpochs = Math.floor((available - fixed) / perEpoch);
    let k = Math.max(1, Math.floor(totalEpochs / recipe.fullEpochs));
    // Each model adds its own final prediction: step down while that leaves a model short of fullEpochs.
    while (k > 1 && (fitWith(k, views)?.epochs ?? 0) < recipe.fullEpochs) k--;
    return k;
  };
  const plain = fitWith(ensembleFor(1), 1);
  if (plain === undefined) return undefined;
  const views = options.ttaViews ?? TTA_VIEWS;
  if (views === 1) return plain;
  const ttaExtra =
    plain.ensemble * (views - 1) * (options.validationImages + options.testImages) * cost.predictSecondsPerImage;
  if (options.ttaViews === undefined && ttaExtra > ttaAllowance) return plain;
  return fitWith(ensembleFor(views), views) ?? (options.ttaViews === undefined ? plain : undefined);
}

function epochSeconds(cost: DigitRecipeCost, o: FitOptions): number {
  return (
    o.trainImages * cost.trainSecondsPerImage +
    o.validationImages * cost.predictSecondsPerImage +
    EPOCH_OVERHEAD_SECONDS
  );
}

function estimateRun(
  cost: DigitRecipeCost,
  o: FitOptions,
  epochs: number,
  ensemble: number,
  views: number,
): DigitPlanEstimate {
  const training = ensemble * epochs * o.trainImages * cost.trainSecondsPerImage;
  const validation = ensemble * epochs * o.validationImages * cost.predictSecondsPerImage;
  const prediction = ensemble * views * (o.validationImages + o.testImages) * cost.predictSecondsPerImage;
  const overhead =
    ensemble * epochs * EPOCH_OVERHEAD_SECONDS + RESERVE_SECONDS.fixed + ensemble * RESERVE_SECONDS.perModel;
  return { training, validation, prediction, overhead, total: training + validation + prediction + overhead };
}

import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  DigitModelError,
  digitRecipes,
  planDigitTraining,
  type DigitPlan,
  type DigitRecipe,
  type DigitRecipeCost,
  type PlanDigitTrainingOptions,
} from 'digit-recognizer';

// Costs shaped like the networks' (strong about 2.5x lean's training time, lean 2.5x compact's), in
// seconds per image on an imaginary host: no test here reads a real clock.
const COSTS: Record<string, DigitRecipeCost> = {
  strong: { trainSecondsPerImage: 2e-3, predictSecondsPerImage: 2e-4 },
  lean: { trainSecondsPerImage: 8e-4, predictSecondsPerImage: 1e-4 },
  compact: { trainSecondsPerImage: 3e-4, predictSecondsPerImage: 4e-5 },
};

/** Kaggle-sized counts, a fake clock that calibration advances, and the costs above scaled by `slower`. */
function options(seconds: number, extra: Partial<PlanDigitTrainingOptions> = {}, slower = 1) {
  let now = 100;
  const measured: string[] = [];
  const base: PlanDigitTrainingOptions = {
    seconds,
    trainImages: 37_800,
    validationImages: 4_200,
    testImages: 28_000,
    clock: () => now,
    startedAt: 95, // 5 s of loading already spent
    measure: (r: DigitRecipe) => {
      measured.push(r.architecture);
      now += 1.5; // each calibration costs time too
      const c = COSTS[r.architecture]!;
      return {
        trainSecondsPerImage: c.trainSecondsPerImage * slower,
        predictSecondsPerImage: c.predictSecondsPerImage * slower,
      };
    },
    ...extra,
  };
  return { base, measured };
}

describe('planDigitTraining', () => {
  it('takes the most accurate network whose minimum epochs fit, and fills the budget with its epochs', async () => {
    // 20 minutes fit strong's 12 minimum epochs at these costs; 15 do not (the next test's 300 s fit lean).
    const { base, measured } = options(1200);
    const plan = await planDigitTraining(base);
    expect(plan.recipe.architecture).toBe('strong');
    expect(measured).toEqual(['strong']);
    expect(plan.elapsedSeconds).toBeCloseTo(6.5);
    expect(plan.estimate.total).toBeLessThanOrEqual(1200 * 0.97);
    // One more epoch would not fit: the budget is used, not just respected.
    const perEpoch = 37_800 * 2e-3 + 4_200 * 2e-4;
    expect(plan.estimate.total + perEpoch * plan.ensemble).toBeGreaterThan(1200 * 0.97);
    expect(plan.epochs).toBeGreaterThanOrEqual(plan.recipe.minEpochs);
    const fifteen = await planDigitTraining(options(900).base);
    expect(fifteen.recipe.architecture).toBe('lean');
  });

  it('steps down to a cheaper network, calibrating only the ones it tries', async () => {
    const { base, measured } = options(300);
    const plan = await planDigitTraining(base);
    expect(plan.recipe.architecture).toBe('lean');
    expect(measured).toEqual(['strong', 'lean']);
    const tiny = options(100);
    expect((await planDigitTraining(tiny.base)).recipe.architecture).toBe('compact');
    expect(tiny.measured).toEqual(['strong', 'lean', 'compact']);
  });

  it('splits a long budget into an ensemble of models of at least fullEpochs, with TTA when it is cheap', async () => {
    const plan = await planDigitTraining(options(7200).base);
    expect(plan.recipe.architecture).toBe('strong');
    expect(plan.ensemble).toBeGreaterThan(1);
    expect(plan.epochs).toBeGreaterThanOrEqual(plan.recipe.fullEpochs);
    expect(plan.ttaViews).toBe(5);
    expect(plan.estimate.total).toBeLessThanOrEqual(7200 * 0.97);
    // A short budget leaves TTA out: five views would cost more than its share.
    expect((await planDigitTraining(options(300).base)).ttaViews).toBe(1);
  });

  it('gives a machine twice as slow about half the epochs, within the same budget', async () => {
    const fast = await planDigitTraining(options(900).base);
    const slow = await planDigitTraining(options(900, {}, 2).base);
    expect(slow.estimate.total).toBeLessThanOrEqual(900 * 0.97);
    if (slow.recipe.architecture === fast.recipe.architecture) {
      expect(slow.epochs * slow.ensemble).toBeLessThan(fast.epochs * fast.ensemble * 0.6);
    } else {
      expect(digitRecipes().findIndex((r) => r.architecture === slow.recipe.architecture)).toBeGreaterThan(0);
    }
  });

  it('honours fixed choices: network, ensemble size and views', async () => {
    const plan = await planDigitTraining(options(900, { architecture: 'lean', ensemble: 2, ttaViews: 1 }).base);
    expect([plan.recipe.architecture, plan.ensemble, plan.ttaViews]).toEqual(['lean', 2, 1]);
    expect(plan.estimate.total).toBeLessThanOrEqual(900 * 0.97);
    await expect(planDigitTraining(options(900, { architecture: 'nope' }).base)).rejects.toMatchObject({
      code: 'UNKNOWN_ARCHITECTURE',
    });
    await expect(planDigitTraining(options(900, { ensemble: 0 }).base)).rejects.toThrow(RangeError);
  });

  it('refuses a budget below the machine minimum, naming a minimum that does suffice', async () => {
    const error = await planDigitTraining(options(20).base).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigitModelError);
    expect(error).toMatchObject({ code: 'BUDGET_TOO_SMALL' });
    const message = (error as Error).message;
    expect(message).toMatch(
      /^budget: 0\.4 min is below this machine's minimum for 37800 training images: [\d.]+ min \(compact, 2 epochs\)$/,
    );
    const minimum = Number(/: ([\d.]+) min \(/.exec(message)![1]) * 60;
    expect(minimum).toBeGreaterThan(20);
    const plan = await planDigitTraining(options(minimum).base);
    expect(plan.recipe.architecture).toBe('compact');
    await expect(planDigitTraining(options(0).base)).rejects.toThrow(RangeError);
  });

  it('is typed', () => {
    expectTypeOf(planDigitTraining).returns.resolves.toEqualTypeOf<DigitPlan>();
    expectTypeOf<DigitPlan['recipe']>().toEqualTypeOf<DigitRecipe>();
    expectTypeOf<PlanDigitTrainingOptions['measure']>().parameter(0).toEqualTypeOf<DigitRecipe>();
  });
});

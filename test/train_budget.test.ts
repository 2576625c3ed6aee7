import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildDigitCnn,
  calibrateDigitRecipe,
  DigitBudget,
  getDigitRecipe,
  memoryTrainingState,
  planDigitTraining,
  oneCycleSchedule,
  trainDigits,
  type DigitDataset,
  type TrainingBudgetHook,
} from 'digit-recognizer';
import { syntheticDigits, useBackend } from './helpers.js';

// trainDigits' side of a budget, driven by scripted hooks (DigitBudget's decisions are tested on a
// simulated host in budget.test.ts): 580 training images in batches of 32 are 19 steps an epoch.
const PER_EPOCH = 19;
const noDropout = {
  architecture: 'compact',
  seed: 5,
  layers: (ls: tfl.layers.Layer[]) => ls.filter((l) => l.getClassName() !== 'Dropout'),
} as const;

/** Shortens a 3-epoch run (57 steps) to 48 at step 20: the third epoch ends after 10 of its 19 steps. */
const shorten: TrainingBudgetHook = { growth: 1.5, revise: ({ done, total }) => (done === 20 ? 48 : total) };

function ratesOf(model: tfl.LayersModel, rates: number[]): tfl.Callback {
  return new (class extends tfl.Callback {
    override async onBatchEnd(): Promise<void> {
      rates.push((model.optimizer as unknown as { learningRate: number }).learningRate);
    }
  })();
}

describe('trainDigits with a budget', () => {
  let data: DigitDataset;
  const options = { epochs: 3, batchSize: 32, seed: 11, learningRate: oneCycleSchedule(0.004) };
  beforeAll(async () => {
    await useBackend('wasm');
    data = syntheticDigits(640);
  });

  it('ends a shortened run early, with a short last epoch that is validated, and anneals the schedule into it', async () => {
    const model = buildDigitCnn(noDropout);
    const rates: number[] = [];
    const result = await trainDigits(model, data, { ...options, budget: shorten, callbacks: [ratesOf(model, rates)] });
    expect(result.steps).toBe(48);
    expect(result.replans).toEqual([{ from: 20, total: 48 }]);
    expect(result.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(result.history[2]!.val_acc).toBeGreaterThan(0);
    expect(rates).toHaveLength(48);
    // The schedule's tail is squeezed into steps 20..47, so the last step is as annealed as a full run's.
    const full = oneCycleSchedule(0.004);
    expect(rates[19]).toBeCloseTo(full(19, 57), 10);
    expect(rates[47]!).toBeLessThan(full(47, 57) / 5);
    expect(rates[47]!).toBeLessThan(0.004 / 25);
    model.dispose();
  });

  it('ends the current epoch at once when the budget cuts the run inside it', async () => {
    const now: TrainingBudgetHook = { growth: 1.5, revise: ({ done, total }) => (done === 25 ? 30 : total) };
    const model = buildDigitCnn(noDropout);
    const result = await trainDigits(model, data, { ...options, budget: now });
    expect(result.steps).toBe(30);
    expect(result.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(result.history[1]!.val_acc).toBeGreaterThan(0);
    model.dispose();
  });

  it('stretches a run past its planned epochs when the budget allows, within the growth bound', async () => {
    const stretch: TrainingBudgetHook = {
      growth: 1.5,
      revise: ({ done, total }) => (done === PER_EPOCH ? 1000 : total),
    };
    const model = buildDigitCnn(noDropout);
    const result = await trainDigits(model, data, { ...options, budget: stretch });
    expect(result.steps).toBe(85); // 57 * 1.5, rounded down
    expect(result.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(result.replans).toEqual([{ from: PER_EPOCH, total: 85 }]);
    model.dispose();
  });

  it('resumes a re-planned run exactly: same learning rates, same weights as one without the interruption', async () => {
    const straight = buildDigitCnn(noDropout);
    const straightRates: number[] = [];
    const full = await trainDigits(straight, data, {
      ...options,
      budget: shorten,
      state: memoryTrainingState(),
      callbacks: [ratesOf(straight, straightRates)],
    });

    const store = memoryTrainingState();
    const controller = new AbortController();
    const first = buildDigitCnn(noDropout);
    const firstRates: number[] = [];
    const cut = await trainDigits(first, data, {
      ...options,
      budget: shorten,
      state: store,
      signal: controller.signal,
      callbacks: [ratesOf(first, firstRates)],
      onProgress: (p) => {
        if (p.phase === 'epoch' && p.epoch === 2) controller.abort();
      },
    });
    expect(cut.stopped).toBe(true);
    expect((await store.read())?.meta.replans).toEqual([{ from: 20, total: 48 }]);

    // A fresh process: its hook would not re-plan at step 20 again; the state brings the re-plan back.
    const second = buildDigitCnn({ ...noDropout, seed: 99 });
    const secondRates: number[] = [];
    const keep: TrainingBudgetHook = { growth: 1.5, revise: ({ total }) => total };
    const resumed = await trainDigits(second, data, {
      ...options,
      budget: keep,
      state: store,
      callbacks: [ratesOf(second, secondRates)],
    });
    expect(resumed.resumedEpochs).toBe(2);
    expect(resumed.steps).toBe(48);
    expect([...firstRates.slice(0, 38), ...secondRates]).toEqual(straightRates);
    expect(resumed.history.map((h) => h.loss)).toEqual(full.history.map((h) => h.loss));
    expect(Array.from(second.getWeights()[0]!.dataSync())).toEqual(Array.from(straight.getWeights()[0]!.dataSync()));

    // Finished: running again trains nothing.
    const again = await trainDigits(buildDigitCnn(noDropout), data, { ...options, budget: keep, state: store });
    expect(again.resumedEpochs).toBe(3);
    expect(again.steps).toBe(48);
    [straight, first, second].forEach((m) => m.dispose());
  });

  it('stops the first model early for a re-plan when it trains far faster than its calibration read', async () => {
    // A calibration that read compact's steps 20x too slow: it seemed the only network to reach its
    // minimum epochs in the budget, and strong would fit at the speed the run shows. Sized from a
    // real calibration, so that the weighing comes after the same number of steps on a busy host.
    const many = syntheticDigits(2000, 3);
    const real = (await calibrateDigitRecipe(getDigitRecipe('compact'), many)).trainSecondsPerImage;
    const compact = 20 * real;
    const seconds = 2.4 * many.count * compact;
    const plan = await planDigitTraining({
      seconds,
      trainImages: many.count,
      validationImages: 0,
      testImages: 0,
      recipes: [getDigitRecipe('strong'), getDigitRecipe('compact')],
      measure: (r) => ({
        trainSecondsPerImage: r.architecture === 'strong' ? seconds / (8 * many.count) : compact,
        predictSecondsPerImage: compact / 10,
      }),
    });
    expect(plan.recipe.architecture).toBe('compact');
    const budget = new DigitBudget(plan, { repick: true });
    const model = buildDigitCnn({ architecture: 'compact', seed: 1 });
    const result = await trainDigits(model, many, {
      epochs: plan.epochs,
      batchSize: 64,
      validationSplit: 0,
      budget: budget.model(0),
    });
    model.dispose();
    expect(budget.repick?.speed).toBeLessThan(0.3);
    // Stopped after the weighing (3 % of the budget, at least 40 steps), before the stretched run's end.
    expect(result.steps).toBeGreaterThanOrEqual(40);
    expect(result.steps).toBeLessThan(2 * plan.epochs * Math.ceil(many.count / 64));
    expect(budget.events.at(-1)?.change).toMatch(/^model 1 stopped to re-plan/);
  });

  it('keeps a run without a budget exactly as before', async () => {
    const model = buildDigitCnn(noDropout);
    const result = await trainDigits(model, data, options);
    expect(result.steps).toBe(57);
    expect(result.replans).toEqual([]);
    model.dispose();
  });
});

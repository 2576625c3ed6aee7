import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  DigitBudget,
  planDigitTraining,
  replanDigitTraining,
  type DigitBudgetEvent,
  type DigitPlan,
  type DigitRecipeCost,
  type TrainingBudgetHook,
} from 'digit-recognizer';

// A simulated host: a fake clock that each step, epoch end and prediction advances. Nothing here
// reads a real clock, so these tests time nothing.
const TRAIN = 37_800;
const VALIDATION = 4_200;
const TEST = 28_000;
const COSTS: Record<string, DigitRecipeCost> = {
  strong: { trainSecondsPerImage: 2e-3, predictSecondsPerImage: 3e-4 },
  lean: { trainSecondsPerImage: 8e-4, predictSecondsPerImage: 1.5e-4 },
  compact: { trainSecondsPerImage: 3e-4, predictSecondsPerImage: 6e-5 },
};

interface Host {
  now: number;
}

async function planFor(
  host: Host,
  seconds: number,
  extra: { ttaViews?: number; ensemble?: number } = {},
): Promise<DigitPlan> {
  return planDigitTraining({
    seconds,
    trainImages: TRAIN,
    validationImages: VALIDATION,
    testImages: TEST,
    measure: (r) => {
      host.now += 2;
      return COSTS[r.architecture]!;
    },
    clock: () => host.now,
    startedAt: 0,
    ...extra,
  });
}

/**
 * Runs a plan on the simulated host the way the example does: each model's steps (asking the hook
 * after every one, as trainDigits does), validation after each epoch, then the final prediction.
 * `slowdown(t)` is the host's speed factor at time t (2 = twice as slow as calibrated).
 */
function simulate(host: Host, plan: DigitPlan, slowdown: (t: number) => number, repick = false) {
  const budget = new DigitBudget(plan, { repick });
  const perEpoch = Math.ceil(TRAIN / plan.recipe.batchSize);
  const steps: number[] = [];
  for (let k = 0; k < budget.models; k++) {
    const hook = budget.model(k);
    let total = budget.epochsFor(k) * perEpoch;
    let done = 0;
    host.now += 0.5; // building the model
    while (done < total) {
      host.now += plan.recipe.batchSize * plan.cost.trainSecondsPerImage * slowdown(host.now);
      done++;
      total = hook.revise({ done, total, perEpoch });
      if (done % perEpoch === 0 || done >= total) {
        host.now += (VALIDATION * plan.cost.predictSecondsPerImage + 0.3) * slowdown(host.now);
      }
    }
    steps.push(done);
    if (budget.repick !== undefined) return { budget, steps, views: 0, seconds: host.now };
  }
  const views = budget.finalViews();
  const images = budget.models * views * (VALIDATION + TEST);
  host.now += images * plan.cost.predictSecondsPerImage * slowdown(host.now) + 2 + 0.5 * budget.models;
  return { budget, steps, views, seconds: host.now };
}

function isStretch(change: string): boolean {
  const m = /^model \d+: ([\d.]+) -> ([\d.]+) epochs/.exec(change);
  return m !== null && Number(m[2]) > Number(m[1]);
}

describe('DigitBudget', () => {
  it('on a host as fast as calibrated, only stretches into what the plan left over, and ends within the budget', async () => {
    // 20 minutes: one strong model at these costs (15 would split lean into two).
    const host = { now: 3 };
    const plan = await planFor(host, 1200);
    expect(plan.ensemble).toBe(1);
    const run = simulate(host, plan, () => 1);
    const stretches = run.budget.events.map((e) => /^model 1: ([\d.]+) -> ([\d.]+) epochs/.exec(e.change));
    expect(stretches.every((m) => m !== null && Number(m[2]) > Number(m[1]))).toBe(true);
    expect(run.steps[0]).toBeGreaterThanOrEqual(plan.epochs * Math.ceil(TRAIN / 64));
    expect(run.steps[0]).toBeLessThan((plan.epochs + 1) * Math.ceil(TRAIN / 64));
    expect(run.seconds).toBeLessThanOrEqual(1200);
    // Stretches aim 3 % early and come in whole epochs or at least a quarter of one (77 s here).
    const epochSeconds = TRAIN * COSTS.strong!.trainSecondsPerImage + VALIDATION * COSTS.strong!.predictSecondsPerImage;
    expect(run.seconds).toBeGreaterThan(1200 * 0.97 - epochSeconds);
  });

  it('shortens the schedule when the host slows to half speed mid-run, ending within budget + 5 %', async () => {
    for (const seconds of [120, 900, 7200]) {
      const host = { now: 3 };
      const plan = await planFor(host, seconds);
      const run = simulate(host, plan, (t) => (t > seconds * 0.4 ? 2 : 1));
      expect(run.seconds, `${seconds} s budget`).toBeLessThanOrEqual(seconds * 1.05);
      expect(run.budget.events.length).toBeGreaterThan(0);
      // Re-plans wait for the step-time estimate to settle: a handful, not one per step.
      expect(run.budget.events.length, run.budget.events.map((e) => e.change).join('\n')).toBeLessThanOrEqual(8);
      const planned = plan.ensemble * plan.epochs * Math.ceil(TRAIN / 64);
      expect(run.steps.reduce((a, b) => a + b, 0)).toBeLessThan(planned);
    }
  });

  it('drops test-time augmentation first, then the last models, when the host slows badly', async () => {
    const host = { now: 3 };
    const plan = await planFor(host, 7200);
    expect(plan.ensemble).toBeGreaterThan(2);
    expect(plan.ttaViews).toBe(5);
    const run = simulate(host, plan, (t) => (t > 1000 ? 3 : 1));
    expect(run.seconds).toBeLessThanOrEqual(7200 * 1.05);
    const changes = run.budget.events.map((e: DigitBudgetEvent) => e.change).filter((c) => !isStretch(c));
    expect(changes[0]).toMatch(/^test-time augmentation dropped \(5 views -> 1\)/);
    expect(changes.some((c) => /^dropped model \d/.test(c))).toBe(true);
    expect(run.views).toBe(1);
    expect(run.budget.models).toBeLessThan(plan.ensemble);
  });

  it('stretches the schedule on a host faster than calibrated, to fill the budget without passing it', async () => {
    const host = { now: 3 };
    const plan = await planFor(host, 900);
    const run = simulate(host, plan, () => 0.7);
    expect(run.steps[0]).toBeGreaterThan(plan.epochs * Math.ceil(TRAIN / 64));
    expect(run.budget.events[0]!.change).toMatch(/^model 1: [\d.]+ -> [\d.]+ epochs at step \d+/);
    expect(run.seconds).toBeLessThanOrEqual(900);
    expect(run.seconds).toBeGreaterThan(900 * 0.85);
  });

  it('fills the budget on a host twice as fast as its calibration read, models and ensembles alike', async () => {
    // A calibration in a process's first seconds can read steps this slow; at a 1.5x bound on the
    // stretch, these runs ended at 70-80 % of their budgets.
    for (const seconds of [900, 7200]) {
      const host = { now: 3 };
      const plan = await planFor(host, seconds);
      const run = simulate(host, plan, () => 0.52);
      expect(run.seconds, `${seconds} s budget`).toBeLessThanOrEqual(seconds);
      expect(run.seconds, `${seconds} s budget`).toBeGreaterThan(seconds * 0.88);
      for (const steps of run.steps) expect(steps).toBeLessThanOrEqual(2 * plan.epochs * Math.ceil(TRAIN / 64));
    }
  });

  it('on a host that drifts ±10 % over minutes, neither swings the epoch count up and down nor leaves a stub epoch', async () => {
    for (const seconds of [120, 900, 7200]) {
      const host = { now: 3 };
      const plan = await planFor(host, seconds);
      // A shared host: slow and fast minutes in turn, bursts of twenty steps a third slower or
      // faster, and a jittery step now and then.
      let n = 0;
      const drift = (t: number): number => {
        const h = (Math.floor(++n / 20) * 2654435761) >>> 0;
        const burst = h % 5 === 0 ? -0.3 : h % 5 === 1 ? 0.3 : 0;
        return 1 + 0.1 * Math.sin(t / 40) + burst + (n % 7 === 0 ? 0.3 : 0);
      };
      const run = simulate(host, plan, drift);
      const changes = run.budget.events.map((e) => e.change);
      expect(run.seconds, `${seconds} s budget`).toBeLessThanOrEqual(seconds);
      expect(run.seconds, `${seconds} s budget`).toBeGreaterThan(seconds * 0.85);
      // Direction changes: a shortening after a stretch, or a stretch after a shortening.
      const directions = changes.filter((c) => /^model \d+: /.test(c)).map(isStretch);
      const swings = directions.filter((d, i) => i > 0 && d !== directions[i - 1]).length;
      expect(swings, changes.join('\n')).toBeLessThanOrEqual(1);
      const perEpoch = Math.ceil(TRAIN / 64);
      for (const steps of run.steps) {
        const stub = steps % perEpoch;
        expect(stub === 0 || stub >= perEpoch * 0.25, `${steps} steps`).toBe(true);
      }
    }
  });

  it('decides the same way for the same clock readings, and ends at once when there is no time left', async () => {
    const a = simulate({ now: 3 }, await planFor({ now: 3 }, 900), (t) => (t > 300 ? 1.6 : 1));
    const b = simulate({ now: 3 }, await planFor({ now: 3 }, 900), (t) => (t > 300 ? 1.6 : 1));
    expect(b.steps).toEqual(a.steps);
    expect(b.budget.events).toEqual(a.budget.events);

    const host = { now: 3 };
    const plan = await planFor(host, 300);
    const budget = new DigitBudget(plan);
    const hook = budget.model(0);
    let total = plan.epochs * 591;
    for (let done = 1; done <= 10; done++) {
      host.now += 0.05;
      total = hook.revise({ done, total, perEpoch: 591 });
    }
    host.now = 10_000;
    host.now += 0.05;
    expect(hook.revise({ done: 11, total, perEpoch: 591 })).toBe(11);
  });

  it('re-plans a richer network early when the first model trains twice as fast as calibrated', async () => {
    const host = { now: 3 };
    const plan = await planFor(host, 900);
    expect(plan.recipe.architecture).toBe('lean');
    const first = simulate(host, plan, () => 0.5, true);
    const repick = first.budget.repick!;
    expect(repick.speed).toBeCloseTo(0.5, 2);
    // Weighed after 3 % of the budget: 27 s of steps, lost by starting over.
    expect(repick.seconds).toBeGreaterThan(900 * 0.03);
    expect(repick.seconds).toBeLessThan(900 * 0.06);
    expect(first.budget.events.at(-1)!.change).toMatch(/^model 1 stopped to re-plan: it trains at 0\.50x/);
    let measured = 0;
    const next = await replanDigitTraining(plan, {
      speed: repick.speed,
      measure: (r) => {
        measured++;
        return COSTS[r.architecture]!;
      },
    });
    expect(measured).toBe(0);
    expect(next.recipe.architecture).toBe('strong');
    expect(next.cost.trainSecondsPerImage).toBeCloseTo(COSTS.strong!.trainSecondsPerImage * repick.speed, 12);
    expect(next.elapsedSeconds).toBeCloseTo(host.now, 6);
    // The new plan's costs are the host's real speed; it fills the budget without passing it.
    const run = simulate(host, next, () => 1, true);
    expect(run.budget.repick).toBeUndefined();
    expect(run.seconds).toBeLessThanOrEqual(900);
    expect(run.seconds).toBeGreaterThan(900 * 0.85);
  });

  it('re-plans a cheaper network when the first model cannot reach its minimum epochs, measuring it then', async () => {
    const host = { now: 3 };
    // 200 s plans lean x 5 epochs (its minimum is 4): at 1.5x the step time only 3 would fit.
    const plan = await planFor(host, 200);
    expect([plan.recipe.architecture, plan.epochs]).toEqual(['lean', 5]);
    const first = simulate(host, plan, () => 1.5, true);
    const repick = first.budget.repick!;
    expect(repick.speed).toBeCloseTo(1.5, 2);
    const asked: string[] = [];
    const next = await replanDigitTraining(plan, {
      speed: repick.speed,
      measure: (r) => {
        asked.push(r.architecture);
        return COSTS[r.architecture]!;
      },
    });
    expect(asked).toEqual(['compact']);
    expect(next.recipe.architecture).toBe('compact');
    const run = simulate(host, next, () => 1);
    expect(run.seconds).toBeLessThanOrEqual(200);
  });

  it('keeps its network when the first model runs near the calibration, or when no other network would do', async () => {
    for (const speed of [1, 1.08, 0.93]) {
      const host = { now: 3 };
      const plan = await planFor(host, 900);
      const run = simulate(host, plan, () => speed, true);
      expect(run.budget.repick, `speed ${speed}`).toBeUndefined();
      const weighed = run.budget.events.find((e) => e.change.startsWith('model 1 weighed'));
      expect(weighed?.change).toBe(
        `model 1 weighed at ${speed.toFixed(2)}x the calibrated step time: its network stays`,
      );
      expect(run.seconds).toBeLessThanOrEqual(900);
    }
    // 20 minutes plans strong, the richest: faster steps only stretch it.
    const host = { now: 3 };
    const plan = await planFor(host, 1200);
    expect(simulate(host, plan, () => 0.6, true).budget.repick).toBeUndefined();
    // Off unless asked for.
    const off = { now: 3 };
    expect(simulate(off, await planFor(off, 900), () => 0.5).budget.repick).toBeUndefined();
  });

  it('refuses to re-plan a plan without candidates or at a speed that is not one', async () => {
    const plan = await planFor({ now: 3 }, 900);
    const { candidates: _, ...bare } = plan;
    await expect(replanDigitTraining(bare, { speed: 0.5, measure: () => COSTS.lean! })).rejects.toThrow(
      /no candidates/,
    );
    await expect(replanDigitTraining(plan, { speed: 0, measure: () => COSTS.lean! })).rejects.toThrow(/positive/);
    expect(plan.candidates!.recipes.map((c) => [c.recipe.architecture, c.cost !== undefined])).toEqual([
      ['strong', true],
      ['lean', true],
      ['compact', false],
    ]);
  });

  it('is typed', () => {
    expectTypeOf<DigitBudget['model']>().returns.toEqualTypeOf<TrainingBudgetHook>();
    expectTypeOf<DigitBudget['finalViews']>().returns.toEqualTypeOf<number>();
  });
});

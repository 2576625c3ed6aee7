import { median } from './median.js';
import { EPOCH_OVERHEAD_SECONDS, RESERVE_SECONDS, wouldRepick, type DigitPlan } from './plan.js';

/**
 * What {@link trainDigits} asks a budget after every step: how many steps the run should have in
 * all. Fewer than `total` shortens the schedule's tail, more stretches it; the run's state records
 * each change, so a resumed run replays them.
 */
export interface TrainingBudgetHook {
  /** `done` steps of `total` are done; `perEpoch` steps make a full epoch. Returns the new total. */
  revise(progress: { readonly done: number; readonly total: number; readonly perEpoch: number }): number;
  /** The most a run may grow to, as a multiple of its planned steps (fitDataset needs a bound). */
  readonly growth: number;
}

/** A change a budget made to its plan, for the run record. */
export interface DigitBudgetEvent {
  /** Seconds since the budget began. */
  readonly seconds: number;
  /** The model being trained (from 1), or 0 at prediction time. */
  readonly model: number;
  readonly change: string;
}

/** Options of {@link DigitBudget}. */
export interface DigitBudgetOptions {
  /**
   * Whether the first model may be stopped early so that the run re-plans on the speed it measures
   * (see {@link DigitBudget.repick}). Default false: the caller must then start over with
   * `replanDigitTraining`. Leave it off for a resumed run, whose first model is not new.
   */
  readonly repick?: boolean;
}

/** Why a budget stopped its first model: the run trains at `speed` times the calibrated step time. */
export interface DigitRepick {
  readonly speed: number;
  /** Seconds since the budget began. */
  readonly seconds: number;
}

/**
 * The first model's steps are weighed against the calibration once they add up to this share of the
 * budget (at most REPICK_MAX_SECONDS, and at least REPICK_STEPS steps): long enough that a shared
 * host's burst does not decide it, early enough that starting over loses little. A calibration
 * times a few steps of each network in seconds and has read 1.15-1.6x off the speed the run then
 * trained at, both ways (docs/training.md, "The plan and the run's speed").
 */
const REPICK_SHARE = 0.03;
const REPICK_MAX_SECONDS = 60;
const REPICK_STEPS = 40;
/** Nearer the calibration than this factor, the budget's stretching and shortening absorb the error. */
const REPICK_SPEED = 1.1;

/** Steps a model must have taken before its own step times are trusted over the calibration. */
const TRUSTED_AFTER = 5;
/**
 * The step-time estimate is the median of this many recent steps: robust to a stray slow step (a
 * garbage collection), and settled on a host's new speed within half as many.
 */
const WINDOW = 15;
/**
 * A second reading: the median of the steps in the last 2 % of the budget (at least WINDOW, at most
 * LONG_WINDOW steps). On a shared host fifteen steps can read a third slower or faster than the
 * minutes around them; a re-plan made on such a burst is taken back a few seconds later. So a stretch
 * trusts the slower of the two readings and a shortening the faster: a real change of speed shows in
 * both within 2 % of the budget, which the shortening's headroom then makes up.
 */
const LONG_SHARE = 0.02;
const LONG_WINDOW = 255;
/** A stretched run aims to end this share of the budget early, as the planner's margin does. */
const STRETCH_SPARE = 0.03;
/** A run is stretched only at an epoch's end, and only by at least this factor. */
const STRETCH_MIN = 1.02;
/**
 * A stretch plans the rest at this much above the step time seen now. A shared host's speed swings
 * up and down over minutes (the re-plans bench/recipes/presets.ts records show it), and a stretch
 * that fills the budget to the brim is undone by the next slow minute, so the epoch count would
 * swing with it (test/budget.test.ts drives such a host). The cushion shrinks with the training
 * left, so later stretches still fill the budget.
 */
const STRETCH_CUSHION = 0.2;
/** A re-planned schedule never ends with an epoch shorter than this share of one: it ends before it. */
const MIN_LAST_EPOCH = 0.25;
/** A shortened run aims this share below what still fits, so one re-plan holds while the estimate settles. */
const SHORTEN_HEADROOM = 0.05;
/**
 * Re-plans wait this share of the budget after the last one (while the step-time estimate catches up
 * with a changed host), unless the overrun foreseen exceeds {@link URGENT_OVERRUN}.
 */
const REPLAN_INTERVAL = 0.01;
const URGENT_OVERRUN = 0.02;
/**
 * A model grows to at most this multiple of its planned epochs (fitDataset needs a bound). Twice the
 * plan, so a host that runs at half the calibrated step time still fills its budget: a shared host's
 * speed swings over minutes and a calibration sees only seconds of it, so runs have read steps that
 * much faster than calibrated (the re-plans in bench/results/presets.json), and at 1.5 `default`
 * ended minutes early.
 */
const MAX_GROWTH = 2;

/**
 * Keeps a planned run inside its budget while it trains: after every step it compares the time left
 * with what the rest needs at the speed the host shows now (the current model's remaining steps, the
 * later models, the final prediction), and when they disagree it re-plans in this order: give back
 * what it stretched, drop test-time augmentation, then shorten every remaining model's schedule in proportion, dropping the
 * last models when they would fall below the recipe's `minEpochs`. When the host is faster than
 * calibrated it stretches the remaining schedules instead, at epoch ends, up to twice the plan.
 *
 * Reads only its clock (the plan's), so tests drive it with a fake one.
 */
export class DigitBudget {
  readonly plan: DigitPlan;
  readonly events: DigitBudgetEvent[] = [];
  private readonly epochs: number[];
  private views: number;
  private readonly perEpoch: number;
  private stepSeconds: number;
  private epochOverhead: number;
  private samples = 0;
  private modelSteps = 0;
  private readonly recent: number[] = [];
  private readonly recentLong: number[] = [];
  private readonly longWindow: number;
  private last: { model: number; done: number; at: number } | undefined;
  private lastReplan = -Infinity;
  private repickArmed: boolean;
  private readonly firstModel: number[] = [];
  private repicked: DigitRepick | undefined;

  constructor(plan: DigitPlan, options: DigitBudgetOptions = {}) {
    this.plan = plan;
    this.repickArmed = options.repick === true && plan.candidates !== undefined;
    this.epochs = Array.from({ length: plan.ensemble }, () => plan.epochs);
    this.views = plan.ttaViews;
    this.perEpoch = Math.ceil(plan.trainImages / plan.recipe.batchSize);
    this.stepSeconds = plan.cost.trainSecondsPerImage * plan.recipe.batchSize;
    const longSteps = Math.round((LONG_SHARE * plan.budgetSeconds) / this.stepSeconds);
    this.longWindow = Math.min(LONG_WINDOW, Math.max(WINDOW, longSteps));
    this.epochOverhead = plan.validationImages * plan.cost.predictSecondsPerImage + EPOCH_OVERHEAD_SECONDS;
  }

  /**
   * Set when the first model's steps ran so much faster or slower than calibrated that another
   * network would fit better: the budget then ended that model at once (its steps are lost), and
   * the caller re-plans with `replanDigitTraining(plan, { speed })` and starts over. At most once.
   */
  get repick(): DigitRepick | undefined {
    return this.repicked;
  }

  /** Models still planned. */
  get models(): number {
    return this.epochs.length;
  }

  /** Test-time views still planned. */
  get ttaViews(): number {
    return this.views;
  }

  /** Seconds left before the budget ends. */
  remainingSeconds(): number {
    return this.plan.startedAt + this.plan.budgetSeconds - this.plan.clock();
  }

  /** The epochs model `k` (from 0) is planned to train, as things stand when it starts. */
  epochsFor(k: number): number {
    const epochs = this.epochs[k];
    if (epochs === undefined) throw new RangeError(`model ${k + 1} is not in the plan (${this.models} planned)`);
    return epochs;
  }

  /** The hook for {@link trainDigits}' `budget` option while model `k` (from 0) trains. */
  model(k: number): TrainingBudgetHook {
    this.epochsFor(k);
    return { growth: MAX_GROWTH, revise: (p) => this.revise(k, p.done, p.total, p.perEpoch) };
  }

  /**
   * Views to predict with at the end: the planned ones when they still fit the time left at the
   * speed the host shows now, else 1. Call once, after the last model.
   */
  finalViews(): number {
    if (this.views > 1 && this.finalSeconds(this.views) > this.remainingSeconds()) this.dropTta(0);
    return this.views;
  }

  private revise(k: number, done: number, total: number, perEpoch: number): number {
    const now = this.plan.clock();
    this.observe(k, done, perEpoch, now);
    if (k >= this.models || this.repicked !== undefined) return done;
    if (k === 0 && this.repickArmed && this.weighFirstModel(now)) return done;
    if (this.samples < TRUSTED_AFTER) return total;
    const left = this.plan.startedAt + this.plan.budgetSeconds - now;
    const steady = median(this.recentLong);
    const shortenStep = Math.min(this.stepSeconds, steady);
    const need = (): { train: number; final: number } => ({
      train: this.trainingSeconds(total - done, perEpoch, shortenStep) + this.laterModelsSeconds(k, shortenStep),
      final: this.finalSeconds(this.views),
    });
    let n = need();
    if (n.train + n.final <= left) {
      if (done % perEpoch !== 0) return total;
      const step = Math.max(this.stepSeconds, steady);
      const train = this.trainingSeconds(total - done, perEpoch, step) + this.laterModelsSeconds(k, step);
      const spare = left - this.plan.budgetSeconds * STRETCH_SPARE;
      const ratio = (spare - n.final) / Math.max(train * (1 + STRETCH_CUSHION), 1e-9);
      if (ratio < STRETCH_MIN || train === 0) return total;
      this.lastReplan = now;
      return this.rescale(k, done, total, perEpoch, ratio, now);
    }
    const overrun = n.train + n.final - left;
    if (
      now - this.lastReplan < REPLAN_INTERVAL * this.plan.budgetSeconds &&
      overrun < URGENT_OVERRUN * this.plan.budgetSeconds
    )
      return total;
    this.lastReplan = now;
    const shortfall = (): number => Math.max(0, ((left - n.final) * (1 - SHORTEN_HEADROOM)) / Math.max(n.train, 1e-9));
    let ratio = shortfall();
    // A schedule this budget stretched gives the stretch back before the plan's test-time views go.
    if (this.views > 1 && done + (total - done) * ratio >= this.plan.epochs * perEpoch) {
      return this.rescale(k, done, total, perEpoch, ratio, now);
    }
    if (this.views > 1) {
      this.dropTta(k + 1);
      n = need();
      if (n.train + n.final <= left) return total;
      ratio = shortfall();
    }
    // Drop the last models while shortening would leave them below the recipe's minimum.
    while (this.models > k + 1 && Math.floor(this.epochs[this.models - 1]! * ratio) < this.plan.recipe.minEpochs) {
      this.epochs.pop();
      this.record(
        k + 1,
        `dropped model ${this.models + 1}: the host is ${this.slowdown().toFixed(2)}x the calibrated step time`,
      );
      n = need();
      ratio = shortfall();
      if (ratio >= 1) return total;
    }
    return this.rescale(k, done, total, perEpoch, ratio, now);
  }

  /** Once the first model has run long enough: whether its speed calls for another network. */
  private weighFirstModel(now: number): boolean {
    const steps = this.firstModel;
    let seconds = 0;
    for (const s of steps) seconds += s;
    if (steps.length < REPICK_STEPS || seconds < Math.min(REPICK_SHARE * this.plan.budgetSeconds, REPICK_MAX_SECONDS))
      return false;
    this.repickArmed = false;
    const speed = median(steps) / (this.plan.cost.trainSecondsPerImage * this.plan.recipe.batchSize);
    if ((speed < REPICK_SPEED && speed > 1 / REPICK_SPEED) || !wouldRepick(this.plan, speed, seconds)) {
      // On record either way: how far off the calibration was is what tunes the weighing.
      this.record(1, `model 1 weighed at ${speed.toFixed(2)}x the calibrated step time: its network stays`);
      return false;
    }
    this.repicked = { speed, seconds: now - this.plan.startedAt };
    this.record(
      1,
      `model 1 stopped to re-plan: it trains at ${speed.toFixed(2)}x the calibrated step time, so another network fits the budget better`,
    );
    return true;
  }

  /** Scales the current model's remaining steps and the later models' epochs by `ratio`. */
  private rescale(k: number, done: number, total: number, perEpoch: number, ratio: number, now: number): number {
    const planned = this.plan.epochs * perEpoch;
    let target = Math.min(Math.floor(planned * MAX_GROWTH), done + Math.floor((total - done) * ratio));
    const stub = target % perEpoch;
    if (stub > 0 && stub < perEpoch * MIN_LAST_EPOCH && target - stub > done) target -= stub;
    const next = Math.max(done, target);
    // A stretch the stub rule trimmed back to the current plan or below changes nothing.
    if (ratio > 1 && next < total) return total;
    for (let j = k + 1; j < this.models; j++) {
      this.epochs[j] = Math.min(
        Math.floor(this.plan.epochs * MAX_GROWTH),
        Math.max(this.plan.recipe.minEpochs, Math.floor(this.epochs[j]! * ratio)),
      );
    }
    if (next === total) return total;
    const epochs = (steps: number): string => (steps / perEpoch).toFixed(2);
    this.events.push({
      seconds: now - this.plan.startedAt,
      model: k + 1,
      change: `model ${k + 1}: ${epochs(total)} -> ${epochs(next)} epochs at step ${done} (the host is ${this.slowdown().toFixed(2)}x the calibrated step time)`,
    });
    return next;
  }

  private observe(k: number, done: number, perEpoch: number, now: number): void {
    const last = this.last;
    this.last = { model: k, done, at: now };
    if (last === undefined || last.model !== k) this.modelSteps = 0;
    if (last === undefined || last.model !== k || last.done !== done - 1) return;
    const gap = now - last.at;
    // A step that began an epoch also carries the previous epoch's validation and saves.
    if ((done - 1) % perEpoch === 0) {
      this.epochOverhead = blend(this.epochOverhead, Math.max(0, gap - this.stepSeconds), 0.5);
      return;
    }
    // A model's first steps also warm the kernels up.
    if (++this.modelSteps <= 2) return;
    this.recent.push(gap);
    if (this.recent.length > WINDOW) this.recent.shift();
    this.stepSeconds = median(this.recent);
    this.recentLong.push(gap);
    if (this.recentLong.length > this.longWindow) this.recentLong.shift();
    if (k === 0 && this.repickArmed) this.firstModel.push(gap);
    this.samples++;
  }

  private slowdown(): number {
    return this.stepSeconds / (this.plan.cost.trainSecondsPerImage * this.plan.recipe.batchSize);
  }

  private trainingSeconds(steps: number, perEpoch: number, stepSeconds = this.stepSeconds): number {
    return steps * stepSeconds + Math.ceil(steps / perEpoch) * this.epochOverhead;
  }

  private laterModelsSeconds(k: number, stepSeconds = this.stepSeconds): number {
    let seconds = 0;
    for (let j = k + 1; j < this.models; j++)
      seconds += this.trainingSeconds(this.epochs[j]! * this.perEpoch, this.perEpoch, stepSeconds);
    return seconds;
  }

  private finalSeconds(views: number): number {
    const p = this.plan;
    const images = p.validationImages + p.testImages;
    return (
      this.models * views * images * p.cost.predictSecondsPerImage * this.slowdown() +
      RESERVE_SECONDS.fixed +
      this.models * RESERVE_SECONDS.perModel
    );
  }

  private dropTta(model: number): void {
    this.record(
      model,
      `test-time augmentation dropped (${this.views} views -> 1): the host is ${this.slowdown().toFixed(2)}x the calibrated step time`,
    );
    this.views = 1;
  }

  private record(model: number, change: string): void {
    this.events.push({ seconds: this.plan.clock() - this.plan.startedAt, model, change });
  }
}

function blend(old: number, sample: number, weight: number): number {
  return old + (sample - old) * weight;
}

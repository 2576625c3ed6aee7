/**
 * A learning rate for each optimiser step: `step` counts from 0 over the whole
 * run (`totalSteps` = epochs x batches per epoch). Being a pure function of the
 * step, a resumed run picks up the schedule exactly where it stopped.
 */
export type LearningRateSchedule = (step: number, totalSteps: number) => number;

/**
 * One-cycle schedule (Smith & Topin): a linear warm-up from `maxLr / 25` to
 * `maxLr` over the first `warmup` fraction of the run, then cosine annealing
 * down to `maxLr / 25 / 1000`. Trains fast and ends well converged.
 */
export function oneCycleSchedule(maxLr: number, warmup = 0.25): LearningRateSchedule {
  const start = maxLr / 25;
  const end = start / 1000;
  return (step, total) => {
    const t = total <= 1 ? 1 : step / (total - 1);
    if (t < warmup) return start + (maxLr - start) * (t / warmup);
    const u = (t - warmup) / Math.max(1 - warmup, 1e-9);
    return end + ((maxLr - end) * (1 + Math.cos(Math.PI * Math.min(u, 1)))) / 2;
  };
}

/** Cosine decay from `lr` to `lr * floor` after a linear warm-up of `warmupSteps`. */
export function cosineSchedule(lr: number, warmupSteps = 0, floor = 0.01): LearningRateSchedule {
  return (step, total) => {
    if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
    const u = (step - warmupSteps) / Math.max(total - warmupSteps - 1, 1);
    return lr * (floor + ((1 - floor) * (1 + Math.cos(Math.PI * Math.min(u, 1)))) / 2);
  };
}

/**
 * A re-plan of a run's length: from step `from` on, the rest of the original schedule is fitted
 * into `total` steps in all (fewer shortens its tail, more stretches it). A budget records one when
 * the host turns out slower or faster than calibrated; the run's state keeps them, so a resumed run
 * replays the same learning rates.
 */
export interface ScheduleReplan {
  readonly from: number;
  readonly total: number;
}

/**
 * The step of the original plan (of `plannedTotal` steps) that step `step` of a re-planned run
 * plays: the identity until the first re-plan, then the remaining planned steps spread evenly over
 * the steps each re-plan allows. Feed it to a {@link LearningRateSchedule} with `plannedTotal`.
 */
export function plannedStep(step: number, plannedTotal: number, replans: readonly ScheduleReplan[]): number {
  let base = 0;
  let planned = 0;
  let rate = 1;
  for (const r of replans) {
    if (step < r.from) break;
    planned += (r.from - base) * rate;
    base = r.from;
    rate = r.total > r.from ? (plannedTotal - planned) / (r.total - r.from) : 0;
  }
  return planned + (step - base) * rate;
}

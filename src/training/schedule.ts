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

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { DigitDataset } from '../data/dataset.js';
import { readyWasmTrainingKernels } from '../kernels/wasm_training.js';
import { registerCpuTrainingKernels } from '../kernels/cpu_training.js';
import { DigitModelError } from '../errors.js';
import { setTrainingProvenance } from '../model/provenance.js';
import { augmentRanges, type AugmentOptions } from './augment.js';
import { batchDataset, type BatchDataset } from './batches.js';
import { CheckpointBestCallback } from './callbacks.js';
import { logValue } from './logs.js';
import { stratifiedSplit, subsetDataset } from './split.js';
import type { TrainingBudgetHook } from './budget.js';
import { plannedStep, type LearningRateSchedule, type ScheduleReplan } from './schedule.js';
import { YieldCallback, type YieldEvery } from './yield.js';
import { digitAdam } from '../model/adam.js';
import {
  captureTrainingState,
  restoreTrainingState,
  type TrainingStateMeta,
  type TrainingStateStore,
} from './state.js';

/** Options of {@link trainDigits}. */
export interface TrainDigitsOptions {
  /** Passes over the training images. Default 10. */
  readonly epochs?: number;
  /** Images per gradient step. Default 64. */
  readonly batchSize?: number;
  /** Fraction held out for validation, stratified by digit. Default 0.1. Ignored when `validationData` is given. */
  readonly validationSplit?: number;
  /** Validation images to use instead of a split of `data`. */
  readonly validationData?: DigitDataset;
  /** Seed of the split and of the per-epoch shuffling. Default 42. */
  readonly seed?: number;
  /** Reshuffle the training images every epoch. Default true. */
  readonly shuffle?: boolean;
  /**
   * Random rotations, zooms and shifts of the training images, drawn afresh
   * each epoch (`true` for the defaults: 10 degrees, 10 %, 2.5 px), plus
   * elastic distortion when `elastic` is given. Default off.
   */
  readonly augment?: boolean | AugmentOptions;
  /** Label smoothing factor, e.g. 0.1. Default 0 (plain one-hot targets). */
  readonly labelSmoothing?: number;
  /**
   * A fixed learning rate, or a schedule over the run's steps (see
   * `oneCycleSchedule`, `cosineSchedule`), applied to the compiled optimiser
   * before each step. Default: leave the optimiser's own rate.
   */
  readonly learningRate?: number | LearningRateSchedule;
  /**
   * The checkpoint keeping the best model (monitoring `val_acc`). Default: one
   * that keeps the best weights in memory. Pass your own to also save to disk,
   * IndexedDB or any `tf.io` destination.
   */
  readonly checkpoint?: CheckpointBestCallback;
  /** More tfjs-layers callbacks, run after the checkpoint. */
  readonly callbacks?: tfl.Callback[];
  /** Progress after every batch and epoch, for a progress bar or a UI; training waits for a returned promise. */
  readonly onProgress?: (progress: TrainProgress) => unknown;
  /** Stops training at the end of the current batch when aborted; the best model so far is returned. */
  readonly signal?: AbortSignal;
  /**
   * Makes the run resumable: after each completed epoch the weights, optimiser
   * state, best-so-far and history go to this store, and a later call with the
   * same settings continues from the last completed epoch instead of starting
   * over (see `fileTrainingState`). A state from different settings is refused.
   */
  readonly state?: TrainingStateStore;
  /**
   * Keeps the run inside a time budget (see `DigitBudget`): after every step it may shorten or
   * stretch the run's length, squeezing or spreading the rest of the learning-rate schedule so the
   * run still ends annealed. Changes are kept in `state`, so a resumed run replays them.
   */
  readonly budget?: TrainingBudgetHook;
  /**
   * How often to let the event loop run (a page repaint, a click on Stop, a
   * signal in Node): `auto` (every 125 ms), `batch`, `epoch`, `never`, or a
   * number of milliseconds, as tfjs' `yieldEvery`. Default `auto`.
   */
  readonly yieldEvery?: YieldEvery;
}

/** Where training stands, reported through {@link TrainDigitsOptions.onProgress}. */
export interface TrainProgress {
  /** `batch` after each step, `epoch` when an epoch (with its validation) is done. */
  readonly phase: 'batch' | 'epoch';
  /** Current epoch, from 1. */
  readonly epoch: number;
  readonly epochs: number;
  /** Steps done in this epoch and steps per epoch. */
  readonly batch: number;
  readonly batches: number;
  /** Mean training loss and accuracy so far this epoch. */
  readonly loss: number;
  readonly acc: number;
  /** Training images per second so far this epoch. */
  readonly imagesPerSecond: number;
  /** Seconds since this epoch began. */
  readonly seconds: number;
  /** The finished epoch's record, on `epoch` phase. */
  readonly record?: DigitEpochRecord;
  /** Every finished epoch so far, resumed ones included, on `epoch` phase. */
  readonly history?: readonly DigitEpochRecord[];
}

/** One epoch of training history: Keras' metric names, plus timing. */
export interface DigitEpochRecord {
  /** Epoch number, from 1. */
  readonly epoch: number;
  /** Wall seconds of the epoch, validation included. */
  readonly seconds: number;
  /** Training images per second over the epoch's steps. */
  readonly imagesPerSecond: number;
  readonly loss: number;
  readonly acc: number;
  readonly val_loss?: number;
  readonly val_acc?: number;
  /** Learning rate of the epoch's last step, when `learningRate` (a number or a schedule) is given. */
  readonly lr?: number;
}

/** What {@link trainDigits} returns. */
export interface TrainDigitsResult {
  /** The trained model, holding the best epoch's weights (not the last epoch's). */
  readonly model: tfl.LayersModel;
  readonly history: DigitEpochRecord[];
  /** The best epoch (from 1) and its monitored value. */
  readonly bestEpoch: number;
  readonly bestValue: number;
  readonly monitor: string;
  readonly trainCount: number;
  readonly validationCount: number;
  /** True when `signal` stopped training early. */
  readonly stopped: boolean;
  /** Epochs that were already done in the resumed state (0 for a fresh run). */
  readonly resumedEpochs: number;
  /** Optimiser steps the run took in all, resumed ones included. */
  readonly steps: number;
  /** The budget's changes to the run's length (empty without a budget, or when it kept the plan). */
  readonly replans: readonly ScheduleReplan[];
}

/**
 * Trains a digit classifier: a stratified, seeded validation split (10 % by
 * default), seeded reshuffling each epoch, batches built straight from the
 * compact pixels, a {@link CheckpointBestCallback} keeping the best epoch, and
 * per-epoch history with wall seconds. Returns the model holding the best
 * epoch's weights.
 *
 * Works on any backend; on `wasm` it first registers the training kernels the
 * stock backend lacks (see `registerWasmTrainingKernels`).
 */
export async function trainDigits(
  model: tfl.LayersModel,
  data: DigitDataset,
  options: TrainDigitsOptions = {},
): Promise<TrainDigitsResult> {
  if (data.labels === undefined)
    throw new TypeError(`${data.source}: training needs labelled data (a train.csv with a label column)`);
  const epochs = positiveInteger(options.epochs ?? 10, 'epochs');
  const batchSize = positiveInteger(options.batchSize ?? 64, 'batchSize');
  const seed = options.seed ?? 42;
  await prepareTraining(model);
  setTrainingProvenance(model, data.source);

  let trainIndices: Uint32Array;
  let validation: DigitDataset | undefined;
  if (options.validationData !== undefined) {
    trainIndices = Uint32Array.from({ length: data.count }, (_, i) => i);
    validation = options.validationData;
  } else {
    const split = stratifiedSplit(data.labels, options.validationSplit ?? 0.1, seed);
    trainIndices = split.train;
    validation =
      split.validation.length > 0 ? subsetDataset(data, split.validation, `${data.source} (validation)`) : undefined;
  }
  if (trainIndices.length === 0) throw new RangeError(`${data.source}: no images left to train on`);

  const checkpoint =
    options.checkpoint ?? new CheckpointBestCallback({ monitor: validation === undefined ? 'loss' : 'val_acc' });
  const history: DigitEpochRecord[] = [];
  const labelSmoothing = options.labelSmoothing ?? 0;
  if (!(labelSmoothing >= 0 && labelSmoothing < 1))
    throw new RangeError(`labelSmoothing must be in [0, 1), got ${labelSmoothing}`);
  const augment =
    options.augment === undefined || options.augment === false
      ? undefined
      : augmentRanges(options.augment === true ? {} : options.augment);
  const batches = batchDataset(data, trainIndices, {
    batchSize,
    seed,
    shuffle: options.shuffle ?? true,
    augment,
    labelSmoothing,
  });
  const length = new RunLength(epochs * batches.size, batches.size);
  const progress = new ProgressCallback(length, batches, options, history, model);
  const callbacks: tfl.Callback[] = [progress];
  if (options.budget !== undefined) callbacks.push(new BudgetCallback(options.budget, length, batches));
  callbacks.push(checkpoint, new YieldCallback(options.yieldEvery ?? 'auto'));
  if (options.learningRate !== undefined) callbacks.unshift(new LearningRateCallback(options.learningRate, length));
  let resumedEpochs = 0;
  const state = options.state;
  const fingerprint =
    state === undefined
      ? ''
      : runFingerprint(model, data, {
          batchSize,
          seed,
          validationCount: validation?.count ?? 0,
          trainCount: trainIndices.length,
          shuffle: options.shuffle ?? true,
          monitor: checkpoint.monitor,
          augment: JSON.stringify(augment ?? null),
          labelSmoothing,
          learningRate:
            typeof options.learningRate === 'function'
              ? `schedule over ${epochs} epochs`
              : String(options.learningRate ?? 'optimiser'),
        });
  // The state's lock is held from before the state is read until the training ends.
  const unlock = await state?.lock?.();
  try {
    if (state !== undefined) {
      resumedEpochs = await resume(model, state, fingerprint, checkpoint, history, length);
      callbacks.push(new StateCallback(state, fingerprint, checkpoint, history, progress, length));
    }
    // A budget may stretch the run: fitDataset only needs an upper bound, the run stops itself.
    const maxEpochs = options.budget === undefined ? epochs : Math.ceil(epochs * Math.max(1, options.budget.growth));
    const unfinished = resumedEpochs < length.epochs;
    const validationTensors = unfinished ? validation?.toTensors() : undefined;
    try {
      if (unfinished)
        await model.fitDataset(batches, {
          epochs: maxEpochs,
          initialEpoch: resumedEpochs,
          verbose: 0,
          callbacks: [...callbacks, ...(options.callbacks ?? [])],
          ...(validationTensors?.ys === undefined
            ? {}
            : { validationData: [validationTensors.xs, validationTensors.ys], validationBatchSize: 256 }),
        });
    } finally {
      tf.dispose([validationTensors?.xs, validationTensors?.ys].filter((t) => t !== undefined));
    }
  } finally {
    await unlock?.();
  }
  checkpoint.restoreBest(model);
  if (options.checkpoint === undefined) checkpoint.dispose();
  return {
    model,
    history,
    bestEpoch: checkpoint.bestEpoch,
    bestValue: checkpoint.bestValue,
    monitor: checkpoint.monitor,
    trainCount: trainIndices.length,
    validationCount: validation?.count ?? 0,
    stopped: progress.stopped,
    resumedEpochs,
    steps: progress.stopped ? progress.stepsDone : length.total,
    replans: [...length.replans],
  };
}

/**
 * The run's length in steps: as planned, and as a budget has since re-planned it. Shared by the
 * callbacks that set the learning rate, end epochs and save the state.
 */
class RunLength {
  total: number;
  readonly replans: ScheduleReplan[] = [];

  constructor(
    readonly planned: number,
    readonly perEpoch: number,
  ) {
    this.total = planned;
  }

  /** Epochs the run has now, the last one possibly short. */
  get epochs(): number {
    return Math.ceil(this.total / this.perEpoch);
  }

  replan(from: number, total: number): void {
    this.replans.push({ from, total });
    this.total = total;
  }

  restore(replans: readonly ScheduleReplan[]): void {
    for (const r of replans) this.replan(r.from, r.total);
  }
}

/**
 * Readies the backend's training kernels (wasm and cpu get this library's; any other backend runs
 * as it is) and compiles `model` with Adam and cross-entropy unless it is compiled already.
 */
export async function prepareTraining(model: tfl.LayersModel): Promise<void> {
  if (tf.getBackend() === 'wasm') await readyWasmTrainingKernels();
  else if (tf.getBackend() === 'cpu') registerCpuTrainingKernels();
  if (model.optimizer === undefined) {
    model.compile({ optimizer: digitAdam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  }
}

/** Sets the optimiser's learning rate before every step from a fixed value or a schedule. */
class LearningRateCallback extends tfl.Callback {
  private epoch = 0;

  constructor(
    private readonly rate: number | LearningRateSchedule,
    private readonly length: RunLength,
  ) {
    super();
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
  }

  override async onBatchBegin(batch: number): Promise<void> {
    const step = this.epoch * this.length.perEpoch + batch;
    const { planned, replans } = this.length;
    const lr = typeof this.rate === 'number' ? this.rate : this.rate(plannedStep(step, planned, replans), planned);
    // tfjs optimisers (Adam, SGD, RMSProp...) read their `learningRate` field on every step;
    // it is typed protected, hence the structural cast.
    ((this.model as tfl.LayersModel).optimizer as unknown as { learningRate: number }).learningRate = lr;
  }
}

/** Asks the budget after every step how long the run should be, and ends epochs and the run to match. */
class BudgetCallback extends tfl.Callback {
  private epoch = 0;

  constructor(
    private readonly budget: TrainingBudgetHook,
    private readonly length: RunLength,
    private readonly batches: BatchDataset,
  ) {
    super();
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
    this.batches.setEpochSteps(this.length.total - epoch * this.length.perEpoch);
  }

  override async onBatchEnd(batch: number): Promise<void> {
    const { perEpoch, total, planned } = this.length;
    const done = this.epoch * perEpoch + batch + 1;
    const limit = Math.floor(planned * Math.max(1, this.budget.growth));
    const next = Math.min(limit, Math.max(done, Math.round(this.budget.revise({ done, total, perEpoch }))));
    if (next === total) return;
    this.length.replan(done, next);
    this.batches.setEpochSteps(next - this.epoch * perEpoch);
  }

  override async onEpochEnd(epoch: number): Promise<void> {
    if ((epoch + 1) * this.length.perEpoch >= this.length.total) (this.model as tfl.LayersModel).stopTraining = true;
  }
}

/** Settings that must match for a saved state to be resumed. */
function runFingerprint(
  model: tfl.LayersModel,
  data: DigitDataset,
  settings: Record<string, number | boolean | string>,
): string {
  const shapes = model
    .getWeights()
    .map((w) => w.shape.join('x'))
    .join(',');
  return JSON.stringify({ ...settings, images: data.count, model: model.name, shapes });
}

/** Restores a saved state into the model, checkpoint and history; returns the epochs already done. */
async function resume(
  model: tfl.LayersModel,
  store: TrainingStateStore,
  fingerprint: string,
  checkpoint: CheckpointBestCallback,
  history: DigitEpochRecord[],
  length: RunLength,
): Promise<number> {
  const saved = await store.read();
  if (saved === undefined) return 0;
  if (saved.meta.fingerprint !== fingerprint) {
    throw new DigitModelError(
      'BAD_OPTIONS',
      store.description,
      'holds a training state from a run with different settings (data, model, batch size, seed or split); clear it or train elsewhere',
    );
  }
  const best = await restoreTrainingState(model, saved);
  const value = saved.meta.best.value ?? (checkpoint.mode === 'max' ? -Infinity : Infinity);
  await checkpoint.resumeFrom(model, {
    epoch: saved.meta.best.epoch,
    value,
    ...(best === undefined ? {} : { weights: best }),
  });
  tf.dispose(best);
  history.push(...saved.meta.history);
  length.restore(saved.meta.replans ?? []);
  return saved.meta.epoch;
}

/** Saves the run's state after every completed epoch (after the checkpoint has seen it). */
class StateCallback extends tfl.Callback {
  constructor(
    private readonly store: TrainingStateStore,
    private readonly fingerprint: string,
    private readonly checkpoint: CheckpointBestCallback,
    private readonly history: DigitEpochRecord[],
    private readonly progress: ProgressCallback,
    private readonly length: RunLength,
  ) {
    super();
  }

  override async onEpochEnd(epoch: number): Promise<void> {
    if (this.progress.stopped) return;
    const replans = this.length.replans;
    const meta: TrainingStateMeta = {
      version: 1,
      epoch: epoch + 1,
      history: [...this.history],
      best: { epoch: this.checkpoint.bestEpoch, value: this.checkpoint.bestValue, monitor: this.checkpoint.monitor },
      fingerprint: this.fingerprint,
      ...(replans.length === 0 ? {} : { replans: [...replans] }),
    };
    await this.store.write(
      await captureTrainingState(this.model as tfl.LayersModel, this.checkpoint.bestWeights, meta),
    );
  }
}

/** The rate LearningRateCallback last set: tfjs optimisers keep it in a field typed protected. */
function optimiserRate(model: tfl.LayersModel): number {
  return (model.optimizer as unknown as { learningRate: number }).learningRate;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** Times epochs, keeps the history, reports progress and honours the abort signal. */
class ProgressCallback extends tfl.Callback {
  stopped = false;
  private epochStart = 0;
  private trainSeconds = 0;
  private images = 0;
  private lossSum = 0;
  private accSum = 0;
  private steps = 0;
  private epoch = 0;

  constructor(
    private readonly length: RunLength,
    private readonly dataset: BatchDataset,
    private readonly options: TrainDigitsOptions,
    private readonly history: DigitEpochRecord[],
    private readonly trained: tfl.LayersModel,
  ) {
    super();
  }

  /** Steps done in all, when the run stopped (for an aborted run's result). */
  get stepsDone(): number {
    return this.epoch * this.length.perEpoch + this.steps;
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
    this.dataset.setEpoch(epoch);
    this.epochStart = performance.now();
    this.images = this.lossSum = this.accSum = this.steps = 0;
  }

  override async onBatchEnd(batch: number, logs?: tfl.Logs): Promise<void> {
    const size = logs?.['size'] ?? 0;
    this.images += size;
    this.lossSum += ((await logValue(logs, 'loss')) ?? Number.NaN) * size;
    this.accSum += ((await logValue(logs, 'acc')) ?? Number.NaN) * size;
    this.steps = batch + 1;
    this.trainSeconds = (performance.now() - this.epochStart) / 1000;
    await this.options.onProgress?.(this.snapshot('batch'));
    if (this.options.signal?.aborted === true && !this.stopped) {
      this.stopped = true;
      this.trained.stopTraining = true;
    }
  }

  override async onEpochEnd(epoch: number, logs?: tfl.Logs): Promise<void> {
    // An epoch cut short by the abort signal has no validation: it is not recorded.
    if (this.stopped) return;
    const [loss, acc, valLoss, valAcc] = await Promise.all(
      ['loss', 'acc', 'val_loss', 'val_acc'].map((k) => logValue(logs, k)),
    );
    const record: DigitEpochRecord = {
      epoch: epoch + 1,
      seconds: (performance.now() - this.epochStart) / 1000,
      imagesPerSecond: this.images / Math.max(this.trainSeconds, 1e-9),
      loss: loss ?? this.lossSum / Math.max(this.images, 1),
      acc: acc ?? this.accSum / Math.max(this.images, 1),
      ...(valLoss === undefined ? {} : { val_loss: valLoss }),
      ...(valAcc === undefined ? {} : { val_acc: valAcc }),
      ...(this.options.learningRate === undefined ? {} : { lr: optimiserRate(this.trained) }),
    };
    this.history.push(record);
    await this.options.onProgress?.(this.snapshot('epoch', record));
  }

  private snapshot(phase: 'batch' | 'epoch', record?: DigitEpochRecord): TrainProgress {
    return {
      phase,
      epoch: this.history.length + (phase === 'batch' ? 1 : 0),
      epochs: this.length.epochs,
      batch: this.steps,
      batches: Math.min(this.dataset.size, this.length.total - this.epoch * this.length.perEpoch),
      loss: this.lossSum / Math.max(this.images, 1),
      acc: this.accSum / Math.max(this.images, 1),
      imagesPerSecond: this.images / Math.max(this.trainSeconds, 1e-9),
      seconds: (performance.now() - this.epochStart) / 1000,
      ...(record === undefined ? {} : { record, history: [...this.history] }),
    };
  }
}

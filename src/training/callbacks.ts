import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describeModelIO, resolveModelIO, type ModelDestination } from '../io/model_io.js';
import { logValue } from './logs.js';

/** Options of {@link CheckpointBestCallback}, named as in Keras' `ModelCheckpoint`. */
export interface CheckpointBestOptions {
  /**
   * Where to save the best model: a directory (Node), `indexeddb://name`,
   * `localstorage://name`, or a `tf.io.IOHandler`. Omit to keep the best
   * weights in memory only.
   */
  readonly destination?: ModelDestination;
  /** The epoch log to watch. Default `val_acc`. */
  readonly monitor?: string;
  /** Whether larger or smaller is better; `auto` infers it from the name (`acc` -> max, `loss` -> min). */
  readonly mode?: 'auto' | 'max' | 'min';
  /** Smallest change that counts as an improvement. Default 0. */
  readonly minDelta?: number;
  /** Called after each save, e.g. to log it; a returned promise is awaited, any other value ignored. */
  readonly onSave?: (info: CheckpointSaved) => unknown;
}

/** What a checkpoint save recorded. */
export interface CheckpointSaved {
  /** Epoch number, counting from 1. */
  readonly epoch: number;
  readonly monitor: string;
  readonly value: number;
  readonly destination: string;
}

/**
 * A tfjs-layers callback that keeps the best model seen during training: at
 * the end of every epoch whose monitored metric (default `val_acc`) improves,
 * it saves the model to its destination and keeps a copy of the weights in
 * memory, so {@link CheckpointBestCallback.restoreBest} can put them back.
 *
 * @example
 * const checkpoint = new CheckpointBestCallback({ destination: 'out/best-model' });
 * await model.fit(xs, ys, { epochs: 5, validationSplit: 0.1, callbacks: [checkpoint] });
 * checkpoint.restoreBest(model);
 */
export class CheckpointBestCallback extends tfl.Callback {
  readonly monitor: string;
  readonly mode: 'max' | 'min';
  readonly destination: ModelDestination | undefined;
  private readonly minDelta: number;
  private readonly onSave: CheckpointBestOptions['onSave'];
  private best: number;
  private bestEpochNumber = 0;
  private bestWeightsCopy: tf.Tensor[] | undefined;

  constructor(options: CheckpointBestOptions = {}) {
    super();
    this.monitor = options.monitor ?? 'val_acc';
    const mode = options.mode ?? 'auto';
    this.mode = mode === 'auto' ? (/acc|auc|precision|recall/i.test(this.monitor) ? 'max' : 'min') : mode;
    this.destination = options.destination;
    this.minDelta = Math.abs(options.minDelta ?? 0);
    this.onSave = options.onSave;
    this.best = this.mode === 'max' ? -Infinity : Infinity;
  }

  /** Best monitored value so far (`-Infinity`/`Infinity` before the first epoch). */
  get bestValue(): number {
    return this.best;
  }

  /** Epoch (from 1) of the best value, or 0 before the first epoch. */
  get bestEpoch(): number {
    return this.bestEpochNumber;
  }

  /**
   * Starts from a saved best (when resuming a run): `epoch` and `value`, and
   * the best weights, which are also saved again to the destination so that
   * it matches the resumed run even if a killed run saved a later epoch there.
   */
  async resumeFrom(
    model: tfl.LayersModel,
    best: { epoch: number; value: number; weights?: readonly tf.Tensor[] },
  ): Promise<void> {
    this.best = best.value;
    this.bestEpochNumber = best.epoch;
    if (best.weights === undefined) return;
    tf.dispose(this.bestWeightsCopy);
    this.bestWeightsCopy = best.weights.map((w) => tf.keep(w.clone()));
    if (this.destination !== undefined) {
      const current = model.getWeights().map((w) => w.clone());
      model.setWeights(this.bestWeightsCopy);
      await model.save(resolveModelIO(this.destination));
      model.setWeights(current);
      tf.dispose(current);
    }
  }

  /** The in-memory copy of the best weights (owned by the callback), if any epoch has finished. */
  get bestWeights(): readonly tf.Tensor[] | undefined {
    return this.bestWeightsCopy;
  }

  override async onEpochEnd(epoch: number, logs?: tfl.Logs): Promise<void> {
    const value = await logValue(logs, this.monitor);
    if (value === undefined) {
      // Stopped mid-epoch (tfjs then skips validation): nothing to compare, nothing to save.
      if ((this.model as tfl.LayersModel | null)?.stopTraining === true) return;
      throw new Error(
        `CheckpointBestCallback: metric "${this.monitor}" is not in the epoch logs (have: ${Object.keys(logs ?? {}).join(', ') || 'none'}); train with validation data or pick another monitor`,
      );
    }
    if (!this.improves(value)) return;
    this.best = value;
    this.bestEpochNumber = epoch + 1;
    const model = this.model as tfl.LayersModel;
    tf.dispose(this.bestWeightsCopy);
    this.bestWeightsCopy = model.getWeights().map((w) => tf.keep(w.clone()));
    if (this.destination !== undefined) {
      await model.save(resolveModelIO(this.destination));
      await this.onSave?.({
        epoch: epoch + 1,
        monitor: this.monitor,
        value,
        destination: describeModelIO(this.destination),
      });
    }
  }

  /** Puts the best weights back into `model`; returns false if no epoch has finished yet. */
  restoreBest(model: tfl.LayersModel): boolean {
    if (this.bestWeightsCopy === undefined) return false;
    model.setWeights(this.bestWeightsCopy);
    return true;
  }

  /** Frees the in-memory copy of the best weights. */
  dispose(): void {
    tf.dispose(this.bestWeightsCopy);
    this.bestWeightsCopy = undefined;
  }

  private improves(value: number): boolean {
    if (Number.isNaN(value)) return false;
    return this.mode === 'max' ? value > this.best + this.minDelta : value < this.best - this.minDelta;
  }
}

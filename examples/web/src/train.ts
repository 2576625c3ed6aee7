/**
 * Training in the browser with the library's trainDigits: the bundled MNIST
 * sample or the user's train.csv, a live chart, the best epoch checkpointed to
 * IndexedDB, the run's state kept after every epoch so a reload resumes it
 * (resume.ts), and the result handed to Draw and Gallery.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  buildDigitCnn,
  CheckpointBestCallback,
  loadDigitCsv,
  MNIST_TRAIN_SOURCE,
  trainDigits,
  type DigitDataset,
  type DigitEpochRecord,
  type TrainProgress,
} from 'digit-recognizer';
import { TrainingChart } from './chart.js';
import { TRAINED_MODEL_URL, trainedModelExists, type ModelHolder } from './model.js';
import { describeSettings, ResumableRuns, sameSettings, type RunSettings } from './resume.js';
import { byId, formatNumber, showError } from './ui.js';

export interface TrainStats {
  imagesPerSecond: number;
  epochs: number;
  bestValAcc: number;
  seconds: number;
  /** Every epoch of the run, those finished before a reload included. */
  history: DigitEpochRecord[];
  /** Epochs that came from the saved state rather than from this page (0 for a run from scratch). */
  resumedEpochs: number;
}

/** The run in progress, after every batch. */
export interface TrainingLive {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  /** Epochs finished so far, resumed ones included. */
  history: DigitEpochRecord[];
  resumedEpochs: number;
}

export class Trainer {
  stats: TrainStats | undefined;
  /** Called when a training run has finished and its model is in use. */
  onStats: ((stats: TrainStats) => void) | undefined;
  /** Called after every batch of a run. */
  onLive: ((live: TrainingLive) => void) | undefined;
  private controller: AbortController | undefined;
  private restart = false;
  private readonly runs = new ResumableRuns();
  private readonly chart = new TrainingChart(byId('train-chart', HTMLCanvasElement));
  private readonly start = byId('train-start', HTMLButtonElement);
  private readonly stop = byId('train-stop', HTMLButtonElement);
  private readonly over = byId('train-over', HTMLButtonElement);
  private readonly reset = byId('train-reset', HTMLButtonElement);
  private readonly file = byId('train-file', HTMLInputElement);
  private readonly images = byId('train-images', HTMLInputElement);
  private readonly epochs = byId('train-epochs', HTMLInputElement);
  private readonly batch = byId('train-batch', HTMLInputElement);
  private readonly arch = byId('train-arch', HTMLSelectElement);
  private readonly progress = byId('train-progress', HTMLProgressElement);
  private readonly status = byId('train-status', HTMLElement);
  private readonly resumeNote = byId('train-resume', HTMLElement);
  private readonly error = byId('train-error', HTMLElement);

  constructor(
    private readonly holder: ModelHolder,
    private readonly setBusy: (busy: boolean) => void,
  ) {
    for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="train-source"]')) {
      radio.addEventListener('change', () => {
        this.file.disabled = this.source() !== 'file';
        this.updateStartLabel();
      });
    }
    for (const input of [this.file, this.images, this.epochs, this.batch, this.arch])
      input.addEventListener('change', () => this.updateStartLabel());
    this.start.addEventListener('click', () => void this.run(false));
    this.stop.addEventListener('click', () => {
      this.controller?.abort();
      this.status.textContent = 'Stopping at the end of this batch…';
    });
    this.over.addEventListener('click', () => {
      if (this.controller === undefined) {
        void this.run(true);
        return;
      }
      this.restart = true;
      this.controller.abort();
      this.status.textContent = 'Starting over at the end of this batch…';
    });
    this.reset.addEventListener('click', () => {
      void this.holder.forgetTrained().then(() => {
        this.reset.hidden = true;
        this.status.textContent = 'Back to the pretrained model; the model trained here was deleted from IndexedDB.';
      });
    });
    void trainedModelExists().then((exists) => {
      this.reset.hidden = !exists;
    });
    this.chart.reset(Number(this.epochs.value) || 1);
  }

  /**
   * After a reload (call once the backend and model are ready): finds the
   * unfinished run, shows its settings, and continues it from its last
   * completed epoch, unless the user had stopped it or it needs a file again.
   */
  async resumeUnfinished(): Promise<void> {
    const unfinished = this.runs.unfinished();
    if (unfinished === undefined) return;
    const { settings } = unfinished;
    this.showSettings(settings);
    let done: number;
    try {
      done = (await this.runs.savedHistory()).length;
    } catch (e) {
      showError(this.error, e);
      this.status.textContent = 'The saved state of the last run cannot be used: start over.';
      this.over.hidden = false;
      return;
    }
    this.over.hidden = false;
    this.updateStartLabel();
    if (done === 0) {
      this.status.textContent = 'The last run stopped before its first epoch ended: nothing to resume.';
      return;
    }
    const where = `after epoch ${done} of ${settings.epochs}`;
    if (settings.file !== undefined) {
      this.status.textContent = `A run on ${settings.file.name} stopped ${where}: choose that file again and press Resume training, or start over.`;
    } else if (unfinished.paused) {
      this.status.textContent = `A run stopped ${where}: press Resume training to continue, or start over.`;
    } else {
      await this.run(false);
    }
  }

  private source(): 'sample' | 'file' {
    return document.querySelector<HTMLInputElement>('input[name="train-source"]:checked')?.value === 'file'
      ? 'file'
      : 'sample';
  }

  private settings(): RunSettings {
    const file = this.file.files?.[0];
    return {
      source: this.source(),
      ...(this.source() === 'file' && file !== undefined ? { file: { name: file.name, size: file.size } } : {}),
      images: clampInt(this.images.value, 100, 1_000_000, 3000),
      epochs: clampInt(this.epochs.value, 1, 50, 3),
      batchSize: clampInt(this.batch.value, 8, 512, 64),
      architecture: this.arch.value,
    };
  }

  private showSettings(s: RunSettings): void {
    for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="train-source"]'))
      radio.checked = radio.value === s.source;
    this.file.disabled = s.source !== 'file';
    this.images.value = String(s.images);
    this.epochs.value = String(s.epochs);
    this.batch.value = String(s.batchSize);
    this.arch.value = s.architecture;
  }

  /** "Resume training" while the form matches the unfinished run, else "Start training". */
  private updateStartLabel(): void {
    const unfinished = this.runs.unfinished();
    const resumable = unfinished !== undefined && sameSettings(unfinished.settings, this.settings());
    this.start.textContent = resumable ? 'Resume training' : 'Start training';
    this.over.hidden = unfinished === undefined && this.controller === undefined;
  }

  private async loadData(limit: number): Promise<DigitDataset> {
    if (this.source() === 'file') {
      const file = this.file.files?.[0];
      if (file === undefined) throw new Error('Choose a train.csv (or the competition zip) first.');
      return loadDigitCsv(file, {
        name: file.name,
        labelled: true,
        limit,
        ...(/\.zip$/i.test(file.name) ? { member: 'train.csv' } : {}),
        onProgress: (rows) => {
          this.status.textContent = `Reading ${file.name}: ${formatNumber(rows)} images…`;
        },
      });
    }
    const response = await fetch(new URL('data/mnist-train-6000.csv.gz', document.baseURI));
    if (!response.ok) throw new Error(`bundled MNIST sample: HTTP ${response.status}`);
    // Named as MNIST's training split, so that trainDigits marks the model it trains as MNIST-trained
    // and the gallery refuses to write a competition submission with it.
    return loadDigitCsv(await response.blob(), {
      name: `${MNIST_TRAIN_SOURCE} (the bundled 6,000-image sample)`,
      labelled: true,
      limit,
    });
  }

  /** Trains with the form's settings: from the saved state when it belongs to them (unless `fresh`), else from scratch. */
  private async run(fresh: boolean): Promise<void> {
    const settings = this.settings();
    const { epochs, batchSize, architecture } = settings;
    this.error.hidden = true;
    this.start.disabled = true;
    this.stop.disabled = false;
    this.over.hidden = false;
    this.setBusy(true);
    this.controller = new AbortController();
    this.chart.reset(epochs);
    this.progress.value = 0;
    this.resumeNote.hidden = true;
    const began = performance.now();
    let history: DigitEpochRecord[] = [];
    try {
      const unfinished = this.runs.unfinished();
      if (!fresh && unfinished !== undefined && sameSettings(unfinished.settings, settings)) {
        history = [...(await this.runs.savedHistory())];
        this.runs.setPaused(settings, false);
      } else {
        await this.runs.begin(settings);
      }
      const resumed = history.length;
      if (resumed > 0) {
        this.resumeNote.textContent = `Resuming after epoch ${resumed} of ${epochs} (${describeSettings(settings)}).`;
        this.resumeNote.hidden = false;
        for (const r of history) this.chartEpoch(r);
      }
      this.status.textContent = 'Loading data…';
      const data = await this.loadData(settings.images);
      const model = buildDigitCnn({ architecture, seed: 1 });
      const checkpoint = new CheckpointBestCallback({ destination: TRAINED_MODEL_URL });
      let lastRate = 0;
      const onProgress = (p: TrainProgress): void => {
        const at = p.epoch - 1 + p.batch / p.batches;
        this.progress.value = Math.min(1, at / epochs);
        if (p.phase === 'batch') {
          this.chart.loss.push({ x: at, y: p.loss });
          this.chart.acc.push({ x: at, y: p.acc });
          lastRate = p.imagesPerSecond;
          this.status.textContent = `Epoch ${p.epoch} of ${epochs}, batch ${p.batch} of ${p.batches}: loss ${p.loss.toFixed(3)}, accuracy ${(p.acc * 100).toFixed(1)}%, ${formatNumber(p.imagesPerSecond)} images/s on ${tf.getBackend()}`;
        } else {
          history = [...(p.history ?? history)];
          if (p.record?.val_acc !== undefined) this.chart.val.push({ x: p.epoch, y: p.record.val_acc });
        }
        this.chart.request();
        this.onLive?.({ epoch: p.epoch, epochs, batch: p.batch, batches: p.batches, history, resumedEpochs: resumed });
      };
      // On WASM, trainDigits registers the training kernels the stock backend lacks.
      const result = await trainDigits(model, data, {
        epochs,
        batchSize,
        checkpoint,
        signal: this.controller.signal,
        onProgress,
        validationSplit: 0.1,
        ...(this.runs.store === undefined ? {} : { state: this.runs.store }),
      });
      checkpoint.dispose();
      if (this.restart) {
        // Start over: this run's result is discarded, the fresh run begins below.
        result.model.dispose();
        return;
      }
      // A stopped run keeps its state for Resume; a finished one (or one stopped before any epoch) has none to keep.
      if (result.stopped && result.history.length > 0) this.runs.setPaused(settings, true);
      else await this.runs.finish();
      const seconds = (performance.now() - began) / 1000;
      const rates = result.history.slice(result.resumedEpochs).map((h) => h.imagesPerSecond);
      const imagesPerSecond = rates.length > 0 ? rates.reduce((a, b) => a + b, 0) / rates.length : lastRate;
      if (result.bestEpoch === 0) {
        result.model.dispose();
        this.status.textContent =
          'Stopped before the first epoch ended: nothing saved, the previous model stays in use.';
        return;
      }
      await this.holder.use(result.model, {
        kind: 'trained',
        architecture,
        note: `trained here · ${(result.bestValue * 100).toFixed(1)}% validation`,
      });
      this.reset.hidden = false;
      const resumedNote = result.resumedEpochs > 0 ? `, resumed after epoch ${result.resumedEpochs}` : '';
      this.status.textContent = `${result.stopped ? 'Stopped' : 'Done'}: ${result.trainCount} images, best epoch ${result.bestEpoch} with validation accuracy ${(result.bestValue * 100).toFixed(2)}%, saved to ${TRAINED_MODEL_URL}. Draw and Gallery now use it. (${seconds.toFixed(1)} s${resumedNote}, ${formatNumber(imagesPerSecond)} images/s on ${tf.getBackend()})`;
      if (!result.stopped) this.progress.value = 1;
      this.stats = {
        imagesPerSecond,
        epochs: result.history.length,
        bestValAcc: result.bestValue,
        seconds,
        history: result.history,
        resumedEpochs: result.resumedEpochs,
      };
      this.onStats?.(this.stats);
    } catch (e) {
      showError(this.error, e);
      this.status.textContent = 'Training failed.';
    } finally {
      this.start.disabled = false;
      this.stop.disabled = true;
      this.controller = undefined;
      this.setBusy(false);
      this.updateStartLabel();
      this.chart.request();
      if (this.restart) {
        this.restart = false;
        void this.run(true);
      }
    }
  }

  /** A finished epoch on the chart, for epochs resumed from the saved state. */
  private chartEpoch(r: DigitEpochRecord): void {
    this.chart.loss.push({ x: r.epoch, y: r.loss });
    this.chart.acc.push({ x: r.epoch, y: r.acc });
    if (r.val_acc !== undefined) this.chart.val.push({ x: r.epoch, y: r.val_acc });
  }
}

function clampInt(value: string, min: number, max: number, fallback: number): number {
  const n = Math.round(Number(value));
  return Number.isFinite(n) ? Math.max(min, Math.min(max, n)) : fallback;
}

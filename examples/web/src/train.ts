/**
 * Training in the browser with the library's trainDigits: the bundled MNIST
 * sample or the user's train.csv, a live chart, the best epoch checkpointed to
 * IndexedDB, and the result handed to Draw and Gallery.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  buildDigitCnn,
  CheckpointBestCallback,
  loadDigitCsv,
  trainDigits,
  type DigitDataset,
  type TrainProgress,
} from 'digit-recognizer';
import { TrainingChart } from './chart.js';
import { TRAINED_MODEL_URL, trainedModelExists, type ModelHolder } from './model.js';
import { byId, formatNumber, showError } from './ui.js';

export interface TrainStats {
  imagesPerSecond: number;
  epochs: number;
  bestValAcc: number;
  seconds: number;
}

export class Trainer {
  stats: TrainStats | undefined;
  /** Called when a training run has finished and its model is in use. */
  onStats: ((stats: TrainStats) => void) | undefined;
  private controller: AbortController | undefined;
  private readonly chart = new TrainingChart(byId('train-chart', HTMLCanvasElement));
  private readonly start = byId('train-start', HTMLButtonElement);
  private readonly stop = byId('train-stop', HTMLButtonElement);
  private readonly reset = byId('train-reset', HTMLButtonElement);
  private readonly file = byId('train-file', HTMLInputElement);
  private readonly images = byId('train-images', HTMLInputElement);
  private readonly epochs = byId('train-epochs', HTMLInputElement);
  private readonly batch = byId('train-batch', HTMLInputElement);
  private readonly arch = byId('train-arch', HTMLSelectElement);
  private readonly progress = byId('train-progress', HTMLProgressElement);
  private readonly status = byId('train-status', HTMLElement);
  private readonly error = byId('train-error', HTMLElement);

  constructor(
    private readonly holder: ModelHolder,
    private readonly setBusy: (busy: boolean) => void,
  ) {
    for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="train-source"]')) {
      radio.addEventListener('change', () => {
        this.file.disabled = this.source() !== 'file';
      });
    }
    this.start.addEventListener('click', () => void this.run());
    this.stop.addEventListener('click', () => {
      this.controller?.abort();
      this.status.textContent = 'Stopping at the end of this batch…';
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

  private source(): 'sample' | 'file' {
    return document.querySelector<HTMLInputElement>('input[name="train-source"]:checked')?.value === 'file'
      ? 'file'
      : 'sample';
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
    return loadDigitCsv(await response.blob(), { name: 'MNIST sample', labelled: true, limit });
  }

  private async run(): Promise<void> {
    const limit = clampInt(this.images.value, 100, 1_000_000, 3000);
    const epochs = clampInt(this.epochs.value, 1, 50, 3);
    const batchSize = clampInt(this.batch.value, 8, 512, 64);
    this.error.hidden = true;
    this.start.disabled = true;
    this.stop.disabled = false;
    this.setBusy(true);
    this.controller = new AbortController();
    this.chart.reset(epochs);
    this.progress.value = 0;
    const began = performance.now();
    try {
      this.status.textContent = 'Loading data…';
      const data = await this.loadData(limit);
      const architecture = this.arch.value;
      const model = buildDigitCnn({ architecture, seed: 1 });
      let bestValAcc = 0;
      const checkpoint = new CheckpointBestCallback({
        destination: TRAINED_MODEL_URL,
        onSave: (saved) => {
          bestValAcc = saved.value;
        },
      });
      let lastRate = 0;
      const onProgress = (p: TrainProgress): void => {
        const at = p.epoch - 1 + p.batch / p.batches;
        this.progress.value = Math.min(1, at / epochs);
        if (p.phase === 'batch') {
          this.chart.loss.push({ x: at, y: p.loss });
          this.chart.acc.push({ x: at, y: p.acc });
          lastRate = p.imagesPerSecond;
          this.status.textContent = `Epoch ${p.epoch} of ${epochs}, batch ${p.batch} of ${p.batches}: loss ${p.loss.toFixed(3)}, accuracy ${(p.acc * 100).toFixed(1)}%, ${formatNumber(p.imagesPerSecond)} images/s on ${tf.getBackend()}`;
        } else if (p.record?.val_acc !== undefined) {
          this.chart.val.push({ x: p.epoch, y: p.record.val_acc });
        }
        this.chart.request();
      };
      // On WASM, trainDigits registers the training kernels the stock backend lacks.
      const result = await trainDigits(model, data, {
        epochs,
        batchSize,
        checkpoint,
        signal: this.controller.signal,
        onProgress,
        validationSplit: 0.1,
      });
      checkpoint.dispose();
      const seconds = (performance.now() - began) / 1000;
      const rates = result.history.map((h) => h.imagesPerSecond);
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
      this.status.textContent = `${result.stopped ? 'Stopped' : 'Done'}: ${result.trainCount} images, best epoch ${result.bestEpoch} with validation accuracy ${(result.bestValue * 100).toFixed(2)}%, saved to ${TRAINED_MODEL_URL}. Draw and Gallery now use it. (${seconds.toFixed(1)} s, ${formatNumber(imagesPerSecond)} images/s on ${tf.getBackend()})`;
      this.progress.value = 1;
      this.stats = { imagesPerSecond, epochs: result.history.length, bestValAcc, seconds };
      this.onStats?.(this.stats);
    } catch (e) {
      showError(this.error, e);
      this.status.textContent = 'Training failed.';
    } finally {
      this.start.disabled = false;
      this.stop.disabled = true;
      this.controller = undefined;
      this.setBusy(false);
      this.chart.request();
    }
  }
}

function clampInt(value: string, min: number, max: number, fallback: number): number {
  const n = Math.round(Number(value));
  return Number.isFinite(n) ? Math.max(min, Math.min(max, n)) : fallback;
}

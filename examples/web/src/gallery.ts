/**
 * The gallery: a test set loaded from disk (or the bundled MNIST sample),
 * predicted in the browser, paged least confident first, and the Kaggle
 * submission offered as a download.
 */
import {
  accuracy,
  createDigitDataset,
  formatSubmission,
  trainingProvenance,
  loadDigitCsv,
  PIXELS_PER_IMAGE,
  predictDigits,
  renderPredictionGrid,
  type DigitDataset,
  type DigitPredictions,
} from 'digit-recognizer';
import type { ModelHolder } from './model.js';
import { byId, drawDigit, formatNumber, nextPaint, percent, saveBlob, showError } from './ui.js';

export const PAGE_SIZE = 60;
/** Images predicted between repaints, so the page stays responsive. */
const CHUNK = 1024;

export interface GalleryStats {
  images: number;
  seconds: number;
  imagesPerSecond: number;
}

export class Gallery {
  private data: DigitDataset | undefined;
  private predictions: DigitPredictions | undefined;
  private order: Uint32Array = new Uint32Array(0);
  private page = 0;
  private busy = false;
  stats: GalleryStats | undefined;
  /** Called after each full prediction of the loaded set. */
  onStats: ((stats: GalleryStats) => void) | undefined;

  private readonly file = byId('gallery-file', HTMLInputElement);
  private readonly sample = byId('gallery-sample', HTMLButtonElement);
  private readonly download = byId('gallery-download', HTMLButtonElement);
  private readonly png = byId('gallery-png', HTMLButtonElement);
  private readonly progress = byId('gallery-progress', HTMLProgressElement);
  private readonly summary = byId('gallery-summary', HTMLElement);
  private readonly error = byId('gallery-error', HTMLElement);
  private readonly view = byId('gallery-view', HTMLElement);
  private readonly orderSelect = byId('gallery-order', HTMLSelectElement);
  private readonly prev = byId('gallery-prev', HTMLButtonElement);
  private readonly next = byId('gallery-next', HTMLButtonElement);
  private readonly pageLabel = byId('gallery-page', HTMLElement);
  private readonly grid = byId('gallery-grid', HTMLOListElement);

  constructor(
    private readonly holder: ModelHolder,
    private readonly setBusy: (busy: boolean) => void,
  ) {
    this.file.addEventListener('change', () => {
      const file = this.file.files?.[0];
      if (file !== undefined) void this.load(file, file.name);
      this.file.value = '';
    });
    this.sample.addEventListener('click', () => {
      void (async () => {
        const response = await fetch(new URL('data/mnist-test-1000.csv.gz', document.baseURI));
        if (!response.ok) throw new Error(`bundled sample: HTTP ${response.status}`);
        await this.load(await response.blob(), 'MNIST test sample (1,000 images)');
      })().catch((e: unknown) => showError(this.error, e));
    });
    this.download.addEventListener('click', () => {
      if (this.predictions === undefined) return;
      saveBlob(new Blob([formatSubmission(this.predictions)], { type: 'text/csv' }), 'submission.csv');
    });
    this.png.addEventListener('click', () => this.savePagePng());
    this.orderSelect.addEventListener('change', () => {
      this.sortOrder();
      this.show(0);
    });
    this.prev.addEventListener('click', () => this.show(this.page - 1));
    this.next.addEventListener('click', () => this.show(this.page + 1));
    holder.onChange(() => {
      // A new model (trained, or rebuilt on another backend): predict the loaded set again.
      if (this.data !== undefined && !this.busy) void this.predict();
    });
  }

  get pageCount(): number {
    return Math.max(1, Math.ceil(this.order.length / PAGE_SIZE));
  }

  /** Loads a CSV, gzip or competition zip (its test.csv) and predicts it. */
  async load(source: Blob, name: string): Promise<void> {
    if (this.busy) return;
    this.error.hidden = true;
    this.summary.textContent = `Reading ${name}…`;
    try {
      this.busy = true;
      this.setBusy(true);
      const isZip = /\.zip$/i.test(name);
      this.data = await loadDigitCsv(source, {
        name,
        ...(isZip ? { member: 'test.csv' } : {}),
        onProgress: (rows) => {
          this.summary.textContent = `Reading ${name}: ${formatNumber(rows)} images…`;
        },
      });
      if (this.data.count === 0) throw new Error(`${name} holds no images`);
    } catch (e) {
      this.data = undefined;
      this.summary.textContent = '';
      showError(this.error, e);
      return;
    } finally {
      this.busy = false;
      this.setBusy(false);
    }
    await this.predict();
  }

  private async predict(): Promise<void> {
    const data = this.data;
    if (data === undefined || !this.holder.ready) return;
    this.busy = true;
    this.setBusy(true);
    this.download.disabled = true;
    this.png.disabled = true;
    this.progress.hidden = false;
    this.progress.value = 0;
    try {
      const model = this.holder.layersModel;
      const labels = new Uint8Array(data.count);
      const confidences = new Float32Array(data.count);
      let seconds = 0;
      for (let start = 0; start < data.count; start += CHUNK) {
        const end = Math.min(data.count, start + CHUNK);
        const chunk = createDigitDataset(
          data.pixels.subarray(start * PIXELS_PER_IMAGE, end * PIXELS_PER_IMAGE),
          undefined,
          data.source,
        );
        const began = performance.now();
        const part = await predictDigits(model, chunk, { batchSize: 256 });
        seconds += (performance.now() - began) / 1000;
        labels.set(part.labels, start);
        confidences.set(part.confidences, start);
        this.progress.value = end / data.count;
        this.summary.textContent = `Predicting: ${formatNumber(end)} of ${formatNumber(data.count)}…`;
        await nextPaint();
      }
      this.predictions = { count: data.count, labels, confidences };
      this.stats = { images: data.count, seconds, imagesPerSecond: data.count / Math.max(seconds, 1e-9) };
      const known =
        data.labels === undefined
          ? ''
          : ` · accuracy ${(accuracy(this.predictions, data.labels) * 100).toFixed(2)}% against the file's labels`;
      this.summary.textContent = `${formatNumber(data.count)} images predicted in ${seconds.toFixed(2)} s (${formatNumber(this.stats.imagesPerSecond)} images/s)${known}.`;
      this.sortOrder();
      this.view.hidden = false;
      // A model that learnt from MNIST's training images has seen most of the competition's test images:
      // it may score a labelled file, not write a submission for unlabelled images.
      const refused = data.labels === undefined && trainingProvenance(model)?.mnistTrain === true;
      this.download.disabled = refused;
      this.download.title = refused
        ? "This model was trained on MNIST's training images, which include most of the competition's test images: train on the competition's train.csv to write a submission."
        : '';
      this.png.disabled = false;
      this.show(0);
      this.onStats?.(this.stats);
    } catch (e) {
      showError(this.error, e);
    } finally {
      this.progress.hidden = true;
      this.busy = false;
      this.setBusy(false);
    }
  }

  private sortOrder(): void {
    const { data, predictions } = this;
    if (data === undefined || predictions === undefined) return;
    const indices = Array.from({ length: data.count }, (_, i) => i);
    const mode = this.orderSelect.value;
    const truth = data.labels;
    const wrong = (i: number): number => (truth !== undefined && truth[i] !== predictions.labels[i] ? 0 : 1);
    if (mode === 'confidence')
      indices.sort((a, b) => (predictions.confidences[a] as number) - (predictions.confidences[b] as number) || a - b);
    else if (mode === 'wrong')
      indices.sort(
        (a, b) =>
          wrong(a) - wrong(b) || (predictions.confidences[a] as number) - (predictions.confidences[b] as number),
      );
    this.order = Uint32Array.from(indices);
  }

  private show(page: number): void {
    const { data, predictions } = this;
    if (data === undefined || predictions === undefined) return;
    this.page = Math.max(0, Math.min(this.pageCount - 1, page));
    this.pageLabel.textContent = `Page ${this.page + 1} of ${this.pageCount}`;
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= this.pageCount - 1;
    const tiles: HTMLLIElement[] = [];
    for (const index of this.pageIndices()) {
      const label = predictions.labels[index] as number;
      const confidence = predictions.confidences[index] as number;
      const truth = data.labels?.[index];
      const tile = document.createElement('li');
      tile.className = 'tile';
      tile.classList.toggle('low', confidence < 0.6);
      tile.classList.toggle('wrong', truth !== undefined && truth !== label);
      const canvas = document.createElement('canvas');
      canvas.setAttribute('aria-hidden', 'true');
      drawDigit(canvas, data.pixels, index);
      const title = document.createElement('div');
      title.className = 'label';
      title.textContent = String(label);
      const conf = document.createElement('div');
      conf.className = 'conf';
      conf.textContent = percent(confidence);
      const id = document.createElement('div');
      id.className = 'id';
      id.textContent = `#${index + 1}`;
      tile.append(canvas, title, conf);
      if (truth !== undefined && truth !== label) {
        const t = document.createElement('div');
        t.className = 'truth';
        t.textContent = `true ${truth}`;
        tile.append(t);
      }
      tile.append(id);
      tile.setAttribute(
        'aria-label',
        `Image ${index + 1}: predicted ${label}, ${percent(confidence)} confident${truth !== undefined && truth !== label ? `, true label ${truth}` : ''}`,
      );
      tiles.push(tile);
    }
    this.grid.replaceChildren(...tiles);
  }

  private pageIndices(): number[] {
    return Array.from(this.order.subarray(this.page * PAGE_SIZE, (this.page + 1) * PAGE_SIZE));
  }

  private savePagePng(): void {
    const { data, predictions } = this;
    if (data === undefined || predictions === undefined) return;
    const grid = renderPredictionGrid(data, predictions, {
      indices: this.pageIndices(),
      columns: 10,
      title: `Page ${this.page + 1} of ${this.pageCount}`,
    });
    saveBlob(new Blob([grid.png.slice().buffer], { type: 'image/png' }), `predictions-page-${this.page + 1}.png`);
  }
}

/**
 * Training in the browser with the library's trainDigits: the bundled MNIST
 * sample or the user's train.csv, a budget in minutes planned on this device
 * (calibrateDigitRecipe, planDigitTraining, DigitBudget, as the CLI's --minutes)
 * or epochs given under Advanced, a live chart, the best epoch checkpointed to
 * IndexedDB, the run's state kept after every epoch so a reload resumes it
 * (resume.ts), and the result handed to Draw and Gallery.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  buildDigitCnn,
  calibrateDigitRecipe,
  CheckpointBestCallback,
  DigitBudget,
  DigitModelError,
  digitRecipes,
  loadDigitCsv,
  MNIST_TRAIN_SOURCE,
  oneCycleSchedule,
  planDigitTraining,
  trainDigits,
  type DigitDataset,
  type DigitEpochRecord,
  type TrainProgress,
} from 'digit-recognizer';
import { TrainingChart } from './chart.js';
import { TRAINED_MODEL_URL, trainedModelExists, type ModelHolder } from './model.js';
import {
  describeSettings,
  ResumableRuns,
  sameSettings,
  trainedArchitecture,
  type RunSettings,
  type StoredPlan,
} from './resume.js';
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
  /** A budgeted run's plan and its seconds: `spentBefore` were counted from the saved state on resuming. */
  budget?: { budgetSeconds: number; plannedEpochs: number; spentBefore: number; usedSeconds: number };
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
  private readonly minutes = byId('train-minutes', HTMLInputElement);
  private readonly advanced = byId('train-advanced', HTMLDetailsElement);
  private readonly planButton = byId('train-plan', HTMLButtonElement);
  private readonly planText = byId('train-plan-text', HTMLElement);
  /** The last plan made here, for the settings it was made for, and the data it was timed on. */
  private planned: { key: string; plan: StoredPlan; data: DigitDataset } | undefined;
  private planning = false;
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
    // `input` too: Start's state follows the form while typing, not only once a field loses focus.
    for (const input of [this.file, this.images, this.epochs, this.minutes, this.batch, this.arch])
      for (const event of ['change', 'input']) input.addEventListener(event, () => this.updateStartLabel());
    this.planButton.addEventListener('click', () => void this.makePlan());
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
    this.updateStartLabel();
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
    if (unfinished.plan !== undefined) this.showPlan(unfinished.plan, settings, 'the plan this run started with');
    const where = `after epoch ${done} of ${unfinished.plan?.epochs ?? settings.epochs}`;
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
    const epochs = this.epochs.value.trim() === '' ? undefined : clampInt(this.epochs.value, 1, 50, 3);
    return {
      source: this.source(),
      ...(this.source() === 'file' && file !== undefined ? { file: { name: file.name, size: file.size } } : {}),
      images: clampInt(this.images.value, 100, 1_000_000, 3000),
      ...(epochs === undefined ? { minutes: clampNumber(this.minutes.value, 0.1, 120, 1) } : { epochs }),
      batchSize: clampInt(this.batch.value, 8, 512, 64),
      architecture: this.arch.value,
    };
  }

  private showSettings(s: RunSettings): void {
    for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="train-source"]'))
      radio.checked = radio.value === s.source;
    this.file.disabled = s.source !== 'file';
    this.images.value = String(s.images);
    this.epochs.value = s.epochs === undefined ? '' : String(s.epochs);
    if (s.minutes !== undefined) this.minutes.value = String(s.minutes);
    this.batch.value = String(s.batchSize);
    this.arch.value = s.architecture;
    if (s.epochs !== undefined || s.architecture !== 'auto' || s.batchSize !== 64) this.advanced.open = true;
  }

  /**
   * "Resume training" while the form matches the unfinished run, else "Start training"; under a
   * budget, Start waits for a plan made for the form's settings.
   */
  private updateStartLabel(): void {
    const settings = this.settings();
    const unfinished = this.runs.unfinished();
    const resumable = unfinished !== undefined && sameSettings(unfinished.settings, settings);
    const budgeted = settings.minutes !== undefined;
    const planned = this.planned?.key === settingsKey(settings);
    this.start.textContent = resumable ? 'Resume training' : 'Start training';
    this.planButton.hidden = !budgeted;
    if (!planned && !resumable && this.controller === undefined) this.planText.hidden = true;
    if (this.controller === undefined && !this.planning) {
      this.start.disabled = budgeted && !planned && !resumable;
      this.start.title = this.start.disabled ? 'Plan for this device first: it shows what the minutes buy here.' : '';
    }
    this.over.hidden = unfinished === undefined && this.controller === undefined;
  }

  /**
   * Times the candidate networks on this device and backend (a few real training steps each,
   * calibrateDigitRecipe) and plans the run that fills the budget (planDigitTraining), then shows
   * it: the visitor starts it with Start training. The budget counts the training (from its first
   * step to the saved model), not this planning.
   */
  private async makePlan(): Promise<void> {
    const settings = this.settings();
    if (settings.minutes === undefined || this.planning || this.controller !== undefined) return;
    this.planning = true;
    this.error.hidden = true;
    this.planButton.disabled = true;
    this.start.disabled = true;
    this.planText.hidden = true;
    this.setBusy(true);
    try {
      this.status.textContent = 'Loading data…';
      const data = await this.loadData(settings.images);
      const validationImages = Math.round(data.count * VALIDATION_SPLIT);
      const began = performance.now();
      let timed = 0;
      const plan = await planDigitTraining({
        seconds: settings.minutes * 60,
        trainImages: data.count - validationImages,
        validationImages,
        testImages: 0,
        ensemble: 1,
        ttaViews: 1,
        recipes: digitRecipes().map((r) => ({ ...r, batchSize: settings.batchSize })),
        ...(settings.architecture === 'auto' ? {} : { architecture: settings.architecture }),
        // The budget starts with the training, so the planning's own seconds are not counted.
        clock: () => 0,
        startedAt: 0,
        measure: (recipe) => {
          timed++;
          this.status.textContent = `Timing ${recipe.architecture} on this device (${tf.getBackend()})…`;
          return calibrateDigitRecipe(recipe, data);
        },
      });
      const { clock: _clock, startedAt: _startedAt, ...stored } = plan;
      this.planned = { key: settingsKey(settings), plan: stored, data };
      const seconds = ((performance.now() - began) / 1000).toFixed(1);
      this.showPlan(
        stored,
        settings,
        `Timed ${timed} network${timed === 1 ? '' : 's'} in ${seconds} s on ${tf.getBackend()}`,
      );
      this.status.textContent = 'Press Start training to train as planned.';
    } catch (e) {
      if (e instanceof DigitModelError && e.code === 'BUDGET_TOO_SMALL') {
        showError(this.error, new Error(`${settings.minutes} min: ${e.message.replace(/^budget: /, '')}`));
      } else if (e instanceof DigitModelError && e.code === 'UNKNOWN_ARCHITECTURE') {
        showError(
          this.error,
          new Error(`${settings.architecture} has no recipe to plan with: choose another network, or give epochs.`),
        );
      } else showError(this.error, e);
      this.status.textContent = 'No plan.';
    } finally {
      this.planning = false;
      this.planButton.disabled = false;
      this.setBusy(false);
      this.updateStartLabel();
    }
  }

  private showPlan(plan: StoredPlan, settings: RunSettings, how: string): void {
    const about = formatSeconds(plan.estimate.total);
    this.planText.textContent = `Plan for this device: ${plan.recipe.architecture}, ${plan.epochs} epochs of ${formatNumber(plan.trainImages)} images, batch ${plan.recipe.batchSize}: about ${about} of ${settings.minutes ?? 0} min (${how}).`;
    this.planText.hidden = false;
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
    const unfinished = this.runs.unfinished();
    const resuming = !fresh && unfinished !== undefined && sameSettings(unfinished.settings, settings);
    const key = settingsKey(settings);
    // A budgeted run follows the plan it started with (when resumed) or the one shown for the form;
    // Start over without a new plan repeats the unfinished run's.
    const sameAsUnfinished = unfinished !== undefined && sameSettings(unfinished.settings, settings);
    const plan =
      settings.minutes === undefined
        ? undefined
        : resuming
          ? unfinished?.plan
          : this.planned?.key === key
            ? this.planned.plan
            : sameAsUnfinished
              ? unfinished?.plan
              : undefined;
    if (settings.minutes !== undefined && plan === undefined) {
      await this.makePlan();
      return;
    }
    const epochs = plan?.epochs ?? settings.epochs ?? 1;
    const batchSize = plan?.recipe.batchSize ?? settings.batchSize;
    const architecture = plan?.recipe.architecture ?? trainedArchitecture(settings);
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
      if (resuming) {
        history = [...(await this.runs.savedHistory())];
        this.runs.setPaused(false);
      } else {
        await this.runs.begin(settings, plan);
      }
      const resumed = history.length;
      // What the saved epochs took counts against the budget, so a resumed run trains for what is left.
      const spentBefore = history.reduce((sum, r) => sum + r.seconds, 0);
      if (resumed > 0) {
        const budgetNote =
          plan === undefined
            ? ''
            : ` ${spentBefore.toFixed(1)} s of the budget spent, ${formatSeconds(plan.budgetSeconds - spentBefore)} left.`;
        this.resumeNote.textContent = `Resuming after epoch ${resumed} of ${epochs} (${describeSettings(settings, plan)}).${budgetNote}`;
        this.resumeNote.hidden = false;
        for (const r of history) this.chartEpoch(r);
      }
      if (plan !== undefined) this.showPlan(plan, settings, 'the plan this run started with');
      this.status.textContent = 'Loading data…';
      const data = this.planned?.key === key ? this.planned.data : await this.loadData(settings.images);
      const clock = (): number => performance.now() / 1000;
      const budget =
        plan === undefined ? undefined : new DigitBudget({ ...plan, clock, startedAt: clock() - spentBefore });
      const model = buildDigitCnn({ architecture, seed: 1 });
      const checkpoint = new CheckpointBestCallback({ destination: TRAINED_MODEL_URL });
      let lastRate = 0;
      const onProgress = (p: TrainProgress): void => {
        const at = p.epoch - 1 + p.batch / p.batches;
        // A budget may lengthen or shorten the run as it goes: p.epochs is its current length.
        if (p.epochs > this.chart.epochs) this.chart.epochs = p.epochs;
        this.progress.value = Math.min(1, at / p.epochs);
        if (p.phase === 'batch') {
          this.chart.loss.push({ x: at, y: p.loss });
          this.chart.acc.push({ x: at, y: p.acc });
          lastRate = p.imagesPerSecond;
          this.status.textContent = `Epoch ${p.epoch} of ${p.epochs}, batch ${p.batch} of ${p.batches}: loss ${p.loss.toFixed(3)}, accuracy ${(p.acc * 100).toFixed(1)}%, ${formatNumber(p.imagesPerSecond)} images/s on ${tf.getBackend()}`;
        } else {
          history = [...(p.history ?? history)];
          if (p.record?.val_acc !== undefined) this.chart.val.push({ x: p.epoch, y: p.record.val_acc });
        }
        this.chart.request();
        this.onLive?.({
          epoch: p.epoch,
          epochs: p.epochs,
          batch: p.batch,
          batches: p.batches,
          history,
          resumedEpochs: resumed,
        });
      };
      // On WASM, trainDigits registers the training kernels the stock backend lacks.
      const result = await trainDigits(model, data, {
        epochs,
        batchSize,
        checkpoint,
        signal: this.controller.signal,
        onProgress,
        validationSplit: VALIDATION_SPLIT,
        // A planned run trains as the CLI's --minutes does: the recipe's augmentation, smoothing and one-cycle rate.
        ...(plan === undefined || budget === undefined
          ? {}
          : {
              augment: plan.recipe.augment,
              labelSmoothing: plan.recipe.labelSmoothing,
              learningRate: oneCycleSchedule(plan.recipe.maxLearningRate),
              budget: budget.model(0),
            }),
        ...(this.runs.store === undefined ? {} : { state: this.runs.store }),
      });
      const usedSeconds = clock() - (budget?.plan.startedAt ?? clock());
      checkpoint.dispose();
      if (this.restart) {
        // Start over: this run's result is discarded, the fresh run begins below.
        result.model.dispose();
        return;
      }
      // A stopped run keeps its state for Resume; a finished one (or one stopped before any epoch) has none to keep.
      if (result.stopped && result.history.length > 0) this.runs.setPaused(true);
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
      const budgetNote =
        plan === undefined ? '' : `, ${formatSeconds(usedSeconds)} of a ${formatSeconds(plan.budgetSeconds)} budget`;
      this.status.textContent = `${result.stopped ? 'Stopped' : 'Done'}: ${result.trainCount} images, best epoch ${result.bestEpoch} with validation accuracy ${(result.bestValue * 100).toFixed(2)}%, saved to ${TRAINED_MODEL_URL}. Draw and Gallery now use it. (${seconds.toFixed(1)} s${resumedNote}${budgetNote}, ${formatNumber(imagesPerSecond)} images/s on ${tf.getBackend()})`;
      if (!result.stopped) this.progress.value = 1;
      this.stats = {
        imagesPerSecond,
        epochs: result.history.length,
        bestValAcc: result.bestValue,
        seconds,
        history: result.history,
        resumedEpochs: result.resumedEpochs,
        ...(plan === undefined
          ? {}
          : {
              budget: { budgetSeconds: plan.budgetSeconds, plannedEpochs: plan.epochs, spentBefore, usedSeconds },
            }),
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

/** Share of the images held out to pick the best epoch. */
const VALIDATION_SPLIT = 0.1;

/** What identifies a plan's settings: another form needs another plan. */
function settingsKey(s: RunSettings): string {
  return JSON.stringify([s.source, s.file?.name, s.file?.size, s.images, s.minutes, s.batchSize, s.architecture]);
}

/** "42 s" or "1.5 min". */
function formatSeconds(seconds: number): string {
  return seconds < 90 ? `${Math.max(0, seconds).toFixed(0)} s` : `${(seconds / 60).toFixed(1)} min`;
}

function clampNumber(value: string, min: number, max: number, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && value.trim() !== '' ? Math.max(min, Math.min(max, n)) : fallback;
}

function clampInt(value: string, min: number, max: number, fallback: number): number {
  const n = Math.round(Number(value));
  return Number.isFinite(n) ? Math.max(min, Math.min(max, n)) : fallback;
}

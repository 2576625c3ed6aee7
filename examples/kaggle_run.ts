/**
 * The plumbing of examples/kaggle.ts, so that file reads as the notebook's steps: flags and their
 * checks, the banner, the finished-run check, the plan (a time budget calibrated on this machine, or
 * the settings given), Ctrl-C, progress lines, history.csv and run.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  assertFolderUnlocked,
  calibrateDigitRecipe,
  DEFAULT_MAX_ROWS,
  DigitBudget,
  DigitModelError,
  digitPresets,
  digitRecipes,
  fileTrainingState,
  getDigitArchitecture,
  getDigitRecipe,
  lockFolder,
  MNIST_SHA256,
  oneCycleSchedule,
  planDigitTraining,
  replanDigitTraining,
  stratifiedSplit,
  subsetDataset,
  sweepStaleTempFiles,
  ttaViewCount,
  VERSION,
  writeFileAtomic,
  type DigitArchitecture,
  type DigitBudgetEvent,
  type DigitDataset,
  type DigitEpochRecord,
  type DigitPlan,
  type DigitRecipe,
  type FolderLock,
  type TrainDigitsOptions,
  type TrainDigitsResult,
  type TrainingStateStore,
  type TrainProgress,
} from 'digit-recognizer';
import {
  commandName,
  csvLimits,
  fractionFlag,
  intFlag,
  loadKaggleData,
  MAX_ROWS_FLAG,
  nativeKernelsLine,
  parseFlags,
  ProgressBar,
  runScript,
  THREADS_FLAG,
  UsageError,
  useBackend,
  type KaggleData,
} from './cli.js';

const FLAGS = {
  data: { type: 'string' },
  out: { type: 'string', default: 'out' },
  preset: { type: 'string' },
  minutes: { type: 'string' },
  arch: { type: 'string' },
  model: { type: 'string' },
  epochs: { type: 'string' },
  ensemble: { type: 'string' },
  tta: { type: 'string' },
  holdout: { type: 'string' },
  'train-limit': { type: 'string' },
  backend: { type: 'string', default: 'wasm' },
  seed: { type: 'string' },
  'batch-size': { type: 'string' },
  ...THREADS_FLAG,
  ...MAX_ROWS_FLAG,
  force: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(): string {
  return [
    `usage: ${commandName('kaggle')} [--data PATH] [--out DIR] [--preset fast|default|best | --minutes N]`,
    '         [--arch NAME] [--ensemble K] [--tta VIEWS] [--epochs N] [--model NAME] [--holdout F] [--train-limit N]',
    '         [--backend wasm|cpu] [--threads N] [--no-native] [--seed N] [--batch-size N] [--max-rows N] [--force]',
    '',
    '  --data PATH        the competition zip, a folder with train.csv and test.csv, or omitted for the embedded MNIST',
    '  --out DIR          output folder (default out); one run at a time uses it',
    '  --preset NAME      a time budget for the whole command: fast 2 min, default 15 min, best 120 min',
    '  --minutes N        a budget of N minutes instead of a preset',
    '  --arch NAME        plan with this network only (strong, lean, compact)',
    '  --ensemble K       plan exactly K models',
    '  --tta VIEWS        predict with exactly VIEWS test-time views (1 = none, 5 = centre and four shifts)',
    "  --epochs N         no budget: train N epochs of --arch (default lean) with its recipe, as a plan's settings do",
    '  --model NAME       no budget: train NAME (seed, compact, lean, strong) with a plain recipe, as the original notebook did',
    '  --holdout F        fraction held out to pick epochs and score the run (default 0.1; 0 trains on all images)',
    '  --train-limit N    train on the first N labelled images only',
    '  --backend NAME     wasm (default) or cpu; --threads N sets wasm threads (default: the cores)',
    '  --no-native        WebAssembly kernels only, not the native ones (also DIGIT_RECOGNIZER_NATIVE=0)',
    '  --seed N           seed of the split, shuffling and weights (default 42)',
    "  --batch-size N     images per step (default: the recipe's)",
    '  --force            start over instead of resuming or reporting a finished run',
  ].join('\n');
}

/** What identifies a run: a finished run with the same settings is not trained again. */
interface Settings {
  readonly data: string | null;
  readonly preset: string | null;
  readonly minutes: number | null;
  readonly arch: string | null;
  readonly model: string | null;
  readonly epochs: number | null;
  readonly ensemble: number | null;
  readonly tta: number | null;
  readonly holdout: number;
  readonly batchSize: number | null;
  readonly seed: number;
  readonly trainLimit: number | null;
  readonly backend: string;
}

/** The run's plan, as the notebook uses it. */
export interface KagglePlan {
  readonly architecture: DigitArchitecture;
  /** Models still planned (a budget may drop the last ones on a slow host). */
  readonly models: number;
  /** Everything trainDigits needs to train model `k` (from 0) the planned way. */
  trainingOptions(
    k: number,
  ): Pick<TrainDigitsOptions, 'epochs' | 'batchSize' | 'augment' | 'labelSmoothing' | 'learningRate' | 'budget'>;
  /** Test-time views for the final predictions, decided when they are about to start. */
  finalViews(): number;
  /**
   * After model `k`: true when the budget stopped it to re-plan on the speed the run measured (see
   * `DigitBudget`'s `repick`); the plan has then changed and what that model wrote is cleared, so
   * training starts over from model 1.
   */
  repicked(k: number): Promise<boolean>;
}

interface Member {
  readonly dir: string;
  readonly training: TrainDigitsResult;
}

/** Parses the flags and runs `main` as the `kaggle` script: user mistakes print one line and exit 1. */
export function runKaggle(main: (run: KaggleRun) => Promise<void>): void {
  runScript('kaggle', async () => {
    const run = await KaggleRun.open();
    if (run === undefined) return;
    try {
      await main(run);
    } finally {
      await run.close();
    }
  });
}

export class KaggleRun {
  readonly out: string;
  readonly seed: number;
  readonly signal: AbortSignal;
  private readonly bar = new ProgressBar();
  private readonly settings: Settings;
  private readonly threads: string | undefined;
  private readonly native: boolean;
  private readonly csvBounds: { maxRows: number; maxBytes: number };
  private readonly holdout: number;
  private readonly members: Member[] = [];
  private plan: { digit?: DigitPlan; budget?: DigitBudget; recipe: Recipe; models: number; epochs: number } | undefined;
  /** The budget events of a plan given up for another (a re-pick), for run.json. */
  private readonly earlierEvents: DigitBudgetEvent[] = [];
  private calibrationData: DigitDataset | undefined;
  private data: KaggleData | undefined;
  private validationImages = 0;

  private readonly force: boolean;
  private readonly interrupt = new AbortController();
  /** The lock on `out`, taken when the run first writes there (see makePlan). */
  private lock: FolderLock | undefined;

  private constructor(
    settings: Settings,
    out: string,
    threads: string | undefined,
    native: boolean,
    force: boolean,
    csvBounds: { maxRows: number; maxBytes: number },
  ) {
    this.settings = settings;
    this.csvBounds = csvBounds;
    this.out = out;
    this.seed = settings.seed;
    this.holdout = settings.holdout;
    this.threads = threads;
    this.native = native;
    this.force = force;
    this.signal = this.interrupt.signal;
  }

  /** Reads the flags; returns undefined when there is nothing to train (--help, a finished run). */
  static async open(): Promise<KaggleRun | undefined> {
    const flags = parseFlags(FLAGS, usage());
    if (flags.help === true) {
      process.stdout.write(`${usage()}\n`);
      return undefined;
    }
    const settings = readSettings(flags);
    if (flags.threads !== undefined) intFlag(flags.threads, 'threads', 1);
    const out = resolve(flags.out);
    if (existsSync(out) && !statSync(out).isDirectory())
      throw new UsageError(`--out ${flags.out} is a file, expected a folder`);
    // A run already using the folder is named now, not after loading the data (makePlan locks it).
    await assertFolderUnlocked(out);
    const bar = new ProgressBar();
    const finished = finishedRun(out, settings);
    if (finished !== undefined && flags.force !== true) {
      bar.line(
        `${flags.out} already holds this finished run (${finished}); nothing to do. Use --force to train again.`,
      );
      return undefined;
    }
    const run = new KaggleRun(
      settings,
      out,
      flags.threads,
      flags['no-native'] !== true,
      flags.force === true,
      csvLimits(flags['max-rows'], DEFAULT_MAX_ROWS),
    );
    if (settings.minutes !== null) {
      const preset = digitPresets().find((p) => p.name === settings.preset);
      const what =
        preset === undefined ? `--minutes ${settings.minutes}` : `preset ${preset.name}: ${preset.description}`;
      run.log(`${what}; the whole command gets ${formatMinutes(settings.minutes * 60)}, planned on this machine`);
    }
    return run;
  }

  /** Releases the lock on `out`. */
  async close(): Promise<void> {
    await this.lock?.release();
  }

  /** A line on stderr, above the progress bar. */
  log(text: string): void {
    this.bar.line(text);
  }

  /** Starts the backend and loads the data; everything the user gave is checked before anything is written. */
  async loadData(): Promise<KaggleData> {
    await useBackend(this.settings.backend, this.threads, this.native);
    const t = performance.now();
    const data = await loadKaggleData(
      this.settings.data ?? undefined,
      this.settings.trainLimit ?? undefined,
      this.csvBounds,
    );
    this.log(
      `loaded ${data.train.count} training and ${data.test.count} test images from ${data.description} in ${since(t)} s (backend ${tf.getBackend()}${tf.getBackend() === 'wasm' ? `, native kernels ${nativeKernelsLine()}` : ''})`,
    );
    this.data = data;
    // Ctrl-C or a SIGTERM stops after this batch (the state holds the last epoch); a second quits at once.
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      this.log(
        signal === 'SIGINT'
          ? 'interrupted: finishing this batch; press Ctrl-C again to quit at once'
          : 'terminated: finishing this batch; a second signal quits at once',
      );
      this.interrupt.abort();
      const quit = (): never => process.exit(130);
      process.once('SIGINT', quit);
      process.once('SIGTERM', quit);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return data;
  }

  /** The stratified hold-out (the same for every model, so the ensemble itself is scored on it). */
  holdOut(train: DigitDataset): { train: DigitDataset; validation: DigitDataset | undefined } {
    const split = this.holdout === 0 ? undefined : stratifiedSplit(train.labels!, this.holdout, this.seed);
    const trainSet = split === undefined ? train : subsetDataset(train, split.train, train.source);
    const validation =
      split === undefined || split.validation.length === 0
        ? undefined
        : subsetDataset(train, split.validation, `${train.source} (validation)`);
    if (validation === undefined) {
      this.log(
        `no hold-out: training on all ${trainSet.count} labelled images; each model keeps its epoch with the lowest training loss`,
      );
    }
    this.validationImages = validation?.count ?? 0;
    return { train: trainSet, validation };
  }

  /**
   * The plan: under a budget, calibrated on this machine (or the plan saved by the interrupted run
   * being resumed, so it continues exactly); otherwise the settings given.
   */
  async makePlan(train: DigitDataset, validation: DigitDataset | undefined, test: DigitDataset): Promise<KagglePlan> {
    const s = this.settings;
    const batchSize = s.batchSize ?? undefined;
    const withBatch = (r: DigitRecipe): DigitRecipe => (batchSize === undefined ? r : { ...r, batchSize });
    if (s.minutes === null) {
      const recipe: Recipe =
        s.model !== null
          ? {
              architecture: s.model,
              batchSize: batchSize ?? 64,
              augment: false,
              labelSmoothing: 0,
              maxLearningRate: null,
            }
          : withBatch(getDigitRecipe(s.arch ?? 'lean'));
      this.plan = { recipe, models: s.ensemble ?? 1, epochs: s.epochs ?? 3 };
      if (s.model === null) {
        this.log(
          `${recipe.architecture} x ${this.plan.models}, ${this.plan.epochs} epochs each, ${views(s.tta ?? 1)}: the settings given, no budget`,
        );
      }
    } else {
      this.plan = await this.budgetPlan(train, validation, test, withBatch);
    }
    // Only now, with data and plan checked, does the run write anything, and first its lock: one
    // run at a time per folder (released on exit, whatever the way out).
    mkdirSync(this.out, { recursive: true });
    this.lock = await lockFolder(this.out, { command: runCommand() });
    // A writer killed mid-file (kill -9) leaves its temp file; a live one's is kept.
    await sweepStaleTempFiles(this.out);
    if (this.force) rmSync(join(this.out, 'run.json'), { force: true });
    if (this.pendingPlan !== undefined) await writeFileAtomic(join(this.out, 'plan.json'), this.pendingPlan);
    const run = this.plan;
    const current = (): NonNullable<KaggleRun['plan']> => this.plan ?? run;
    return {
      get architecture() {
        return getDigitArchitecture(current().recipe.architecture);
      },
      get models() {
        const plan = current();
        return plan.budget?.models ?? plan.models;
      },
      trainingOptions: (k) => {
        const plan = current();
        const recipe = plan.recipe;
        return {
          epochs: plan.budget?.epochsFor(k) ?? plan.epochs,
          batchSize: recipe.batchSize,
          augment: recipe.augment,
          labelSmoothing: recipe.labelSmoothing,
          ...(recipe.maxLearningRate === null ? {} : { learningRate: oneCycleSchedule(recipe.maxLearningRate) }),
          ...(plan.budget === undefined ? {} : { budget: plan.budget.model(k) }),
        };
      },
      finalViews: () => {
        const plan = current();
        const v = plan.budget?.finalViews() ?? s.tta ?? 1;
        for (const e of plan.budget?.events ?? []) if (!this.logged.has(e)) this.logBudget(e);
        return v;
      },
      repicked: (k) => this.repick(k),
    };
  }

  /** Re-plans once on the speed the first model measured, when its budget stopped it for that. */
  private async repick(k: number): Promise<boolean> {
    const plan = this.plan;
    const repick = plan?.budget?.repick;
    if (k !== 0 || plan?.digit === undefined || plan.budget === undefined || repick === undefined) return false;
    for (const e of plan.budget.events) if (!this.logged.has(e)) this.logBudget(e);
    this.earlierEvents.push(...plan.budget.events);
    // Model 1 was another network, or the same one on a schedule cut short: nothing of it is kept.
    for (const name of [`best-model${this.suffix(0)}`, `train-state${this.suffix(0)}`, `history${this.suffix(0)}.csv`])
      rmSync(join(this.out, name), { recursive: true, force: true });
    const data = this.calibrationData!;
    const clock = plan.digit.clock;
    const t = clock();
    let calibrated = 0;
    const next = await replanDigitTraining(plan.digit, {
      speed: repick.speed,
      measure: (r) => {
        calibrated++;
        return calibrateDigitRecipe(r, data);
      },
    });
    const { clock: _c, startedAt: _s, ...storable } = next;
    await writeFileAtomic(
      join(this.out, 'plan.json'),
      `${JSON.stringify({ settings: this.settings, plan: storable }, null, 2)}\n`,
    );
    this.plan = {
      digit: next,
      budget: new DigitBudget(next),
      recipe: next.recipe,
      models: next.ensemble,
      epochs: next.epochs,
    };
    const how = `at ${repick.speed.toFixed(2)}x the calibrated step time${calibrated === 0 ? '' : `, calibrated ${calibrated} more network${calibrated === 1 ? '' : 's'} in ${(clock() - t).toFixed(1)} s`}`;
    this.log(`re-planned ${how}: ${describePlan(next)}`);
    return true;
  }

  private readonly logged = new Set<object>();
  private pendingPlan: string | undefined;

  private logBudget(e: { seconds: number; change: string }): void {
    this.logged.add(e);
    this.log(`budget at ${formatMinutes(e.seconds)}: ${e.change}`);
  }

  private async budgetPlan(
    train: DigitDataset,
    validation: DigitDataset | undefined,
    test: DigitDataset,
    withBatch: (r: DigitRecipe) => DigitRecipe,
  ): Promise<NonNullable<KaggleRun['plan']>> {
    const s = this.settings;
    const clock = (): number => performance.now() / 1000;
    const planFile = join(this.out, 'plan.json');
    const saved = this.force ? undefined : savedPlan(planFile, s);
    const t = clock();
    let calibrated = 0;
    // A resumed run's budget counts what the interrupted one spent (its planning and the epochs its
    // states hold), not the time it was down, and continues from there.
    const spent = saved === undefined ? 0 : saved.elapsedSeconds + this.savedEpochSeconds();
    const digit: DigitPlan =
      saved !== undefined
        ? { ...saved, clock, startedAt: -spent, elapsedSeconds: clock() + spent }
        : await planDigitTraining({
            seconds: s.minutes! * 60,
            trainImages: train.count,
            validationImages: validation?.count ?? 0,
            testImages: test.count,
            recipes: digitRecipes().map(withBatch),
            ...(s.arch === null ? {} : { architecture: s.arch }),
            ...(s.ensemble === null ? {} : { ensemble: s.ensemble }),
            ...(s.tta === null ? {} : { ttaViews: s.tta }),
            clock,
            startedAt: 0,
            measure: async (r) => {
              calibrated++;
              return calibrateDigitRecipe(r, train);
            },
          }).catch((error: unknown) => {
            if (error instanceof DigitModelError && error.code === 'BUDGET_TOO_SMALL') {
              throw new UsageError(`--minutes ${s.minutes}: ${error.message.replace(/^budget: /, '')}`);
            }
            throw error;
          });
    if (saved === undefined) {
      const { clock: _c, startedAt: _s, ...storable } = digit;
      this.pendingPlan = `${JSON.stringify({ settings: s, plan: storable }, null, 2)}\n`;
    }
    const p = digit;
    const how =
      saved !== undefined
        ? `the interrupted run's plan (${planFile})`
        : `calibrated ${calibrated} network${calibrated === 1 ? '' : 's'} in ${(clock() - t).toFixed(1)} s`;
    this.log(`plan for this machine: ${describePlan(p, how)}`);
    this.calibrationData = train;
    // A resumed run keeps its plan: its first model is not new, and its speed was weighed already.
    const budget = new DigitBudget(digit, { repick: saved === undefined });
    return { digit, budget, recipe: p.recipe, models: p.ensemble, epochs: p.epochs };
  }

  /** Seconds of the epochs the training states in `out` hold (every model's), for a resumed budget. */
  private savedEpochSeconds(): number {
    let seconds = 0;
    for (const name of existsSync(this.out) ? readdirSync(this.out) : []) {
      if (!/^train-state(-\d+)?$/.test(name)) continue;
      try {
        const index = JSON.parse(readFileSync(join(this.out, name, 'state.json'), 'utf8')) as {
          meta?: { history?: { seconds?: unknown }[] };
        };
        for (const h of index.meta?.history ?? [])
          if (typeof h.seconds === 'number' && h.seconds > 0) seconds += h.seconds;
      } catch {
        // No state there (yet): nothing was spent on it.
      }
    }
    return seconds;
  }

  /** `model 2/3: ` when the plan has several models. */
  label(k: number): string {
    const models = this.plan?.budget?.models ?? this.plan?.models ?? 1;
    return models === 1 && k === 0 ? '' : `model ${k + 1}/${models}: `;
  }

  private suffix(k: number): string {
    return (this.plan?.models ?? 1) === 1 ? '' : `-${k + 1}`;
  }

  /** Where model `k`'s best epoch is saved. */
  bestDir(k: number): string {
    return join(this.out, `best-model${this.suffix(k)}`);
  }

  /** Model `k`'s training state, after every epoch, for resuming; cleared by --force. */
  async state(k: number): Promise<TrainingStateStore> {
    const state = fileTrainingState(join(this.out, `train-state${this.suffix(k)}`));
    if (this.force) await state.clear();
    return state;
  }

  /** Progress lines for model `k`: a bar after each batch, a line and history.csv after each epoch. */
  progress(k: number): (p: TrainProgress) => Promise<void> {
    const label = this.label(k);
    const file = join(this.out, `history${this.suffix(k)}.csv`);
    return async (p) => {
      const text = `${label}epoch ${p.epoch}/${p.epochs} batch ${p.batch}/${p.batches} loss ${p.loss.toFixed(4)} acc ${p.acc.toFixed(4)} ${p.imagesPerSecond.toFixed(0)} img/s`;
      if (p.phase === 'batch') {
        this.bar.update(p.batch / p.batches, text);
        for (const e of this.plan?.budget?.events ?? []) if (!this.logged.has(e)) this.logBudget(e);
        return;
      }
      if (p.record === undefined) return;
      await writeFileAtomic(file, historyCsv(p.history ?? []));
      const r = p.record;
      const validation =
        r.val_acc === undefined ? '' : ` val_loss ${r.val_loss?.toFixed(4)} val_acc ${r.val_acc.toFixed(4)}`;
      this.log(
        `${label}epoch ${r.epoch}/${p.epochs}: loss ${r.loss.toFixed(4)} acc ${r.acc.toFixed(4)}${validation} (${r.seconds.toFixed(1)} s, ${r.imagesPerSecond.toFixed(0)} img/s)`,
      );
    };
  }

  /** A state saved with other settings names the way out that only the script knows. */
  stateError(state: TrainingStateStore): (error: unknown) => never {
    return (error) => {
      if (error instanceof DigitModelError && error.target === state.description)
        throw new UsageError(`${error.message}, or add --force to start over`);
      throw error;
    };
  }

  /** After model `k`: reports it, writes its history; a stopped run exits 130, to be resumed. */
  async trained(k: number, training: TrainDigitsResult): Promise<void> {
    const label = this.label(k);
    const models = this.plan?.budget?.models ?? this.plan?.models ?? 1;
    if (training.resumedEpochs > 0) this.log(`${label}resumed after epoch ${training.resumedEpochs}`);
    if (training.stopped) {
      this.log(
        `stopped after epoch ${training.history.length}${models === 1 ? '' : ` of model ${k + 1}`}; run the same command to resume`,
      );
      process.exit(130);
    }
    await writeFileAtomic(join(this.out, `history${this.suffix(k)}.csv`), historyCsv(training.history));
    this.log(
      `${label}best epoch ${training.bestEpoch}: ${training.monitor} ${training.bestValue.toFixed(4)}, saved to ${this.bestDir(k)}`,
    );
    this.members.push({ dir: this.bestDir(k), training });
  }

  /** A progress callback for predicting. */
  readonly predicting = (done: number, total: number): void =>
    this.bar.update(done / total, `predicting ${done}/${total}`);

  /** Writes run.json, the run's record; a run with it complete is not trained again. */
  async finish(results: {
    validationAccuracy: number | undefined;
    testAccuracy: number | undefined;
    predictSeconds: number;
    views: number;
    outputs: readonly string[];
  }): Promise<void> {
    const first = this.members[0]!.training;
    const plan = this.plan!;
    const recipe = plan.recipe;
    const digit = plan.digit;
    const record = {
      command: runCommand(),
      versions: {
        'digit-recognizer': VERSION,
        tfjs: tf.version_core,
        backend: tf.getBackend(),
        nativeKernels: tf.getBackend() === 'wasm' ? nativeKernelsLine() : 'off (not the wasm backend)',
        node: process.versions.node,
      },
      complete: true,
      settings: this.settings,
      data: { description: this.data!.description, sha256: dataHashes(this.settings.data ?? undefined) },
      recipe: {
        architecture: recipe.architecture,
        batchSize: recipe.batchSize,
        augment: recipe.augment,
        labelSmoothing: recipe.labelSmoothing,
        maxLearningRate: recipe.maxLearningRate,
        tta: results.views,
      },
      plan:
        digit === undefined
          ? null
          : {
              architecture: digit.recipe.architecture,
              epochs: digit.epochs,
              ensemble: digit.ensemble,
              ttaViews: digit.ttaViews,
              budgetSeconds: digit.budgetSeconds,
              estimate: digit.estimate,
              cost: digit.cost,
              events: [...this.earlierEvents, ...(plan.budget?.events ?? [])],
            },
      trainImages: first.trainCount,
      validationImages: first.validationCount,
      models: this.members.map((m) => ({
        dir: m.dir,
        bestEpoch: m.training.bestEpoch,
        [`best_${m.training.monitor}`]: m.training.bestValue,
        resumedEpochs: m.training.resumedEpochs,
        steps: m.training.steps,
        replans: m.training.replans,
        epochSeconds: m.training.history.map((h) => Number(h.seconds.toFixed(2))),
      })),
      bestEpoch: first.bestEpoch,
      resumedEpochs: first.resumedEpochs,
      [`best_${first.monitor}`]: first.bestValue,
      validationAccuracy: results.validationAccuracy ?? null,
      testAccuracy: results.testAccuracy ?? null,
      seconds: { total: Number(since(0)), predict: Number(results.predictSeconds.toFixed(2)) },
    };
    await writeFileAtomic(join(this.out, 'run.json'), `${JSON.stringify(record, null, 2)}\n`);
    this.log(`wrote ${this.out}/{${[...results.outputs, 'run.json'].join(', ')}} in ${since(0)} s`);
  }
}

/** The command as the user gave it, for run.json and the lock. */
function runCommand(): string {
  return [commandName('kaggle'), ...process.argv.slice(2)].join(' ');
}

/** A recipe, or the plain one of `--model` (Adam's own 0.001, no augmentation). */
type Recipe = Omit<DigitRecipe, 'maxLearningRate' | 'minEpochs' | 'fullEpochs'> & {
  readonly maxLearningRate: number | null;
};

function readSettings(flags: ReturnType<typeof parseFlags<typeof FLAGS>>): Settings {
  const fixed = flags.epochs !== undefined || flags.model !== undefined;
  if (flags.model !== undefined && flags.arch !== undefined)
    throw new UsageError('--model trains a network with a plain recipe, --arch with its own: give one of them');
  if (fixed && (flags.minutes !== undefined || flags.preset !== undefined)) {
    throw new UsageError(
      `${flags.minutes !== undefined ? '--minutes' : '--preset'} sets a time budget, ${flags.epochs !== undefined ? '--epochs' : '--model'} fixes the run: give one of them`,
    );
  }
  if (flags.minutes !== undefined && flags.preset !== undefined)
    throw new UsageError('--preset is a time budget already: give --preset or --minutes');
  const preset = fixed ? undefined : digitPresets().find((p) => p.name === (flags.preset ?? 'default'));
  if (!fixed && preset === undefined) {
    throw new UsageError(
      `--preset must be one of ${digitPresets()
        .map((p) => p.name)
        .join(', ')}, got "${flags.preset}"`,
    );
  }
  let minutes: number | null = null;
  if (!fixed) {
    minutes = flags.minutes === undefined ? preset!.minutes : Number(flags.minutes);
    if (flags.minutes !== undefined && (flags.minutes.trim() === '' || !(minutes > 0) || !Number.isFinite(minutes)))
      throw new UsageError(`--minutes must be a positive number, got "${flags.minutes}"`);
  }
  if (flags.model !== undefined) getDigitArchitecture(flags.model);
  if (flags.arch !== undefined) getDigitRecipe(flags.arch);
  const tta = flags.tta === undefined ? null : intFlag(flags.tta, 'tta', 1);
  if (tta !== null) {
    try {
      ttaViewCount(tta);
    } catch {
      throw new UsageError(`--tta must be a number of views from 1 to 9, got "${flags.tta}"`);
    }
  }
  if (!['wasm', 'cpu'].includes(flags.backend))
    throw new UsageError(`--backend must be wasm or cpu, got "${flags.backend}"`);
  return {
    data: flags.data === undefined ? null : resolve(flags.data),
    preset: flags.minutes === undefined && !fixed ? preset!.name : null,
    minutes,
    arch: flags.arch ?? null,
    model: flags.model ?? null,
    epochs: flags.epochs === undefined ? null : intFlag(flags.epochs, 'epochs', 3),
    ensemble: flags.ensemble === undefined ? null : intFlag(flags.ensemble, 'ensemble', 1),
    tta,
    holdout: fractionFlag(flags.holdout, 'holdout', 0.1, 0.5),
    batchSize: flags['batch-size'] === undefined ? null : intFlag(flags['batch-size'], 'batch-size', 64),
    seed: intFlag(flags.seed, 'seed', 42, 0),
    trainLimit: flags['train-limit'] === undefined ? null : intFlag(flags['train-limit'], 'train-limit', 0, 100),
    backend: flags.backend,
  };
}

/** A summary of the finished run in `out` made with `settings`, if there is one. */
function finishedRun(out: string, settings: Settings): string | undefined {
  try {
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as {
      complete?: boolean;
      settings?: object;
      bestEpoch?: number;
      testAccuracy?: number | null;
    };
    if (record.complete !== true || JSON.stringify(record.settings) !== JSON.stringify(settings)) return undefined;
    return `best epoch ${record.bestEpoch}${record.testAccuracy == null ? '' : `, test accuracy ${(record.testAccuracy * 100).toFixed(2)} %`}`;
  } catch {
    return undefined;
  }
}

/** The plan an interrupted run with the same settings saved, if any. */
function savedPlan(file: string, settings: Settings): Omit<DigitPlan, 'clock' | 'startedAt'> | undefined {
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { settings?: object; plan?: DigitPlan };
    if (JSON.stringify(saved.settings) !== JSON.stringify(settings) || saved.plan === undefined) return undefined;
    return saved.plan;
  } catch {
    return undefined;
  }
}

/** SHA-256 of the data files, for the run record (MNIST's are fixed and verified on load). */
function dataHashes(path: string | undefined): Record<string, string> {
  if (path === undefined) return { ...MNIST_SHA256 };
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => /^(train|test)\.csv(\.gz)?$/.test(f))
        .map((f) => join(path, f))
    : [path];
  return Object.fromEntries(files.map((f) => [f, createHash('sha256').update(readFileSync(f)).digest('hex')]));
}

function historyCsv(history: readonly DigitEpochRecord[]): string {
  const cell = (v: number | undefined): string => (v === undefined ? '' : String(Number(v.toFixed(6))));
  const rows = history.map((h) =>
    [
      h.epoch,
      cell(h.seconds),
      cell(h.imagesPerSecond),
      cell(h.loss),
      cell(h.acc),
      cell(h.val_loss),
      cell(h.val_acc),
    ].join(','),
  );
  return `epoch,seconds,images_per_second,loss,acc,val_loss,val_acc\n${rows.join('\n')}\n`;
}

function describePlan(p: DigitPlan, how?: string): string {
  return `${p.recipe.architecture} x ${p.ensemble}, ${p.epochs} epochs each, ${views(p.ttaViews)}: about ${formatMinutes(p.estimate.total)} of ${formatMinutes(p.budgetSeconds)} (${how === undefined ? '' : `${how}; `}the same plan without a budget: --arch ${p.recipe.architecture} --epochs ${p.epochs} --ensemble ${p.ensemble} --tta ${p.ttaViews})`;
}

function views(n: number): string {
  return n === 1 ? 'no TTA' : `TTA ${n} views`;
}

function formatMinutes(seconds: number): string {
  return `${(seconds / 60).toFixed(1)} min`;
}

function since(startMs: number): string {
  return ((performance.now() - startMs) / 1000).toFixed(1);
}

/**
 * What lets the Train view resume after a reload: the library's
 * indexedDbTrainingState holds the run's state after each completed epoch
 * (trainDigits writes and reads it), and localStorage holds the settings the
 * run was started with, and the plan a budgeted run follows, so the view
 * knows which run that state belongs to and resumes it on the same plan.
 */
import {
  indexedDbTrainingState,
  type DigitEpochRecord,
  type DigitPlan,
  type TrainingStateStore,
} from 'digit-recognizer';

/** The Train view's settings that a resumed run must share. */
export interface RunSettings {
  readonly source: 'sample' | 'file';
  /** Name and size of the chosen file, for a file run. */
  readonly file?: { readonly name: string; readonly size: number };
  readonly images: number;
  /** Epochs given under Advanced; undefined when the budget plans them. */
  readonly epochs?: number;
  /** The budget in minutes, when the planner sizes the run (no `epochs`). */
  readonly minutes?: number;
  readonly batchSize: number;
  /** A network, or `auto`: the planner's choice (or `compact` with epochs given). */
  readonly architecture: string;
}

/** A plan as stored with its run: everything but its clock. */
export type StoredPlan = Omit<DigitPlan, 'clock' | 'startedAt'>;

/** A run that was started and not finished. */
export interface UnfinishedRun {
  readonly settings: RunSettings;
  /** The plan of a budgeted run, made when it started: a resumed run follows it, not a new one. */
  readonly plan?: StoredPlan;
  /** True when the user pressed Stop: such a run waits for Resume instead of continuing by itself. */
  readonly paused: boolean;
}

export const TRAIN_STATE_DATABASE = 'digit-recognizer-web-train-state';
const RUN_KEY = 'digit-recognizer-web:unfinished-run';

export class ResumableRuns {
  /** Undefined where the browser has no IndexedDB: runs then simply do not survive a reload. */
  readonly store: TrainingStateStore | undefined = openStore();

  /** The unfinished run, if the settings saved in localStorage are well formed. */
  unfinished(): UnfinishedRun | undefined {
    if (this.store === undefined) return undefined;
    try {
      return parseRun(JSON.parse(localStorage.getItem(RUN_KEY) ?? 'null'));
    } catch {
      return undefined;
    }
  }

  /** The epochs the saved state holds (none when there is no state); throws when the stored state is damaged. */
  async savedHistory(): Promise<readonly DigitEpochRecord[]> {
    return (await this.store?.read())?.meta.history ?? [];
  }

  /** Forgets any earlier state and records `settings` (and its plan) as the run in progress. */
  async begin(settings: RunSettings, plan: StoredPlan | undefined): Promise<void> {
    if (this.store === undefined) return;
    localStorage.removeItem(RUN_KEY);
    await this.store.clear();
    this.save({ settings, paused: false, ...(plan === undefined ? {} : { plan }) });
  }

  /** Marks the unfinished run as continuing (after Resume) or paused (after Stop). */
  setPaused(paused: boolean): void {
    const run = this.unfinished();
    if (run !== undefined) this.save({ ...run, paused });
  }

  /** The run finished: its state is no longer needed (the best model is kept by the checkpoint). */
  async finish(): Promise<void> {
    if (this.store === undefined) return;
    localStorage.removeItem(RUN_KEY);
    await this.store.clear();
  }

  private save(run: UnfinishedRun): void {
    localStorage.setItem(RUN_KEY, JSON.stringify(run));
  }
}

export function sameSettings(a: RunSettings, b: RunSettings): boolean {
  return (
    a.source === b.source &&
    a.images === b.images &&
    a.epochs === b.epochs &&
    a.minutes === b.minutes &&
    a.batchSize === b.batchSize &&
    a.architecture === b.architecture &&
    a.file?.name === b.file?.name &&
    a.file?.size === b.file?.size
  );
}

/**
 * "seed on 600 images of the MNIST sample, batch 16", for messages; a budgeted run adds
 * ", a budget of 0.5 min" and names its plan's network.
 */
export function describeSettings(s: RunSettings, plan?: StoredPlan): string {
  const data = s.file === undefined ? 'the MNIST sample' : s.file.name;
  const network = plan?.recipe.architecture ?? trainedArchitecture(s);
  const budget = s.minutes === undefined ? '' : `, a budget of ${s.minutes} min`;
  return `${network} on ${s.images} images of ${data}, batch ${plan?.recipe.batchSize ?? s.batchSize}${budget}`;
}

/** The network a run with explicit epochs trains. */
export function trainedArchitecture(s: RunSettings): string {
  return s.architecture === 'auto' ? 'compact' : s.architecture;
}

function openStore(): TrainingStateStore | undefined {
  try {
    return indexedDbTrainingState(TRAIN_STATE_DATABASE);
  } catch {
    return undefined;
  }
}

/** localStorage is the page's own, but may hold an older demo's entry: check it before use. */
function parseRun(value: unknown): UnfinishedRun | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { settings, paused, plan } = value as { settings?: unknown; paused?: unknown; plan?: unknown };
  if (typeof settings !== 'object' || settings === null || typeof paused !== 'boolean') return undefined;
  const s = settings as Record<string, unknown>;
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (s['source'] !== 'sample' && s['source'] !== 'file') return undefined;
  if (!count(s['images']) || !count(s['batchSize'])) return undefined;
  const epochs = s['epochs'];
  const minutes = s['minutes'];
  if (epochs !== undefined && !count(epochs)) return undefined;
  if (minutes !== undefined && !(typeof minutes === 'number' && minutes > 0)) return undefined;
  if ((epochs === undefined) === (minutes === undefined)) return undefined;
  const storedPlan = parsePlan(plan);
  if (minutes !== undefined && storedPlan === undefined) return undefined;
  if (typeof s['architecture'] !== 'string') return undefined;
  const file = s['file'] as { name?: unknown; size?: unknown } | undefined;
  if (s['source'] === 'file' && (typeof file?.name !== 'string' || typeof file.size !== 'number')) return undefined;
  return {
    paused,
    ...(minutes === undefined ? {} : { plan: storedPlan }),
    settings: {
      source: s['source'],
      images: s['images'],
      ...(epochs === undefined ? {} : { epochs }),
      ...(minutes === undefined ? {} : { minutes }),
      batchSize: s['batchSize'],
      architecture: s['architecture'],
      ...(s['source'] === 'file' ? { file: { name: file?.name as string, size: file?.size as number } } : {}),
    },
  };
}

/** A stored plan, checked where trainDigits and DigitBudget would trip over it. */
function parsePlan(value: unknown): StoredPlan | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const p = value as Partial<Record<keyof StoredPlan, unknown>>;
  const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;
  const recipe = p.recipe as Partial<Record<string, unknown>> | undefined;
  const cost = p.cost as Partial<Record<string, unknown>> | undefined;
  if (typeof recipe?.['architecture'] !== 'string' || !positive(recipe['batchSize'])) return undefined;
  if (!positive(recipe['maxLearningRate']) || !positive(cost?.['trainSecondsPerImage'])) return undefined;
  if (!positive(cost?.['predictSecondsPerImage']) || !positive(p.budgetSeconds) || !positive(p.trainImages))
    return undefined;
  if (!Number.isInteger(p.epochs) || !positive(p.epochs) || p.ensemble !== 1) return undefined;
  return value as StoredPlan;
}

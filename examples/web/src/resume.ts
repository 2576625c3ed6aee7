/**
 * What lets the Train view resume after a reload: the library's
 * indexedDbTrainingState holds the run's state after each completed epoch
 * (trainDigits writes and reads it), and localStorage holds the settings the
 * run was started with, so the view knows which run that state belongs to.
 */
import { indexedDbTrainingState, type DigitEpochRecord, type TrainingStateStore } from 'digit-recognizer';

/** The Train view's settings that a resumed run must share. */
export interface RunSettings {
  readonly source: 'sample' | 'file';
  /** Name and size of the chosen file, for a file run. */
  readonly file?: { readonly name: string; readonly size: number };
  readonly images: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly architecture: string;
}

/** A run that was started and not finished. */
export interface UnfinishedRun {
  readonly settings: RunSettings;
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

  /** Forgets any earlier state and records `settings` as the run in progress. */
  async begin(settings: RunSettings): Promise<void> {
    if (this.store === undefined) return;
    localStorage.removeItem(RUN_KEY);
    await this.store.clear();
    this.save({ settings, paused: false });
  }

  /** Marks the run as continuing (after Resume) or paused (after Stop). */
  setPaused(settings: RunSettings, paused: boolean): void {
    if (this.store !== undefined) this.save({ settings, paused });
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
    a.batchSize === b.batchSize &&
    a.architecture === b.architecture &&
    a.file?.name === b.file?.name &&
    a.file?.size === b.file?.size
  );
}

/** "seed on 600 images of the MNIST sample, batch 16", for messages. */
export function describeSettings(s: RunSettings): string {
  const data = s.file === undefined ? 'the MNIST sample' : s.file.name;
  return `${s.architecture} on ${s.images} images of ${data}, batch ${s.batchSize}`;
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
  const { settings, paused } = value as { settings?: unknown; paused?: unknown };
  if (typeof settings !== 'object' || settings === null || typeof paused !== 'boolean') return undefined;
  const s = settings as Record<string, unknown>;
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (s['source'] !== 'sample' && s['source'] !== 'file') return undefined;
  if (!count(s['images']) || !count(s['epochs']) || !count(s['batchSize'])) return undefined;
  if (typeof s['architecture'] !== 'string') return undefined;
  const file = s['file'] as { name?: unknown; size?: unknown } | undefined;
  if (s['source'] === 'file' && (typeof file?.name !== 'string' || typeof file.size !== 'number')) return undefined;
  return {
    paused,
    settings: {
      source: s['source'],
      images: s['images'],
      epochs: s['epochs'],
      batchSize: s['batchSize'],
      architecture: s['architecture'],
      ...(s['source'] === 'file' ? { file: { name: file?.name as string, size: file?.size as number } } : {}),
    },
  };
}

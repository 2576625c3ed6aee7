import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DigitModelError } from '../errors.js';
import { readConfinedFile } from '../io/confined.js';
import { FOLDER_LOCK_FILE, lockFolder } from '../io/folder_lock.js';
import { nodeModules, writeIndexedData } from '../io/node.js';
import { DEFAULT_MAX_MODEL_JSON_BYTES, DEFAULT_MAX_WEIGHT_BYTES } from '../limits.js';
import type { ScheduleReplan } from './schedule.js';
import { readStateParts, stateJson } from './state_record.js';
import type { DigitEpochRecord } from './train.js';

/** What a resumable run records after each completed epoch (tensors apart). */
export interface TrainingStateMeta {
  readonly version: 1;
  /** Epochs completed. */
  readonly epoch: number;
  readonly history: readonly DigitEpochRecord[];
  /** Best epoch so far (from 1; 0 when none) and its monitored value. */
  readonly best: { readonly epoch: number; readonly value: number; readonly monitor: string };
  /** Identity of the run's settings; a state with another fingerprint is not resumed. */
  readonly fingerprint: string;
  /** A budget's changes to the run's length so far (see `ScheduleReplan`); absent when none. */
  readonly replans?: readonly ScheduleReplan[];
}

/** A training state in storable form: metadata, tensor specs and their bytes. */
export interface StoredTrainingState {
  readonly meta: TrainingStateMeta;
  readonly specs: tf.io.WeightsManifestEntry[];
  readonly data: ArrayBuffer;
}

/**
 * Where {@link trainDigits} keeps the state of a run between epochs, so a
 * killed run resumes from its last completed epoch. `write` must be atomic:
 * after a crash `read` returns the previous state or the new one, whole.
 */
export interface TrainingStateStore {
  /** The saved state, or `undefined` when there is none. */
  read(): Promise<StoredTrainingState | undefined>;
  write(state: StoredTrainingState): Promise<void>;
  /** Forgets the saved state (a fresh start). */
  clear(): Promise<void>;
  /**
   * Takes the store for one training: {@link trainDigits} calls it before reading the state and
   * calls the function it returns when it ends (finished, stopped or failed). A store that one
   * training at a time may use throws here for the second (fileTrainingState: `DigitLockError`).
   */
  lock?(): Promise<() => Promise<void>>;
  /** Where the state lives, for messages. */
  readonly description: string;
}

const STATE_JSON = 'state.json';

interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/**
 * Most bytes of a saved training state: the model's weights, the best epoch's
 * copy and Adam's two moments, each within {@link DEFAULT_MAX_WEIGHT_BYTES}.
 */
const MAX_STATE_BYTES = 4 * DEFAULT_MAX_WEIGHT_BYTES;

/**
 * A {@link TrainingStateStore} in a directory (Node): `state.json` naming a
 * content-hashed `state.<hash>.bin`, replaced atomically after each epoch.
 * Reading is confined to the folder as a model folder's is (plain file names,
 * real paths inside it, regular files, sizes bounded before reading).
 * A training holds the folder's lock (`lockFolder`) from before it reads the
 * state until it returns, and `clear` holds it while it deletes: a second
 * training on the folder, here or in another process, gets `DigitLockError`.
 */
export function fileTrainingState(directory: string): TrainingStateStore {
  return {
    description: directory,
    lock: async () => {
      const lock = await lockFolder(directory);
      return () => lock.release();
    },
    read: async () => {
      const { fs } = await nodeModules(directory);
      const real = await fs.realpath(directory).catch(() => undefined);
      if (real === undefined) return undefined;
      let absent = false;
      const missing = (cause: unknown): Error => {
        absent = (cause as NodeJS.ErrnoException).code === 'ENOENT';
        return new DigitModelError('NOT_FOUND', directory, `cannot read ${STATE_JSON}`, { cause });
      };
      const read = (name: string, entry: string, max: number): Promise<Uint8Array> =>
        readConfinedFile(directory, real, name, entry, directory, missing, max, undefined);
      let text: string;
      try {
        text = new TextDecoder().decode(await read(STATE_JSON, STATE_JSON, DEFAULT_MAX_MODEL_JSON_BYTES));
      } catch (error) {
        if (absent) return undefined;
        throw error;
      }
      // The folder may hold anything (a damaged write by other code, a stranger's file): every
      // field is checked, and the tensor sizes are bounded, before the bytes are read.
      const where = `${directory}/${STATE_JSON}`;
      let index: unknown;
      try {
        index = JSON.parse(text);
      } catch {
        throw new DigitModelError('BAD_JSON', where, 'not valid JSON');
      }
      if (typeof index !== 'object' || index === null || Array.isArray(index))
        throw new DigitModelError('BAD_JSON', where, 'expected an object');
      const { meta, specs, dataFile } = index as Record<string, unknown>;
      if (typeof dataFile !== 'string') throw new DigitModelError('BAD_JSON', where, 'dataFile: expected a string');
      const parts = readStateParts(meta, specs, where, MAX_STATE_BYTES);
      const bytes = await read(dataFile, `${STATE_JSON} dataFile`, MAX_STATE_BYTES);
      if (bytes.byteLength !== parts.dataBytes) {
        throw new DigitModelError(
          'WEIGHTS_SIZE',
          where,
          `${dataFile} has ${bytes.byteLength} bytes but the specs describe ${parts.dataBytes}`,
        );
      }
      const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      return { meta: parts.meta, specs: parts.specs, data };
    },
    write: (state) =>
      writeIndexedData(directory, 'state', new Uint8Array(state.data), STATE_JSON, (dataFile) =>
        stateJson({ meta: state.meta, specs: state.specs, dataFile }),
      ),
    clear: async () => {
      const { fs, path } = await nodeModules(directory);
      if (!(await fs.stat(directory).catch(() => undefined))?.isDirectory()) {
        await fs.rm(directory, { recursive: true, force: true });
        return;
      }
      const lock = await lockFolder(directory);
      try {
        const entries = (await fs.readdir(directory)).filter((name) => name !== FOLDER_LOCK_FILE);
        await Promise.all(entries.map((name) => fs.rm(path.join(directory, name), { recursive: true, force: true })));
      } finally {
        await lock.release();
      }
      await fs.rmdir(directory).catch(() => undefined);
    },
  };
}

/** A {@link TrainingStateStore} in memory, for tests and for runs that only need to survive an abort. */
export function memoryTrainingState(): TrainingStateStore {
  let saved: StoredTrainingState | undefined;
  return {
    description: 'memory',
    read: async () => saved,
    write: async (state) => {
      saved = { ...state, data: state.data.slice(0) };
    },
    clear: async () => {
      saved = undefined;
    },
  };
}

/** Captures model weights, optimiser state and the best weights so far as a storable state. */
export async function captureTrainingState(
  model: tfl.LayersModel,
  bestWeights: readonly tf.Tensor[] | undefined,
  meta: TrainingStateMeta,
): Promise<StoredTrainingState> {
  const named: NamedTensor[] = [
    ...model.getWeights().map((tensor, i) => ({ name: `model/${i}`, tensor })),
    ...(model.optimizer === undefined
      ? []
      : (await model.optimizer.getWeights()).map((w) => ({ name: `optimizer/${w.name}`, tensor: w.tensor }))),
    ...(bestWeights ?? []).map((tensor, i) => ({ name: `best/${i}`, tensor })),
    ...adamAccumulators(model).map(([name, variable]) => ({ name: `adam/${name}`, tensor: variable })),
  ];
  const { data, specs } = await tf.io.encodeWeights(named);
  return { meta, specs, data };
}

/** Puts a stored state's weights and optimiser state back; returns the best weights (caller disposes). */
export async function restoreTrainingState(
  model: tfl.LayersModel,
  state: StoredTrainingState,
): Promise<tf.Tensor[] | undefined> {
  const tensors = tf.io.decodeWeights(state.data, state.specs);
  const byPrefix = (prefix: string): NamedTensor[] =>
    state.specs
      .filter((s) => s.name.startsWith(prefix))
      .map((s) => ({ name: s.name.slice(prefix.length), tensor: tensors[s.name] as tf.Tensor }));
  const weights = byPrefix('model/');
  if (weights.length !== model.getWeights().length) {
    tf.dispose(Object.values(tensors));
    throw new Error(
      `saved training state holds ${weights.length} weights but the model has ${model.getWeights().length}`,
    );
  }
  model.setWeights(weights.map((w) => w.tensor));
  const optimizerWeights = byPrefix('optimizer/');
  if (optimizerWeights.length > 0 && model.optimizer !== undefined) await model.optimizer.setWeights(optimizerWeights);
  for (const [name, variable] of adamAccumulators(model)) {
    const saved = tensors[`adam/${name}`];
    if (saved !== undefined) variable.assign(saved as tf.Scalar);
  }
  const best = byPrefix('best/').map((w) => w.tensor);
  tf.dispose([...weights, ...optimizerWeights].map((w) => w.tensor));
  tf.dispose(state.specs.filter((s) => s.name.startsWith('adam/')).map((s) => tensors[s.name] as tf.Tensor));
  return best.length > 0 ? best : undefined;
}

/**
 * Adam's running bias corrections (beta^t). `Optimizer.setWeights` recomputes
 * them as `pow(beta, t + 1)`, which differs in the last bits from the product
 * a live run accumulates, so they are saved too: a resumed run then matches an
 * uninterrupted one bit for bit.
 */
function adamAccumulators(model: tfl.LayersModel): [string, tf.Variable][] {
  const optimizer = model.optimizer as unknown as { accBeta1?: unknown; accBeta2?: unknown } | undefined;
  const found: [string, tf.Variable][] = [];
  for (const name of ['accBeta1', 'accBeta2'] as const) {
    const value = optimizer?.[name];
    if (value instanceof tf.Variable) found.push([name, value]);
  }
  return found;
}

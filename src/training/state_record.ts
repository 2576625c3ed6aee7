import type * as tf from '@tensorflow/tfjs-core';
import { DigitModelError } from '../errors.js';
import type { ScheduleReplan } from './schedule.js';
import type { StoredTrainingState, TrainingStateMeta } from './state.js';
import type { DigitEpochRecord } from './train.js';

/**
 * The index of a stored training state as text: its metadata and tensor specs,
 * checked field by field on the way back in, since a store may hand back
 * anything (an old format, a truncated write by other code, a hostile page on
 * the same origin). Only the fields a state has are copied out; sizes are
 * bounded before anything is allocated from them.
 */

const FORMAT = 'digit-recognizer/training-state';

/** Largest index (metadata and specs) a reader accepts, in bytes of UTF-8 (and characters once read). */
export const MAX_STATE_INDEX_BYTES = 4 * 1024 * 1024;
/** Default bound on a state's tensor bytes: several times the largest built-in network's weights, optimiser state and best copy. */
export const DEFAULT_MAX_STATE_BYTES = 256 * 1024 * 1024;

const MAX_SPECS = 10_000;
const MAX_RANK = 6;
const MAX_NAME = 256;
const MAX_EPOCHS = 100_000;
const MAX_REPLANS = 100_000;
const MAX_STEPS = Number.MAX_SAFE_INTEGER;
const BYTES_PER_ELEMENT: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1 };

/** What {@link decodeStateIndex} returns: everything but the tensor bytes. */
export interface StateIndex {
  readonly meta: TrainingStateMeta;
  readonly specs: tf.io.WeightsManifestEntry[];
  /** Bytes the specs describe, which the data must have exactly. */
  readonly dataBytes: number;
}

/**
 * Writes a state's index as JSON. Non-finite numbers (a best value of
 * `-Infinity` before any epoch improved, a `NaN` loss) become the strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"` so that they come back as they were.
 */
export function encodeStateIndex(state: StoredTrainingState, where: string, maxBytes: number): string {
  // Checking what is written too: a state the reader would refuse is better refused now.
  const dataBytes = specBytes(state.specs, where, 'specs', maxBytes);
  if (dataBytes !== state.data.byteLength)
    fail(
      'WEIGHTS_SIZE',
      where,
      `the specs describe ${dataBytes} bytes of tensors but the data has ${state.data.byteLength}`,
    );
  const text = stateJson({ format: FORMAT, version: 1, meta: state.meta, specs: state.specs, dataBytes });
  decodeStateIndex(text, where, maxBytes);
  return text;
}

/**
 * Parses and checks a state's index: format and version, every field of the
 * metadata (history holding epochs 1..n once each, best epoch within them),
 * and specs whose sizes add up to at most `maxBytes`. Throws a
 * {@link DigitModelError} naming `where` and the offending entry.
 */
export function decodeStateIndex(text: string, where: string, maxBytes: number): StateIndex {
  if (text.length > MAX_STATE_INDEX_BYTES)
    fail('WEIGHTS_SIZE', where, `the state's index is longer than ${MAX_STATE_INDEX_BYTES} characters`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail('BAD_JSON', where, "the state's index is not valid JSON");
  }
  const index = object(parsed, where, 'index');
  if (index['format'] !== FORMAT) fail('BAD_JSON', where, `not a training state (format is not "${FORMAT}")`);
  if (index['version'] !== 1)
    fail('BAD_JSON', where, `training state version ${String(index['version'])} is not supported (expected 1)`);
  const { meta, specs, dataBytes } = readStateParts(index['meta'], index['specs'], where, maxBytes);
  if (index['dataBytes'] !== dataBytes)
    fail('WEIGHTS_SIZE', where, `dataBytes is ${String(index['dataBytes'])} but the specs describe ${dataBytes} bytes`);
  return { meta, specs, dataBytes };
}

/**
 * Checks a state's metadata and specs as {@link decodeStateIndex} does, for stores that keep them in
 * their own envelope (a folder's `state.json`): every field, and tensor sizes within `maxBytes`.
 */
export function readStateParts(meta: unknown, specs: unknown, where: string, maxBytes: number): StateIndex {
  const checkedMeta = readMeta(meta, where);
  const checkedSpecs = readSpecs(specs, where);
  return { meta: checkedMeta, specs: checkedSpecs, dataBytes: specBytes(checkedSpecs, where, 'specs', maxBytes) };
}

/** JSON with non-finite numbers as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`, which the readers take back. */
export function stateJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

function readMeta(value: unknown, where: string): TrainingStateMeta {
  const meta = object(value, where, 'meta');
  if (meta['version'] !== 1) fail('BAD_JSON', where, `meta.version: expected 1, got ${String(meta['version'])}`);
  const epoch = integer(meta['epoch'], where, 'meta.epoch', 0, MAX_EPOCHS);
  const rawHistory = meta['history'];
  if (!Array.isArray(rawHistory)) fail('BAD_JSON', where, 'meta.history: expected an array');
  if (rawHistory.length !== epoch)
    fail('BAD_JSON', where, `meta.history: ${rawHistory.length} records for ${epoch} completed epochs`);
  const history = rawHistory.map((r: unknown, i) => readRecord(r, where, `meta.history[${i}]`, i + 1));
  const best = object(meta['best'], where, 'meta.best');
  return {
    version: 1,
    epoch,
    history,
    best: {
      epoch: integer(best['epoch'], where, 'meta.best.epoch', 0, epoch),
      value: number(best['value'], where, 'meta.best.value'),
      monitor: string(best['monitor'], where, 'meta.best.monitor', MAX_NAME),
    },
    fingerprint: string(meta['fingerprint'], where, 'meta.fingerprint', MAX_STATE_INDEX_BYTES),
    ...(meta['replans'] === undefined ? {} : { replans: readReplans(meta['replans'], where) }),
  };
}

/** A budget's re-plans: steps from which the run had `total` steps, in the order they were made. */
function readReplans(value: unknown, where: string): ScheduleReplan[] {
  if (!Array.isArray(value)) fail('BAD_JSON', where, 'meta.replans: expected an array');
  if (value.length > MAX_REPLANS)
    fail('BAD_JSON', where, `meta.replans: ${value.length} re-plans, more than ${MAX_REPLANS}`);
  let last = 0;
  return value.map((v: unknown, i) => {
    const path = `meta.replans[${i}]`;
    const r = object(v, where, path);
    const from = integer(r['from'], where, `${path}.from`, last, MAX_STEPS);
    const total = integer(r['total'], where, `${path}.total`, from, MAX_STEPS);
    last = from;
    return { from, total };
  });
}

function readRecord(value: unknown, where: string, path: string, expectedEpoch: number): DigitEpochRecord {
  const r = object(value, where, path);
  if (r['epoch'] !== expectedEpoch)
    fail('BAD_JSON', where, `${path}.epoch: expected ${expectedEpoch}, got ${String(r['epoch'])}`);
  const optional = (key: 'val_loss' | 'val_acc' | 'lr'): { [k in typeof key]?: number } =>
    r[key] === undefined ? {} : { [key]: number(r[key], where, `${path}.${key}`) };
  return {
    epoch: expectedEpoch,
    seconds: number(r['seconds'], where, `${path}.seconds`),
    imagesPerSecond: number(r['imagesPerSecond'], where, `${path}.imagesPerSecond`),
    loss: number(r['loss'], where, `${path}.loss`),
    acc: number(r['acc'], where, `${path}.acc`),
    ...optional('val_loss'),
    ...optional('val_acc'),
    ...optional('lr'),
  };
}

function readSpecs(value: unknown, where: string): tf.io.WeightsManifestEntry[] {
  if (!Array.isArray(value)) fail('BAD_JSON', where, 'specs: expected an array');
  if (value.length > MAX_SPECS) fail('BAD_JSON', where, `specs: ${value.length} tensors, more than ${MAX_SPECS}`);
  const names = new Set<string>();
  return value.map((v: unknown, i) => {
    const path = `specs[${i}]`;
    const spec = object(v, where, path);
    const name = string(spec['name'], where, `${path}.name`, MAX_NAME);
    if (names.has(name)) fail('BAD_JSON', where, `${path}.name: "${name}" appears twice`);
    names.add(name);
    if (spec['quantization'] !== undefined)
      fail('BAD_JSON', where, `${path}: quantized tensors are not a training state's`);
    const dtype = spec['dtype'];
    if (typeof dtype !== 'string' || BYTES_PER_ELEMENT[dtype] === undefined)
      fail('BAD_JSON', where, `${path}.dtype: expected float32, int32 or bool, got ${JSON.stringify(dtype)}`);
    const shape = spec['shape'];
    if (!Array.isArray(shape) || shape.length > MAX_RANK)
      fail('BAD_JSON', where, `${path}.shape: expected an array of at most ${MAX_RANK} sizes`);
    return {
      name,
      dtype: dtype as 'float32' | 'int32' | 'bool',
      shape: shape.map((d: unknown, j) => integer(d, where, `${path}.shape[${j}]`, 0, Number.MAX_SAFE_INTEGER)),
    };
  });
}

/** Bytes the specs describe, refusing more than `maxBytes` before the sum can overflow. */
function specBytes(
  specs: readonly tf.io.WeightsManifestEntry[],
  where: string,
  path: string,
  maxBytes: number,
): number {
  let total = 0;
  for (const [i, spec] of specs.entries()) {
    const perElement = BYTES_PER_ELEMENT[spec.dtype ?? ''];
    if (perElement === undefined || spec.quantization !== undefined)
      fail('BAD_JSON', where, `${path}[${i}]: only plain float32, int32 and bool tensors are stored`);
    let bytes = perElement;
    for (const d of spec.shape) {
      bytes *= d;
      if (bytes > maxBytes) break;
    }
    total += bytes;
    if (total > maxBytes)
      fail('WEIGHTS_SIZE', where, `the state's tensors take more than ${maxBytes} bytes (the store's maxBytes)`);
  }
  return total;
}

type Json = Record<string, unknown>;

function object(value: unknown, where: string, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('BAD_JSON', where, `${path}: expected an object`);
  return value as Json;
}

function number(value: unknown, where: string, path: string): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value);
  return fail('BAD_JSON', where, `${path}: expected a number, got ${JSON.stringify(value) ?? String(value)}`);
}

function integer(value: unknown, where: string, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    fail(
      'BAD_JSON',
      where,
      `${path}: expected an integer from ${min} to ${max}, got ${JSON.stringify(value) ?? String(value)}`,
    );
  return value;
}

function string(value: unknown, where: string, path: string, maxLength: number): string {
  if (typeof value !== 'string') fail('BAD_JSON', where, `${path}: expected a string`);
  if (value.length > maxLength) fail('BAD_JSON', where, `${path}: longer than ${maxLength} characters`);
  return value;
}

function fail(code: 'BAD_JSON' | 'WEIGHTS_SIZE', where: string, problem: string): never {
  throw new DigitModelError(code, where, problem);
}

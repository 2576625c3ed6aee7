/**
 * The bounds that keep a hostile or oversized input from exhausting memory.
 * Each default is generous for real digit data (Kaggle's files, MNIST) and is
 * raised with the option named beside it; an input over a bound is refused
 * with a typed `TOO_LARGE` error whose `limit` names that option, before the
 * memory is spent. docs/api.md ("Limits") lists them with the script flags.
 *
 * @module
 */
import { DigitInputError, DigitModelError, type DigitInputLocation, type DigitLimit } from './errors.js';

const MiB = 1 << 20;

/** Most data rows {@link loadDigitCsv} holds (`maxRows`): each row keeps 784 bytes of pixels. */
export const DEFAULT_MAX_ROWS = 100_000;

/** Most uncompressed CSV bytes {@link loadDigitCsv} reads (`maxBytes`), checked before reading when the size is known. */
export const DEFAULT_MAX_CSV_BYTES = 512 * MiB;

/** Longest CSV line: a real row is at most a few kilobytes. Fixed; it bounds the bytes carried between chunks. */
export const MAX_LINE_BYTES = MiB;

/**
 * Most bytes of a zip archive read whole (`maxArchiveBytes`), for sources that
 * cannot be read at random (streams and async iterables); paths, bytes and
 * Blobs are read piece by piece, whatever their size.
 */
export const DEFAULT_MAX_ARCHIVE_BYTES = 128 * MiB;

/** Largest zip central directory read (it lists the members). Fixed. */
export const MAX_ZIP_DIRECTORY_BYTES = 16 * MiB;

/** Largest `model.json` (topology and weights manifest) read (`maxModelJsonBytes`). */
export const DEFAULT_MAX_MODEL_JSON_BYTES = 8 * MiB;

/** Most weight bytes a model may declare and hold (`maxWeightBytes`), checked before any weight is read. */
export const DEFAULT_MAX_WEIGHT_BYTES = 128 * MiB;

/** Deepest nesting of objects and arrays in a model topology (`maxTopologyDepth`). */
export const DEFAULT_MAX_TOPOLOGY_DEPTH = 64;

/** Most layers in a model topology, nested models' layers included (`maxLayers`). */
export const DEFAULT_MAX_LAYERS = 1024;

/** Most pixels of a picture given to {@link preprocessDigitImage} (`maxPixels`): 4096 x 4096. */
export const DEFAULT_MAX_IMAGE_PIXELS = 4096 * 4096;

/**
 * Reads a limit option: `undefined` gives `fallback`, `Infinity` lifts the
 * bound; anything but a positive integer or `Infinity` is a `RangeError`.
 */
export function limitOption(value: number | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value > 0)) return value;
  throw new RangeError(`${option} must be a positive integer or Infinity, got ${String(value)}`);
}

/** How a refusal names the option that raises it: scripts replace `options.NAME` with their flag. */
export function raiseHint(option: string): string {
  return `raise options.${option} to accept it`;
}

/** A `TOO_LARGE` input error: `what` went past `value` (the `option` limit). */
export function inputTooLarge(
  location: DigitInputLocation,
  what: string,
  option: string,
  value: number,
): DigitInputError {
  const limit: DigitLimit = { option, value };
  return new DigitInputError('TOO_LARGE', location, `${what} (limit ${value}); ${raiseHint(option)}`, { limit });
}

/** A `TOO_LARGE` model error: `what` went past `value` (the `option` limit). */
export function modelTooLarge(target: string, what: string, option: string, value: number): DigitModelError {
  const limit: DigitLimit = { option, value };
  return new DigitModelError('TOO_LARGE', target, `${what} (limit ${value}); ${raiseHint(option)}`, { limit });
}

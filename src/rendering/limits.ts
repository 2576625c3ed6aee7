/**
 * The bounds every picture checks before drawing: its options' integer ranges, and its size, so that a
 * runaway option (a huge `count` or `scale`) is refused in one line instead of allocating.
 */

/** Largest picture drawn (about 100 MB of RGB). */
export const MAX_PICTURE_PIXELS = 32_000_000;

/** `value` when it is an integer in `min..max`, `fallback` when undefined; else a `RangeError` naming `name`. */
export function integerOption(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `${min}..${max}`;
    throw new RangeError(`${name} is ${String(value)}, expected an integer ${range}`);
  }
  return value;
}

/** Throws a `RangeError` ending in `advice` when a `width` x `height` picture is over {@link MAX_PICTURE_PIXELS}. */
export function checkPictureSize(width: number, height: number, advice: string): void {
  if (width * height > MAX_PICTURE_PIXELS) {
    throw new RangeError(`the picture would be ${width} x ${height} pixels; ${advice}`);
  }
}

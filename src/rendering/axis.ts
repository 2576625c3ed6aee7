/** Chart axes: a padded value range with round tick values, and tick labels that show just enough digits. */

export interface Axis {
  /** The value at the bottom (or left) edge of the plot. */
  readonly min: number;
  /** The value at the top (or right) edge. */
  readonly max: number;
  /** Round values inside `[min, max]`, ascending. */
  readonly ticks: readonly number[];
  /** The distance between two ticks. */
  readonly step: number;
}

export interface AxisOptions {
  /** About how many ticks to show. Default 5. */
  readonly ticks?: number;
  /** Fraction of the data range added at each end, so points do not sit on the frame. Default 0.05. */
  readonly padding?: number;
  /** Only whole-number ticks (epochs). */
  readonly integer?: boolean;
  /** Ticks below this are dropped (0 for a loss or a rate). */
  readonly floor?: number;
  /** Ticks above this are dropped (100 for a percentage). */
  readonly ceiling?: number;
}

/** An axis covering `lo..hi` (finite, `lo <= hi`); a single value gets a range around it. */
export function linearAxis(lo: number, hi: number, options: AxisOptions = {}): Axis {
  let a = lo;
  let b = hi;
  if (!(b > a)) {
    const spread = options.integer === true ? 1 : a === 0 ? 1 : Math.abs(a) * 0.05;
    a -= spread;
    b += spread;
  }
  const pad = (b - a) * (options.padding ?? 0.05);
  const min = a - pad;
  const max = b + pad;
  let step = niceStep((max - min) / Math.max(1, (options.ticks ?? 5) - 1));
  if (options.integer === true) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  const first = Math.ceil(min / step - 1e-9);
  for (let k = first; k * step <= max + step * 1e-9; k++) {
    // k * step rather than a running sum, so 0.1 + 0.2 drift never reaches a label.
    const value = Number((k * step).toPrecision(12)) + 0;
    if (value < (options.floor ?? -Infinity) || value > (options.ceiling ?? Infinity)) continue;
    ticks.push(value);
  }
  return { min, max, ticks, step };
}

/** The 1, 2 or 5 times a power of ten nearest to `raw` (on a log scale). */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let best = magnitude;
  for (const nice of [1, 2, 5, 10]) {
    if (Math.abs(Math.log(nice * magnitude) - Math.log(raw)) < Math.abs(Math.log(best) - Math.log(raw))) {
      best = nice * magnitude;
    }
  }
  return Number(best.toPrecision(12));
}

/**
 * A tick label with as many decimals as its step needs (step 0.05 gives `0.15`,
 * step 2 gives `96`, step 0.0005 gives `0.0025`). Steps below 0.0001 (small
 * learning rates) use the exponent form: `2e-5`, `1.5e-5`.
 */
export function formatTick(value: number, step: number): string {
  if (value === 0) return '0';
  const stepExponent = Math.floor(Math.log10(step) + 1e-9);
  if (step < 1e-4 || Math.abs(value) >= 1e6) {
    const exponent = Math.floor(Math.log10(Math.abs(value)) + 1e-9);
    const digits = Math.max(0, exponent - stepExponent);
    return trimExponent(value.toExponential(Math.min(digits, 20)));
  }
  return value.toFixed(Math.max(0, -stepExponent));
}

/** A value in prose: 3 significant digits (`0.100`, `0.0412`), the exponent form below 0.001, no exponent above 1000. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && Math.abs(value) < 1e-3) return trimExponent(value.toExponential(2));
  if (Math.abs(value) >= 1000) return value.toFixed(0);
  return value.toPrecision(3);
}

/** `2.50e-4` -> `2.5e-4`, `2e+6` -> `2e6`. */
function trimExponent(text: string): string {
  const [mantissa = '', exponent = ''] = text.split('e');
  const m = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
  return `${m}e${exponent.replace(/^\+/, '')}`;
}

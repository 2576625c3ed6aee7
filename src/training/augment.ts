import { IMAGE_SIZE } from '../data/dataset.js';

/**
 * Random affine distortions applied to training images on the fly, as the best
 * Kaggle MNIST notebooks do (Keras' `ImageDataGenerator` with rotation, zoom and
 * shifts). Each image gets its own draw; the draws come from the run's seeded
 * stream, so augmented runs stay reproducible and resumable.
 */
export interface AugmentOptions {
  /** Largest rotation either way, in degrees. Default 10. */
  readonly rotation?: number;
  /** Largest shift either way, in pixels. Default 2.5. */
  readonly shift?: number;
  /** Largest zoom in or out, as a fraction (0.1 = 90 %..110 %). Default 0.1. */
  readonly zoom?: number;
  /**
   * Elastic distortion on top of the affine one (Simard, Steinkraus and Platt,
   * 2003): every pixel moves along a random field, white noise smoothed by a
   * Gaussian. Off unless given; Simard's values for MNIST are
   * `{ alpha: 34, sigma: 4 }`.
   */
  readonly elastic?: ElasticOptions | false;
}

/** How strong the elastic distortion is. */
export interface ElasticOptions {
  /** Scale of the smoothed field, in pixels (bench/data/augment.ts measures the mean displacement it gives). */
  readonly alpha: number;
  /** Standard deviation of the smoothing Gaussian, in pixels: larger is smoother. */
  readonly sigma: number;
}

/** Resolved augmentation ranges; `elastic` is present only when it is on. */
export interface AugmentRanges {
  readonly rotation: number;
  readonly shift: number;
  readonly zoom: number;
  readonly elastic?: ElasticOptions;
}

/** Fills in {@link AugmentOptions}' defaults; a negative or non-finite range is a `RangeError`. */
export function augmentRanges(options: AugmentOptions = {}): AugmentRanges {
  const ranges = { rotation: options.rotation ?? 10, shift: options.shift ?? 2.5, zoom: options.zoom ?? 0.1 };
  for (const [name, value] of Object.entries(ranges)) checkRange(`augment.${name}`, value, false);
  if (ranges.zoom >= 1) throw new RangeError(`augment.zoom must be below 1, got ${ranges.zoom}`);
  const elastic = options.elastic;
  if (elastic === undefined || elastic === false) return ranges;
  checkRange('augment.elastic.alpha', elastic.alpha, false);
  checkRange('augment.elastic.sigma', elastic.sigma, true);
  // Kept when zero so the option stays visible in a run's settings; alpha 0 moves nothing.
  return { ...ranges, elastic: { alpha: elastic.alpha, sigma: elastic.sigma } };
}

function checkRange(name: string, value: number, positive: boolean): void {
  if (!(Number.isFinite(value) && (positive ? value > 0 : value >= 0)))
    throw new RangeError(`${name} must be a finite number ${positive ? '> 0' : '>= 0'}, got ${value}`);
}

const CENTRE = (IMAGE_SIZE - 1) / 2;

/**
 * Writes a randomly rotated, zoomed and shifted (and, with `ranges.elastic`,
 * elastically distorted) copy of one 28x28 uint8 image into `out` (784 floats
 * from `outOffset`, scaled 0..1), sampling bilinearly. Works backwards (for
 * each output pixel, where it comes from), so every output pixel is written
 * once and nothing is allocated, so it costs a small share of what a training
 * step spends per image, with or without the elastic field (bench/data/augment.ts).
 * The affine draws come first, so turning elastic on leaves them unchanged.
 */
export function augmentImage(
  pixels: Uint8Array,
  inOffset: number,
  out: Float32Array,
  outOffset: number,
  ranges: AugmentRanges,
  random: () => number,
): void {
  const angle = ((random() * 2 - 1) * ranges.rotation * Math.PI) / 180;
  const scale = 1 + (random() * 2 - 1) * ranges.zoom;
  const dx = (random() * 2 - 1) * ranges.shift;
  const dy = (random() * 2 - 1) * ranges.shift;
  const field = ranges.elastic === undefined ? undefined : elasticField(ranges.elastic, random);
  // Inverse map: output (x, y) -> source = R(-angle) * ((x, y) - centre - shift) / scale + centre.
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const k = 1 / 255;
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const ry = y - CENTRE - dy + (field === undefined ? 0 : (field[PIXELS + y * IMAGE_SIZE + x] as number));
      const rx = x - CENTRE - dx + (field === undefined ? 0 : (field[y * IMAGE_SIZE + x] as number));
      const sx = cos * rx + sin * ry + CENTRE;
      const sy = -sin * rx + cos * ry + CENTRE;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const p00 = sample(pixels, inOffset, x0, y0);
      const p10 = sample(pixels, inOffset, x0 + 1, y0);
      const p01 = sample(pixels, inOffset, x0, y0 + 1);
      const p11 = sample(pixels, inOffset, x0 + 1, y0 + 1);
      const top = p00 + (p10 - p00) * fx;
      const bottom = p01 + (p11 - p01) * fx;
      out[outOffset + y * IMAGE_SIZE + x] = (top + (bottom - top) * fy) * k;
    }
  }
}

const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
// One image is distorted at a time (JavaScript runs it to completion), so the field and blur buffers are shared.
const fieldBuffer = new Float64Array(2 * PIXELS);
const blurBuffer = new Float64Array(2 * PIXELS);
let boxes: { sigma: number; halfWidths: number[] } | undefined;

/**
 * The displacement field: x displacements in the first 784 values, y in the
 * next. Uniform noise in [-1, 1], smoothed by a Gaussian of `sigma` pixels
 * (zero outside the image, like scipy's `gaussian_filter` with
 * `mode="constant"` that the usual implementations call), then scaled by
 * alpha. The Gaussian is three box blurs in a row (Kovesi, "Fast almost-
 * Gaussian filtering", 2010), each a running sum: a handful of additions per
 * pixel whatever sigma is, where exact separable taps cost 2 x 33
 * multiply-adds per pixel at sigma 4 and made the whole augmentation several
 * times slower (bench/data/augment.ts).
 */
function elasticField({ alpha, sigma }: ElasticOptions, random: () => number): Float64Array {
  if (boxes?.sigma !== sigma) boxes = { sigma, halfWidths: boxHalfWidths(sigma) };
  const field = fieldBuffer;
  for (let i = 0; i < 2 * PIXELS; i++) field[i] = random() * 2 - 1;
  let from = field;
  let to = blurBuffer;
  for (const half of boxes.halfWidths) {
    boxBlur(from, to, half, 1, IMAGE_SIZE);
    [from, to] = [to, from];
    boxBlur(from, to, half, IMAGE_SIZE, 1);
    [from, to] = [to, from];
  }
  for (let i = 0; i < 2 * PIXELS; i++) field[i] = (from[i] as number) * alpha;
  return field;
}

/**
 * Half-widths of three boxes whose variances add up to about sigma^2: odd
 * widths w and w + 2 mixed so the sum is as close as it can be. The
 * resulting sigma is 3-6 % short from sigma 1.5 up (3.83 for 4) and coarser
 * below (0.82 for 1; no smoothing under about 1.2).
 */
function boxHalfWidths(sigma: number): number[] {
  const n = 3;
  let lower = Math.floor(Math.sqrt((12 * sigma * sigma) / n + 1));
  if (lower % 2 === 0) lower--;
  const narrow = Math.round((12 * sigma * sigma - n * lower * lower - 4 * n * lower - 3 * n) / (-4 * lower - 4));
  return Array.from({ length: n }, (_, i) => ((i < narrow ? lower : lower + 2) - 1) / 2);
}

/**
 * One box blur of half-width `half` along lines of both 28x28 planes: `step`
 * apart within a line, `lineStep` between lines. Values outside the image
 * count as zero, and every output divides by the full width.
 */
function boxBlur(src: Float64Array, dst: Float64Array, half: number, step: number, lineStep: number): void {
  const scale = 1 / (2 * half + 1);
  const reach = Math.min(half, IMAGE_SIZE - 1);
  for (let plane = 0; plane < 2 * PIXELS; plane += PIXELS) {
    for (let line = 0; line < IMAGE_SIZE; line++) {
      const base = plane + line * lineStep;
      let sum = 0;
      for (let i = 0; i <= reach; i++) sum += src[base + i * step] as number;
      for (let i = 0; i < IMAGE_SIZE; i++) {
        dst[base + i * step] = sum * scale;
        if (i + half + 1 < IMAGE_SIZE) sum += src[base + (i + half + 1) * step] as number;
        if (i - half >= 0) sum -= src[base + (i - half) * step] as number;
      }
    }
  }
}

function sample(pixels: Uint8Array, offset: number, x: number, y: number): number {
  if (x < 0 || y < 0 || x >= IMAGE_SIZE || y >= IMAGE_SIZE) return 0;
  return pixels[offset + y * IMAGE_SIZE + x] as number;
}

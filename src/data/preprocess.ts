/**
 * Turning any picture of one handwritten digit (a canvas drawing, a photo, a
 * scan) into a 28x28 image as MNIST and Kaggle's Digit Recognizer prepared
 * theirs: the ink's bounding box is scaled, keeping its aspect ratio, to fit a
 * 20x20 box with area averaging (anti-aliased), then placed in the 28x28 frame
 * so that its centre of mass sits at the centre. No DOM needed: give it RGBA
 * pixels (e.g. `ImageData.data`) and it works in browsers and Node alike.
 *
 * @module
 */
import { IMAGE_SIZE, PIXELS_PER_IMAGE } from './dataset.js';
import { checkImageSize } from './image_size.js';

/** Options of {@link preprocessDigitImage}. */
export interface PreprocessDigitOptions {
  /**
   * Which way the picture is drawn: `light-ink` (light strokes on a dark
   * ground, like MNIST itself), `dark-ink` (dark on light, like pen on paper)
   * or `auto` (default): the border's mean brightness decides, a light border
   * meaning dark ink.
   */
  readonly polarity?: 'auto' | 'dark-ink' | 'light-ink';
  /**
   * Ink strength below which a pixel counts as background, 0..255, after the
   * background level is subtracted. Default 32: paper texture and JPEG noise
   * do not widen the bounding box.
   */
  readonly threshold?: number;
  /** Side of the box the digit is scaled into, 1..28. Default 20 (MNIST's). */
  readonly box?: number;
  /** Shift the digit so its centre of mass is at the image centre (MNIST) rather than centring its bounding box. Default true. */
  readonly centerOfMass?: boolean;
  /**
   * Most pixels accepted, checked before anything is allocated (the work
   * takes 4 bytes a pixel besides the picture's own 4). Default
   * {@link DEFAULT_MAX_IMAGE_PIXELS}: 4096 x 4096.
   */
  readonly maxPixels?: number;
}

/**
 * Converts an RGBA picture of a digit into the 784 bytes of a 28x28
 * grey-scale image in Kaggle/MNIST form (0 background, 255 ink, row-major),
 * ready for `createDigitDataset` or a model:
 *
 * 1. grey = luminance (Rec. 601) composited over the background implied by
 *    the polarity (transparent pixels count as background), inverted for dark
 *    ink, minus the background level (the border's 10th percentile) and
 *    stretched so the strongest ink is 255;
 * 2. cropped to the bounding box of pixels above `threshold`;
 * 3. scaled by area averaging so its longer side is `box` (20) pixels;
 * 4. placed in 28x28 with its centre of mass on pixel (14, 14) as in MNIST,
 *    clamped inside the frame.
 *
 * A picture with no ink gives 784 zeros.
 *
 * @param rgba `width * height * 4` bytes, e.g. `ImageData.data`.
 * @throws {DigitInputError} `TOO_LARGE` when `width * height` is over `options.maxPixels`.
 * @throws {RangeError} when the sizes and the array do not match or an option is out of range.
 */
export function preprocessDigitImage(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  options: PreprocessDigitOptions = {},
): Uint8Array {
  checkImageSize(width, height, options.maxPixels === undefined ? {} : { maxPixels: options.maxPixels });
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`expected ${width * height * 4} RGBA bytes for ${width} x ${height}, got ${rgba.length}`);
  }
  const threshold = options.threshold ?? 32;
  if (!(threshold >= 0 && threshold <= 255)) throw new RangeError(`threshold must be 0..255, got ${threshold}`);
  const box = options.box ?? 20;
  if (!(Number.isInteger(box) && box >= 1 && box <= IMAGE_SIZE))
    throw new RangeError(`box must be an integer 1..${IMAGE_SIZE}, got ${box}`);
  const polarity = options.polarity ?? 'auto';
  if (polarity !== 'auto' && polarity !== 'dark-ink' && polarity !== 'light-ink') {
    throw new RangeError(`polarity must be auto, dark-ink or light-ink, got ${String(polarity)}`);
  }

  const ink = inkLevels(rgba, width, height, polarity);
  const out = new Uint8Array(PIXELS_PER_IMAGE);

  // Bounding box of clear ink.
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if ((ink[row + x] as number) > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return out;
  const boxW = x1 - x0 + 1;
  const boxH = y1 - y0 + 1;
  const scale = box / Math.max(boxW, boxH);
  const outW = Math.max(1, Math.round(boxW * scale));
  const outH = Math.max(1, Math.round(boxH * scale));
  const small = areaResample(ink, width, x0, y0, boxW, boxH, outW, outH);

  // Centre of mass of the scaled digit, to be moved to the frame's centre.
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const v = small[y * outW + x] as number;
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  // MNIST put the centre of mass on pixel (14, 14): 14.5 in continuous coordinates.
  const center = IMAGE_SIZE / 2 + 0.5;
  const useMass = options.centerOfMass !== false && mass > 0;
  const cx = useMass ? mx / mass : outW / 2;
  const cy = useMass ? my / mass : outH / 2;
  const left = clamp(Math.round(center - cx), 0, IMAGE_SIZE - outW);
  const top = clamp(Math.round(center - cy), 0, IMAGE_SIZE - outH);

  let peak = 0;
  for (const v of small) if (v > peak) peak = v;
  const gain = peak > 0 ? 255 / peak : 0;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      out[(top + y) * IMAGE_SIZE + left + x] = Math.min(255, Math.round((small[y * outW + x] as number) * gain));
    }
  }
  return out;
}

/**
 * Ink strength per pixel, 0..255 as floats: luminance over the implied
 * background, inverted for dark ink, minus the background level. One array:
 * luminance and alpha are recomputed where needed, rounded to float32 as an
 * array would hold them, so results do not depend on the saving.
 */
function inkLevels(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  polarity: PreprocessDigitOptions['polarity'],
): Float32Array {
  const n = width * height;
  const lum = (i: number): number =>
    Math.fround(
      0.299 * (rgba[i * 4] as number) + 0.587 * (rgba[i * 4 + 1] as number) + 0.114 * (rgba[i * 4 + 2] as number),
    );
  const alpha = (i: number): number => Math.fround((rgba[i * 4 + 3] as number) / 255);
  const darkInk = polarity === 'dark-ink' || (polarity === 'auto' && borderIsLight(lum, alpha, width, height));
  const ink = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = alpha(i);
    // Transparent pixels become background: white under dark ink, black under light ink.
    const v = lum(i) * a + (darkInk ? 255 : 0) * (1 - a);
    ink[i] = darkInk ? 255 - v : v;
  }
  // The background level: the border's 10th percentile of ink (robust to strokes touching the edge).
  const level = borderPercentile(ink, width, height, 0.1);
  if (level > 0) for (let i = 0; i < n; i++) ink[i] = Math.max(0, (ink[i] as number) - level);
  return ink;
}

/** Whether the border (transparent pixels excluded) is mostly light, i.e. the ink is dark. */
function borderIsLight(
  lum: (i: number) => number,
  alpha: (i: number) => number,
  width: number,
  height: number,
): boolean {
  let sum = 0;
  let weight = 0;
  forBorder(width, height, (i) => {
    const a = alpha(i);
    sum += lum(i) * a;
    weight += a;
  });
  // A fully transparent border says nothing: assume strokes drawn on nothing are dark ink (a canvas default).
  if (weight < 1e-6) return true;
  return sum / weight > 127.5;
}

function borderPercentile(values: Float32Array, width: number, height: number, q: number): number {
  const border: number[] = [];
  forBorder(width, height, (i) => border.push(values[i] as number));
  border.sort((a, b) => a - b);
  return border[Math.min(border.length - 1, Math.floor(q * border.length))] ?? 0;
}

function forBorder(width: number, height: number, visit: (index: number) => void): void {
  for (let x = 0; x < width; x++) {
    visit(x);
    if (height > 1) visit((height - 1) * width + x);
  }
  for (let y = 1; y < height - 1; y++) {
    visit(y * width);
    if (width > 1) visit(y * width + width - 1);
  }
}

/**
 * Area-averaging resample of the `boxW x boxH` window at (`x0`, `y0`) of `src`
 * to `outW x outH`: each output pixel is the mean of the source area it
 * covers, fractional pixels weighted, so thin strokes fade rather than vanish.
 */
function areaResample(
  src: Float32Array,
  srcWidth: number,
  x0: number,
  y0: number,
  boxW: number,
  boxH: number,
  outW: number,
  outH: number,
): Float32Array {
  const xs = coverage(boxW, outW);
  const ys = coverage(boxH, outH);
  const out = new Float32Array(outW * outH);
  for (let oy = 0; oy < outH; oy++) {
    const rowSpans = ys[oy] as Span[];
    for (let ox = 0; ox < outW; ox++) {
      const colSpans = xs[ox] as Span[];
      let sum = 0;
      let area = 0;
      for (const ry of rowSpans) {
        const row = (y0 + ry.index) * srcWidth + x0;
        for (const rx of colSpans) {
          const w = ry.weight * rx.weight;
          sum += (src[row + rx.index] as number) * w;
          area += w;
        }
      }
      out[oy * outW + ox] = area > 0 ? sum / area : 0;
    }
  }
  return out;
}

interface Span {
  readonly index: number;
  readonly weight: number;
}

/** For each of `outN` output cells, the source cells (of `srcN`) it covers and by how much. */
function coverage(srcN: number, outN: number): Span[][] {
  const step = srcN / outN;
  const result: Span[][] = [];
  for (let o = 0; o < outN; o++) {
    const start = o * step;
    const end = start + step;
    const spans: Span[] = [];
    for (let s = Math.floor(start); s < Math.min(srcN, Math.ceil(end)); s++) {
      const weight = Math.min(end, s + 1) - Math.max(start, s);
      if (weight > 1e-9) spans.push({ index: s, weight });
    }
    result.push(spans);
  }
  return result;
}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}

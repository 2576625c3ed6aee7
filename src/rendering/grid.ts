/**
 * Pictures of predictions: a grid of digit images, each titled with the
 * predicted digit and its confidence, as a PNG (drawn pixel by pixel, no canvas
 * or DOM needed) and as an SVG with real text. Works in browsers and Node.
 */
import { encode } from 'fast-png';
import { IMAGE_SIZE, PIXELS_PER_IMAGE, type DigitDataset } from '../data/dataset.js';
import { writeFileAtomic } from '../io/node.js';
import type { DigitPredictions } from '../prediction/predictions.js';
import { bytesToBase64 } from './base64.js';
import { GLYPH_HEIGHT, GLYPH_SPACING, drawText, fillRect, textWidth, type Rgb } from './font.js';
import { checkPictureSize, integerOption } from './limits.js';

/** How {@link renderPredictionGrid} picks, lays out and marks the tiles. */
export interface RenderPredictionGridOptions {
  /** How many images to show, at least 1; clamped to the images available from `start`. Default 40. */
  readonly count?: number;
  /** Index of the first image shown. Default 0. Ignored when `indices` is given. */
  readonly start?: number;
  /** Exactly which images to show, in order (overrides `start` and `count`). */
  readonly indices?: readonly number[];
  /** Tiles per row, at least 1. Default 10 (fewer when fewer tiles are shown). */
  readonly columns?: number;
  /** Output pixels per image pixel, an integer 1..16. Default 3 (84 x 84 px per digit). */
  readonly scale?: number;
  /** Output pixels per font pixel, an integer 1..16. Default about two thirds of `scale` (2 for scale 3). */
  readonly fontScale?: number;
  /**
   * Which tiles get a red frame as least confident: `true` (default) marks the
   * least-confident 10% of the shown tiles (at least one), a number marks that
   * many (0 for none), `false` marks none.
   */
  readonly markLeastConfident?: boolean | number;
  /**
   * True labels aligned with the images (same count). Wrong predictions get a red
   * title and a second line `(true 1)`. Defaults to the dataset's labels when
   * `images` is a labelled {@link DigitDataset}; pass `null` to not compare.
   */
  readonly trueLabels?: Uint8Array | null;
  /** A heading drawn above the grid. The PNG's font has ASCII letters, digits and common punctuation; other characters show as `?` there (the SVG shows them as is). */
  readonly title?: string;
  /** Whether to explain the markers in a line under the grid (only drawn when something is marked). Default true. */
  readonly legend?: boolean;
}

/** A rendered grid of predictions. */
export interface PredictionGrid {
  /** The picture as an 8-bit RGB PNG file. */
  readonly png: Uint8Array;
  /** The same picture as a standalone SVG document (digit images embedded as small PNG data URLs). */
  readonly svg: string;
  /** Picture width in pixels (PNG and SVG alike). */
  readonly width: number;
  /** Picture height in pixels. */
  readonly height: number;
  /** Image indices shown, tile by tile in reading order. */
  readonly indices: number[];
  /** Image indices framed red as least confident, least confident first. */
  readonly leastConfident: number[];
  /** Image indices whose prediction differs from the true label (empty without true labels). */
  readonly wrong: number[];
}

const MAX_SCALE = 16;
const WHITE: Rgb = [255, 255, 255];
const TEXT: Rgb = [20, 20, 20];
const MUTED: Rgb = [96, 96, 96];
const HEADING: Rgb = [16, 16, 16];
const WRONG: Rgb = [200, 20, 20];
const MARK: Rgb = [230, 40, 30];
const FRAME: Rgb = [200, 200, 200];

interface Tile {
  readonly index: number;
  /** The predicted digit, drawn bold. */
  readonly digit: string;
  /** Two spaces and the confidence, e.g. `  98.2%`. */
  readonly confidence: string;
  /** `(true 1)` for a wrong prediction. */
  readonly truth: string | undefined;
  readonly wrong: boolean;
  marked: boolean;
  x: number;
  y: number;
}

/**
 * Draws a grid of digit images, each titled with its predicted digit and
 * confidence (`7  98.2%`), like the notebook's subplot grid: dark ink on a light
 * background. The least-confident tiles get a red frame; with true labels,
 * wrong predictions get a red title and a `(true N)` line. Synchronous and
 * DOM-free. Throws `RangeError` for counts that do not match or options out of
 * range, and `TypeError` for arguments of the wrong kind.
 *
 * @param images A dataset or raw pixels (`n * 784` bytes, 0 = background, 255 = ink).
 * @param predictions Predictions for the same `n` images, in the same order.
 */
export function renderPredictionGrid(
  images: DigitDataset | Uint8Array,
  predictions: DigitPredictions,
  options: RenderPredictionGridOptions = {},
): PredictionGrid {
  const { pixels, count: imageCount, labels: datasetLabels } = imagePixels(images);
  checkPredictions(predictions, imageCount);
  const trueLabels = options.trueLabels === undefined ? datasetLabels : (options.trueLabels ?? undefined);
  if (trueLabels !== undefined) checkLabels(trueLabels, imageCount, 'trueLabels');

  const indices = pickIndices(options, imageCount);
  const n = indices.length;
  const columns = Math.min(n, integerOption(options.columns, 10, 1, Number.MAX_SAFE_INTEGER, 'columns'));
  const rows = Math.ceil(n / columns);
  const scale = integerOption(options.scale, 3, 1, MAX_SCALE, 'scale');
  const fontScale = integerOption(
    options.fontScale,
    Math.max(1, Math.round((scale * 2) / 3)),
    1,
    MAX_SCALE,
    'fontScale',
  );
  const markCount = markOption(options.markLeastConfident, n);
  const title = options.title;
  if (title !== undefined && typeof title !== 'string') throw new TypeError('title must be a string');

  const tiles: Tile[] = indices.map((index) => {
    const label = predictions.labels[index] as number;
    const truth = trueLabels?.[index];
    const wrong = truth !== undefined && truth !== label;
    const confidence = `  ${formatConfidence(predictions.confidences[index] as number)}`;
    return {
      index,
      digit: String(label),
      confidence,
      truth: wrong ? `(true ${truth})` : undefined,
      wrong,
      marked: false,
      x: 0,
      y: 0,
    };
  });
  const leastConfident = pickLeastConfident(tiles, predictions.confidences, markCount);

  // Layout, in output pixels.
  const f = fontScale;
  const lineHeight = GLYPH_HEIGHT * f;
  const lineGap = 3 * f;
  const titleLines = tiles.some((t) => t.truth !== undefined) ? 2 : 1;
  const titleBlock = titleLines * lineHeight + (titleLines - 1) * lineGap;
  const frame = Math.max(3, scale);
  const imageSide = IMAGE_SIZE * scale;
  const box = imageSide + 2 * frame;
  let widestTitle = 0;
  for (const tile of tiles) {
    widestTitle = Math.max(widestTitle, firstLineWidth(tile), textWidth(tile.truth ?? '') * f);
  }
  const cellWidth = Math.max(box, widestTitle);
  const cellHeight = titleBlock + 2 * f + box;
  const gapX = 4 + 6 * f;
  const gapY = 4 + 5 * f;
  const margin = 4 + 5 * f;
  const headingScale = f + 1;
  const headingHeight = title === undefined || title === '' ? 0 : GLYPH_HEIGHT * headingScale + 6 * f;
  const wrongCount = tiles.filter((t) => t.wrong).length;
  const legendItems: { text: string; color: Rgb; swatch: boolean }[] = [];
  if (options.legend !== false) {
    if (leastConfident.length > 0) legendItems.push({ text: 'least confident', color: MUTED, swatch: true });
    if (wrongCount > 0)
      legendItems.push({ text: `red title: wrong (${wrongCount} of ${n})`, color: WRONG, swatch: false });
  }
  const swatch = lineHeight;
  const legendGap = 14 * f;
  const legendWidth = legendItems.reduce(
    (w, item, i) => w + (i > 0 ? legendGap : 0) + (item.swatch ? swatch + 3 * f : 0) + textWidth(item.text) * f,
    0,
  );
  const legendHeight = legendItems.length === 0 ? 0 : 5 * f + lineHeight;
  const gridWidth = columns * cellWidth + (columns - 1) * gapX;
  const headingWidth = headingHeight === 0 ? 0 : textWidth(title ?? '') * headingScale;
  const width = 2 * margin + Math.max(gridWidth, headingWidth, legendWidth);
  const gridHeight = rows * cellHeight + (rows - 1) * gapY;
  const height = 2 * margin + headingHeight + gridHeight + legendHeight;
  const legendTop = margin + headingHeight + gridHeight + legendHeight - lineHeight;
  checkPictureSize(width, height, 'show fewer images (count) or use a smaller scale');
  const gridLeft = margin + Math.floor((width - 2 * margin - gridWidth) / 2);
  tiles.forEach((tile, k) => {
    tile.x = gridLeft + (k % columns) * (cellWidth + gapX);
    tile.y = margin + headingHeight + Math.floor(k / columns) * (cellHeight + gapY);
  });

  const png = drawPng();
  const svg = drawSvg();
  return {
    png,
    svg,
    width,
    height,
    indices,
    leastConfident,
    wrong: tiles.filter((t) => t.wrong).map((t) => t.index),
  };

  function firstLineWidth(tile: Tile): number {
    return textWidth(tile.digit + tile.confidence) * f + Math.max(1, Math.floor(f / 2));
  }

  /** Titles sit just above their image: a tile without a `(true N)` line starts one line lower. */
  function titleOffset(tile: Tile): number {
    return tile.truth === undefined ? titleBlock - lineHeight : 0;
  }

  function drawPng(): Uint8Array {
    const data = new Uint8Array(width * height * 3).fill(255);
    if (headingHeight > 0 && title !== undefined) {
      drawText(
        data,
        width,
        Math.floor((width - textWidth(title) * headingScale) / 2),
        margin,
        title,
        HEADING,
        headingScale,
      );
    }
    for (const tile of tiles) {
      const x = tile.x + Math.floor((cellWidth - firstLineWidth(tile)) / 2);
      const y = tile.y + titleOffset(tile);
      const boldShift = Math.max(1, Math.floor(f / 2));
      drawText(data, width, x, y, tile.digit, tile.wrong ? WRONG : TEXT, f);
      drawText(data, width, x + boldShift, y, tile.digit, tile.wrong ? WRONG : TEXT, f);
      const rest = x + boldShift + (textWidth(tile.digit) + GLYPH_SPACING) * f;
      drawText(data, width, rest, y, tile.confidence, tile.wrong ? WRONG : MUTED, f);
      if (tile.truth !== undefined) {
        const tx = tile.x + Math.floor((cellWidth - textWidth(tile.truth) * f) / 2);
        drawText(data, width, tx, y + lineHeight + lineGap, tile.truth, WRONG, f);
      }
      const bx = tile.x + Math.floor((cellWidth - box) / 2);
      const by = tile.y + titleBlock + 2 * f;
      if (tile.marked) {
        fillRect(data, width, height, bx, by, box, box, MARK);
      } else {
        fillRect(data, width, height, bx + frame - 1, by + frame - 1, imageSide + 2, imageSide + 2, FRAME);
      }
      const ix = bx + frame;
      const iy = by + frame;
      const offset = tile.index * PIXELS_PER_IMAGE;
      for (let py = 0; py < IMAGE_SIZE; py++) {
        for (let px = 0; px < IMAGE_SIZE; px++) {
          const grey = 255 - (pixels[offset + py * IMAGE_SIZE + px] as number);
          fillRect(data, width, height, ix + px * scale, iy + py * scale, scale, scale, [grey, grey, grey]);
        }
      }
    }
    let lx = Math.floor((width - legendWidth) / 2);
    for (const item of legendItems) {
      if (item.swatch) {
        const t = Math.max(2, f);
        fillRect(data, width, height, lx, legendTop, swatch, swatch, MARK);
        fillRect(data, width, height, lx + t, legendTop + t, swatch - 2 * t, swatch - 2 * t, WHITE);
        lx += swatch + 3 * f;
      }
      drawText(data, width, lx, legendTop, item.text, item.color, f);
      lx += textWidth(item.text) * f + legendGap;
    }
    return encode({ width, height, data, depth: 8, channels: 3 });
  }

  function drawSvg(): string {
    const fontSize = Math.round(lineHeight * 1.45);
    const parts: string[] = [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
        `font-family="ui-monospace, Menlo, Consolas, 'DejaVu Sans Mono', monospace" font-size="${fontSize}">`,
      `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ];
    if (headingHeight > 0 && title !== undefined) {
      parts.push(
        `<text x="${width / 2}" y="${margin + GLYPH_HEIGHT * headingScale}" text-anchor="middle" font-size="${Math.round(GLYPH_HEIGHT * headingScale * 1.45)}" font-weight="bold" fill="${hex(HEADING)}">${escapeXml(title)}</text>`,
      );
    }
    for (const tile of tiles) {
      const cx = tile.x + cellWidth / 2;
      const extra =
        tile.truth === undefined
          ? ''
          : `<tspan x="${cx}" dy="${lineHeight + lineGap}">${escapeXml(tile.truth)}</tspan>`;
      const confidence = tile.wrong ? '' : ` fill="${hex(MUTED)}"`;
      parts.push(
        `<text class="tile" x="${cx}" y="${tile.y + titleOffset(tile) + lineHeight}" text-anchor="middle" fill="${hex(tile.wrong ? WRONG : TEXT)}">` +
          `<tspan font-weight="bold">${tile.digit}</tspan><tspan dx="0.5em"${confidence}>${escapeXml(tile.confidence.trim())}</tspan>${extra}</text>`,
      );
      const bx = tile.x + Math.floor((cellWidth - box) / 2);
      const by = tile.y + titleBlock + 2 * f;
      if (tile.marked) {
        parts.push(
          `<rect x="${bx + frame / 2}" y="${by + frame / 2}" width="${box - frame}" height="${box - frame}" fill="none" stroke="${hex(MARK)}" stroke-width="${frame}"/>`,
        );
      } else {
        parts.push(
          `<rect x="${bx + frame - 0.5}" y="${by + frame - 0.5}" width="${imageSide + 1}" height="${imageSide + 1}" fill="none" stroke="${hex(FRAME)}" stroke-width="1"/>`,
        );
      }
      parts.push(
        `<image x="${bx + frame}" y="${by + frame}" width="${imageSide}" height="${imageSide}" image-rendering="optimizeSpeed" style="image-rendering:pixelated" href="data:image/png;base64,${bytesToBase64(tilePng(pixels, tile.index))}"/>`,
      );
    }
    if (legendItems.length > 0) {
      const spans = legendItems.map(
        (item, i) =>
          (item.swatch ? `<tspan${i > 0 ? ' dx="1.5em"' : ''} fill="${hex(MARK)}">\u25a1</tspan>` : '') +
          `<tspan dx="${item.swatch ? 0.4 : i > 0 ? 1.5 : 0}em" fill="${hex(item.color)}">${escapeXml(item.text)}</tspan>`,
      );
      parts.push(
        `<text class="legend" x="${width / 2}" y="${legendTop + lineHeight}" text-anchor="middle">${spans.join('')}</text>`,
      );
    }
    parts.push('</svg>\n');
    return parts.join('\n');
  }
}

/**
 * Writes a rendered grid to disk (Node only), each file atomically: the PNG to
 * `pngPath` and, when given, the SVG to `svgPath`. Throws `DigitOutputError`
 * (`NO_DIRECTORY`, `IS_DIRECTORY`, `NOT_WRITABLE`, ...) when a file cannot be written.
 */
export async function writePredictionGrid(grid: PredictionGrid, pngPath: string, svgPath?: string): Promise<void> {
  await writeFileAtomic(pngPath, grid.png);
  if (svgPath !== undefined) await writeFileAtomic(svgPath, grid.svg);
}

/** Escapes text for XML element content and attribute values; drops characters XML 1.0 forbids. */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function imagePixels(images: DigitDataset | Uint8Array): {
  pixels: Uint8Array;
  count: number;
  labels: Uint8Array | undefined;
} {
  if (images instanceof Uint8Array) {
    if (images.length % PIXELS_PER_IMAGE !== 0) {
      throw new RangeError(
        `images length ${images.length} is not a multiple of ${PIXELS_PER_IMAGE} (28 x 28 pixels per image)`,
      );
    }
    return nonEmpty({ pixels: images, count: images.length / PIXELS_PER_IMAGE, labels: undefined });
  }
  if (typeof images !== 'object' || images === null || !(images.pixels instanceof Uint8Array)) {
    throw new TypeError('images must be a DigitDataset or a Uint8Array of 28 x 28 pixels per image');
  }
  if (images.pixels.length !== images.count * PIXELS_PER_IMAGE) {
    throw new RangeError(
      `dataset has ${images.pixels.length} pixels for ${images.count} images; expected ${images.count * PIXELS_PER_IMAGE}`,
    );
  }
  return nonEmpty({ pixels: images.pixels, count: images.count, labels: images.labels });
}

function nonEmpty<T extends { count: number }>(value: T): T {
  if (value.count === 0) throw new RangeError('no images to draw');
  return value;
}

function checkPredictions(predictions: DigitPredictions, imageCount: number): void {
  if (
    typeof predictions !== 'object' ||
    predictions === null ||
    !(predictions.labels instanceof Uint8Array) ||
    !(predictions.confidences instanceof Float32Array)
  ) {
    throw new TypeError('predictions must be DigitPredictions with Uint8Array labels and Float32Array confidences');
  }
  const { count, labels, confidences } = predictions;
  if (count !== imageCount || labels.length !== imageCount || confidences.length !== imageCount) {
    throw new RangeError(
      `predictions (count ${count}, ${labels.length} labels, ${confidences.length} confidences) do not match the ${imageCount} images`,
    );
  }
  checkLabels(labels, imageCount, 'predicted labels');
}

function checkLabels(labels: Uint8Array, imageCount: number, what: string): void {
  if (!(labels instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (labels.length !== imageCount) throw new RangeError(`${labels.length} ${what} for ${imageCount} images`);
  for (let i = 0; i < labels.length; i++) {
    if ((labels[i] as number) > 9) throw new RangeError(`${what}[${i}] is ${labels[i]}, expected a digit 0..9`);
  }
}

function pickIndices(options: RenderPredictionGridOptions, imageCount: number): number[] {
  if (options.indices !== undefined) {
    if (!Array.isArray(options.indices)) throw new TypeError('indices must be an array of image indices');
    if (options.indices.length === 0) throw new RangeError('indices is empty; nothing to draw');
    return options.indices.map((index, k) => {
      if (!Number.isInteger(index) || index < 0 || index >= imageCount) {
        throw new RangeError(`indices[${k}] is ${index}, expected an integer 0..${imageCount - 1}`);
      }
      return index;
    });
  }
  const start = integerOption(options.start, 0, 0, imageCount - 1, 'start');
  const count = integerOption(options.count, 40, 1, Number.MAX_SAFE_INTEGER, 'count');
  const n = Math.min(count, imageCount - start);
  return Array.from({ length: n }, (_, k) => start + k);
}

function markOption(value: boolean | number | undefined, shown: number): number {
  if (value === undefined || value === true) return Math.max(1, Math.round(shown * 0.1));
  if (value === false) return 0;
  return Math.min(shown, integerOption(value, 0, 0, Number.MAX_SAFE_INTEGER, 'markLeastConfident'));
}

/** Marks the `k` least-confident tiles (NaN counts as least confident; ties keep tile order). */
function pickLeastConfident(tiles: Tile[], confidences: Float32Array, k: number): number[] {
  const key = (tile: Tile): number => {
    const c = confidences[tile.index] as number;
    return Number.isNaN(c) ? -Infinity : c;
  };
  const order = tiles
    .map((tile, position) => ({ tile, position }))
    .sort((a, b) => key(a.tile) - key(b.tile) || a.position - b.position);
  return order.slice(0, k).map(({ tile }) => {
    tile.marked = true;
    return tile.index;
  });
}

function formatConfidence(confidence: number): string {
  return Number.isFinite(confidence) ? `${(confidence * 100).toFixed(1)}%` : '?';
}

function hex([r, g, b]: Rgb): string {
  return `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`;
}

/** One digit as a 28 x 28 8-bit grey PNG, inverted to dark ink on white. */
function tilePng(pixels: Uint8Array, index: number): Uint8Array {
  const data = new Uint8Array(PIXELS_PER_IMAGE);
  const offset = index * PIXELS_PER_IMAGE;
  for (let i = 0; i < PIXELS_PER_IMAGE; i++) data[i] = 255 - (pixels[offset + i] as number);
  return encode({ width: IMAGE_SIZE, height: IMAGE_SIZE, data, depth: 8, channels: 1 });
}

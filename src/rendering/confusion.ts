/**
 * A picture of a hold-out's mistakes: the 10 x 10 counts of true digit against
 * predicted digit, the most confused pairs, and the misread images themselves,
 * as a PNG and an SVG drawn from the same scene. Works in browsers and Node.
 */
import { IMAGE_SIZE, PIXELS_PER_IMAGE, NUM_CLASSES, type DigitDataset } from '../data/dataset.js';
import { confusionMatrix, type DigitConfusionMatrix } from '../prediction/confusion.js';
import type { DigitPredictions } from '../prediction/predictions.js';
import type { Rgb } from './font.js';
import { checkPictureSize, integerOption } from './limits.js';
import {
  lineHeight,
  mix,
  sceneToPng,
  sceneToSvg,
  textPixels,
  type Scene,
  type Shape,
  type TextAnchor,
} from './scene.js';

/** Options of {@link renderConfusionMatrix}. */
export interface RenderConfusionMatrixOptions {
  /** The heading. Default `Confusion matrix`. The PNG's font has ASCII letters, digits and common punctuation. */
  readonly title?: string;
  /** How many misread images to show, 0..1000 (the rest are counted in a note). Default 40. */
  readonly maxImages?: number;
  /** How many of the most confused pairs to list, 0..90. Default 10. */
  readonly maxPairs?: number;
  /** Misread images per row, at least 1. Default 10. */
  readonly columns?: number;
  /** Output pixels per font pixel, an integer 1..8 (digit images get one more). Default 2. */
  readonly scale?: number;
}

/** A rendered confusion matrix. */
export interface ConfusionMatrixPicture {
  /** The picture as an 8-bit RGB PNG file. */
  readonly png: Uint8Array;
  /** The same picture as a standalone SVG document (digit images embedded as small PNG data URLs). */
  readonly svg: string;
  readonly width: number;
  readonly height: number;
  /** The counts drawn. */
  readonly matrix: DigitConfusionMatrix;
  /**
   * Indices of the misread images drawn, in drawing order: grouped by pair, most
   * confused pair first, surest mistake first; places are shared out one pair at
   * a time, so every pair gets an image before any gets a second.
   */
  readonly shown: readonly number[];
}

const TEXT: Rgb = [20, 20, 20];
const MUTED: Rgb = [100, 100, 100];
const FAINT: Rgb = [190, 190, 190];
const WHITE: Rgb = [255, 255, 255];
const WRONG: Rgb = [190, 25, 25];
const RULE: Rgb = [225, 225, 225];
const FRAME: Rgb = [200, 200, 200];
/** Matplotlib's "Blues" and "Reds" at their darkest. */
const RIGHT_SHADE: Rgb = [8, 69, 148];
const WRONG_SHADE: Rgb = [165, 15, 21];
/** Lightest tint of a non-zero cell, so a single mistake still shows. */
const MIN_TINT = 0.12;
/** Mistakes in one cell that get the darkest red (more when some cell has more). */
const WRONG_FULL = 10;
const MAX_SCALE = 8;

/**
 * Draws the confusion matrix of `predictions` against the labels of `data`:
 * rows are true digits, columns predicted ones, each cell shaded by its count
 * (blue on the diagonal, red off it on a log scale, darker for more) with the count written in,
 * and each row's recall beside it; the most confused pairs listed (`4 -> 9: 7`);
 * and the misread images, each titled `true -> predicted` with the model's
 * confidence, up to `maxImages` (shared out across the pairs) with a note of
 * how many were left out.
 * Synchronous and DOM-free. Throws `TypeError` for unlabelled data or
 * arguments of the wrong kind, `RangeError` for counts that do not match or
 * options out of range.
 *
 * @param data The labelled images predicted (a hold-out).
 * @param predictions Predictions for the same images, in the same order.
 */
export function renderConfusionMatrix(
  data: DigitDataset,
  predictions: DigitPredictions,
  options: RenderConfusionMatrixOptions = {},
): ConfusionMatrixPicture {
  if (typeof data !== 'object' || data === null || !(data.pixels instanceof Uint8Array)) {
    throw new TypeError('data must be a labelled DigitDataset');
  }
  if (data.labels === undefined) {
    throw new TypeError(`${data.source}: the confusion matrix needs labelled images (a hold-out, not test.csv)`);
  }
  if (data.pixels.length !== data.count * PIXELS_PER_IMAGE || data.labels.length !== data.count) {
    throw new RangeError(
      `${data.source}: ${data.pixels.length} pixels and ${data.labels.length} labels for ${data.count} images`,
    );
  }
  if (data.count === 0) throw new RangeError(`${data.source}: no images to draw`);
  if (
    typeof predictions !== 'object' ||
    predictions === null ||
    !(predictions.labels instanceof Uint8Array) ||
    !(predictions.confidences instanceof Float32Array)
  ) {
    throw new TypeError('predictions must be DigitPredictions with Uint8Array labels and Float32Array confidences');
  }
  if (predictions.labels.length !== data.count || predictions.confidences.length !== data.count) {
    throw new RangeError(
      `predictions (${predictions.labels.length} labels, ${predictions.confidences.length} confidences) do not match the ${data.count} images`,
    );
  }
  const matrix = confusionMatrix(data.labels, predictions);
  const title = options.title ?? 'Confusion matrix';
  if (typeof title !== 'string') throw new TypeError('title must be a string');
  const maxImages = integerOption(options.maxImages, 40, 0, 1000, 'maxImages');
  const maxPairs = integerOption(options.maxPairs, 10, 0, NUM_CLASSES * (NUM_CLASSES - 1), 'maxPairs');
  const columnsOption = integerOption(options.columns, 10, 1, Number.MAX_SAFE_INTEGER, 'columns');
  const f = integerOption(options.scale, 2, 1, MAX_SCALE, 'scale');
  const labels = data.labels;
  const shown = pickMisread(matrix, labels, predictions, maxImages);

  const shapes: Shape[] = [];
  const text = (
    x: number,
    y: number,
    value: string,
    fill: Rgb,
    extra: { scale?: number; anchor?: TextAnchor; bold?: boolean; role?: string } = {},
  ): void => {
    shapes.push({ kind: 'text', x, y, text: value, fill, ...extra, scale: extra.scale ?? f });
  };
  const line = lineHeight(f);
  const margin = 8 * f;
  const titleScale = f + 1;
  const subtitle = `${fileName(data.source)}: ${matrix.total} images, ${matrix.total - matrix.correct} misread, accuracy ${percentText(matrix.accuracy)}`;

  // The matrix: square cells wide enough for the largest count.
  const largest = Math.max(...matrix.counts.flat());
  const cell = Math.max(textPixels(String(largest), f) + 8 * f, 19 * f);
  const trueWidth = textPixels('true', f);
  const digitWidth = textPixels('9', f);
  const recallHeader = 'recall';
  const recallWidth = Math.max(textPixels(recallHeader, f), textPixels('100.0%', f));
  const matrixLeft = margin + trueWidth + 5 * f + digitWidth + 4 * f;
  const matrixSide = NUM_CLASSES * cell;
  const recallLeft = matrixLeft + matrixSide + 6 * f;
  const pairs = matrix.pairs.slice(0, maxPairs);
  const pairLines = pairs.map((p) => `${p.label} -> ${p.predicted}: ${p.count}`);
  if (matrix.pairs.length === 0) pairLines.push('none: every image read right');
  else if (matrix.pairs.length > pairs.length) {
    const rest = matrix.pairs.length - pairs.length;
    pairLines.push(`and ${rest} more pair${rest === 1 ? '' : 's'}`);
  }
  const listHeading = 'Most confused';
  const listNote = 'true -> predicted: images';
  const listLeft = recallLeft + recallWidth + 16 * f;
  const listWidth = Math.max(
    textPixels(listHeading, f, true),
    textPixels(listNote, f),
    ...pairLines.map((l) => textPixels(l, f)),
  );
  const topWidth = listLeft + listWidth - margin;

  // The misread images, each under its `true -> predicted` title and confidence.
  const imageScale = f + 1;
  const imageSide = IMAGE_SIZE * imageScale;
  const tileWidth = Math.max(imageSide + 2, textPixels('0 -> 0', f, true), textPixels('100%', f));
  const tileHeight = 2 * line + 5 * f + imageSide + 2;
  const tileGapX = 6 * f;
  const tileGapY = 7 * f;
  const columns = Math.max(1, Math.min(columnsOption, shown.length));
  const rows = Math.ceil(shown.length / columns);
  const tilesWidth = columns * tileWidth + (columns - 1) * tileGapX;
  const left = matrix.misread.length - shown.length;
  const imagesHeading =
    matrix.misread.length === 0
      ? 'No misread images: every one read right'
      : shown.length === 0
        ? `Misread images: ${matrix.misread.length}, none shown`
        : `Misread images: true -> predicted, and the model's confidence (${left === 0 ? `all ${shown.length}` : `${shown.length} of ${matrix.misread.length}`} shown${left === 0 ? '' : `; ${left} left out`})`;

  const width = Math.ceil(
    2 * margin +
      Math.max(
        topWidth,
        tilesWidth,
        textPixels(title, titleScale, true),
        textPixels(subtitle, f),
        textPixels(imagesHeading, f, true),
      ),
  );

  let y = margin;
  text(width / 2, y, title, TEXT, { scale: titleScale, anchor: 'middle', bold: true, role: 'title' });
  y += lineHeight(titleScale) + 5 * f;
  text(width / 2, y, subtitle, MUTED, { anchor: 'middle', role: 'subtitle' });
  y += line + 10 * f;

  // Column header, then the grid.
  text(matrixLeft + matrixSide / 2, y, 'predicted', TEXT, { anchor: 'middle', bold: true, role: 'axis' });
  y += line + 4 * f;
  for (let c = 0; c < NUM_CLASSES; c++) {
    text(matrixLeft + c * cell + cell / 2, y, String(c), TEXT, { anchor: 'middle', bold: true, role: 'column' });
  }
  text(recallLeft, y, recallHeader, MUTED, { role: 'axis' });
  y += line + 4 * f;
  const matrixTop = y;
  text(margin, matrixTop + (matrixSide - line) / 2, 'true', TEXT, { bold: true, role: 'axis' });
  const largestRight = Math.max(1, ...matrix.counts.map((row, r) => row[r] as number));
  const largestWrong = Math.max(1, ...matrix.pairs.map((p) => p.count));
  for (let r = 0; r < NUM_CLASSES; r++) {
    const rowTop = matrixTop + r * cell;
    text(matrixLeft - 4 * f, rowTop + (cell - line) / 2, String(r), TEXT, { anchor: 'end', bold: true, role: 'row' });
    for (let c = 0; c < NUM_CLASSES; c++) {
      const count = matrix.counts[r]![c]!;
      // Mistakes on a log scale, so a handful still shows beside a pair counted in hundreds;
      // the darkest red needs at least WRONG_FULL of them.
      const share = r === c ? count / largestRight : Math.log1p(count) / Math.log1p(Math.max(largestWrong, WRONG_FULL));
      const t = count === 0 ? 0 : MIN_TINT + (1 - MIN_TINT) * share;
      const fill = mix(WHITE, r === c ? RIGHT_SHADE : WRONG_SHADE, t);
      shapes.push({ kind: 'rect', x: matrixLeft + c * cell, y: rowTop, width: cell, height: cell, fill });
      const ink = count === 0 ? FAINT : t > 0.5 ? WHITE : TEXT;
      text(matrixLeft + c * cell + cell / 2, rowTop + (cell - line) / 2, String(count), ink, {
        anchor: 'middle',
        role: 'count',
      });
    }
    const total = matrix.labelTotals[r]!;
    const recall = total === 0 ? '-' : percentText(matrix.counts[r]![r]! / total, 1);
    text(recallLeft, rowTop + (cell - line) / 2, recall, MUTED, { role: 'recall' });
  }
  // Thin rules between cells, so empty ones still read as a grid.
  for (let k = 0; k <= NUM_CLASSES; k++) {
    shapes.push(
      { kind: 'rect', x: matrixLeft + k * cell, y: matrixTop, width: 1, height: matrixSide + 1, fill: RULE },
      { kind: 'rect', x: matrixLeft, y: matrixTop + k * cell, width: matrixSide + 1, height: 1, fill: RULE },
    );
  }

  // The ranked pairs, beside the matrix.
  let ly = matrixTop;
  text(listLeft, ly, listHeading, TEXT, { bold: true, role: 'axis' });
  ly += line + 4 * f;
  text(listLeft, ly, listNote, MUTED, { role: 'axis' });
  ly += line + 6 * f;
  pairLines.forEach((l, k) => {
    text(listLeft, ly, l, k < pairs.length ? WRONG : MUTED, { role: k < pairs.length ? 'pair' : 'note' });
    ly += line + 4 * f;
  });

  // Colour key under the matrix.
  y = Math.max(matrixTop + matrixSide, ly) + 6 * f;
  const swatch = line;
  let kx = matrixLeft;
  for (const [shade, label] of [
    [RIGHT_SHADE, 'read right'],
    [WRONG_SHADE, 'misread (darker: more)'],
  ] as const) {
    shapes.push({ kind: 'rect', x: kx, y, width: swatch, height: swatch, fill: mix(WHITE, shade, 0.7) });
    text(kx + swatch + 4 * f, y, label, MUTED, { role: 'key' });
    kx += swatch + 4 * f + textPixels(label, f) + 12 * f;
  }
  y += line + 14 * f;

  text(margin, y, imagesHeading, TEXT, { bold: true, role: 'heading' });
  y += line + 8 * f;
  const tilesLeft = margin;
  shown.forEach((index, k) => {
    const x = tilesLeft + (k % columns) * (tileWidth + tileGapX);
    const top = y + Math.floor(k / columns) * (tileHeight + tileGapY);
    const cx = x + tileWidth / 2;
    text(cx, top, `${labels[index]} -> ${predictions.labels[index]}`, WRONG, {
      anchor: 'middle',
      bold: true,
      role: 'tile',
    });
    const confidence = predictions.confidences[index] as number;
    text(cx, top + line + 2 * f, Number.isFinite(confidence) ? `${Math.round(confidence * 100)}%` : '?', MUTED, {
      anchor: 'middle',
      role: 'confidence',
    });
    const bx = Math.round(cx - imageSide / 2) - 1;
    const by = top + 2 * line + 5 * f;
    shapes.push({ kind: 'rect', x: bx, y: by, width: imageSide + 2, height: imageSide + 2, fill: FRAME });
    shapes.push({ kind: 'digit', x: bx + 1, y: by + 1, scale: imageScale, pixels: data.pixels, index });
  });
  const height = Math.ceil(
    y + (rows === 0 ? 0 : rows * tileHeight + (rows - 1) * tileGapY) + margin - (rows === 0 ? 8 * f : 0),
  );
  checkPictureSize(width, height, 'show fewer images (maxImages) or use a smaller scale');

  const scene: Scene = { width, height, title, shapes };
  return { png: sceneToPng(scene), svg: sceneToSvg(scene), width, height, matrix, shown };
}

/**
 * Up to `limit` misread images, grouped by pair, most confused pair first and
 * the surest mistake first within a pair. The places are dealt out one per pair
 * in turn, so one dominant mix-up cannot crowd out the rest.
 */
function pickMisread(
  matrix: DigitConfusionMatrix,
  labels: Uint8Array,
  predictions: DigitPredictions,
  limit: number,
): number[] {
  const rank = new Map(matrix.pairs.map((p, k) => [p.label * NUM_CLASSES + p.predicted, k]));
  const groups: number[][] = matrix.pairs.map(() => []);
  for (const i of matrix.misread) {
    groups[rank.get((labels[i] as number) * NUM_CLASSES + (predictions.labels[i] as number)) as number]!.push(i);
  }
  const confidence = (i: number): number => {
    const c = predictions.confidences[i] as number;
    return Number.isNaN(c) ? -Infinity : c;
  };
  for (const group of groups) group.sort((a, b) => confidence(b) - confidence(a) || a - b);
  const quota = groups.map(() => 0);
  let left = Math.min(limit, matrix.misread.length);
  while (left > 0) {
    groups.forEach((group, k) => {
      if (left > 0 && quota[k]! < group.length) {
        quota[k]! += 1;
        left--;
      }
    });
  }
  return groups.flatMap((group, k) => group.slice(0, quota[k]));
}

/**
 * The data's file without its folders (`/home/me/data/train.csv (validation)` gives
 * `train.csv (validation)`, `/data/digit-recognizer.zip:train.csv` gives `digit-recognizer.zip:train.csv`):
 * a picture is shared, and its folders say nothing about the model but something about its owner.
 */
function fileName(source: string): string {
  return source.replace(/^.*[\\/](?=.)/s, '');
}

function percentText(value: number, digits = 2): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(digits)}%` : '?';
}

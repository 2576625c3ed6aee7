/**
 * Pictures of training: loss, accuracy and learning rate per epoch, training
 * against validation, for one run or an ensemble's runs side by side, as a PNG
 * and an SVG drawn from the same scene. Works in browsers and Node.
 */
import type { DigitEpochRecord } from '../training/train.js';
import { formatTick, formatValue, linearAxis, type Axis } from './axis.js';
import type { Rgb } from './font.js';
import { checkPictureSize, integerOption } from './limits.js';
import { lineHeight, sceneToPng, sceneToSvg, textPixels, type Point, type Scene, type Shape } from './scene.js';

/** One run's history with the name its legend line shows, for {@link renderTrainingCurves} on an ensemble. */
export interface TrainingHistorySeries {
  /** E.g. `model 1`. */
  readonly label: string;
  readonly history: readonly DigitEpochRecord[];
}

/** Options of {@link renderTrainingCurves}. */
export interface RenderTrainingCurvesOptions {
  /** The heading. Default `Training history`. The PNG's font has ASCII letters, digits and common punctuation. */
  readonly title?: string;
  /** Output pixels per font pixel, an integer 1..8; everything scales with it. Default 2. */
  readonly scale?: number;
}

/** A chart of {@link renderTrainingCurves}: `loss`, `accuracy` and, when recorded, the learning rate `lr`. */
export type TrainingCurvePanel = 'loss' | 'accuracy' | 'lr';

/** A rendered training history. */
export interface TrainingCurves {
  /** The picture as an 8-bit RGB PNG file. */
  readonly png: Uint8Array;
  /** The same picture as a standalone SVG document. */
  readonly svg: string;
  readonly width: number;
  readonly height: number;
  /** The charts drawn, left to right. */
  readonly panels: readonly TrainingCurvePanel[];
}

interface Metric {
  /** The history field, as the notes name it. */
  readonly name: string;
  readonly read: (record: DigitEpochRecord) => number | undefined;
}

interface PanelSpec {
  readonly id: TrainingCurvePanel;
  readonly title: string;
  readonly train: Metric;
  readonly validation?: Metric;
  readonly floor: number;
  readonly ceiling?: number;
}

interface Series {
  readonly label: string | undefined;
  readonly records: readonly DigitEpochRecord[];
  readonly trainColor: Rgb;
  readonly validationColor: Rgb;
  readonly lrColor: Rgb;
  /** The epoch a checkpoint on `val_acc` (or, without validation, on `loss`) keeps, if any value is finite. */
  readonly best:
    { readonly record: DigitEpochRecord; readonly panel: TrainingCurvePanel; readonly validation: boolean } | undefined;
}

const PANELS: readonly PanelSpec[] = [
  {
    id: 'loss',
    title: 'loss',
    train: { name: 'loss', read: (r) => r.loss },
    validation: { name: 'val_loss', read: (r) => r.val_loss },
    floor: 0,
  },
  {
    id: 'accuracy',
    title: 'accuracy (%)',
    train: { name: 'acc', read: (r) => percent(r.acc) },
    validation: { name: 'val_acc', read: (r) => percent(r.val_acc) },
    floor: 0,
    ceiling: 100,
  },
  { id: 'lr', title: 'learning rate', train: { name: 'lr', read: (r) => r.lr }, floor: 0 },
];

/** Matplotlib's "tab10" colours: distinct, and familiar from Keras plots. */
const PALETTE: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];
const TEXT: Rgb = [20, 20, 20];
const MUTED: Rgb = [100, 100, 100];
const NOTE: Rgb = [190, 30, 30];
const GRID: Rgb = [232, 232, 232];
const FRAME: Rgb = [165, 165, 165];
const KEY: Rgb = [70, 70, 70];
const WHITE: Rgb = [255, 255, 255];
const MAX_SCALE = 8;
/** Dots on every epoch up to this many epochs; beyond, only on points with no neighbour to join. */
const MARKER_EPOCHS = 40;
const MAX_NOTES = 3;

/**
 * Draws training curves like a Keras `history` plot: loss, accuracy and (when
 * the history has `lr`) learning rate against epoch, training solid and
 * validation dashed, the epoch a best-`val_acc` checkpoint keeps ringed. Pass one
 * run's history, or `{ label, history }` per run of an ensemble (one colour
 * each). A run without validation (`--holdout 0`) gets training curves alone;
 * missing or non-finite values leave gaps, listed under their chart.
 * Synchronous and DOM-free. Throws `TypeError` for arguments of the wrong
 * kind and `RangeError` for options out of range.
 */
export function renderTrainingCurves(
  history: readonly DigitEpochRecord[] | readonly TrainingHistorySeries[],
  options: RenderTrainingCurvesOptions = {},
): TrainingCurves {
  const series = readSeries(history);
  const scale = integerOption(options.scale, 2, 1, MAX_SCALE, 'scale');
  const title = options.title ?? 'Training history';
  if (typeof title !== 'string') throw new TypeError('title must be a string');
  const f = scale;
  const line = lineHeight(f);
  const panels = PANELS.filter((p) => p.id !== 'lr' || series.some((s) => s.records.some((r) => r.lr !== undefined)));
  const ensemble = series.length > 1;
  const hasValidation = series.some((s) => s.records.some((r) => r.val_loss !== undefined || r.val_acc !== undefined));
  const epochs = series.flatMap((s) => s.records.map((r) => r.epoch));
  const xAxis =
    epochs.length === 0
      ? linearAxis(1, 1, { integer: true, floor: 1, ceiling: 1 })
      : linearAxis(Math.min(...epochs), Math.max(...epochs), {
          integer: true,
          ticks: 8,
          padding: 0.04,
          floor: Math.min(...epochs),
          ceiling: Math.max(...epochs),
        });

  const shapes: Shape[] = [];
  const text = (
    x: number,
    y: number,
    value: string,
    fill: Rgb,
    extra: { scale?: number; anchor?: 'start' | 'middle' | 'end'; bold?: boolean; role?: string } = {},
  ): void => {
    shapes.push({ kind: 'text', x, y, text: value, fill, ...extra, scale: extra.scale ?? f });
  };

  // Header: title, the line-style key, one summary line per run.
  const margin = 8 * f;
  const titleScale = f + 1;
  const lineWidth = 1.25 * f;
  const dash: [number, number] = [4 * f, 2.5 * f];
  const swatch = 16 * f;
  const keyItems: { label: string; draw: (x: number, y: number) => void }[] = [
    {
      label: 'training',
      draw: (x, y) => shapes.push(segment(x, y, swatch, ensemble ? KEY : series[0]!.trainColor, lineWidth)),
    },
  ];
  if (hasValidation) {
    keyItems.push({
      label: 'validation',
      draw: (x, y) =>
        shapes.push({ ...segment(x, y, swatch, ensemble ? KEY : series[0]!.validationColor, lineWidth), dash }),
    });
  }
  if (series.some((s) => s.best !== undefined)) {
    keyItems.push({
      label: hasValidation ? 'best val_acc' : 'lowest loss',
      draw: (x, y) => {
        const single = series[0]!;
        shapes.push(
          ...ring(x + swatch / 2, y, ensemble ? KEY : hasValidation ? single.validationColor : single.trainColor, f),
        );
      },
    });
  }
  const keyGap = 10 * f;
  const keyItemWidth = (label: string): number => swatch + 4 * f + textPixels(label, f);
  const keyWidth = keyItems.reduce((w, item, i) => w + (i > 0 ? keyGap : 0) + keyItemWidth(item.label), 0);
  const summaries = series.map((s) => summarize(s));
  const summaryIndent = ensemble ? swatch + 4 * f : 0;
  const summaryWidth = summaryIndent + Math.max(0, ...summaries.map((s) => textPixels(s, f)));

  // Panels: the y axis of each, with its tick labels, and the notes about gaps.
  const plotWidth = 160 * f;
  const plotHeight = 110 * f;
  const layouts = panels.map((spec) => {
    const values = series.flatMap((s) =>
      [spec.train, spec.validation].flatMap((m) => (m === undefined ? [] : s.records.map((r) => m.read(r)))),
    );
    const finite = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
    const yAxis =
      finite.length === 0
        ? undefined
        : linearAxis(Math.min(...finite), Math.max(...finite), {
            ticks: 6,
            floor: spec.floor,
            ...(spec.ceiling === undefined ? {} : { ceiling: spec.ceiling }),
          });
    const labels = yAxis?.ticks.map((t) => formatTick(t, yAxis.step)) ?? [];
    const gutter = Math.max(0, ...labels.map((l) => textPixels(l, f))) + 5 * f;
    const notes = gapNotes(spec, series);
    return { spec, yAxis, labels, gutter, notes, width: gutter + plotWidth };
  });
  const panelGap = 14 * f;
  const panelsWidth = layouts.reduce((w, p, i) => w + (i > 0 ? panelGap : 0) + p.width, 0);
  const width = Math.ceil(
    2 * margin + Math.max(panelsWidth, textPixels(title, titleScale, true), keyWidth, summaryWidth),
  );

  let y = margin;
  text(width / 2, y, title, TEXT, { scale: titleScale, anchor: 'middle', bold: true, role: 'title' });
  y += lineHeight(titleScale) + 6 * f;
  let kx = (width - keyWidth) / 2;
  for (const item of keyItems) {
    item.draw(kx, y + line / 2);
    text(kx + swatch + 4 * f, y, item.label, TEXT, { role: 'key' });
    kx += keyItemWidth(item.label) + keyGap;
  }
  y += line + 5 * f;
  const summaryLeft = (width - summaryWidth) / 2;
  series.forEach((s, k) => {
    if (ensemble) shapes.push(segment(summaryLeft, y + line / 2, swatch, s.trainColor, lineWidth));
    text(summaryLeft + summaryIndent, y, summaries[k]!, MUTED, { role: 'summary' });
    y += line + 3 * f;
  });
  y += 7 * f;

  const panelTop = y;
  let panelLeft = (width - panelsWidth) / 2;
  let bottom = panelTop;
  for (const layout of layouts) {
    const x0 = panelLeft + layout.gutter;
    const y0 = panelTop + line + 5 * f;
    text(x0 + plotWidth / 2, panelTop, layout.spec.title, TEXT, { anchor: 'middle', bold: true, role: 'panel' });
    drawPlot(layout.spec, layout.yAxis, layout.labels, x0, y0);
    let ny = y0 + plotHeight + 3 * f + line + 3 * f + line + 6 * f;
    for (const note of layout.notes) {
      text(x0, ny, note, NOTE, { role: 'note' });
      ny += line + 3 * f;
    }
    bottom = Math.max(bottom, ny - 3 * f);
    panelLeft += layout.width + panelGap;
  }
  const height = Math.ceil(bottom + margin);
  checkPictureSize(width, height, 'use a smaller scale or fewer runs');

  const scene: Scene = { width, height, title, shapes };
  return { png: sceneToPng(scene), svg: sceneToSvg(scene), width, height, panels: panels.map((p) => p.id) };

  function drawPlot(spec: PanelSpec, yAxis: Axis | undefined, labels: readonly string[], x0: number, y0: number): void {
    const rule = Math.max(1, Math.floor(f / 2));
    const px = (epoch: number): number => x0 + ((epoch - xAxis.min) / (xAxis.max - xAxis.min)) * plotWidth;
    const py = (value: number, axis: Axis): number =>
      y0 + plotHeight - ((value - axis.min) / (axis.max - axis.min)) * plotHeight;
    for (const tick of epochs.length === 0 ? [] : xAxis.ticks) {
      const x = Math.round(px(tick));
      shapes.push({ kind: 'rect', x, y: y0, width: rule, height: plotHeight, fill: GRID });
      text(x, y0 + plotHeight + 3 * f, String(tick), MUTED, { anchor: 'middle', role: 'tick' });
    }
    text(x0 + plotWidth / 2, y0 + plotHeight + 6 * f + line, 'epoch', MUTED, { anchor: 'middle', role: 'axis' });
    if (yAxis !== undefined) {
      yAxis.ticks.forEach((tick, k) => {
        const yy = Math.round(py(tick, yAxis));
        shapes.push({ kind: 'rect', x: x0, y: yy, width: plotWidth, height: rule, fill: GRID });
        text(x0 - 4 * f, yy - line / 2, labels[k]!, MUTED, { anchor: 'end', role: 'tick' });
      });
    }
    frame(x0, y0, plotWidth, plotHeight, rule);
    if (yAxis === undefined) {
      const message = series.every((s) => s.records.length === 0) ? 'no epochs recorded' : 'no finite values';
      text(x0 + plotWidth / 2, y0 + (plotHeight - line) / 2, message, MUTED, { anchor: 'middle', role: 'empty' });
      return;
    }
    for (const s of series) {
      const lines: [Metric, Rgb, boolean][] = [[spec.train, spec.id === 'lr' ? s.lrColor : s.trainColor, false]];
      if (spec.validation !== undefined) lines.push([spec.validation, s.validationColor, true]);
      for (const [metric, color, dashed] of lines) {
        const runs: Point[][] = [];
        let run: Point[] = [];
        for (const record of s.records) {
          const value = metric.read(record);
          if (value === undefined || !Number.isFinite(value)) {
            if (run.length > 0) runs.push(run);
            run = [];
          } else {
            run.push([px(record.epoch), py(value, yAxis)]);
          }
        }
        if (run.length > 0) runs.push(run);
        const allDots = runs.reduce((n, r) => n + r.length, 0) <= MARKER_EPOCHS;
        for (const points of runs) {
          if (points.length > 1) {
            shapes.push({ kind: 'line', points, stroke: color, width: lineWidth, ...(dashed ? { dash } : {}) });
          }
          if (allDots || points.length === 1) {
            for (const [x, yy] of points) shapes.push({ kind: 'dot', x, y: yy, radius: 1.7 * f, fill: color });
          }
        }
      }
    }
    for (const s of series) {
      if (s.best === undefined || s.best.panel !== spec.id) continue;
      const metric = s.best.validation ? spec.validation : spec.train;
      const value = metric?.read(s.best.record);
      if (value === undefined) continue;
      const color = s.best.validation ? s.validationColor : s.trainColor;
      shapes.push(...ring(px(s.best.record.epoch), py(value, yAxis), color, f));
    }
  }

  function frame(x: number, y: number, w: number, h: number, rule: number): void {
    shapes.push(
      { kind: 'rect', x, y, width: w, height: rule, fill: FRAME },
      { kind: 'rect', x, y: y + h - rule, width: w, height: rule, fill: FRAME },
      { kind: 'rect', x, y, width: rule, height: h, fill: FRAME },
      { kind: 'rect', x: x + w - rule, y, width: rule, height: h, fill: FRAME },
    );
  }
}

function segment(x: number, y: number, length: number, stroke: Rgb, width: number): Shape & { kind: 'line' } {
  return {
    kind: 'line',
    points: [
      [x + width / 2, y],
      [x + length - width / 2, y],
    ],
    stroke,
    width,
  };
}

/** A hollow circle marking a point. */
function ring(x: number, y: number, color: Rgb, f: number): Shape[] {
  return [
    { kind: 'dot', x, y, radius: 3.6 * f, fill: color },
    { kind: 'dot', x, y, radius: 2.4 * f, fill: WHITE },
    { kind: 'dot', x, y, radius: 1.3 * f, fill: color },
  ];
}

function percent(value: number | undefined): number | undefined {
  return value === undefined ? undefined : value * 100;
}

function readSeries(input: readonly DigitEpochRecord[] | readonly TrainingHistorySeries[]): Series[] {
  if (!Array.isArray(input)) {
    throw new TypeError('history must be an array of epoch records or of { label, history } runs');
  }
  const first: unknown = input[0];
  const runs: { label: string | undefined; history: readonly unknown[] }[] =
    typeof first === 'object' && first !== null && 'history' in first
      ? (input as readonly unknown[]).map((run, k) => {
          if (typeof run !== 'object' || run === null)
            throw new TypeError(`histories[${k}] is not a { label, history } run`);
          const { label, history } = run as { label?: unknown; history?: unknown };
          if (typeof label !== 'string') throw new TypeError(`histories[${k}].label must be a string`);
          if (!Array.isArray(history)) throw new TypeError(`histories[${k}].history must be an array of epoch records`);
          return { label, history };
        })
      : [{ label: undefined, history: input }];
  const ensemble = runs.length > 1;
  return runs.map(({ label, history }, k) => {
    const records = history.map((record, i) => {
      const where = ensemble || label !== undefined ? `histories[${k}].history[${i}]` : `history[${i}]`;
      if (typeof record !== 'object' || record === null) throw new TypeError(`${where} is not an epoch record`);
      const epoch = (record as { epoch?: unknown }).epoch;
      if (typeof epoch !== 'number' || !Number.isFinite(epoch)) {
        throw new TypeError(`${where}.epoch is ${String(epoch)}, expected an epoch number`);
      }
      return record as DigitEpochRecord;
    });
    records.sort((a, b) => a.epoch - b.epoch);
    const color = PALETTE[k % PALETTE.length]!;
    return {
      label,
      records,
      trainColor: ensemble ? color : PALETTE[0]!,
      validationColor: ensemble ? color : PALETTE[1]!,
      lrColor: ensemble ? color : PALETTE[2]!,
      best: bestEpoch(records),
    };
  });
}

/** The first epoch with the highest finite `val_acc`, else the first with the lowest finite `loss`. */
function bestEpoch(records: readonly DigitEpochRecord[]): Series['best'] {
  let best: DigitEpochRecord | undefined;
  for (const r of records) {
    if (isFiniteNumber(r.val_acc) && !(isFiniteNumber(best?.val_acc) && best.val_acc >= r.val_acc)) best = r;
  }
  if (best !== undefined) return { record: best, panel: 'accuracy', validation: true };
  for (const r of records) if (isFiniteNumber(r.loss) && !(isFiniteNumber(best?.loss) && best.loss <= r.loss)) best = r;
  return best === undefined ? undefined : { record: best, panel: 'loss', validation: false };
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function summarize(s: Series): string {
  const prefix = s.label === undefined ? '' : `${s.label}: `;
  const n = s.records.length;
  if (n === 0) return `${prefix}no epochs recorded`;
  const epochs = `${n} epoch${n === 1 ? '' : 's'}`;
  const best = s.best;
  if (best === undefined) return `${prefix}${epochs}, no finite loss or accuracy`;
  const r = best.record;
  if (best.validation) {
    const loss = isFiniteNumber(r.val_loss) ? ` (val_loss ${formatValue(r.val_loss)})` : '';
    return `${prefix}${epochs}, best val_acc ${percentText(r.val_acc)} at epoch ${r.epoch}${loss}`;
  }
  const acc = isFiniteNumber(r.acc) ? ` (acc ${percentText(r.acc)})` : '';
  const none = s.records.some((x) => x.val_loss !== undefined || x.val_acc !== undefined) ? '' : ', no validation';
  return `${prefix}${epochs}${none}, lowest loss ${formatValue(r.loss)} at epoch ${r.epoch}${acc}`;
}

function percentText(value: number | undefined): string {
  return isFiniteNumber(value) ? `${(value * 100).toFixed(2)}%` : '?';
}

/** One line per curve with gaps: `val_loss: no value at epochs 3-4, 7`. */
function gapNotes(spec: PanelSpec, series: readonly Series[]): string[] {
  const notes: string[] = [];
  for (const s of series) {
    for (const metric of [spec.train, spec.validation]) {
      if (metric === undefined || !s.records.some((r) => metric.read(r) !== undefined)) continue;
      const missing = s.records.filter((r) => !isFiniteNumber(metric.read(r))).map((r) => r.epoch);
      if (missing.length === 0) continue;
      const prefix = s.label === undefined ? '' : `${s.label} `;
      notes.push(`${prefix}${metric.name}: no value at ${epochList(missing)}`);
    }
  }
  if (notes.length <= MAX_NOTES) return notes;
  return [...notes.slice(0, MAX_NOTES - 1), `and ${notes.length - MAX_NOTES + 1} more curves with gaps`];
}

/** `epoch 3`, `epochs 3-5, 9`, `epochs 3-5, 9, 12 and 4 more`. */
function epochList(epochs: readonly number[]): string {
  const ranges: string[] = [];
  for (let i = 0; i < epochs.length;) {
    let j = i;
    while (j + 1 < epochs.length && epochs[j + 1] === (epochs[j] as number) + 1) j++;
    ranges.push(i === j ? String(epochs[i]) : `${epochs[i]}-${epochs[j]}`);
    i = j + 1;
  }
  const shown = ranges.slice(0, 3).join(', ');
  const more = ranges.length > 3 ? ` and ${ranges.length - 3} more` : '';
  return `${epochs.length === 1 ? 'epoch' : 'epochs'} ${shown}${more}`;
}

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  accuracy,
  buildDigitCnn,
  loadMnist,
  oneCycleSchedule,
  predictDigits,
  renderConfusionMatrix,
  renderTrainingCurves,
  stratifiedSplit,
  subsetDataset,
  trainDigits,
  type DigitDataset,
  type DigitEpochRecord,
  type DigitPredictions,
  type RenderTrainingCurvesOptions,
  type TrainDigitsResult,
  type TrainingCurvePanel,
  type TrainingCurves,
  type TrainingHistorySeries,
} from 'digit-recognizer';
import { syntheticDigits, useBackend } from './helpers.js';
import { decodeRgbPng, expectWellFormedSvg, rgb, svgElements, svgTexts } from './svg_check.js';

const artifacts = join(import.meta.dirname, '.artifacts');
const BLUE = '#1f77b4';
const ORANGE = '#ff7f0e';
const GREEN = '#2ca02c';

function record(epoch: number, fields: Partial<DigitEpochRecord> = {}): DigitEpochRecord {
  return {
    epoch,
    seconds: 1,
    imagesPerSecond: 100,
    loss: 1 / epoch,
    acc: 1 - 0.1 / epoch,
    val_loss: 0.8 / epoch,
    val_acc: 1 - 0.08 / epoch,
    lr: 0.001 / epoch,
    ...fields,
  };
}

function run(epochs: number, fields: (epoch: number) => Partial<DigitEpochRecord> = () => ({})): DigitEpochRecord[] {
  return Array.from({ length: epochs }, (_, i) => record(i + 1, fields(i + 1)));
}

/** Checks the PNG decodes to the reported size and the SVG is well-formed; returns the decoded PNG. */
function checkFiles(curves: TrainingCurves): ReturnType<typeof decodeRgbPng> {
  expectWellFormedSvg(curves.svg);
  expect(curves.svg).toContain(`width="${curves.width}" height="${curves.height}"`);
  return decodeRgbPng(curves.png, curves.width, curves.height);
}

/**
 * Every dot of the SVG that no later shape can cover (no lines in the picture's
 * plots) must have its colour at its centre in the PNG: the two files agree.
 */
function expectDotsInPng(curves: TrainingCurves): number {
  const png = checkFiles(curves);
  const dots = svgElements(curves.svg, 'circle');
  dots.forEach((dot, k) => {
    const later = dots.slice(k + 1).some((d) => d['cx'] === dot['cx'] && d['cy'] === dot['cy']);
    if (later) return;
    expect(png.at(Number(dot['cx']), Number(dot['cy']))).toEqual(rgb(dot['fill'] as string));
  });
  return dots.length;
}

function circlesOf(svg: string, fill: string): number {
  return svgElements(svg, 'circle').filter((c) => c['fill'] === fill).length;
}

function dashedLines(svg: string): number {
  return svgElements(svg, 'polyline').filter((p) => p['stroke-dasharray'] !== undefined).length;
}

describe('renderTrainingCurves', () => {
  it('draws loss, accuracy and learning rate with a legend, a summary and the best epoch ringed', () => {
    const history = run(6, (e) => (e === 4 ? { val_acc: 0.999 } : {}));
    const curves = renderTrainingCurves(history);
    checkFiles(curves);
    expect(curves.panels).toEqual(['loss', 'accuracy', 'lr']);
    expect(svgTexts(curves.svg, 'title')).toEqual(['Training history']);
    expect(svgTexts(curves.svg, 'panel')).toEqual(['loss', 'accuracy (%)', 'learning rate']);
    expect(svgTexts(curves.svg, 'key')).toEqual(['training', 'validation', 'best val_acc']);
    expect(svgTexts(curves.svg, 'summary')).toEqual(['6 epochs, best val_acc 99.90% at epoch 4 (val_loss 0.200)']);
    // Epoch ticks under each of the three charts; loss ticks are round values spanning the data.
    const ticks = svgTexts(curves.svg, 'tick');
    expect(ticks.filter((t) => t === '6')).toHaveLength(3);
    expect(ticks).toContain('0.2');
    expect(ticks).toContain('1.0');
    expect(svgTexts(curves.svg, 'axis')).toEqual(['epoch', 'epoch', 'epoch']);
    // Solid training, dashed validation: one line each for loss and accuracy, plus the key's dashed swatch.
    expect(dashedLines(curves.svg)).toBe(3);
    // A dot per epoch per curve (loss, acc, lr in their colours), and the ring around the best val_acc.
    expect(circlesOf(curves.svg, BLUE)).toBe(12);
    expect(circlesOf(curves.svg, GREEN)).toBe(6);
    expect(circlesOf(curves.svg, ORANGE)).toBe(12 + 2 + 2); // val dots, the ring, the key's ring
    expect(svgTexts(curves.svg, 'note')).toEqual([]);
  });

  it('leaves out validation for a run without a hold-out, and the rate when none was recorded', () => {
    const history = run(5, () => ({ val_loss: undefined, val_acc: undefined, lr: undefined })).map((r) => {
      const { val_loss: _a, val_acc: _b, lr: _c, ...rest } = r;
      return rest;
    });
    const curves = renderTrainingCurves(history);
    expectDotsInPng(curves);
    expect(curves.panels).toEqual(['loss', 'accuracy']);
    expect(svgTexts(curves.svg, 'panel')).toEqual(['loss', 'accuracy (%)']);
    expect(svgTexts(curves.svg, 'key')).toEqual(['training', 'lowest loss']);
    expect(svgTexts(curves.svg, 'summary')).toEqual([
      '5 epochs, no validation, lowest loss 0.200 at epoch 5 (acc 98.00%)',
    ]);
    expect(dashedLines(curves.svg)).toBe(0);
    expect(circlesOf(curves.svg, ORANGE)).toBe(0);
    expect(circlesOf(curves.svg, BLUE)).toBe(10 + 2 + 2);
    expect(curves.svg).not.toContain('>validation<');
  });

  it('draws one epoch as dots, which the PNG has where the SVG puts them', () => {
    const curves = renderTrainingCurves([record(1)]);
    expect(expectDotsInPng(curves)).toBe(5 + 3 + 3);
    expect(svgElements(curves.svg, 'polyline')).toHaveLength(2); // the key's swatches only
    expect(svgTexts(curves.svg, 'summary')).toEqual(['1 epoch, best val_acc 92.00% at epoch 1 (val_loss 0.800)']);
    expect(svgTexts(curves.svg, 'tick').filter((t) => t === '1')).toHaveLength(3);
  });

  it('breaks curves at missing and non-finite values and says where', () => {
    const history = run(6, (e) =>
      e === 2 ? { val_loss: Number.NaN } : e === 4 ? { loss: Number.POSITIVE_INFINITY, val_loss: undefined } : {},
    );
    const curves = renderTrainingCurves(history);
    checkFiles(curves);
    expect(svgTexts(curves.svg, 'note')).toEqual(['loss: no value at epoch 4', 'val_loss: no value at epochs 2, 4']);
    // val_loss: epoch 1 alone, epoch 3 alone, epochs 5-6 joined; loss: 1-3 and 5-6.
    const lossPanel = svgElements(curves.svg, 'polyline').filter((p) => p['stroke'] === BLUE);
    expect(lossPanel.map((p) => (p['points'] as string).split(' ').length)).toEqual([2, 3, 2, 6]); // key, loss x2, acc
    const valLines = svgElements(curves.svg, 'polyline').filter((p) => p['stroke'] === ORANGE);
    expect(valLines.map((p) => (p['points'] as string).split(' ').length)).toEqual([2, 2, 6]); // key, val_loss, val_acc
    // The loss axis is scaled to the finite values: no tick near infinity.
    expect(svgTexts(curves.svg, 'tick').every((t) => Number.isFinite(Number(t)))).toBe(true);
  });

  it('reports a chart whose values are all missing instead of drawing nothing', () => {
    const curves = renderTrainingCurves(run(3, () => ({ lr: Number.NaN })));
    checkFiles(curves);
    expect(curves.panels).toEqual(['loss', 'accuracy', 'lr']);
    expect(svgTexts(curves.svg, 'empty')).toEqual(['no finite values']);
    expect(svgTexts(curves.svg, 'note')).toEqual(['lr: no value at epochs 1-3']);
  });

  it('draws an empty history as empty charts', () => {
    const curves = renderTrainingCurves([]);
    checkFiles(curves);
    expect(svgTexts(curves.svg, 'empty')).toEqual(['no epochs recorded', 'no epochs recorded']);
    expect(svgTexts(curves.svg, 'summary')).toEqual(['no epochs recorded']);
    expect(svgTexts(curves.svg, 'tick')).toEqual([]);
  });

  it('draws an ensemble one colour per run, with a summary line each', () => {
    const histories: TrainingHistorySeries[] = [
      { label: 'model 1', history: run(20) },
      { label: 'model 2', history: run(20, (e) => ({ val_acc: 0.97 + e / 2000 })) },
      { label: 'model <3>', history: run(12) },
    ];
    const curves = renderTrainingCurves(histories, { title: 'Ensemble & friends' });
    checkFiles(curves);
    expect(svgTexts(curves.svg, 'title')).toEqual(['Ensemble & friends']);
    expect(curves.svg).toContain('<title>Ensemble &amp; friends</title>');
    expect(svgTexts(curves.svg, 'summary')).toEqual([
      'model 1: 20 epochs, best val_acc 99.60% at epoch 20 (val_loss 0.0400)',
      'model 2: 20 epochs, best val_acc 98.00% at epoch 20 (val_loss 0.0400)',
      'model <3>: 12 epochs, best val_acc 99.33% at epoch 12 (val_loss 0.0667)',
    ]);
    // The key is grey; each run's lines take their own colour (loss, val_loss, acc, val_acc, lr; plus its summary swatch).
    const strokes = svgElements(curves.svg, 'polyline').map((p) => p['stroke']);
    expect(strokes.filter((s) => s === BLUE)).toHaveLength(6);
    expect(strokes.filter((s) => s === ORANGE)).toHaveLength(6);
    expect(strokes.filter((s) => s === GREEN)).toHaveLength(6);
    const ticks = svgTexts(curves.svg, 'tick');
    expect(ticks).toContain('20');
    expect(ticks).toContain('10');
  });

  it('sorts records by epoch and scales with `scale`', () => {
    const history = run(4);
    const small = renderTrainingCurves([...history].reverse(), { scale: 1 });
    const large = renderTrainingCurves(history, { scale: 3 });
    expect(large.width).toBeGreaterThan(2.5 * small.width);
    expect(large.height).toBeGreaterThan(2.5 * small.height);
    const points = svgElements(small.svg, 'polyline').filter((p) => p['stroke'] === GREEN)[0]?.['points'];
    const xs = (points ?? '').split(' ').map((p) => Number(p.split(',')[0]));
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(xs).toHaveLength(4);
  });

  it('refuses arguments it cannot draw', () => {
    expect(() => renderTrainingCurves({} as unknown as DigitEpochRecord[])).toThrow(TypeError);
    expect(() => renderTrainingCurves([{ loss: 1 } as unknown as DigitEpochRecord])).toThrow(
      /history\[0\]\.epoch is undefined/,
    );
    expect(() => renderTrainingCurves([{ label: 1, history: [] } as unknown as TrainingHistorySeries])).toThrow(
      /histories\[0\]\.label must be a string/,
    );
    for (const scale of [0, 9, 1.5]) expect(() => renderTrainingCurves([], { scale })).toThrow(RangeError);
  });

  it('has typed public signatures', () => {
    expectTypeOf(renderTrainingCurves)
      .parameter(0)
      .toEqualTypeOf<readonly DigitEpochRecord[] | readonly TrainingHistorySeries[]>();
    expectTypeOf(renderTrainingCurves).parameter(1).toEqualTypeOf<RenderTrainingCurvesOptions | undefined>();
    expectTypeOf(renderTrainingCurves).returns.toEqualTypeOf<TrainingCurves>();
    expectTypeOf<TrainingCurves['png']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<TrainingCurves['svg']>().toEqualTypeOf<string>();
    expectTypeOf<TrainingCurves['panels']>().toEqualTypeOf<readonly TrainingCurvePanel[]>();
    expectTypeOf<DigitEpochRecord['lr']>().toEqualTypeOf<number | undefined>();
    // A training result's history goes straight in.
    expectTypeOf<TrainDigitsResult['history']>().toExtend<Parameters<typeof renderTrainingCurves>[0]>();
  });
});

describe('trainDigits records the learning rate', () => {
  beforeAll(() => useBackend('wasm'));

  it('has no lr when the optimiser keeps its own rate, and a fixed rate as given', async () => {
    const data = syntheticDigits(100);
    const plain = await trainDigits(buildDigitCnn({ architecture: 'compact', seed: 1 }), data, { epochs: 1 });
    expect(plain.history[0]).not.toHaveProperty('lr');
    const fixed = await trainDigits(buildDigitCnn({ architecture: 'compact', seed: 1 }), data, {
      epochs: 1,
      learningRate: 0.0007,
    });
    expect(fixed.history[0]?.lr).toBeCloseTo(0.0007, 10);
    plain.model.dispose();
    fixed.model.dispose();
  });
});

describe('pictures of a real short training on MNIST', () => {
  let training: TrainDigitsResult;
  let holdout: DigitDataset;
  let predictions: DigitPredictions;
  const schedule = oneCycleSchedule(0.003);

  beforeAll(async () => {
    await useBackend('wasm');
    const mnist = await loadMnist({ split: 'train' });
    const data = subsetDataset(
      mnist,
      Uint32Array.from({ length: 3000 }, (_, i) => i),
      'MNIST train[0:3000]',
    );
    const split = stratifiedSplit(data.labels!, 0.2, 7);
    holdout = subsetDataset(data, split.validation, 'hold-out');
    training = await trainDigits(
      buildDigitCnn({ architecture: 'compact', seed: 1 }),
      subsetDataset(data, split.train),
      {
        epochs: 2,
        batchSize: 64,
        validationData: holdout,
        learningRate: schedule,
      },
    );
    predictions = await predictDigits(training.model, holdout);
  });

  it('records the rate of each epoch last step', () => {
    const steps = Math.ceil(training.trainCount / 64);
    expect(training.history.map((r) => r.lr)).toEqual([
      schedule(steps - 1, 2 * steps),
      schedule(2 * steps - 1, 2 * steps),
    ]);
  });

  it('draws its history and its hold-out confusion, written to test/.artifacts to look at', async () => {
    const curves = renderTrainingCurves(training.history, { title: 'compact, 2 epochs on 2,400 MNIST images' });
    checkFiles(curves);
    const best = training.history[training.bestEpoch - 1]!;
    expect(svgTexts(curves.svg, 'summary')[0]).toContain(
      `best val_acc ${(best.val_acc! * 100).toFixed(2)}% at epoch ${training.bestEpoch}`,
    );
    expect(curves.panels).toEqual(['loss', 'accuracy', 'lr']);

    const confusion = renderConfusionMatrix(holdout, predictions);
    expectWellFormedSvg(confusion.svg);
    decodeRgbPng(confusion.png, confusion.width, confusion.height);
    expect(confusion.matrix.total).toBe(holdout.count);
    expect(confusion.matrix.accuracy).toBeCloseTo(accuracy(predictions, holdout.labels!), 12);
    expect(confusion.shown).toHaveLength(Math.min(40, confusion.matrix.misread.length));
    expect(svgTexts(confusion.svg, 'count').map(Number)).toEqual(confusion.matrix.counts.flat());

    await mkdir(artifacts, { recursive: true });
    await writeFile(join(artifacts, 'history.png'), curves.png);
    await writeFile(join(artifacts, 'history.svg'), curves.svg);
    await writeFile(join(artifacts, 'confusion.png'), confusion.png);
    await writeFile(join(artifacts, 'confusion.svg'), confusion.svg);
    training.model.dispose();
  });
});

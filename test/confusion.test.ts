import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  confusionMatrix,
  createDigitDataset,
  PIXELS_PER_IMAGE,
  renderConfusionMatrix,
  type ConfusionMatrixPicture,
  type DigitConfusionMatrix,
  type DigitConfusionPair,
  type DigitDataset,
  type DigitPredictions,
  type RenderConfusionMatrixOptions,
} from 'digit-recognizer';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDigitCsv } from 'digit-recognizer';
import { tempDir } from './helpers.js';
import { decodeRgbPng, expectWellFormedSvg, rgb, svgElements, svgTexts } from './svg_check.js';

// Ten images: two 0s, three 1s, a 2, three 4s and a 9; 3, 5, 6 and 8 never predicted, 3, 5-8 never true.
const LABELS = [0, 0, 1, 1, 1, 2, 4, 4, 4, 9];
const PREDICTED = [0, 1, 1, 1, 7, 2, 9, 9, 4, 4];
const CONFIDENCES = [0.9, 0.8, 0.95, 0.9, 0.6, 0.99, 0.55, 0.7, 0.8, 0.65];

/** Image `i` is a flat square of ink `20 * (i + 1)`, so a drawn tile tells which image it is. */
function images(n: number, labels: readonly number[]): DigitDataset {
  const pixels = new Uint8Array(n * PIXELS_PER_IMAGE);
  for (let i = 0; i < n; i++) pixels.fill(20 * (i + 1), i * PIXELS_PER_IMAGE, (i + 1) * PIXELS_PER_IMAGE);
  return createDigitDataset(pixels, Uint8Array.from(labels), 'hand-made');
}

function predictionsOf(labels: readonly number[], confidences: readonly number[] = CONFIDENCES): DigitPredictions {
  return {
    count: labels.length,
    labels: Uint8Array.from(labels),
    confidences: Float32Array.from(confidences.slice(0, labels.length)),
  };
}

describe('confusionMatrix', () => {
  it('counts true against predicted digits and ranks the mix-ups', () => {
    const m = confusionMatrix(Uint8Array.from(LABELS), predictionsOf(PREDICTED));
    const expected = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
    expected[0]![0] = 1;
    expected[0]![1] = 1;
    expected[1]![1] = 2;
    expected[1]![7] = 1;
    expected[2]![2] = 1;
    expected[4]![4] = 1;
    expected[4]![9] = 2;
    expected[9]![4] = 1;
    expect(m.counts).toEqual(expected);
    expect(m.labelTotals).toEqual([2, 3, 1, 0, 3, 0, 0, 0, 0, 1]);
    expect(m.predictedTotals).toEqual([1, 3, 1, 0, 2, 0, 0, 1, 0, 2]);
    expect([m.total, m.correct, m.accuracy]).toEqual([10, 5, 0.5]);
    // Most frequent first; ties by true digit, then predicted digit.
    expect(m.pairs).toEqual([
      { label: 4, predicted: 9, count: 2 },
      { label: 0, predicted: 1, count: 1 },
      { label: 1, predicted: 7, count: 1 },
      { label: 9, predicted: 4, count: 1 },
    ]);
    expect(m.misread).toEqual([1, 4, 6, 7, 9]);
    // Predicted labels alone give the same numbers.
    expect(confusionMatrix(Uint8Array.from(LABELS), Uint8Array.from(PREDICTED))).toEqual(m);
  });

  it('handles no images and no mistakes', () => {
    const none = confusionMatrix(new Uint8Array(0), new Uint8Array(0));
    expect(none.total).toBe(0);
    expect(none.accuracy).toBeNaN();
    expect(none.counts.flat().every((n) => n === 0)).toBe(true);
    const perfect = confusionMatrix(Uint8Array.from(LABELS), Uint8Array.from(LABELS));
    expect([perfect.accuracy, perfect.pairs, perfect.misread]).toEqual([1, [], []]);
  });

  it('refuses labels and predictions that do not match or are not digits', () => {
    expect(() => confusionMatrix(Uint8Array.of(1, 2), Uint8Array.of(1))).toThrow(/1 predictions for 2 labels/);
    expect(() => confusionMatrix(Uint8Array.of(1, 10), Uint8Array.of(1, 1))).toThrow(/labels\[1\] is 10/);
    expect(() => confusionMatrix(Uint8Array.of(1, 1), Uint8Array.of(1, 12))).toThrow(/predictions\[1\] is 12/);
    expect(() => confusionMatrix([1] as unknown as Uint8Array, Uint8Array.of(1))).toThrow(TypeError);
    expect(() => confusionMatrix(Uint8Array.of(1), [1] as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('renderConfusionMatrix', () => {
  it('names the data file, not the folders it sits in (a picture gets shared)', async () => {
    const dir = join(tempDir('digit-confusion-'), 'home', 'someone', 'kaggle');
    mkdirSync(dir, { recursive: true });
    const header = Array.from({ length: PIXELS_PER_IMAGE }, (_, p) => `pixel${p}`).join(',');
    const rows = LABELS.map((label, i) => `${label},${new Array<number>(PIXELS_PER_IMAGE).fill(20 * i).join(',')}`);
    writeFileSync(join(dir, 'train.csv'), `label,${header}\n${rows.join('\n')}\n`);
    const data = await loadDigitCsv(join(dir, 'train.csv'));
    expect(data.source).toBe(join(dir, 'train.csv'));
    const picture = renderConfusionMatrix(data, predictionsOf(PREDICTED));
    expect(svgTexts(picture.svg, 'subtitle')).toEqual(['train.csv: 10 images, 5 misread, accuracy 50.00%']);
    expect(picture.svg).not.toContain('someone');
    // A hold-out split off a zip member keeps the member and the split, without the folders.
    const holdout = createDigitDataset(
      data.pixels,
      data.labels,
      `${join(dir, 'digit-recognizer.zip')}:train.csv (validation)`,
    );
    expect(svgTexts(renderConfusionMatrix(holdout, predictionsOf(PREDICTED)).svg, 'subtitle')).toEqual([
      'digit-recognizer.zip:train.csv (validation): 10 images, 5 misread, accuracy 50.00%',
    ]);
  });

  it('writes every count in its cell, shaded by count, the same in the PNG as in the SVG', () => {
    const picture = renderConfusionMatrix(images(10, LABELS), predictionsOf(PREDICTED));
    expectWellFormedSvg(picture.svg);
    const png = decodeRgbPng(picture.png, picture.width, picture.height);
    expect(svgTexts(picture.svg, 'count').map(Number)).toEqual(picture.matrix.counts.flat());
    expect(svgTexts(picture.svg, 'column')).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(svgTexts(picture.svg, 'row')).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(svgTexts(picture.svg, 'recall')).toEqual([
      '50.0%',
      '66.7%',
      '100.0%',
      '-',
      '33.3%',
      '-',
      '-',
      '-',
      '-',
      '0.0%',
    ]);
    expect(svgTexts(picture.svg, 'subtitle')).toEqual(['hand-made: 10 images, 5 misread, accuracy 50.00%']);

    // The 100 cells are the only 100 squares of one size.
    const rects = svgElements(picture.svg, 'rect').filter((r) => r['x'] !== undefined && r['width'] === r['height']);
    const sizes = new Map<string, Record<string, string>[]>();
    for (const r of rects) sizes.set(r['width']!, [...(sizes.get(r['width']!) ?? []), r]);
    const cells = [...sizes.values()].find((group) => group.length === 100)!;
    expect(cells).toHaveLength(100);
    cells.forEach((cell, k) => {
      const fill = rgb(cell['fill']!);
      expect(png.at(Number(cell['x']) + 3, Number(cell['y']) + 3)).toEqual(fill);
      const [row, column, count] = [Math.floor(k / 10), k % 10, picture.matrix.counts[Math.floor(k / 10)]![k % 10]!];
      if (count === 0) expect(fill).toEqual([255, 255, 255]);
      else if (row === column)
        expect(fill[2]).toBeGreaterThan(fill[0] + 40); // blue: read right
      else expect(fill[0]).toBeGreaterThan(fill[2] + 40); // red: misread
    });
    // More mistakes, darker red: the 4 -> 9 cell (2) against the 0 -> 1 cell (1).
    const brightness = (k: number): number => rgb(cells[k]!['fill']!).reduce((s, v) => s + v, 0);
    expect(brightness(49)).toBeLessThan(brightness(1));
  });

  it('lists the most confused pairs and shows the misread images titled true -> predicted', () => {
    const picture = renderConfusionMatrix(images(10, LABELS), predictionsOf(PREDICTED));
    expect(svgTexts(picture.svg, 'pair')).toEqual(['4 -> 9: 2', '0 -> 1: 1', '1 -> 7: 1', '9 -> 4: 1']);
    // Most confused pair first, surest mistake first within it.
    expect(picture.shown).toEqual([7, 6, 1, 4, 9]);
    expect(svgTexts(picture.svg, 'tile')).toEqual(['4 -> 9', '4 -> 9', '0 -> 1', '1 -> 7', '9 -> 4']);
    expect(svgTexts(picture.svg, 'confidence')).toEqual(['70%', '55%', '80%', '60%', '65%']);
    expect(svgTexts(picture.svg, 'heading')).toEqual([
      "Misread images: true -> predicted, and the model's confidence (all 5 shown)",
    ]);
    // Each tile in the PNG is the image it names: image i is a flat grey of 255 - 20 (i + 1).
    const png = decodeRgbPng(picture.png, picture.width, picture.height);
    const tiles = svgElements(picture.svg, 'image');
    expect(tiles).toHaveLength(5);
    tiles.forEach((tile, k) => {
      const grey = 255 - 20 * (picture.shown[k]! + 1);
      const [x, y, side] = [Number(tile['x']), Number(tile['y']), Number(tile['width'])];
      expect(png.at(x + 1, y + 1)).toEqual([grey, grey, grey]);
      expect(png.at(x + side - 1, y + side - 1)).toEqual([grey, grey, grey]);
    });
  });

  it('shares a capped number of images out across the pairs and says how many were left out', () => {
    const two = renderConfusionMatrix(images(10, LABELS), predictionsOf(PREDICTED), { maxImages: 2 });
    expect(two.shown).toEqual([7, 1]);
    expect(svgTexts(two.svg, 'heading')[0]).toContain('(2 of 5 shown; 3 left out)');
    expect(svgElements(two.svg, 'image')).toHaveLength(2);
    const none = renderConfusionMatrix(images(10, LABELS), predictionsOf(PREDICTED), { maxImages: 0 });
    expect(none.shown).toEqual([]);
    expect(svgTexts(none.svg, 'heading')).toEqual(['Misread images: 5, none shown']);
    const pairs = renderConfusionMatrix(images(10, LABELS), predictionsOf(PREDICTED), { maxPairs: 1 });
    expect(svgTexts(pairs.svg, 'pair')).toEqual(['4 -> 9: 2']);
    expect(svgTexts(pairs.svg, 'note')).toEqual(['and 3 more pairs']);
    expect(decodeRgbPng(none.png, none.width, none.height).height).toBeLessThan(two.height);
  });

  it('draws a hold-out read all right with no images and says so', () => {
    const picture = renderConfusionMatrix(images(10, LABELS), predictionsOf(LABELS));
    expectWellFormedSvg(picture.svg);
    decodeRgbPng(picture.png, picture.width, picture.height);
    expect(picture.shown).toEqual([]);
    expect(svgElements(picture.svg, 'image')).toHaveLength(0);
    expect(svgTexts(picture.svg, 'pair')).toEqual([]);
    expect(svgTexts(picture.svg, 'note')).toEqual(['none: every image read right']);
    expect(svgTexts(picture.svg, 'heading')).toEqual(['No misread images: every one read right']);
  });

  it('takes a title, scale and columns', () => {
    const data = images(10, LABELS);
    const small = renderConfusionMatrix(data, predictionsOf(PREDICTED), { scale: 1, title: 'Hold-out <5%> & more' });
    expect(svgTexts(small.svg, 'title')).toEqual(['Hold-out <5%> & more']);
    expectWellFormedSvg(small.svg);
    const large = renderConfusionMatrix(data, predictionsOf(PREDICTED), { scale: 3 });
    expect(large.width).toBeGreaterThan(2.5 * small.width);
    const column = renderConfusionMatrix(data, predictionsOf(PREDICTED), { columns: 1 });
    const ys = svgElements(column.svg, 'image').map((t) => Number(t['y']));
    expect(new Set(ys).size).toBe(5);
  });

  it('refuses what it cannot draw', () => {
    const data = images(10, LABELS);
    const unlabelled = createDigitDataset(data.pixels, undefined, 'test.csv');
    expect(() => renderConfusionMatrix(unlabelled, predictionsOf(PREDICTED))).toThrow(/test.csv: .*labelled/);
    expect(() => renderConfusionMatrix(data, predictionsOf(PREDICTED.slice(0, 9)))).toThrow(RangeError);
    expect(() => renderConfusionMatrix(images(0, []), predictionsOf([]))).toThrow(/no images/);
    expect(() =>
      renderConfusionMatrix(data, { count: 10, labels: Uint8Array.from(PREDICTED) } as DigitPredictions),
    ).toThrow(TypeError);
    for (const options of [
      { maxImages: -1 },
      { maxImages: 1001 },
      { maxPairs: 91 },
      { scale: 0 },
      { columns: 0 },
      { scale: 1.5 },
    ]) {
      expect(() => renderConfusionMatrix(data, predictionsOf(PREDICTED), options)).toThrow(RangeError);
    }
  });

  it('has typed public signatures', () => {
    expectTypeOf(confusionMatrix).parameter(1).toEqualTypeOf<DigitPredictions | Uint8Array>();
    expectTypeOf(confusionMatrix).returns.toEqualTypeOf<DigitConfusionMatrix>();
    expectTypeOf<DigitConfusionMatrix['counts']>().toEqualTypeOf<readonly (readonly number[])[]>();
    expectTypeOf<DigitConfusionMatrix['pairs']>().toEqualTypeOf<readonly DigitConfusionPair[]>();
    expectTypeOf(renderConfusionMatrix).parameters.toEqualTypeOf<
      [DigitDataset, DigitPredictions, (RenderConfusionMatrixOptions | undefined)?]
    >();
    expectTypeOf(renderConfusionMatrix).returns.toEqualTypeOf<ConfusionMatrixPicture>();
    expectTypeOf<ConfusionMatrixPicture['png']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<ConfusionMatrixPicture['matrix']>().toEqualTypeOf<DigitConfusionMatrix>();
  });
});

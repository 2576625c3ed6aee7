import { describe, expect, it } from 'vitest';
import {
  createDigitDataset,
  PIXELS_PER_IMAGE,
  renderConfusionMatrix,
  renderPredictionGrid,
  renderTrainingCurves,
  type DigitEpochRecord,
  type DigitPredictions,
} from 'digit-recognizer';
import { GLYPH_DESCENT, GLYPH_HEIGHT, GLYPH_SPACING, drawText, glyphFor, textWidth } from '../src/rendering/font.js';
import { decodeRgbPng, rgb, svgElements, type Picture } from './svg_check.js';

const DESCENDERS = ['g', 'j', 'p', 'q', 'y'];

/** The glyph as text, `#` for ink, a blank line at the baseline. */
function shape(char: string): string {
  const glyph = glyphFor(char);
  return glyph.rows
    .map((bits, y) => {
      const row = Array.from({ length: glyph.width }, (_, x) => ((bits >> (glyph.width - 1 - x)) & 1 ? '#' : '.'));
      return (y === GLYPH_HEIGHT ? '\n' : '') + row.join('');
    })
    .join('\n');
}

describe('the bitmap font', () => {
  it('hangs g, j, p, q and y below the baseline, and nothing else', () => {
    for (const char of DESCENDERS) {
      const rows = glyphFor(char).rows;
      expect(rows, char).toHaveLength(GLYPH_HEIGHT + GLYPH_DESCENT);
      expect(
        rows.slice(GLYPH_HEIGHT).some((bits) => bits !== 0),
        char,
      ).toBe(true);
    }
    for (let code = 32; code < 127; code++) {
      const char = String.fromCharCode(code);
      if (!DESCENDERS.includes(char)) expect(glyphFor(char).rows, char).toHaveLength(GLYPH_HEIGHT);
    }
    expect(shape('g')).toBe(
      ['.....', '.....', '.####', '#...#', '#...#', '#...#', '.####', '\n....#', '.###.'].join('\n'),
    );
  });

  it('keeps g apart from s and 9, and the descenders apart from each other', () => {
    const shapes = ['g', 's', '9', 'j', 'p', 'q', 'y'].map(shape);
    expect(new Set(shapes).size).toBe(shapes.length);
    // Above the baseline g is a closed bowl, which neither s nor 9 has on the same rows.
    expect(glyphFor('g').rows.slice(2, 7)).not.toEqual(glyphFor('s').rows.slice(2, 7));
    expect(glyphFor('g').rows.slice(0, 7)).not.toEqual(glyphFor('9').rows.slice(0, 7));
  });

  it('draws the descenders GLYPH_DESCENT font pixels under the baseline', () => {
    const scale = 3;
    const width = textWidth('gs') * scale;
    const height = (GLYPH_HEIGHT + GLYPH_DESCENT) * scale;
    const data = new Uint8Array(width * height * 3).fill(255);
    drawText(data, width, 0, 0, 'gs', [0, 0, 0], scale);
    const inkBelow = (x0: number, x1: number): number => {
      let n = 0;
      for (let y = GLYPH_HEIGHT * scale; y < height; y++) {
        for (let x = x0; x < x1; x++) if (data[(y * width + x) * 3] === 0) n++;
      }
      return n;
    };
    const gWidth = (glyphFor('g').width + GLYPH_SPACING) * scale;
    expect(inkBelow(0, gWidth)).toBeGreaterThan(0);
    expect(inkBelow(gWidth, width)).toBe(0);
  });
});

interface TextBox {
  readonly text: string;
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
  readonly scale: number;
  readonly fill: string;
}

/** Every plain `<text>` of a picture's SVG as the PNG draws it: its box includes the descent. */
function textBoxes(svg: string): TextBox[] {
  const boxes: TextBox[] = [];
  for (const m of svg.matchAll(/<text\s([^>]*)>([^<]*)<\/text>/g)) {
    const a = Object.fromEntries([...m[1]!.matchAll(/([\w:-]+)="([^"]*)"/g)].map((p) => [p[1], p[2]]));
    const text = m[2]!
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&');
    // The SVG's font size is 1.45 times the bitmap's cap height.
    const size = Number(a['font-size']);
    const scale = Array.from({ length: 20 }, (_, s) => s + 1).find((s) => Math.round(GLYPH_HEIGHT * s * 1.45) === size);
    expect(scale, `font size ${size} of "${text}"`).toBeDefined();
    const s = scale!;
    const w = textWidth(text) * s + (a['font-weight'] === 'bold' ? Math.max(1, Math.floor(s / 2)) : 0);
    const x = Number(a['x']);
    const left = a['text-anchor'] === 'middle' ? x - w / 2 : a['text-anchor'] === 'end' ? x - w : x;
    const top = Number(a['y']) - GLYPH_HEIGHT * s;
    boxes.push({
      text,
      left,
      top,
      right: left + w,
      bottom: top + (GLYPH_HEIGHT + GLYPH_DESCENT) * s,
      scale: s,
      fill: a['fill']!,
    });
  }
  return boxes;
}

/**
 * Each text's descenders are on the PNG in its colour (not clipped by the picture's edge nor drawn
 * over by what comes below), and no text's box, descent included, runs into another's.
 */
function expectDescendersDrawn(picture: { png: Uint8Array; svg: string; width: number; height: number }): number {
  const png = decodeRgbPng(picture.png, picture.width, picture.height);
  const boxes = textBoxes(picture.svg);
  let checked = 0;
  for (const box of boxes) {
    expect(box.bottom, box.text).toBeLessThanOrEqual(picture.height);
    expect(box.left, box.text).toBeGreaterThanOrEqual(0);
    expect(box.right, box.text).toBeLessThanOrEqual(picture.width);
    for (const other of boxes) {
      if (other === box) continue;
      const apart =
        box.right <= other.left + 1 ||
        other.right <= box.left + 1 ||
        box.bottom <= other.top ||
        other.bottom <= box.top;
      expect(apart, `"${box.text}" runs into "${other.text}"`).toBe(true);
    }
    let x = Math.round(box.left);
    for (const char of box.text) {
      const glyph = glyphFor(char);
      if (DESCENDERS.includes(char)) {
        const y0 = Math.round(box.top) + GLYPH_HEIGHT * box.scale;
        expect(
          inkIn(png, x - 1, x + (glyph.width + 1) * box.scale, y0, y0 + GLYPH_DESCENT * box.scale, box.fill),
          `${char} of "${box.text}"`,
        ).toBeGreaterThan(0);
        checked++;
      }
      x += (glyph.width + GLYPH_SPACING) * box.scale;
    }
  }
  return checked;
}

function inkIn(png: Picture, x0: number, x1: number, y0: number, y1: number, fill: string): number {
  const want = rgb(fill).join();
  let n = 0;
  for (let y = Math.max(0, y0); y < Math.min(png.height, y1); y++) {
    for (let x = Math.max(0, x0); x < Math.min(png.width, x1); x++) if (png.at(x, y).join() === want) n++;
  }
  return n;
}

function record(epoch: number): DigitEpochRecord {
  return {
    epoch,
    seconds: 1,
    imagesPerSecond: 100,
    loss: 1 / epoch,
    acc: 1 - 0.1 / epoch,
    val_loss: 0.8 / epoch,
    val_acc: 1 - 0.08 / epoch,
    lr: 0.001 / epoch,
  };
}

function predictions(labels: readonly number[]): DigitPredictions {
  return {
    count: labels.length,
    labels: Uint8Array.from(labels),
    confidences: Float32Array.from(labels, (_, i) => 0.5 + i / 40),
  };
}

describe('descenders in every picture', () => {
  const labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 4, 9];
  const predicted = [0, 1, 2, 3, 9, 5, 6, 7, 8, 4, 4, 9];
  const pixels = new Uint8Array(labels.length * PIXELS_PER_IMAGE).fill(128);
  const data = createDigitDataset(
    pixels,
    Uint8Array.from(labels),
    '/home/someone/digit-recognizer.zip:train.csv (validation)',
  );

  for (const scale of [1, 2, 3]) {
    it(`are drawn whole, clear of the next line, at scale ${scale}`, () => {
      const curves = renderTrainingCurves([1, 2, 3].map(record), { title: 'gjpqy: training', scale });
      // title, key (training), panel (learning rate), axis (epoch)
      expect(expectDescendersDrawn(curves)).toBeGreaterThanOrEqual(5 + 2 + 1 + 1);
      const confusion = renderConfusionMatrix(data, predictions(predicted), { title: 'gjpqy: hold-out', scale });
      // title, subtitle (digit-recognizer), predicted, key (read right), list heading and images heading
      expect(expectDescendersDrawn(confusion)).toBeGreaterThanOrEqual(5 + 3 + 1 + 1 + 2);
      const grid = renderPredictionGrid(data, predictions(predicted), {
        title: 'gjpqy: predicted labels',
        fontScale: scale,
      });
      expect(expectDescendersDrawn(grid)).toBeGreaterThanOrEqual(5 + 1);
      // The legend (in tspans) ends with "wrong (2 of 12)": its g sits on the bottom margin.
      const legend = svgElements(grid.svg, 'text').find((t) => t['class'] === 'legend')!;
      const baseline = Number(legend['y']);
      expect(baseline + GLYPH_DESCENT * scale).toBeLessThanOrEqual(grid.height);
      const png = decodeRgbPng(grid.png, grid.width, grid.height);
      expect(inkIn(png, 0, grid.width, baseline, baseline + GLYPH_DESCENT * scale, '#c81414')).toBeGreaterThan(0);
    });
  }
});

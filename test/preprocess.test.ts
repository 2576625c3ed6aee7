import { describe, expect, it } from 'vitest';
import { loadMnist, preprocessDigitImage, PIXELS_PER_IMAGE } from 'digit-recognizer';

/** Builds an RGBA picture `width x height` from a grey function (0 black .. 255 white) and an alpha. */
function picture(
  width: number,
  height: number,
  grey: (x: number, y: number) => number,
  alpha: (x: number, y: number) => number = () => 255,
): Uint8ClampedArray {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const g = grey(x, y);
      rgba.set([g, g, g, alpha(x, y)], (y * width + x) * 4);
    }
  }
  return rgba;
}

/** An MNIST digit drawn `scale` times larger at (`ox`, `oy`) on a `width x height` picture, as dark ink on white or light ink on black. */
function enlarged(
  digit: Uint8Array,
  scale: number,
  width: number,
  height: number,
  ox: number,
  oy: number,
  darkInk: boolean,
): Uint8ClampedArray {
  return picture(width, height, (x, y) => {
    const dx = Math.floor((x - ox) / scale);
    const dy = Math.floor((y - oy) / scale);
    const ink = dx >= 0 && dx < 28 && dy >= 0 && dy < 28 ? (digit[dy * 28 + dx] as number) : 0;
    return darkInk ? 255 - ink : ink;
  });
}

function correlation(a: Uint8Array, b: Uint8Array): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] as number;
    mb += b[i] as number;
  }
  ma /= n;
  mb /= n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    const x = (a[i] as number) - ma;
    const y = (b[i] as number) - mb;
    num += x * y;
    da += x * x;
    db += y * y;
  }
  return num / Math.sqrt(da * db);
}

/** Bounding box and centre of mass of a 28x28 image. */
function measure(image: Uint8Array): { width: number; height: number; cx: number; cy: number } {
  let x0 = 28;
  let y0 = 28;
  let x1 = -1;
  let y1 = -1;
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = image[y * 28 + x] as number;
      if (v === 0) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  return { width: x1 - x0 + 1, height: y1 - y0 + 1, cx: mx / mass, cy: my / mass };
}

describe('preprocessDigitImage', () => {
  it('recovers MNIST digits from enlarged, shifted pictures of either polarity', async () => {
    const mnist = await loadMnist({ split: 'test' });
    for (let i = 0; i < 20; i++) {
      const digit = mnist.pixels.subarray(i * PIXELS_PER_IMAGE, (i + 1) * PIXELS_PER_IMAGE);
      const dark = preprocessDigitImage(enlarged(digit, 9, 400, 300, 90 + i * 3, 20, true), 400, 300);
      const light = preprocessDigitImage(enlarged(digit, 9, 400, 300, 40, 30 - i, false), 400, 300);
      expect(dark).toHaveLength(784);
      expect(correlation(dark, digit), `digit ${i} dark ink`).toBeGreaterThan(0.85);
      expect(correlation(light, digit), `digit ${i} light ink`).toBeGreaterThan(0.85);
      expect(correlation(dark, light)).toBeGreaterThan(0.98);
    }
  });

  it('scales the ink into 20x20 keeping the aspect ratio, centred by centre of mass', () => {
    // A 40 x 160 dark bar on white: tall and thin.
    const image = preprocessDigitImage(
      picture(300, 240, (x, y) => (x >= 100 && x < 140 && y >= 50 && y < 210 ? 0 : 255)),
      300,
      240,
    );
    const m = measure(image);
    expect(m.height).toBe(20);
    expect(m.width).toBe(5);
    expect(Math.abs(m.cx - 14.5)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(m.cy - 14.5)).toBeLessThanOrEqual(0.5);
    expect(Math.max(...image)).toBe(255);
  });

  it('puts the centre of mass, not the box centre, in the middle', () => {
    // An "L": heavy at the bottom-left, so the box is shifted up and right.
    const grey = (x: number, y: number): number =>
      (x >= 10 && x < 20 && y >= 10 && y < 90) || (x >= 10 && x < 90 && y >= 80 && y < 90) ? 0 : 255;
    const image = preprocessDigitImage(picture(100, 100, grey), 100, 100);
    const m = measure(image);
    // MNIST's convention: the centre of mass on pixel (14, 14), i.e. 14.5 in continuous coordinates.
    expect(Math.abs(m.cx - 14.5)).toBeLessThan(0.7);
    expect(Math.abs(m.cy - 14.5)).toBeLessThan(0.7);
    const boxOnly = measure(preprocessDigitImage(picture(100, 100, grey), 100, 100, { centerOfMass: false }));
    expect(boxOnly.cx).toBeLessThan(m.cx - 1);
  });

  it('anti-aliases: a thin diagonal stroke keeps intermediate grey levels', () => {
    const image = preprocessDigitImage(
      picture(280, 280, (x, y) => (Math.abs(x - y) < 6 && x > 30 && x < 250 ? 0 : 255)),
      280,
      280,
    );
    const levels = new Set(image.filter((v) => v > 0 && v < 255));
    expect(levels.size).toBeGreaterThan(5);
  });

  it('treats transparent pixels as background (canvas strokes on nothing)', () => {
    const rgba = picture(
      100,
      100,
      () => 0,
      (x, y) => (x >= 45 && x < 55 && y >= 10 && y < 90 ? 255 : 0),
    );
    const image = preprocessDigitImage(rgba, 100, 100);
    expect(measure(image).height).toBe(20);
    expect(image[0]).toBe(0);
  });

  it('ignores paper tone and faint noise, and honours an explicit polarity', () => {
    // Grey paper (200) with faint speckles and a dark "1".
    const grey = (x: number, y: number): number =>
      x >= 70 && x < 80 && y >= 20 && y < 180 ? 40 : 200 - ((x * 7 + y * 13) % 11);
    const image = preprocessDigitImage(picture(150, 200, grey), 150, 200);
    expect(measure(image).height).toBe(20);
    expect(measure(image).width).toBeLessThanOrEqual(3);
    const forced = preprocessDigitImage(picture(150, 200, grey), 150, 200, { polarity: 'dark-ink' });
    expect(forced).toEqual(image);
  });

  it('gives zeros for a blank picture and rejects mismatched sizes and options', () => {
    expect(
      preprocessDigitImage(
        picture(50, 40, () => 255),
        50,
        40,
      ),
    ).toEqual(new Uint8Array(784));
    expect(
      preprocessDigitImage(
        picture(1, 1, () => 0),
        1,
        1,
      ),
    ).toEqual(new Uint8Array(784));
    expect(() => preprocessDigitImage(new Uint8Array(10), 2, 2)).toThrow(RangeError);
    expect(() => preprocessDigitImage(new Uint8Array(16), 0, 4)).toThrow(RangeError);
    expect(() => preprocessDigitImage(new Uint8Array(16), 2, 2, { box: 30 })).toThrow(/box/);
    expect(() => preprocessDigitImage(new Uint8Array(16), 2, 2, { threshold: 300 })).toThrow(/threshold/);
  });
});

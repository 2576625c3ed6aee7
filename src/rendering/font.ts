/**
 * A tiny 7-pixel-high bitmap font for drawing titles into PNG pictures without
 * a canvas. Shapes follow the classic HD44780 LCD character ROM (5x7 cells),
 * except that g, j, p, q and y hang two rows below the baseline (the 5x7 ROM
 * squeezes them above it, where g reads as s or 9); a few punctuation marks
 * are narrower so numbers such as `98.2%` stay compact.
 */

/** Height of every glyph above the baseline (capitals and digits fill it), in font pixels. */
export const GLYPH_HEIGHT = 7;
/** Rows below the baseline that descenders (g, j, p, q, y) use: layouts leave this much under a line. */
export const GLYPH_DESCENT = 2;
/** Blank columns between two glyphs, in font pixels. */
export const GLYPH_SPACING = 1;

/**
 * Glyph data, one string per character: the first character is the glyph width
 * (1..5 font pixels), then seven rows top to bottom as two hex digits each, and
 * for a glyph with a descender two more rows below the baseline; the lowest
 * `width` bits of a row are its pixels, most significant bit leftmost.
 * Example: `'0'` is `5` wide, rows `0e 11 13 15 19 11 0e`:
 * ```
 *  .###.   0e
 *  #...#   11
 *  #..##   13
 *  #.#.#   15
 *  ##..#   19
 *  #...#   11
 *  .###.   0e
 * ```
 */
const GLYPH_DATA: Readonly<Record<string, string>> = {
  ' ': '300000000000000',
  '0': '50e11131519110e',
  '1': '5040c040404040e',
  '2': '50e11010204081f',
  '3': '51f02040201110e',
  '4': '502060a121f0202',
  '5': '51f101e0101110e',
  '6': '50608101e11110e',
  '7': '51f010204080808',
  '8': '50e11110e11110e',
  '9': '50e11110f01020c',
  A: '50e1111111f1111',
  B: '51e11111e11111e',
  C: '50e11101010110e',
  D: '51c12111111121c',
  E: '51f10101e10101f',
  F: '51f10101e101010',
  G: '50e11101711110f',
  H: '51111111f111111',
  I: '50e04040404040e',
  J: '50702020202120c',
  K: '511121418141211',
  L: '51010101010101f',
  M: '5111b1515111111',
  N: '511111915131111',
  O: '50e11111111110e',
  P: '51e11111e101010',
  Q: '50e11111115120d',
  R: '51e11111e141211',
  S: '50f10100e01011e',
  T: '51f040404040404',
  U: '51111111111110e',
  V: '511111111110a04',
  W: '51111111515150a',
  X: '511110a040a1111',
  Y: '51111110a040404',
  Z: '51f01020408101f',
  a: '500000e010f110f',
  b: '51010161911111e',
  c: '500000e1010110e',
  d: '501010d1311110f',
  e: '500000e111f100e',
  f: '50609081c080808',
  g: '500000f1111110f010e',
  h: '510101619111111',
  i: '504000c0404040e',
  j: '502000602020202120c',
  k: '510101214181412',
  l: '50c04040404040e',
  m: '500001a15151111',
  n: '500001619111111',
  o: '500000e1111110e',
  p: '500001e1111111e1010',
  q: '500000f1111110f0101',
  r: '500001619101010',
  s: '500000e100e011e',
  t: '508081c08080906',
  u: '50000111111130d',
  v: '500001111110a04',
  w: '50000111115150a',
  x: '50000110a040a11',
  y: '50000111111110f010e',
  z: '500001f0204081f',
  '.': '200000000000303',
  ',': '200000000030102',
  ':': '200030300030300',
  ';': '200030300030102',
  '!': '101010101000001',
  '?': '50e110102040004',
  "'": '203010200000000',
  '"': '305050000000000',
  '%': '518190204081303',
  '(': '301020404040201',
  ')': '304020101010204',
  '[': '307040404040407',
  ']': '307010101010107',
  '-': '50000001f000000',
  '+': '50004041f040400',
  '=': '500001f001f0000',
  '/': '500010204081000',
  '*': '50004150e150400',
  '#': '50a0a1f0a1f0a0a',
  '<': '401020408040201',
  '>': '408040201020408',
  _: '50000000000001f',
  '&': '50c12140815120d',
  '@': '50e11010d15150e',
  '|': '101010101010101',
};

/**
 * A decoded glyph: `rows[y]` holds the bits of row `y`, most significant bit leftmost; rows
 * `GLYPH_HEIGHT` and on (only for descenders) lie below the baseline.
 */
export interface Glyph {
  readonly width: number;
  readonly rows: readonly number[];
}

let glyphs: Map<string, Glyph> | undefined;

function decodeFont(): Map<string, Glyph> {
  const map = new Map<string, Glyph>();
  for (const [char, data] of Object.entries(GLYPH_DATA)) {
    const width = Number.parseInt(data.slice(0, 1), 10);
    const rows: number[] = [];
    for (let y = 0; 1 + 2 * y < data.length; y++) rows.push(Number.parseInt(data.slice(1 + 2 * y, 3 + 2 * y), 16));
    map.set(char, { width, rows });
  }
  return map;
}

/** The glyph for `char`; characters without one are drawn as `?`. */
export function glyphFor(char: string): Glyph {
  glyphs ??= decodeFont();
  return glyphs.get(char) ?? (glyphs.get('?') as Glyph);
}

/** Width of `text` in font pixels (multiply by the font scale for image pixels). */
export function textWidth(text: string): number {
  let width = 0;
  let n = 0;
  for (const char of text) {
    width += glyphFor(char).width;
    n++;
  }
  return n === 0 ? 0 : width + (n - 1) * GLYPH_SPACING;
}

/** An RGB colour, each channel 0..255. */
export type Rgb = readonly [number, number, number];

/**
 * Draws `text` into an RGB buffer `data` (`width` pixels per row, 3 bytes each)
 * with its top-left corner at `(x, y)`, each font pixel a `scale` x `scale`
 * square: capitals end `GLYPH_HEIGHT * scale` below `y`, descenders
 * `GLYPH_DESCENT * scale` further. Pixels falling outside the buffer are skipped.
 */
export function drawText(
  data: Uint8Array,
  width: number,
  x: number,
  y: number,
  text: string,
  color: Rgb,
  scale: number,
): void {
  const height = data.length / (3 * width);
  let cx = x;
  for (const char of text) {
    const glyph = glyphFor(char);
    for (let gy = 0; gy < glyph.rows.length; gy++) {
      const bits = glyph.rows[gy] ?? 0;
      for (let gx = 0; gx < glyph.width; gx++) {
        if ((bits >> (glyph.width - 1 - gx)) & 1)
          fillRect(data, width, height, cx + gx * scale, y + gy * scale, scale, scale, color);
      }
    }
    cx += (glyph.width + GLYPH_SPACING) * scale;
  }
}

/** Fills a rectangle of an RGB buffer, clipped to the buffer. */
export function fillRect(
  data: Uint8Array,
  width: number,
  height: number,
  x: number,
  y: number,
  w: number,
  h: number,
  color: Rgb,
): void {
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(width, x + w);
  const y1 = Math.min(height, y + h);
  const [r, g, b] = color;
  for (let yy = y0; yy < y1; yy++) {
    let o = (yy * width + x0) * 3;
    for (let xx = x0; xx < x1; xx++) {
      data[o] = r;
      data[o + 1] = g;
      data[o + 2] = b;
      o += 3;
    }
  }
}

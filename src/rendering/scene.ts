/**
 * A small picture description (rectangles, lines, dots, text, digit images)
 * drawn two ways: rasterised into an 8-bit RGB PNG with the bitmap font, and
 * written as an SVG with real text. Charts build one scene and get both files,
 * which then agree on every position. No canvas or DOM: runs in browsers and Node.
 */
import { encode } from 'fast-png';
import { IMAGE_SIZE, PIXELS_PER_IMAGE } from '../data/dataset.js';
import { bytesToBase64 } from './base64.js';
import { GLYPH_HEIGHT, drawText, fillRect, textWidth, type Rgb } from './font.js';
import { escapeXml } from './grid.js';

export type Point = readonly [x: number, y: number];
export type TextAnchor = 'start' | 'middle' | 'end';

/** Something drawn. Coordinates are in output pixels, origin top left. */
export type Shape =
  | {
      readonly kind: 'rect';
      readonly x: number;
      readonly y: number;
      readonly width: number;
      readonly height: number;
      readonly fill: Rgb;
    }
  | {
      /** An anti-aliased polyline with round joins and caps; `dash` is `[on, off]` in pixels. */
      readonly kind: 'line';
      readonly points: readonly Point[];
      readonly stroke: Rgb;
      readonly width: number;
      readonly dash?: readonly [number, number];
    }
  | { readonly kind: 'dot'; readonly x: number; readonly y: number; readonly radius: number; readonly fill: Rgb }
  | {
      /** Text whose glyph tops sit at `y`; `x` is its start, middle or end per `anchor`. */
      readonly kind: 'text';
      readonly x: number;
      readonly y: number;
      readonly text: string;
      readonly fill: Rgb;
      /** Output pixels per font pixel (the text is `7 * scale` pixels high). */
      readonly scale: number;
      readonly anchor?: TextAnchor;
      readonly bold?: boolean;
      /** An SVG class, so readers (and tests) can find the text by its role. */
      readonly role?: string;
    }
  | {
      /** Image `index` of `pixels` (784 bytes each, 255 = ink), dark ink on white, `scale` px per pixel. */
      readonly kind: 'digit';
      readonly x: number;
      readonly y: number;
      readonly scale: number;
      readonly pixels: Uint8Array;
      readonly index: number;
    };

export interface Scene {
  readonly width: number;
  readonly height: number;
  /** Read by screen readers in the SVG. */
  readonly title: string;
  readonly shapes: readonly Shape[];
}

/** The pixel width of a text shape as the PNG draws it (bold adds a shifted second pass). */
export function textPixels(text: string, scale: number, bold = false): number {
  return textWidth(text) * scale + (bold ? boldShift(scale) : 0);
}

/** Height of one line of text at `scale`, in pixels. */
export function lineHeight(scale: number): number {
  return GLYPH_HEIGHT * scale;
}

export function sceneToPng(scene: Scene): Uint8Array {
  const { width, height } = scene;
  const data = new Uint8Array(width * height * 3).fill(255);
  const coverage = new Float32Array(width * height);
  for (const shape of scene.shapes) {
    switch (shape.kind) {
      case 'rect':
        fillRect(
          data,
          width,
          height,
          Math.round(shape.x),
          Math.round(shape.y),
          Math.round(shape.width),
          Math.round(shape.height),
          shape.fill,
        );
        break;
      case 'line':
        strokeLine(data, coverage, width, height, shape.points, shape.stroke, shape.width, shape.dash);
        break;
      case 'dot':
        fillDot(data, width, height, shape.x, shape.y, shape.radius, shape.fill);
        break;
      case 'text': {
        const w = textPixels(shape.text, shape.scale, shape.bold);
        const anchor = shape.anchor ?? 'start';
        const x = Math.round(anchor === 'start' ? shape.x : anchor === 'middle' ? shape.x - w / 2 : shape.x - w);
        const y = Math.round(shape.y);
        drawText(data, width, x, y, shape.text, shape.fill, shape.scale);
        if (shape.bold === true)
          drawText(data, width, x + boldShift(shape.scale), y, shape.text, shape.fill, shape.scale);
        break;
      }
      case 'digit': {
        const offset = shape.index * PIXELS_PER_IMAGE;
        const s = shape.scale;
        const x = Math.round(shape.x);
        const y = Math.round(shape.y);
        for (let py = 0; py < IMAGE_SIZE; py++) {
          for (let px = 0; px < IMAGE_SIZE; px++) {
            const grey = 255 - (shape.pixels[offset + py * IMAGE_SIZE + px] as number);
            fillRect(data, width, height, x + px * s, y + py * s, s, s, [grey, grey, grey]);
          }
        }
        break;
      }
    }
  }
  return encode({ width, height, data, depth: 8, channels: 3 });
}

export function sceneToSvg(scene: Scene): string {
  const { width, height } = scene;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="ui-monospace, Menlo, Consolas, 'DejaVu Sans Mono', monospace">`,
    `<title>${escapeXml(scene.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  for (const shape of scene.shapes) {
    switch (shape.kind) {
      case 'rect':
        parts.push(
          `<rect x="${num(shape.x)}" y="${num(shape.y)}" width="${num(shape.width)}" height="${num(shape.height)}" fill="${hex(shape.fill)}"/>`,
        );
        break;
      case 'line': {
        const points = shape.points.map(([x, y]) => `${num(x)},${num(y)}`).join(' ');
        const dash = shape.dash === undefined ? '' : ` stroke-dasharray="${num(shape.dash[0])} ${num(shape.dash[1])}"`;
        parts.push(
          `<polyline points="${points}" fill="none" stroke="${hex(shape.stroke)}" stroke-width="${num(shape.width)}" ` +
            `stroke-linecap="round" stroke-linejoin="round"${dash}/>`,
        );
        break;
      }
      case 'dot':
        parts.push(
          `<circle cx="${num(shape.x)}" cy="${num(shape.y)}" r="${num(shape.radius)}" fill="${hex(shape.fill)}"/>`,
        );
        break;
      case 'text': {
        // The bitmap font's capitals fill its 7-pixel cell; a monospace font's cap height is about 0.7 em.
        const size = Math.round(lineHeight(shape.scale) * 1.45);
        const anchor = shape.anchor === undefined || shape.anchor === 'start' ? '' : ` text-anchor="${shape.anchor}"`;
        const bold = shape.bold === true ? ' font-weight="bold"' : '';
        const role = shape.role === undefined ? '' : ` class="${escapeXml(shape.role)}"`;
        parts.push(
          `<text${role} x="${num(shape.x)}" y="${num(shape.y + lineHeight(shape.scale))}" font-size="${size}"${anchor}${bold} ` +
            `fill="${hex(shape.fill)}">${escapeXml(shape.text)}</text>`,
        );
        break;
      }
      case 'digit': {
        const side = IMAGE_SIZE * shape.scale;
        parts.push(
          `<image x="${num(shape.x)}" y="${num(shape.y)}" width="${side}" height="${side}" image-rendering="optimizeSpeed" ` +
            `style="image-rendering:pixelated" href="data:image/png;base64,${bytesToBase64(digitPng(shape.pixels, shape.index))}"/>`,
        );
        break;
      }
    }
  }
  parts.push('</svg>\n');
  return parts.join('\n');
}

/** `#rrggbb` for an RGB colour. */
export function hex([r, g, b]: Rgb): string {
  return `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`;
}

/** A colour `t` (0..1) of the way from `a` to `b`. */
export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  const u = Math.min(1, Math.max(0, t));
  return [
    Math.round(a[0] + (b[0] - a[0]) * u),
    Math.round(a[1] + (b[1] - a[1]) * u),
    Math.round(a[2] + (b[2] - a[2]) * u),
  ];
}

function boldShift(scale: number): number {
  return Math.max(1, Math.floor(scale / 2));
}

function num(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** One digit as a 28 x 28 8-bit grey PNG, inverted to dark ink on white. */
function digitPng(pixels: Uint8Array, index: number): Uint8Array {
  const data = new Uint8Array(PIXELS_PER_IMAGE);
  const offset = index * PIXELS_PER_IMAGE;
  for (let i = 0; i < PIXELS_PER_IMAGE; i++) data[i] = 255 - (pixels[offset + i] as number);
  return encode({ width: IMAGE_SIZE, height: IMAGE_SIZE, data, depth: 8, channels: 1 });
}

/**
 * Strokes a polyline: each pixel gets the coverage of its centre by the nearest
 * piece (a capsule of the line's width, softened over one pixel), the maximum
 * over all pieces, so joins and overlapping dashes are not painted twice.
 * `coverage` is a zeroed scratch buffer of `width * height`, left zeroed.
 */
function strokeLine(
  data: Uint8Array,
  coverage: Float32Array,
  width: number,
  height: number,
  points: readonly Point[],
  color: Rgb,
  lineWidth: number,
  dash: readonly [number, number] | undefined,
): void {
  if (points.length === 0) return;
  const half = lineWidth / 2;
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (const piece of dash === undefined ? [points] : dashPieces(points, dash)) {
    // A one-point piece is a zero-length segment: a round dot of the line's width.
    for (let k = Math.min(1, piece.length - 1); k < piece.length; k++) {
      const a = piece[Math.max(0, k - 1)] as Point;
      const b = piece[k] as Point;
      const left = Math.max(0, Math.floor(Math.min(a[0], b[0]) - half - 1));
      const top = Math.max(0, Math.floor(Math.min(a[1], b[1]) - half - 1));
      const right = Math.min(width - 1, Math.ceil(Math.max(a[0], b[0]) + half + 1));
      const bottom = Math.min(height - 1, Math.ceil(Math.max(a[1], b[1]) + half + 1));
      for (let py = top; py <= bottom; py++) {
        for (let px = left; px <= right; px++) {
          const c = half + 0.5 - distanceToSegment(px + 0.5, py + 0.5, a, b);
          if (c <= 0) continue;
          const i = py * width + px;
          coverage[i] = Math.max(coverage[i] as number, Math.min(1, c));
        }
      }
      x0 = Math.min(x0, left);
      y0 = Math.min(y0, top);
      x1 = Math.max(x1, right);
      y1 = Math.max(y1, bottom);
    }
  }
  for (let py = y0; py <= y1; py++) {
    for (let px = x0; px <= x1; px++) {
      const i = py * width + px;
      const c = coverage[i] as number;
      if (c === 0) continue;
      coverage[i] = 0;
      blend(data, i * 3, color, c);
    }
  }
}

function fillDot(data: Uint8Array, width: number, height: number, x: number, y: number, r: number, color: Rgb): void {
  const left = Math.max(0, Math.floor(x - r - 1));
  const top = Math.max(0, Math.floor(y - r - 1));
  const right = Math.min(width - 1, Math.ceil(x + r + 1));
  const bottom = Math.min(height - 1, Math.ceil(y + r + 1));
  for (let py = top; py <= bottom; py++) {
    for (let px = left; px <= right; px++) {
      const c = r + 0.5 - Math.hypot(px + 0.5 - x, py + 0.5 - y);
      if (c > 0) blend(data, (py * width + px) * 3, color, Math.min(1, c));
    }
  }
}

function blend(data: Uint8Array, o: number, [r, g, b]: Rgb, alpha: number): void {
  data[o] = Math.round((data[o] as number) + (r - (data[o] as number)) * alpha);
  data[o + 1] = Math.round((data[o + 1] as number) + (g - (data[o + 1] as number)) * alpha);
  data[o + 2] = Math.round((data[o + 2] as number) + (b - (data[o + 2] as number)) * alpha);
}

function distanceToSegment(x: number, y: number, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const length2 = dx * dx + dy * dy;
  const t = length2 === 0 ? 0 : Math.min(1, Math.max(0, ((x - a[0]) * dx + (y - a[1]) * dy) / length2));
  return Math.hypot(x - (a[0] + t * dx), y - (a[1] + t * dy));
}

/** The "on" stretches of a dashed polyline, the pattern running on across its vertices as SVG's does. */
function dashPieces(points: readonly Point[], [on, off]: readonly [number, number]): Point[][] {
  const pieces: Point[][] = [];
  let drawing = true;
  let left = on;
  let current: Point[] = [points[0] as Point];
  for (let k = 1; k < points.length; k++) {
    let a = points[k - 1] as Point;
    const b = points[k] as Point;
    let length = Math.hypot(b[0] - a[0], b[1] - a[1]);
    while (length > left) {
      const t = left / length;
      const cut: Point = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
      if (drawing) {
        current.push(cut);
        pieces.push(current);
      } else {
        current = [cut];
      }
      drawing = !drawing;
      length -= left;
      left = drawing ? on : off;
      a = cut;
    }
    left -= length;
    if (drawing) current.push(b);
  }
  if (drawing && current.length > 1) pieces.push(current);
  return pieces;
}

/** Reading back the pictures the library draws: PNG pixels and SVG elements. */
import { decode } from 'fast-png';
import { expect } from 'vitest';

export interface Picture {
  readonly width: number;
  readonly height: number;
  at(x: number, y: number): [number, number, number];
}

/** Decodes a PNG, expecting 8-bit RGB of the given size. */
export function decodeRgbPng(png: Uint8Array, width: number, height: number): Picture {
  const image = decode(png);
  expect(image.depth).toBe(8);
  expect(image.channels).toBe(3);
  expect([image.width, image.height]).toEqual([width, height]);
  const data = image.data as Uint8Array;
  return {
    width,
    height,
    at: (x, y) => {
      const o = (Math.floor(y) * width + Math.floor(x)) * 3;
      return [data[o] as number, data[o + 1] as number, data[o + 2] as number];
    },
  };
}

/** `#1f77b4` -> `[31, 119, 180]`. */
export function rgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * Checks XML well-formedness strictly enough for generated SVG: balanced tags,
 * double-quoted attributes without `<`, only the five predefined entities,
 * nothing but whitespace around the root, which is an SVG element.
 */
export function expectWellFormedSvg(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  let match: RegExpExecArray | null;
  while ((match = tag.exec(xml)) !== null) {
    const between = xml.slice(last, match.index);
    expect(between).not.toMatch(/[<>]/);
    expect(between).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
    if (stack.length === 0) expect(between.trim()).toBe('');
    last = tag.lastIndex;
    const [, closing, name, attributes, selfClosing] = match;
    expect(attributes ?? '').not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
    if (closing === '/') expect(stack.pop()).toBe(name);
    else if (selfClosing !== '/') stack.push(name as string);
  }
  expect(xml.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(xml.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
}

/** Unescapes the five XML entities. */
function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** The texts of the SVG's `<text class="role">` elements, in document order. */
export function svgTexts(svg: string, role: string): string[] {
  const re = new RegExp(`<text class="${role}"[^>]*>([^<]*)</text>`, 'g');
  return [...svg.matchAll(re)].map((m) => unescapeXml(m[1] as string));
}

/** Attributes of every `<name .../>` element, in document order. */
export function svgElements(svg: string, name: string): Record<string, string>[] {
  const re = new RegExp(`<${name}\\s([^>]*?)/?>`, 'g');
  return [...svg.matchAll(re)].map((m) =>
    Object.fromEntries([...(m[1] as string).matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])),
  );
}

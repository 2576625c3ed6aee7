/**
 * A picture's dimensions read from its header, before it is decoded: a few
 * kilobytes of PNG can claim to be 100,000 x 100,000 pixels, 40 GB once
 * decoded, so a picture from a user is measured and bounded first.
 *
 * @module
 */
import { inputTooLarge, DEFAULT_MAX_IMAGE_PIXELS, limitOption } from '../limits.js';

/** A picture's format and dimensions, as its header records them. */
export interface ImageSize {
  readonly format: 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp';
  readonly width: number;
  readonly height: number;
}

/**
 * Reads the width and height a PNG, JPEG, GIF, WebP or BMP file records, from
 * its bytes (the whole file, or at least its start: a JPEG's size may follow
 * its metadata). `undefined` for another format or a header cut short.
 */
export function readImageSize(bytes: Uint8Array): ImageSize | undefined {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const has = (n: number): boolean => bytes.length >= n;
  const ascii = (at: number, text: string): boolean =>
    has(at + text.length) && [...text].every((c, i) => bytes[at + i] === c.charCodeAt(0));
  if (has(24) && bytes[0] === 0x89 && ascii(1, 'PNG\r\n\u001a\n') && ascii(12, 'IHDR')) {
    return { format: 'png', width: v.getUint32(16), height: v.getUint32(20) };
  }
  if (has(10) && (ascii(0, 'GIF87a') || ascii(0, 'GIF89a'))) {
    return { format: 'gif', width: v.getUint16(6, true), height: v.getUint16(8, true) };
  }
  if (has(26) && ascii(0, 'BM')) {
    // BITMAPCOREHEADER (12 bytes) has 16-bit sizes; the later headers 32-bit, height negative when top-down.
    if (v.getUint32(14, true) === 12)
      return { format: 'bmp', width: v.getUint16(18, true), height: v.getUint16(20, true) };
    return { format: 'bmp', width: Math.abs(v.getInt32(18, true)), height: Math.abs(v.getInt32(22, true)) };
  }
  if (has(30) && ascii(0, 'RIFF') && ascii(8, 'WEBP')) return webpSize(bytes, v);
  if (has(4) && bytes[0] === 0xff && bytes[1] === 0xd8) return jpegSize(bytes, v);
  return undefined;
}

function webpSize(bytes: Uint8Array, v: DataView): ImageSize | undefined {
  const chunk = String.fromCharCode(...bytes.subarray(12, 16));
  if (chunk === 'VP8X') {
    const u24 = (at: number): number =>
      (bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16);
    return { format: 'webp', width: u24(24) + 1, height: u24(27) + 1 };
  }
  if (chunk === 'VP8L' && bytes[20] === 0x2f) {
    const bits = v.getUint32(21, true);
    return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ' && bytes[23] === 0x9d && bytes[24] === 0x01 && bytes[25] === 0x2a) {
    return { format: 'webp', width: v.getUint16(26, true) & 0x3fff, height: v.getUint16(28, true) & 0x3fff };
  }
  return undefined;
}

/** Walks a JPEG's segments to its frame header (SOFn), skipping metadata by length. */
function jpegSize(bytes: Uint8Array, v: DataView): ImageSize | undefined {
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return undefined;
    const marker = bytes[p + 1] as number;
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      p += 2; // markers without a length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // image data, or the end, before any frame header
    const length = v.getUint16(p + 2);
    const frame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (frame) {
      if (p + 9 > bytes.length) return undefined;
      return { format: 'jpeg', width: v.getUint16(p + 7), height: v.getUint16(p + 5) };
    }
    if (length < 2) return undefined;
    p += 2 + length;
  }
  return undefined;
}

/** Options of {@link checkImageSize}. */
export interface CheckImageSizeOptions {
  /** Most pixels accepted; default {@link DEFAULT_MAX_IMAGE_PIXELS}. */
  readonly maxPixels?: number;
  /** Name for the message (a file name); default `<image>`. */
  readonly name?: string;
}

/**
 * Throws {@link DigitInputError} `TOO_LARGE` when a `width x height` picture
 * has more than `maxPixels` pixels: call it with {@link readImageSize}'s
 * answer before decoding a picture from a user.
 * @throws {RangeError} when the sizes are not positive integers.
 */
export function checkImageSize(width: number, height: number, options: CheckImageSizeOptions = {}): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`width and height must be positive integers, got ${width} x ${height}`);
  }
  const maxPixels = limitOption(options.maxPixels, 'maxPixels', DEFAULT_MAX_IMAGE_PIXELS);
  if (width * height > maxPixels) {
    throw inputTooLarge(
      { file: options.name ?? '<image>' },
      `the picture is ${width} x ${height} pixels, more than allowed`,
      'maxPixels',
      maxPixels,
    );
  }
}

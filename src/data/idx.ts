/**
 * Parsing of IDX files, the format of the original MNIST distribution
 * (http://yann.lecun.com/exdb/mnist/): a big-endian magic number
 * `0x0000TTDD` (TT the element type, DD the number of dimensions), DD
 * big-endian uint32 sizes, then the elements. Only unsigned bytes (type 0x08)
 * are supported, which is what MNIST uses.
 *
 * @module
 */
import { DigitInputError } from '../errors.js';
import { IMAGE_SIZE, NUM_CLASSES, PIXELS_PER_IMAGE } from './dataset.js';

/** Magic number of an IDX file of uint8 images `[n, rows, cols]`. */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of an IDX file of uint8 labels `[n]`. */
export const IDX_LABELS_MAGIC = 0x00000801;

/** The contents of an IDX file of unsigned bytes. */
export interface IdxArray {
  /** Sizes of each dimension, outermost first. */
  readonly dims: readonly number[];
  /** The elements, row-major; a view into the input bytes (not a copy). */
  readonly data: Uint8Array;
}

/**
 * Parses an IDX file of unsigned bytes.
 *
 * @param bytes The whole file.
 * @param file Name used in error messages.
 * @throws {DigitInputError} `BAD_IDX` for a wrong magic number, an element type
 * other than uint8, or data shorter or longer than the header announces.
 */
export function parseIdx(bytes: Uint8Array, file = '<idx>'): IdxArray {
  if (bytes.length < 4)
    throw new DigitInputError('BAD_IDX', { file }, `${bytes.length} bytes is too short for an IDX file (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DigitInputError(
      'BAD_IDX',
      { file },
      `bad magic number 0x${hex(magic)}: not an IDX file (gzip-compressed? expected 0x00000803 or 0x00000801)`,
    );
  }
  if (bytes[2] !== 0x08) {
    throw new DigitInputError(
      'BAD_IDX',
      { file },
      `IDX element type 0x${(bytes[2] ?? 0).toString(16).padStart(2, '0')} is not supported; only unsigned bytes (0x08)`,
    );
  }
  const rank = bytes[3] ?? 0;
  const headerBytes = 4 + 4 * rank;
  if (rank === 0) throw new DigitInputError('BAD_IDX', { file }, 'IDX file with zero dimensions');
  if (bytes.length < headerBytes) {
    throw new DigitInputError(
      'BAD_IDX',
      { file },
      `truncated IDX header: ${rank} dimensions need ${headerBytes} bytes, the file has ${bytes.length}`,
    );
  }
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < rank; i++) {
    const dim = view.getUint32(4 + 4 * i);
    dims.push(dim);
    size *= dim;
  }
  const available = bytes.length - headerBytes;
  if (available < size) {
    throw new DigitInputError(
      'BAD_IDX',
      { file },
      `truncated IDX data: dimensions [${dims.join(', ')}] need ${size} bytes after the header, the file has ${available}`,
    );
  }
  if (available > size) {
    throw new DigitInputError(
      'BAD_IDX',
      { file },
      `${available - size} unexpected bytes after the IDX data of dimensions [${dims.join(', ')}]`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/**
 * Parses an MNIST image file (magic 0x00000803, dimensions `[n, 28, 28]`).
 * Pixels keep their IDX values: 0 background, 255 ink, as in the Kaggle CSV.
 *
 * @returns `count` images and `count * 784` pixels (a view into `bytes`).
 * @throws {DigitInputError} `BAD_IDX` for another magic number or image size, or truncated data.
 */
export function parseIdxImages(bytes: Uint8Array, file = '<idx>'): { count: number; pixels: Uint8Array } {
  const idx = parseIdxWithMagic(bytes, file, IDX_IMAGES_MAGIC, 'images');
  const [count = 0, rows, cols] = idx.dims;
  if (idx.dims.length !== 3 || rows !== IMAGE_SIZE || cols !== IMAGE_SIZE) {
    throw new DigitInputError(
      'BAD_IDX',
      { file },
      `image dimensions [${idx.dims.join(', ')}], expected [n, ${IMAGE_SIZE}, ${IMAGE_SIZE}]`,
    );
  }
  return { count, pixels: idx.data.subarray(0, count * PIXELS_PER_IMAGE) };
}

/**
 * Parses an MNIST label file (magic 0x00000801, dimensions `[n]`, values 0..9).
 *
 * @returns The labels (a view into `bytes`).
 * @throws {DigitInputError} `BAD_IDX` for another magic number, truncated data or a label above 9.
 */
export function parseIdxLabels(bytes: Uint8Array, file = '<idx>'): Uint8Array {
  const idx = parseIdxWithMagic(bytes, file, IDX_LABELS_MAGIC, 'labels');
  if (idx.dims.length !== 1)
    throw new DigitInputError('BAD_IDX', { file }, `label dimensions [${idx.dims.join(', ')}], expected [n]`);
  const bad = idx.data.findIndex((label) => label >= NUM_CLASSES);
  if (bad >= 0)
    throw new DigitInputError('BAD_IDX', { file }, `label ${idx.data[bad]} at index ${bad} is outside 0..9`);
  return idx.data;
}

function parseIdxWithMagic(bytes: Uint8Array, file: string, magic: number, what: string): IdxArray {
  if (bytes.length >= 4) {
    const found = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
    if (found !== magic) {
      throw new DigitInputError(
        'BAD_IDX',
        { file },
        `magic number 0x${hex(found)} is not that of IDX ${what} (0x${hex(magic)})`,
      );
    }
  }
  return parseIdx(bytes, file);
}

function hex(value: number): string {
  return value.toString(16).padStart(8, '0');
}

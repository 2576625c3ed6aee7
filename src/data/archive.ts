/**
 * gzip decompression for CSV sources, built on fflate's streaming classes so
 * that a row limit stops inflating early and memory stays at the chunks in
 * flight, whatever the inflated size (zip members: `zip.ts`).
 *
 * @module
 */
import { Gunzip } from 'fflate';
import { DigitInputError } from '../errors.js';
import { crc32Update } from './crc32.js';

/**
 * Sizes the slices of compressed bytes handed to an fflate inflater. fflate
 * inflates all it is given in one call, buffers doubling, and deflate can
 * expand 1032-fold, so a slice bounds what one call allocates. A slice aims
 * at {@link TARGET_OUT} bytes out at the highest expansion met so far: a real
 * CSV (under 20-fold) gets the largest slices, a bomb the smallest from its
 * second slice on, and no later stretch of tame data makes them large again.
 * The consumer pulls the output chunk by chunk, so nothing else piles up.
 */
export class InflateSlicer {
  private expansion = 0;

  /** Bytes to hand the inflater next. */
  next(): number {
    if (this.expansion === 0) return FIRST_SLICE;
    return Math.max(MIN_SLICE, Math.min(MAX_SLICE, Math.floor(TARGET_OUT / this.expansion)));
  }

  /** Records that `input` compressed bytes gave `output` bytes. */
  record(input: number, output: number): void {
    if (input > 0) this.expansion = Math.max(this.expansion, output / input);
  }
}

/** Output aimed at per inflater call. */
const TARGET_OUT = 1 << 18;
/** Largest slice: at most about 17 MB out however the data was made (the very first bomb slice). */
const MAX_SLICE = 1 << 14;
const MIN_SLICE = 1 << 8;
/** Before any expansion is known: at most about 1 MB out. */
const FIRST_SLICE = 1 << 10;

/**
 * Inflates a gzip stream chunk by chunk. Throws `CORRUPT_ARCHIVE` for bad or
 * truncated data, checked against the trailer's CRC-32 and size for a
 * single-member file (fflate does not check them); errors of the underlying
 * source pass through.
 */
export async function* gunzipChunks(input: AsyncIterable<Uint8Array>, file: string): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const slicer = new InflateSlicer();
  let crc = 0;
  let size = 0;
  let members = 1;
  /** The last 8 bytes of input seen: the trailer (CRC-32, size mod 2^32) once the input ends. */
  let tail: Uint8Array = new Uint8Array(0);
  const gunzip = new Gunzip((data) => {
    if (data.length > 0) {
      crc = crc32Update(crc, data);
      size += data.length;
      out.push(data);
    }
  });
  gunzip.onmember = () => {
    members++;
  };
  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      gunzip.push(chunk, final);
    } catch (error) {
      throw new DigitInputError('CORRUPT_ARCHIVE', { file }, `not a readable gzip file (${(error as Error).message})`, {
        cause: error,
      });
    }
  };
  for await (const chunk of input) {
    tail = chunk.length >= 8 ? chunk.slice(chunk.length - 8) : lastBytes(tail, chunk, 8);
    for (let offset = 0; offset < chunk.length;) {
      const slice = chunk.subarray(offset, offset + slicer.next());
      const before = size;
      push(slice, false);
      slicer.record(slice.length, size - before);
      offset += slice.length;
      while (out.length > 0) yield out.shift() as Uint8Array;
    }
  }
  push(new Uint8Array(0), true);
  while (out.length > 0) yield out.shift() as Uint8Array;
  if (members === 1 && tail.length === 8) {
    const view = new DataView(tail.buffer, tail.byteOffset, 8);
    const wantCrc = view.getUint32(0, true);
    const wantSize = view.getUint32(4, true);
    if (wantCrc !== crc || wantSize !== size % 2 ** 32) {
      throw new DigitInputError(
        'CORRUPT_ARCHIVE',
        { file },
        `the gzip file is truncated or damaged: its data has CRC-32 ${hex(crc)} and ${size} bytes, the trailer records ${hex(wantCrc)} and ${wantSize} bytes; download it again`,
      );
    }
  }
}

/** The last `n` bytes of `a` followed by `b`. */
function lastBytes(a: Uint8Array, b: Uint8Array, n: number): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined.slice(Math.max(0, joined.length - n));
}

function hex(crc: number): string {
  return crc.toString(16).padStart(8, '0');
}

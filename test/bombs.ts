/**
 * Decompression bombs for the hostile-input tests, made on the fly and never
 * committed: a small gzip or zip file whose CSV inflates to gigabytes.
 *
 * A segment is deflated once with a full flush (byte-aligned, no reference to
 * earlier data), so its compressed bytes can simply be repeated: 1,500 copies
 * of a 1 MiB segment inflate to 1.5 GiB from about 1.5 MB, as fast as the
 * bytes can be written.
 */
import { writeFileSync } from 'node:fs';
import { constants, crc32, deflateRawSync } from 'node:zlib';

/** What a bomb inflates to: `head`, then `body` `times` times, then `tail`. */
export interface BombContent {
  readonly head: string;
  readonly body: string;
  readonly times: number;
  readonly tail?: string;
}

interface Deflated {
  readonly parts: Uint8Array[];
  readonly size: number;
  readonly crc: number;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function deflateBomb({ head, body, times, tail = '' }: BombContent): Deflated {
  const flushed = (s: string): Uint8Array => deflateRawSync(enc(s), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const segment = flushed(body);
  const parts = [flushed(head), ...Array.from({ length: times }, () => segment), deflateRawSync(enc(tail))];
  const bodyBytes = enc(body);
  // Node 20's zlib.crc32 returns 0 for an empty TextEncoder result, so empty parts are skipped.
  let crc = 0;
  for (const [bytes, n] of [
    [enc(head), 1],
    [bodyBytes, times],
    [enc(tail), 1],
  ] as const)
    for (let i = 0; i < n && bytes.length > 0; i++) crc = crc32(bytes, crc);
  return { parts, size: enc(head).length + bodyBytes.length * times + enc(tail).length, crc };
}

const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
const u16 = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff);
const u64 = (n: number): Uint8Array => Buffer.concat([u32(n % 2 ** 32), u32(Math.floor(n / 2 ** 32))]);

/** Writes a gzip bomb to `file`; returns its inflated size. */
export function writeGzipBomb(file: string, content: BombContent): number {
  const { parts, size, crc } = deflateBomb(content);
  const header = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3);
  writeFileSync(file, Buffer.concat([header, ...parts, u32(crc), u32(size % 2 ** 32)]));
  return size;
}

/**
 * Writes a zip bomb with one deflated member `name` to `file`; returns its
 * inflated size. `declaredSize` is the size its headers record (default the
 * true one): a smaller one makes a lying zip. With `zip64` the sizes go in
 * zip64 extra fields and records, as for members over 4 GiB.
 */
export function writeZipBomb(
  file: string,
  name: string,
  content: BombContent,
  options: { declaredSize?: number; zip64?: boolean } = {},
): { size: number; declared: number } {
  const { parts, size, crc } = deflateBomb(content);
  const declared = options.declaredSize ?? size;
  const zip64 = options.zip64 === true;
  if (!zip64 && declared >= 2 ** 32) throw new RangeError('a declared size over 4 GiB needs zip64');
  const compressed = parts.reduce((n, p) => n + p.length, 0);
  const fileName = enc(name);
  const sizes = zip64 ? [u32(0xffffffff), u32(0xffffffff)] : [u32(compressed), u32(declared)];
  const extra = zip64 ? Buffer.concat([u16(1), u16(16), u64(declared), u64(compressed)]) : new Uint8Array(0);
  const common = [u16(zip64 ? 45 : 20), u16(0), u16(8), u16(0), u16(0x21), u32(crc), ...sizes];
  const local = Buffer.concat([u32(0x04034b50), ...common, u16(fileName.length), u16(extra.length), fileName, extra]);
  const central = Buffer.concat([
    u32(0x02014b50),
    u16(45),
    ...common,
    u16(fileName.length),
    u16(extra.length),
    u16(0),
    u16(0),
    u16(0),
    u32(0),
    u32(0),
    fileName,
    extra,
  ]);
  const directoryOffset = local.length + compressed;
  const records: Uint8Array[] = [];
  if (zip64) {
    const end64 = Buffer.concat([
      u32(0x06064b50),
      u64(44),
      u16(45),
      u16(45),
      u32(0),
      u32(0),
      u64(1),
      u64(1),
      u64(central.length),
      u64(directoryOffset),
    ]);
    const locator = Buffer.concat([u32(0x07064b50), u32(0), u64(directoryOffset + central.length), u32(1)]);
    records.push(end64, locator);
  }
  const end = Buffer.concat([
    u32(0x06054b50),
    u16(0),
    u16(0),
    u16(zip64 ? 0xffff : 1),
    u16(zip64 ? 0xffff : 1),
    u32(zip64 ? 0xffffffff : central.length),
    u32(zip64 ? 0xffffffff : directoryOffset),
    u16(0),
  ]);
  writeFileSync(file, Buffer.concat([local, ...parts, central, ...records, end]));
  return { size, declared };
}

/** Kaggle's test.csv header line. */
export const TEST_HEADER = `${Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',')}\n`;
/** A valid all-zero test.csv row (1,568 bytes). */
export const ZERO_ROW = `${'0,'.repeat(783)}0\n`;

/**
 * gzip and zip decompression for CSV sources, built on fflate's streaming
 * classes so that a row limit stops inflating early and memory stays at about
 * the compressed size plus the chunks in flight.
 *
 * @module
 */
import { Gunzip, Unzip, UnzipInflate, unzipSync } from 'fflate';
import { DigitInputError } from '../errors.js';
import { crc32Update } from './crc32.js';
import type { DigitCsvInput } from './source.js';

/** Compressed bytes handed to the inflater at a time (about 8 MB of CSV out). */
const INFLATE_SLICE = 1 << 20;

/** One member of a zip archive, from its central directory. */
export interface ZipMemberInfo {
  /** Path inside the archive. */
  readonly name: string;
  /** Uncompressed size in bytes. */
  readonly size: number;
  /** Compression method (0 stored, 8 deflate). */
  readonly compression: number;
}

/**
 * Lists the files of a zip archive (directories left out) from its central
 * directory without inflating anything. Throws `CORRUPT_ARCHIVE` when the
 * bytes are not a readable zip. `folders`, when given, receives the directory
 * entries left out.
 */
export function listZipMembers(archive: Uint8Array, file: string, folders?: string[]): ZipMemberInfo[] {
  const members: ZipMemberInfo[] = [];
  try {
    unzipSync(archive, {
      filter: (info) => {
        if (!info.name.endsWith('/'))
          members.push({ name: info.name, size: info.originalSize, compression: info.compression });
        else folders?.push(info.name);
        return false;
      },
    });
  } catch (error) {
    throw new DigitInputError('CORRUPT_ARCHIVE', { file }, `not a readable zip archive (${(error as Error).message})`, {
      cause: error,
    });
  }
  return members;
}

/**
 * Picks the CSV member of a zip archive and streams it inflated. `member`
 * matches a full path in the archive or, when unique, a base name; without it
 * the archive must hold exactly one `.csv` file. Errors: `ZIP_MEMBER_MISSING`
 * (naming the members), `CORRUPT_ARCHIVE`, `UNSUPPORTED` (compression method).
 */
export function openZipMember(archive: Uint8Array, file: string, member: string | undefined): DigitCsvInput {
  const folders: string[] = [];
  const members = listZipMembers(archive, file, folders);
  const names = members.map((m) => m.name);
  const listing =
    names.length > 0
      ? `the archive holds ${names.join(', ')}`
      : folders.length > 0
        ? `the archive holds only folders (${folders.join(', ')}), no files`
        : 'the archive is empty';
  let chosen: ZipMemberInfo | undefined;
  if (member === undefined) {
    const csvs = members.filter((m) => /\.csv$/i.test(m.name) && !m.name.startsWith('__MACOSX/'));
    if (csvs.length !== 1) {
      throw new DigitInputError(
        'ZIP_MEMBER_MISSING',
        { file },
        `${csvs.length === 0 ? 'no .csv file in the archive' : `${csvs.length} .csv files in the archive`}; pass options.member (${listing})`,
      );
    }
    chosen = csvs[0];
  } else {
    chosen = members.find((m) => m.name === member);
    if (chosen === undefined) {
      const byBase = members.filter((m) => baseName(m.name) === member);
      if (byBase.length === 1) chosen = byBase[0];
    }
    if (chosen === undefined) {
      throw new DigitInputError('ZIP_MEMBER_MISSING', { file }, `no member ${JSON.stringify(member)}; ${listing}`);
    }
  }
  const target = chosen as ZipMemberInfo;
  const name = `${file}:${target.name}`;
  if (target.compression !== 0 && target.compression !== 8) {
    throw new DigitInputError(
      'UNSUPPORTED',
      { file: name },
      `zip compression method ${target.compression} is not supported; re-zip with deflate`,
    );
  }
  const expectedCrc = centralDirectoryCrcs(archive).get(target.name);
  return { name, chunks: zipMemberChunks(archive, target.name, name, expectedCrc), size: target.size };
}

/**
 * The CRC-32 of each member, read from the zip's central directory (fflate
 * inflates without checking it). Best effort: an unexpected layout gives an
 * empty map and the member is then inflated unchecked, as before.
 */
function centralDirectoryCrcs(archive: Uint8Array): Map<string, number> {
  const crcs = new Map<string, number>();
  const view = new DataView(archive.buffer, archive.byteOffset, archive.byteLength);
  // The end-of-central-directory record: 22 bytes plus a comment of up to 65,535.
  let eocd = -1;
  for (let i = archive.length - 22; i >= 0 && i >= archive.length - 22 - 0xffff; i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return crcs;
  const entries = view.getUint16(eocd + 10, true);
  let p = view.getUint32(eocd + 16, true);
  const decoder = new TextDecoder();
  for (let n = 0; n < entries && p + 46 <= archive.length; n++) {
    if (view.getUint32(p, true) !== 0x02014b50) return new Map();
    const nameLength = view.getUint16(p + 28, true);
    const next = p + 46 + nameLength + view.getUint16(p + 30, true) + view.getUint16(p + 32, true);
    if (p + 46 + nameLength > archive.length) return new Map();
    crcs.set(decoder.decode(archive.subarray(p + 46, p + 46 + nameLength)), view.getUint32(p + 16, true));
    p = next;
  }
  return crcs;
}

function hex(crc: number): string {
  return crc.toString(16).padStart(8, '0');
}

async function* zipMemberChunks(
  archive: Uint8Array,
  member: string,
  name: string,
  expectedCrc: number | undefined,
): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  let failure: unknown;
  let finished = false;
  let crc = 0;
  const unzip = new Unzip((entry) => {
    if (entry.name !== member || finished) return;
    entry.ondata = (error, data, final) => {
      if (error) failure = error;
      else if (data.length > 0) {
        if (expectedCrc !== undefined) crc = crc32Update(crc, data);
        out.push(data);
      }
      if (final) finished = true;
    };
    entry.start();
  });
  unzip.register(UnzipInflate);
  for (let offset = 0; offset < archive.length && !finished && failure === undefined; offset += INFLATE_SLICE) {
    const end = Math.min(offset + INFLATE_SLICE, archive.length);
    try {
      unzip.push(archive.subarray(offset, end), end === archive.length);
    } catch (error) {
      failure = error;
    }
    while (out.length > 0) yield out.shift() as Uint8Array;
  }
  if (failure !== undefined || !finished) {
    const why = failure === undefined ? 'its data ends early' : (failure as Error).message;
    throw new DigitInputError('CORRUPT_ARCHIVE', { file: name }, `cannot inflate the zip member (${why})`, {
      cause: failure,
    });
  }
  if (expectedCrc !== undefined && crc !== expectedCrc) {
    throw new DigitInputError(
      'CORRUPT_ARCHIVE',
      { file: name },
      `CRC-32 mismatch: the member inflates to data with checksum ${hex(crc)}, the archive records ${hex(expectedCrc)}; the zip is damaged, download it again`,
    );
  }
}

/**
 * Inflates a gzip stream chunk by chunk. Throws `CORRUPT_ARCHIVE` for bad or
 * truncated data, checked against the trailer's CRC-32 and size for a
 * single-member file (fflate does not check them); errors of the underlying
 * source pass through.
 */
export async function* gunzipChunks(input: AsyncIterable<Uint8Array>, file: string): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
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
    for (let offset = 0; offset < chunk.length; offset += INFLATE_SLICE) {
      push(chunk.subarray(offset, offset + INFLATE_SLICE), false);
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

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}

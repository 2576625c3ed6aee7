/**
 * gzip and zip decompression for CSV sources, built on fflate's streaming
 * classes so that a row limit stops inflating early and memory stays at about
 * the compressed size plus the chunks in flight.
 *
 * @module
 */
import { Gunzip, Unzip, UnzipInflate, unzipSync } from 'fflate';
import { DigitInputError } from '../errors.js';
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
 * bytes are not a readable zip.
 */
export function listZipMembers(archive: Uint8Array, file: string): ZipMemberInfo[] {
  const members: ZipMemberInfo[] = [];
  try {
    unzipSync(archive, {
      filter: (info) => {
        if (!info.name.endsWith('/')) members.push({ name: info.name, size: info.originalSize, compression: info.compression });
        return false;
      },
    });
  } catch (error) {
    throw new DigitInputError('CORRUPT_ARCHIVE', { file }, `not a readable zip archive (${(error as Error).message})`, { cause: error });
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
  const members = listZipMembers(archive, file);
  const names = members.map((m) => m.name);
  const listing = names.length === 0 ? 'the archive is empty' : `the archive holds ${names.join(', ')}`;
  let chosen: ZipMemberInfo | undefined;
  if (member === undefined) {
    const csvs = members.filter((m) => /\.csv$/i.test(m.name) && !m.name.startsWith('__MACOSX/'));
    if (csvs.length !== 1) {
      throw new DigitInputError('ZIP_MEMBER_MISSING', { file },
        `${csvs.length === 0 ? 'no .csv file in the archive' : `${csvs.length} .csv files in the archive`}; pass options.member (${listing})`);
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
    throw new DigitInputError('UNSUPPORTED', { file: name }, `zip compression method ${target.compression} is not supported; re-zip with deflate`);
  }
  return { name, chunks: zipMemberChunks(archive, target.name, name), size: target.size };
}

async function* zipMemberChunks(archive: Uint8Array, member: string, name: string): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  let failure: unknown;
  let finished = false;
  const unzip = new Unzip((entry) => {
    if (entry.name !== member || finished) return;
    entry.ondata = (error, data, final) => {
      if (error) failure = error;
      else if (data.length > 0) out.push(data);
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
    throw new DigitInputError('CORRUPT_ARCHIVE', { file: name }, `cannot inflate the zip member (${why})`, { cause: failure });
  }
}

/**
 * Inflates a gzip stream chunk by chunk. Throws `CORRUPT_ARCHIVE` for bad or
 * truncated data; errors of the underlying source pass through.
 */
export async function* gunzipChunks(input: AsyncIterable<Uint8Array>, file: string): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const gunzip = new Gunzip((data) => {
    if (data.length > 0) out.push(data);
  });
  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      gunzip.push(chunk, final);
    } catch (error) {
      throw new DigitInputError('CORRUPT_ARCHIVE', { file }, `not a readable gzip file (${(error as Error).message})`, { cause: error });
    }
  };
  for await (const chunk of input) {
    for (let offset = 0; offset < chunk.length; offset += INFLATE_SLICE) {
      push(chunk.subarray(offset, offset + INFLATE_SLICE), false);
      while (out.length > 0) yield out.shift() as Uint8Array;
    }
  }
  push(new Uint8Array(0), true);
  while (out.length > 0) yield out.shift() as Uint8Array;
}

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}

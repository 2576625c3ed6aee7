/**
 * Reading one member of a zip archive with bounded memory: the central
 * directory is read from the archive's end, the member's declared size is
 * checked against the caller's limit before anything is inflated, and its
 * compressed bytes are read and inflated piece by piece (fflate's `Inflate`,
 * fed small slices so one push cannot balloon), stopping as soon as the data
 * inflates past the size the directory records.
 *
 * @module
 */
import { Inflate } from 'fflate';
import { DigitInputError } from '../errors.js';
import { inputTooLarge, MAX_ZIP_DIRECTORY_BYTES } from '../limits.js';
import { InflateSlicer } from './archive.js';
import { crc32Update } from './crc32.js';
import type { RandomAccessBytes } from './random_access.js';
import type { DigitCsvInput } from './source.js';

/** One member of a zip archive, from its central directory. */
export interface ZipMemberInfo {
  /** Path inside the archive; folders end with `/`. */
  readonly name: string;
  /** Uncompressed size in bytes, as recorded. */
  readonly size: number;
  readonly compressedSize: number;
  /** Compression method (0 stored, 8 deflate). */
  readonly compression: number;
  readonly crc: number;
  readonly flags: number;
  /** Offset of the member's local header. */
  readonly offset: number;
}

/** Compressed bytes read from the archive at a time. */
const READ_BYTES = 1 << 18;
const END_OF_DIRECTORY = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_END = 0x06064b50;
const DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;

function corrupt(file: string, why: string): DigitInputError {
  return new DigitInputError('CORRUPT_ARCHIVE', { file }, `not a readable zip archive (${why})`);
}

/** Reads a little-endian 64-bit size as a number (exact below 2^53). */
function u64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

/**
 * Lists every entry of a zip archive (folders too) from its central directory,
 * without inflating anything. Throws `CORRUPT_ARCHIVE` when the bytes are not
 * a readable zip.
 */
export async function readZipDirectory(reader: RandomAccessBytes, file: string): Promise<ZipMemberInfo[]> {
  // The end-of-central-directory record: 22 bytes plus a comment of up to 65,535.
  const tailStart = Math.max(0, reader.size - 22 - 0xffff);
  const tail = await reader.read(tailStart, reader.size - tailStart);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === END_OF_DIRECTORY) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt(file, 'no end of central directory: the file is cut short or is not a zip');
  let entries = tv.getUint16(eocd + 10, true);
  let directorySize = tv.getUint32(eocd + 12, true);
  let directoryOffset = tv.getUint32(eocd + 16, true);
  if (eocd >= 20 && tv.getUint32(eocd - 20, true) === ZIP64_LOCATOR) {
    const at = u64(tv, eocd - 12);
    const record = await reader.read(at, 56);
    const rv = new DataView(record.buffer, record.byteOffset, record.byteLength);
    if (record.length < 56 || rv.getUint32(0, true) !== ZIP64_END) throw corrupt(file, 'bad zip64 end record');
    entries = u64(rv, 32);
    directorySize = u64(rv, 40);
    directoryOffset = u64(rv, 48);
  }
  if (directoryOffset + directorySize > reader.size) throw corrupt(file, 'its directory lies past the end of the file');
  if (directorySize > MAX_ZIP_DIRECTORY_BYTES) {
    throw new DigitInputError(
      'TOO_LARGE',
      { file },
      `the archive's directory is ${directorySize} bytes, more than the ${MAX_ZIP_DIRECTORY_BYTES} read (a zip of a few CSVs needs a few hundred)`,
    );
  }
  const directory = await reader.read(directoryOffset, directorySize);
  const view = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
  const utf8 = new TextDecoder();
  const members: ZipMemberInfo[] = [];
  let p = 0;
  for (let n = 0; n < entries; n++) {
    if (p + 46 > directory.length || view.getUint32(p, true) !== DIRECTORY_ENTRY)
      throw corrupt(file, `directory entry ${n + 1} is damaged`);
    const flags = view.getUint16(p + 8, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const next = p + 46 + nameLength + extraLength + view.getUint16(p + 32, true);
    if (next > directory.length) throw corrupt(file, `directory entry ${n + 1} is damaged`);
    const nameBytes = directory.subarray(p + 46, p + 46 + nameLength);
    // Bit 11: UTF-8 names; otherwise one character per byte, as fflate reads them.
    const name = flags & 0x800 ? utf8.decode(nameBytes) : String.fromCharCode(...nameBytes);
    let size = view.getUint32(p + 24, true);
    let compressedSize = view.getUint32(p + 20, true);
    let offset = view.getUint32(p + 42, true);
    if (size === 0xffffffff || compressedSize === 0xffffffff || offset === 0xffffffff) {
      // Zip64: the real values sit in extra field 0x0001, in this order, for those saturated.
      for (let e = p + 46 + nameLength; e + 4 <= p + 46 + nameLength + extraLength;) {
        const id = view.getUint16(e, true);
        const length = view.getUint16(e + 2, true);
        if (id === 1) {
          let q = e + 4;
          const field = (value: number): number => {
            if (value !== 0xffffffff || q + 8 > e + 4 + length) return value;
            q += 8;
            return u64(view, q - 8);
          };
          size = field(size);
          compressedSize = field(compressedSize);
          offset = field(offset);
          break;
        }
        e += 4 + length;
      }
    }
    members.push({
      name,
      size,
      compressedSize,
      compression: view.getUint16(p + 10, true),
      crc: view.getUint32(p + 16, true),
      flags,
      offset,
    });
    p = next;
  }
  return members;
}

/** Limits that apply while a member is opened. */
export interface ZipMemberLimits {
  /** Refuse a member that records more uncompressed bytes than this, before inflating it. */
  readonly maxBytes: number;
}

/**
 * Picks the CSV member of a zip archive and streams it inflated. `member`
 * matches a full path in the archive or, when unique, a base name; without it
 * the archive must hold exactly one `.csv` file. Errors: `ZIP_MEMBER_MISSING`
 * (naming the members), `CORRUPT_ARCHIVE`, `UNSUPPORTED` (compression method,
 * encryption), `TOO_LARGE` (a recorded size over `limits.maxBytes`). The
 * reader is closed when the member's chunks end, or at once on an error.
 */
export async function openZipMember(
  reader: RandomAccessBytes,
  file: string,
  member: string | undefined,
  limits: ZipMemberLimits,
): Promise<DigitCsvInput> {
  try {
    const entries = await readZipDirectory(reader, file);
    const members = entries.filter((m) => !m.name.endsWith('/'));
    const folders = entries.filter((m) => m.name.endsWith('/')).map((m) => m.name);
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
    if (target.flags & 1) {
      throw new DigitInputError('UNSUPPORTED', { file: name }, 'the member is encrypted; unzip it and pass the CSV');
    }
    if (target.size > limits.maxBytes) {
      throw inputTooLarge(
        { file: name },
        `the member records ${target.size} uncompressed bytes, more than allowed`,
        'maxBytes',
        limits.maxBytes,
      );
    }
    const header = await reader.read(target.offset, 30);
    const hv = new DataView(header.buffer, header.byteOffset, header.byteLength);
    if (header.length < 30 || hv.getUint32(0, true) !== LOCAL_HEADER) throw corrupt(file, `bad local header`);
    const start = target.offset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
    if (start + target.compressedSize > reader.size) {
      throw new DigitInputError(
        'CORRUPT_ARCHIVE',
        { file: name },
        'cannot inflate the zip member (its data ends early: the archive is cut short)',
      );
    }
    return { name, chunks: memberChunks(reader, target, start, name), size: target.size };
  } catch (error) {
    await reader.close();
    throw error;
  }
}

function hex(crc: number): string {
  return crc.toString(16).padStart(8, '0');
}

async function* memberChunks(
  reader: RandomAccessBytes,
  member: ZipMemberInfo,
  start: number,
  name: string,
): AsyncGenerator<Uint8Array> {
  const damaged = (why: string, cause?: unknown): DigitInputError =>
    new DigitInputError('CORRUPT_ARCHIVE', { file: name }, `cannot inflate the zip member (${why})`, { cause });
  try {
    const out: Uint8Array[] = [];
    let produced = 0;
    let crc = 0;
    const take = (data: Uint8Array): void => {
      if (data.length === 0) return;
      produced += data.length;
      // Checked as the data arrives: a member that lies about its size stops here, not at its end.
      if (produced > member.size)
        throw damaged(`it inflates to more than the ${member.size} bytes the archive records`);
      crc = crc32Update(crc, data);
      out.push(data);
    };
    const inflate = member.compression === 8 ? new Inflate((data) => take(data)) : undefined;
    const slicer = new InflateSlicer();
    const end = start + member.compressedSize;
    for (let offset = start; offset < end;) {
      const piece = await reader.read(offset, Math.min(READ_BYTES, end - offset));
      if (piece.length === 0) throw damaged('its data ends early');
      offset += piece.length;
      if (inflate === undefined) {
        take(piece);
        while (out.length > 0) yield out.shift() as Uint8Array;
        continue;
      }
      for (let at = 0; at < piece.length;) {
        const slice = piece.subarray(at, at + slicer.next());
        at += slice.length;
        const before = produced;
        try {
          inflate.push(slice, offset === end && at === piece.length);
        } catch (error) {
          if (error instanceof DigitInputError) throw error;
          throw damaged((error as Error).message, error);
        }
        slicer.record(slice.length, produced - before);
        while (out.length > 0) yield out.shift() as Uint8Array;
      }
    }
    if (produced !== member.size)
      throw damaged(`its data ends early: ${produced} of the ${member.size} bytes the archive records`);
    if (crc !== member.crc) {
      throw new DigitInputError(
        'CORRUPT_ARCHIVE',
        { file: name },
        `CRC-32 mismatch: the member inflates to data with checksum ${hex(crc)}, the archive records ${hex(member.crc)}; the zip is damaged, download it again`,
      );
    }
  } finally {
    await reader.close();
  }
}

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}

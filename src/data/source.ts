/**
 * Turns the many kinds of CSV sources {@link loadDigitCsv} accepts into one
 * async stream of byte chunks, decompressing gzip and zip (detected by their
 * magic bytes) on the way. Node modules are imported lazily, only for paths.
 *
 * @module
 */
import { DigitInputError } from '../errors.js';
import { isNode, toInputError } from '../io/node.js';
import { DEFAULT_MAX_ARCHIVE_BYTES, inputTooLarge } from '../limits.js';
import { gunzipChunks } from './archive.js';
import { concatBytes } from './csv_scanner.js';
import { blobReader, bytesReader, fileReader, readerChunks, type RandomAccessBytes } from './random_access.js';
import { openZipMember } from './zip.js';

/**
 * Where a digit CSV comes from:
 *
 * - a `string`: CSV text when it contains a line break (`\n` or `\r`), starts
 *   with `label` or `pixel0` (optionally after a BOM) or is empty; otherwise a
 *   file path (Node only). Use `{ path }` or `{ text }` to be explicit;
 * - `{ path }`: a file path (Node only);
 * - `{ text, name? }`: CSV text, `name` used in error messages;
 * - a `Uint8Array` (a Node `Buffer` too) or `ArrayBuffer` of file bytes;
 * - a web `Blob` / `File`;
 * - a web `ReadableStream<Uint8Array>` (e.g. `fetch(url).body`);
 * - any `AsyncIterable<Uint8Array | string>`, such as a Node `Readable`.
 *
 * Byte sources may be gzip- or zip-compressed: this is detected from the first
 * bytes, not from a file name.
 */
export type DigitCsvSource =
  | string
  | { readonly path: string }
  | { readonly text: string; readonly name?: string }
  | Uint8Array
  | ArrayBuffer
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>;

/** Options that shape how a source is opened. */
export interface OpenDigitCsvOptions {
  /** Zip member to read; by default the archive's only `.csv` member. */
  readonly member?: string | undefined;
  /** Name for messages when the source has none of its own. */
  readonly name?: string | undefined;
  /**
   * Refuse, before reading, an input whose uncompressed size is known (a
   * plain file, bytes, a Blob, a zip member's recorded size) and larger than
   * this. Default: no check.
   */
  readonly maxBytes?: number | undefined;
  /**
   * Most bytes of a zip archive read whole from a source that cannot be read
   * at random (a stream); default {@link DEFAULT_MAX_ARCHIVE_BYTES}.
   */
  readonly maxArchiveBytes?: number | undefined;
}

/** An opened source: decompressed chunks and the name to use in messages. */
export interface DigitCsvInput {
  /** The path, `archive.zip:member`, the given name, or `<text>`, `<bytes>`, `<blob>`, `<stream>`. */
  readonly name: string;
  /** Uncompressed CSV bytes. Stop iterating early to release the source. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Uncompressed size in bytes, when known in advance. */
  readonly size: number | undefined;
}

/** Bytes read from files and split from large buffers at a time. */
export const CHUNK_BYTES = 1 << 20;

/**
 * True when a string source is CSV text rather than a path: it contains a line
 * break, starts with `label` or `pixel0` (after an optional BOM), or is empty.
 */
export function isCsvText(source: string): boolean {
  if (source === '' || source.includes('\n') || source.includes('\r')) return true;
  const s = source.startsWith('\uFEFF') ? source.slice(1) : source;
  return s.startsWith('label') || s.startsWith('pixel0');
}

/**
 * Opens any {@link DigitCsvSource} as a stream of uncompressed byte chunks.
 * gzip is inflated as it streams in. A zip archive is read through random
 * access when the source allows it (paths, bytes, Blobs): its directory from
 * the end, then the member piece by piece; a zip from a stream is read whole
 * first, up to `maxArchiveBytes`.
 */
export async function openDigitCsvInput(
  source: DigitCsvSource,
  options: OpenDigitCsvOptions = {},
): Promise<DigitCsvInput> {
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const raw = await openRaw(source, options.name);
  if (raw.text) return { name: raw.name, chunks: raw.chunks(), size: raw.size };
  const reader = raw.reader;
  try {
    let all: AsyncGenerator<Uint8Array>;
    let head: Uint8Array;
    if (reader !== undefined) {
      head = await reader.read(0, SNIFF_BYTES);
      if (isZip(head)) return await openZipMember(reader, raw.name, options.member, { maxBytes });
      all = prepend(new Uint8Array(0), raw.chunks()[Symbol.asyncIterator]());
    } else {
      const peeked = await peek(raw.chunks(), SNIFF_BYTES);
      head = peeked.head;
      all = prepend(head, peeked.rest);
      if (isZip(head)) {
        const archive = await readAll(all, raw.name, options.maxArchiveBytes ?? DEFAULT_MAX_ARCHIVE_BYTES);
        return await openZipMember(bytesReader(archive), raw.name, options.member, { maxBytes });
      }
    }
    if (isGzip(head)) {
      // Look inside: a zip, tar or second gzip wrapped in gzip is not a CSV.
      const inner = await peek(gunzipChunks(all, raw.name), SNIFF_BYTES);
      const chunks = prepend(inner.head, inner.rest);
      const what = isGzip(inner.head)
        ? 'another gzip file'
        : isZip(inner.head)
          ? 'a zip archive'
          : isTar(inner.head)
            ? 'a tar archive'
            : undefined;
      if (what !== undefined) {
        await chunks.return(undefined);
        throw new DigitInputError(
          'UNSUPPORTED',
          { file: raw.name },
          `the gzip file holds ${what}, not CSV text; unpack it and pass the CSV (or the zip) itself`,
        );
      }
      return { name: raw.name, chunks, size: undefined };
    }
    const binary = isTar(head)
      ? 'a tar archive; extract the CSV from it'
      : head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47
        ? 'a PNG image'
        : head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff
          ? 'a JPEG image'
          : head[0] === 0x25 && head[1] === 0x50 && head[2] === 0x44 && head[3] === 0x46
            ? 'a PDF document'
            : undefined;
    if (binary !== undefined) {
      await all.return(undefined);
      throw new DigitInputError(
        'BAD_ENCODING',
        { file: raw.name, line: 1, column: 1 },
        `this is ${binary}, not a CSV text file`,
      );
    }
    if (raw.size !== undefined && raw.size > maxBytes) {
      await all.return(undefined);
      throw inputTooLarge({ file: raw.name }, `the CSV is ${raw.size} bytes, more than allowed`, 'maxBytes', maxBytes);
    }
    return { name: raw.name, chunks: all, size: raw.size };
  } catch (error) {
    await reader?.close();
    throw error;
  }
}

/** Bytes looked at to recognise a format: a tar header's "ustar" sits at offset 257. */
const SNIFF_BYTES = 262;

function isGzip(head: Uint8Array): boolean {
  return head[0] === 0x1f && head[1] === 0x8b;
}

function isZip(head: Uint8Array): boolean {
  return head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

function isTar(head: Uint8Array): boolean {
  return (
    head.length >= 262 &&
    head[257] === 0x75 &&
    head[258] === 0x73 &&
    head[259] === 0x74 &&
    head[260] === 0x61 &&
    head[261] === 0x72
  );
}

interface RawInput {
  readonly name: string;
  /** The bytes in order; called once. A reader's chunks close it when they end. */
  readonly chunks: () => AsyncIterable<Uint8Array>;
  readonly size: number | undefined;
  /** True for string text: never decompressed. */
  readonly text: boolean;
  /** Random access, for sources that allow it (regular files, bytes, Blobs). */
  readonly reader?: RandomAccessBytes;
}

async function openRaw(source: DigitCsvSource, fallbackName: string | undefined): Promise<RawInput> {
  if (typeof source === 'string') {
    return isCsvText(source) ? textInput(source, fallbackName ?? '<text>') : fileInput(source, fallbackName);
  }
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
    return {
      name: fallbackName ?? '<bytes>',
      chunks: () => sliceChunks(bytes),
      size: bytes.length,
      text: false,
      reader: bytesReader(bytes),
    };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const fileName = (source as { name?: unknown }).name;
    const name = fallbackName ?? (typeof fileName === 'string' && fileName !== '' ? fileName : '<blob>');
    return {
      name,
      chunks: () => webStreamChunks(source.stream() as ReadableStream<Uint8Array>, name),
      size: source.size,
      text: false,
      reader: blobReader(source, name),
    };
  }
  if (typeof (source as ReadableStream<Uint8Array>).getReader === 'function') {
    const name = fallbackName ?? '<stream>';
    return {
      name,
      chunks: () => webStreamChunks(source as ReadableStream<Uint8Array>, name),
      size: undefined,
      text: false,
    };
  }
  if (typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    const name = fallbackName ?? '<stream>';
    return {
      name,
      chunks: () => iterableChunks(source as AsyncIterable<Uint8Array | string>, name),
      size: undefined,
      text: false,
    };
  }
  if (typeof (source as { text?: unknown }).text === 'string') {
    const { text, name } = source as { text: string; name?: string };
    return textInput(text, name ?? fallbackName ?? '<text>');
  }
  if (typeof (source as { path?: unknown }).path === 'string') {
    return fileInput((source as { path: string }).path, fallbackName);
  }
  throw new DigitInputError(
    'UNSUPPORTED',
    { file: fallbackName ?? '<input>' },
    'unsupported CSV source: pass a path, CSV text, { path }, { text }, Uint8Array, Blob, ReadableStream or async iterable of bytes',
  );
}

function textInput(text: string, name: string): RawInput {
  const bytes = new TextEncoder().encode(text);
  return { name, chunks: () => sliceChunks(bytes), size: bytes.length, text: true };
}

async function fileInput(path: string, name: string | undefined): Promise<RawInput> {
  const file = name ?? path;
  if (!isNode()) {
    throw new DigitInputError(
      'UNSUPPORTED',
      { file },
      'file paths need Node; in a browser pass a Blob, ReadableStream, Uint8Array or text',
    );
  }
  const fs = await import('node:fs/promises');
  let handle: import('node:fs/promises').FileHandle;
  let stat: import('node:fs').Stats;
  try {
    handle = await fs.open(path, 'r');
  } catch (error) {
    throw toInputError(error, file);
  }
  try {
    stat = await handle.stat();
    if (stat.isDirectory()) throw new DigitInputError('UNREADABLE', { file }, 'is a directory, expected a file');
  } catch (error) {
    await handle.close();
    throw toInputError(error, file);
  }
  if (!stat.isFile()) {
    // A pipe or device: read in order, as it comes; its size says nothing.
    return { name: file, chunks: () => fileChunks(handle, file), size: undefined, text: false };
  }
  const reader = fileReader(handle, stat.size, file);
  return { name: file, chunks: () => readerChunks(reader, CHUNK_BYTES), size: stat.size, text: false, reader };
}

async function* fileChunks(handle: import('node:fs/promises').FileHandle, file: string): AsyncGenerator<Uint8Array> {
  try {
    for (;;) {
      // A fresh buffer per chunk: decompressors may keep a reference to their input.
      const buffer = new Uint8Array(CHUNK_BYTES);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, null));
      } catch (error) {
        throw toInputError(error, file);
      }
      if (bytesRead === 0) return;
      yield bytesRead === CHUNK_BYTES ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** Yields a buffer as views of at most {@link CHUNK_BYTES}, so progress can be reported while parsing. */
async function* sliceChunks(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += CHUNK_BYTES) yield bytes.subarray(i, i + CHUNK_BYTES);
}

async function* webStreamChunks(stream: ReadableStream<Uint8Array>, name: string): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let finished = false;
  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        finished = true;
        throw toInputError(error, name);
      }
      if (result.done) {
        finished = true;
        return;
      }
      yield toBytes(result.value, name);
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

async function* iterableChunks(source: AsyncIterable<Uint8Array | string>, name: string): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      let result: IteratorResult<Uint8Array | string>;
      try {
        result = await iterator.next();
      } catch (error) {
        finished = true;
        throw toInputError(error, name);
      }
      if (result.done === true) {
        finished = true;
        return;
      }
      const value = result.value;
      yield typeof value === 'string' ? encoder.encode(value) : toBytes(value, name);
    }
  } finally {
    if (!finished) await iterator.return?.();
  }
}

function toBytes(value: unknown, name: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return new TextEncoder().encode(value);
  throw new DigitInputError(
    'UNSUPPORTED',
    { file: name },
    `stream chunk is ${typeof value}, expected Uint8Array or string`,
  );
}

/** Reads chunks until at least `n` bytes (or the end) and returns them with the rest of the stream. */
async function peek(
  chunks: AsyncIterable<Uint8Array>,
  n: number,
): Promise<{ head: Uint8Array; rest: AsyncIterator<Uint8Array> }> {
  const rest = chunks[Symbol.asyncIterator]();
  let head: Uint8Array = new Uint8Array(0);
  while (head.length < n) {
    const result = await rest.next();
    if (result.done === true) break;
    head = head.length === 0 ? result.value : concatBytes(head, result.value);
  }
  return { head, rest };
}

async function* prepend(head: Uint8Array, rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  let finished = false;
  try {
    if (head.length > 0) yield head;
    for (;;) {
      const result = await rest.next();
      if (result.done === true) {
        finished = true;
        return;
      }
      yield result.value;
    }
  } finally {
    if (!finished) await rest.return?.();
  }
}

/** Concatenates a whole stream, refusing it once past `maxBytes`. */
async function readAll(chunks: AsyncGenerator<Uint8Array>, name: string, maxBytes: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    parts.push(chunk);
    total += chunk.length;
    if (total > maxBytes) {
      throw inputTooLarge(
        { file: name },
        'a zip archive from a stream is read whole (its directory sits at its end), and this one is larger than allowed; pass a path or Blob to read it piece by piece',
        'maxArchiveBytes',
        maxBytes,
      );
    }
  }
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Loading Kaggle Digit Recognizer CSV files (train.csv, test.csv) into a
 * compact {@link DigitDataset}. Works in Node and browsers: Node modules are
 * only imported, lazily, when a file path is given.
 *
 * Parsing uses a hand-written byte scanner with csv-parse as the fallback for
 * unusual rows; see `csv_scanner.ts` for the reasons and the numbers.
 *
 * @module
 */
import {
  DEFAULT_MAX_ARCHIVE_BYTES,
  DEFAULT_MAX_CSV_BYTES,
  DEFAULT_MAX_ROWS,
  inputTooLarge,
  limitOption,
} from '../limits.js';
import { DigitCsvScanner } from './csv_scanner.js';
import { createDigitDataset, type DigitDataset } from './dataset.js';
import { CHUNK_BYTES, openDigitCsvInput, type DigitCsvInput, type DigitCsvSource } from './source.js';

export type { DigitCsvSource } from './source.js';

/** Options of {@link loadDigitCsv}. */
export interface LoadDigitCsvOptions {
  /**
   * Member of a zip archive to read: a path inside the archive or, when
   * unique, a base name. By default the archive must hold exactly one `.csv`.
   */
  readonly member?: string;
  /**
   * Whether rows start with a label. By default this follows the header
   * (`label,...` or `pixel0,...`); when given and the header disagrees the
   * load fails with `BAD_HEADER`.
   */
  readonly labelled?: boolean;
  /** Read at most this many data rows; the rest of the input is not read or parsed. */
  readonly limit?: number;
  /**
   * Refuse (`TOO_LARGE`) an input with more data rows than this, before
   * holding more: each row keeps 784 bytes. Default {@link DEFAULT_MAX_ROWS};
   * `Infinity` lifts the bound. Rows past `limit` are never read, so never count.
   */
  readonly maxRows?: number;
  /**
   * Refuse (`TOO_LARGE`) an input of more uncompressed CSV bytes than this:
   * before reading when the size is known (a plain file, a zip member's
   * recorded size) and no `limit` is set, else once that many bytes are read.
   * Default {@link DEFAULT_MAX_CSV_BYTES}; `Infinity` lifts the bound.
   */
  readonly maxBytes?: number;
  /**
   * Most bytes of a zip archive read whole from a stream (a zip's directory
   * sits at its end; paths, bytes and Blobs are read piece by piece instead).
   * Default {@link DEFAULT_MAX_ARCHIVE_BYTES}.
   */
  readonly maxArchiveBytes?: number;
  /** Name used in error messages and as the dataset's `source` (default: the path, or `<text>`, `<bytes>`, `<blob>`, `<stream>`). */
  readonly name?: string;
  /** Called as rows are parsed (about every megabyte of CSV) with the row count so far, and once at the end. */
  readonly onProgress?: (rows: number) => void;
}

/**
 * Loads a Kaggle digit CSV: `label,pixel0..pixel783` (train.csv) or
 * `pixel0..pixel783` (test.csv), one 28x28 image per row, pixels 0..255.
 *
 * The source may be a file path, CSV text, bytes, a Blob, a web or Node
 * stream, possibly gzip- or zip-compressed (see {@link DigitCsvSource}; a
 * `string` is CSV text when it contains a line break or starts with `label`
 * or `pixel0`, otherwise a path). CRLF and LF line ends, a UTF-8 BOM, quoted
 * integers, a missing final newline and blank trailing lines are accepted.
 *
 * @throws {DigitInputError} with `file`, `line` and `column` (the 1-based CSV
 * field number) and a code: `NOT_FOUND`, `UNREADABLE`, `EMPTY`, `HEADER_ONLY`,
 * `BAD_HEADER`, `COLUMN_COUNT`, `BAD_CELL`, `PIXEL_RANGE`, `LABEL_RANGE`,
 * `BAD_ENCODING`, `LINE_TOO_LONG`, `ZIP_MEMBER_MISSING`, `CORRUPT_ARCHIVE`,
 * `TOO_LARGE` (over `maxRows`, `maxBytes` or `maxArchiveBytes`: its `limit`
 * names the option), `UNSUPPORTED`.
 * @throws {RangeError} when `options.limit` is not a non-negative integer, or a
 * `max*` option is not a positive integer or `Infinity`.
 */
export async function loadDigitCsv(source: DigitCsvSource, options: LoadDigitCsvOptions = {}): Promise<DigitDataset> {
  const { limit, onProgress } = options;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  }
  const maxRows = limitOption(options.maxRows, 'maxRows', DEFAULT_MAX_ROWS);
  const maxBytes = limitOption(options.maxBytes, 'maxBytes', DEFAULT_MAX_CSV_BYTES);
  const input = await openDigitCsvInput(source, {
    member: options.member,
    name: options.name,
    // A known size over the bound is refused before reading, unless only the first rows are wanted.
    maxBytes: limit === undefined ? maxBytes : undefined,
    maxArchiveBytes: limitOption(options.maxArchiveBytes, 'maxArchiveBytes', DEFAULT_MAX_ARCHIVE_BYTES),
  });
  const scanner = new DigitCsvScanner({
    file: input.name,
    labelled: options.labelled,
    limit,
    maxRows,
    sizeHint: input.size,
  });
  let reported = -1;
  for await (const chunk of boundedChunks(input, maxBytes, scanner)) {
    // Large chunks are fed in slices so progress is reported regularly.
    let more = true;
    for (let offset = 0; offset < chunk.length && more; offset += CHUNK_BYTES) {
      more = scanner.push(
        offset === 0 && chunk.length <= CHUNK_BYTES ? chunk : chunk.subarray(offset, offset + CHUNK_BYTES),
      );
      if (onProgress !== undefined && scanner.rows !== reported) onProgress((reported = scanner.rows));
    }
    if (!more) break;
  }
  const result = scanner.finish();
  if (onProgress !== undefined && result.count !== reported) onProgress(result.count);
  return createDigitDataset(result.pixels, result.labels, input.name);
}

/**
 * The input's chunks up to `maxBytes`, then a `TOO_LARGE` refusal, unless the
 * consumer stops first (a `limit` reached within the bytes allowed).
 */
async function* boundedChunks(
  input: DigitCsvInput,
  maxBytes: number,
  scanner: DigitCsvScanner,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of input.chunks) {
    const room = maxBytes - total;
    if (chunk.length > room) {
      if (room > 0) yield chunk.subarray(0, room);
      throw inputTooLarge(
        { file: input.name, line: scanner.lineNumber + 1 },
        'the CSV holds more bytes than allowed',
        'maxBytes',
        maxBytes,
      );
    }
    total += chunk.length;
    yield chunk;
  }
}

/** Options of {@link streamDigitCsv}. */
export interface StreamDigitCsvOptions {
  /** Rows per chunk (the last chunk may be shorter). Default 4096: about 3.2 MB of pixels. */
  readonly chunkRows?: number;
  /** As {@link LoadDigitCsvOptions.member}. */
  readonly member?: string;
  /** As {@link LoadDigitCsvOptions.labelled}. */
  readonly labelled?: boolean;
  /** As {@link LoadDigitCsvOptions.limit}. */
  readonly limit?: number;
  /**
   * As {@link LoadDigitCsvOptions.maxRows}, counted over all chunks; default
   * `Infinity`: a stream holds one chunk at a time, however many rows.
   */
  readonly maxRows?: number;
  /** As {@link LoadDigitCsvOptions.maxBytes}; default `Infinity`, the memory held being bounded anyway. */
  readonly maxBytes?: number;
  /** As {@link LoadDigitCsvOptions.maxArchiveBytes}. */
  readonly maxArchiveBytes?: number;
  /** As {@link LoadDigitCsvOptions.name}. */
  readonly name?: string;
}

/** One chunk of rows from {@link streamDigitCsv}: a {@link DigitDataset} plus where it sits in the file. */
export interface DigitCsvChunk extends DigitDataset {
  /** 0-based index of the chunk's first row among all data rows (its ImageId is `offset + 1`). */
  readonly offset: number;
  /** Uncompressed CSV bytes read so far. */
  readonly bytesRead: number;
  /** Uncompressed size of the CSV when known in advance (plain files, bytes, zip members), else `undefined`. */
  readonly totalBytes: number | undefined;
}

/**
 * Reads a Kaggle digit CSV as a stream of row chunks with bounded memory: each
 * chunk holds `chunkRows` rows (the last one fewer), and only about one chunk
 * plus one megabyte of CSV is held at a time, so files far larger than memory
 * can be processed. Accepts the same sources, formats and options as
 * {@link loadDigitCsv} and gives the same rows and the same errors.
 *
 * An error is thrown where it is met, after the chunks before it were yielded:
 * callers that write output should write it atomically (see
 * {@link predictDigitCsv}). Stopping the iteration early releases the source.
 *
 * @example
 * ```ts
 * for await (const chunk of streamDigitCsv('test.csv', { chunkRows: 1000 })) {
 *   console.log(chunk.offset, chunk.count);
 * }
 * ```
 * @throws {DigitInputError} as {@link loadDigitCsv}.
 * @throws {RangeError} when `chunkRows` is not a positive integer, `limit` not a
 * non-negative integer, or a `max*` option not a positive integer or `Infinity`.
 */
export async function* streamDigitCsv(
  source: DigitCsvSource,
  options: StreamDigitCsvOptions = {},
): AsyncGenerator<DigitCsvChunk, void, undefined> {
  const { limit, chunkRows = 4096 } = options;
  if (!(Number.isInteger(chunkRows) && chunkRows > 0))
    throw new RangeError(`chunkRows must be a positive integer, got ${chunkRows}`);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  }
  const maxRows = limitOption(options.maxRows, 'maxRows', Number.POSITIVE_INFINITY);
  const maxBytes = limitOption(options.maxBytes, 'maxBytes', Number.POSITIVE_INFINITY);
  const input = await openDigitCsvInput(source, {
    member: options.member,
    name: options.name,
    maxBytes: limit === undefined ? maxBytes : undefined,
    maxArchiveBytes: limitOption(options.maxArchiveBytes, 'maxArchiveBytes', DEFAULT_MAX_ARCHIVE_BYTES),
  });
  // No size hint: the scanner must not size its buffer for the whole file.
  const scanner = new DigitCsvScanner({ file: input.name, labelled: options.labelled, limit, maxRows });
  let offset = 0;
  let bytesRead = 0;
  const emit = (count: number): DigitCsvChunk => {
    const rows = scanner.take(count);
    const chunk = {
      ...createDigitDataset(rows.pixels, rows.labels, input.name),
      offset,
      bytesRead,
      totalBytes: input.size,
    };
    offset += rows.count;
    return chunk;
  };
  for await (const chunk of boundedChunks(input, maxBytes, scanner)) {
    let more = true;
    for (let start = 0; start < chunk.length && more; start += CHUNK_BYTES) {
      const slice = chunk.subarray(start, start + CHUNK_BYTES);
      bytesRead += slice.length;
      more = scanner.push(slice);
      while (scanner.rows - offset >= chunkRows) yield emit(chunkRows);
    }
    if (!more) break;
  }
  const rest = scanner.finish();
  if (rest.count > 0)
    yield { ...createDigitDataset(rest.pixels, rest.labels, input.name), offset, bytesRead, totalBytes: input.size };
}

/**
 * Loading Kaggle Digit Recognizer CSV files (train.csv, test.csv) into a
 * compact {@link DigitDataset}. Works in Node and browsers: Node modules are
 * only imported, lazily, when a file path is given.
 *
 * Parsing uses a hand-written byte scanner with csv-parse as the fallback for
 * unusual rows; see `csv-scanner.ts` for the reasons and the numbers.
 *
 * @module
 */
import { DigitCsvScanner } from './csv-scanner.js';
import { createDigitDataset, type DigitDataset } from './dataset.js';
import { CHUNK_BYTES, openDigitCsvInput, type DigitCsvSource } from './source.js';

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
 * `UNSUPPORTED`.
 * @throws {RangeError} when `options.limit` is not a non-negative integer.
 */
export async function loadDigitCsv(source: DigitCsvSource, options: LoadDigitCsvOptions = {}): Promise<DigitDataset> {
  const { limit, onProgress } = options;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  }
  const input = await openDigitCsvInput(source, { member: options.member, name: options.name });
  const scanner = new DigitCsvScanner({ file: input.name, labelled: options.labelled, limit, sizeHint: input.size });
  let reported = -1;
  for await (const chunk of input.chunks) {
    // Large chunks are fed in slices so progress is reported regularly.
    let more = true;
    for (let offset = 0; offset < chunk.length && more; offset += CHUNK_BYTES) {
      more = scanner.push(offset === 0 && chunk.length <= CHUNK_BYTES ? chunk : chunk.subarray(offset, offset + CHUNK_BYTES));
      if (onProgress !== undefined && scanner.rows !== reported) onProgress((reported = scanner.rows));
    }
    if (!more) break;
  }
  const result = scanner.finish();
  if (onProgress !== undefined && result.count !== reported) onProgress(result.count);
  return createDigitDataset(result.pixels, result.labels, input.name);
}

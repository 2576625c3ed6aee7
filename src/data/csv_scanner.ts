/**
 * The chunk-by-chunk scanner behind {@link loadDigitCsv}: turns the bytes of a
 * Kaggle digit CSV into one compact pixel array and one label array.
 *
 * Why two paths. csv-parse builds a string per cell (33 million of them in
 * Kaggle's train.csv, 42,000 rows x 785 fields) and an array per row: merely
 * splitting the file into lines that way takes longer than the whole parse
 * below. The digit files only ever contain ASCII digits, commas and line ends,
 * so the fast path below reads the bytes directly: integers are accumulated
 * byte by byte straight into a growing `Uint8Array`, with no strings, no
 * per-row allocation and one branch per byte.
 * bench/data/parse.ts times the two paths on train.csv.
 *
 * The fast path gives up on a row as soon as it meets anything else: a quote,
 * a space, a BOM, a value above 255, a fourth digit, a ragged row, a blank line,
 * a NUL byte... That row alone is then re-parsed by the slow path with
 * csv-parse (the browser build, so this module never needs Node), which either
 * accepts valid-but-unusual CSV such as quoted integers `"12"` or produces the
 * exact error: code, line and column (the 1-based CSV field number). The fast
 * path then resumes at the next line, so one odd row costs microseconds, and a
 * file whose every cell is quoted still parses correctly, at csv-parse speed.
 *
 * The scanner is push-based: {@link DigitCsvScanner.push} takes chunks of any
 * size (a partial last line is carried over to the next chunk, copied, so the
 * caller may reuse its buffers) and {@link DigitCsvScanner.finish} ends the
 * input. A streaming API can drive it directly.
 *
 * @module
 */
import { parse as parseCsv } from 'csv-parse/browser/esm/sync';
import { DigitInputError } from '../errors.js';
import { inputTooLarge, MAX_LINE_BYTES } from '../limits.js';
import { PIXELS_PER_IMAGE } from './dataset.js';

/** The header of Kaggle's train.csv: `label,pixel0,...,pixel783`. */
export const LABELLED_HEADER: readonly string[] = Object.freeze([
  'label',
  ...Array.from({ length: PIXELS_PER_IMAGE }, (_, i) => `pixel${i}`),
]);

const NL = 10;
const CR = 13;
const COMMA = 44;

/** Options of a {@link DigitCsvScanner}. */
export interface DigitCsvScannerOptions {
  /** Name used in error messages (path, `archive.zip:member`, `<text>`...). */
  readonly file: string;
  /** Expected labelling; `undefined` infers it from the header. */
  readonly labelled?: boolean | undefined;
  /** Stop after this many data rows. */
  readonly limit?: number | undefined;
  /** Refuse (`TOO_LARGE`) an input with more data rows than this (rows handed out by `take` count too). */
  readonly maxRows?: number | undefined;
  /** Total input bytes when known: used to size the output once, without regrowing. */
  readonly sizeHint?: number | undefined;
}

/** What a {@link DigitCsvScanner} produced. */
export interface DigitCsvScanResult {
  /** Number of data rows (images). */
  readonly count: number;
  /** `count * 784` pixels: exactly sized, or a view of a buffer at most 1/8 longer (a copy would double the peak). */
  readonly pixels: Uint8Array;
  /** `count` labels, or `undefined` for an unlabelled file. */
  readonly labels: Uint8Array | undefined;
  /** Whether the header had a `label` column. */
  readonly labelled: boolean;
}

/**
 * Incremental parser for a digit CSV. Feed it chunks with {@link push} until it
 * returns `false` (the row limit was reached) or the input ends, then call
 * {@link finish}. Every problem is thrown as a {@link DigitInputError}.
 */
export class DigitCsvScanner {
  private readonly file: string;
  private readonly wantLabelled: boolean | undefined;
  private readonly limit: number;
  private readonly maxRows: number;
  private readonly sizeHint: number | undefined;

  private headerSeen = false;
  private labelled = false;
  /** Fields per row: 785 labelled, 784 unlabelled. */
  private fields = PIXELS_PER_IMAGE;
  /** Number of the last line consumed (1-based). */
  private line = 0;
  private count = 0;
  /** Rows handed out by {@link take} and no longer held. */
  private taken = 0;
  private pixels = new Uint8Array(0);
  private labels = new Uint8Array(0);
  /** Bytes of an incomplete line waiting for the next chunk. */
  private carry: Uint8Array | undefined;
  private totalBytes = 0;
  /** Blank lines met before the header. */
  private leadingBlank = 0;
  /** Line of the first blank line after the header, 0 when none: fine if only blank lines follow. */
  private pendingBlank = 0;
  private stopped = false;
  private decoder: TextDecoder | undefined;

  constructor(options: DigitCsvScannerOptions) {
    this.file = options.file;
    this.wantLabelled = options.labelled;
    this.limit = options.limit ?? Number.POSITIVE_INFINITY;
    this.maxRows = options.maxRows ?? Number.POSITIVE_INFINITY;
    this.sizeHint = options.sizeHint;
  }

  /** Data rows parsed so far (including rows already handed out by {@link take}). */
  get rows(): number {
    return this.taken + this.count;
  }

  /** Number of the last line parsed (1-based; 0 before any). */
  get lineNumber(): number {
    return this.line;
  }

  /** Whether the header has a `label` column; meaningful once the header is parsed. */
  get isLabelled(): boolean {
    return this.labelled;
  }

  /**
   * Removes and returns the first `n` parsed rows (default: all held), so a
   * stream can hand rows out in chunks and memory stays bounded. The rows are
   * copied out; rows held past `n` move to the front.
   */
  take(n: number = this.count): {
    readonly count: number;
    readonly pixels: Uint8Array;
    readonly labels: Uint8Array | undefined;
  } {
    const count = Math.min(Math.max(0, Math.floor(n)), this.count);
    const pixels = this.pixels.slice(0, count * PIXELS_PER_IMAGE);
    const labels = this.labelled ? this.labels.slice(0, count) : undefined;
    this.pixels.copyWithin(0, count * PIXELS_PER_IMAGE, this.count * PIXELS_PER_IMAGE);
    if (this.labelled) this.labels.copyWithin(0, count, this.count);
    this.count -= count;
    this.taken += count;
    return { count, pixels, labels };
  }

  /** True once the row limit is reached: further input is ignored. */
  get done(): boolean {
    return this.stopped;
  }

  /**
   * Parses the complete lines in `chunk` (plus any line carried over from the
   * previous chunk) and keeps the incomplete tail for the next call. The chunk
   * is not retained. Returns `false` once the row limit is reached.
   */
  push(chunk: Uint8Array): boolean {
    if (this.stopped || chunk.length === 0) return !this.stopped;
    this.totalBytes += chunk.length;
    let start = 0;
    if (this.carry !== undefined) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        this.carry = concatBytes(this.carry, chunk);
        this.checkLineLength(this.carry.length);
        return true;
      }
      const joined = concatBytes(this.carry, chunk.subarray(0, nl + 1));
      this.carry = undefined;
      this.processLines(joined, 0, joined.length);
      if (this.stopped) return false;
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (last >= start) {
      this.processLines(chunk, start, last + 1);
      if (this.stopped) return false;
      start = last + 1;
    }
    if (start < chunk.length) {
      this.carry = chunk.slice(start);
      this.checkLineLength(this.carry.length);
    }
    return true;
  }

  /** Ends the input: parses a last line without a newline and checks the file was not empty. */
  finish(): DigitCsvScanResult {
    if (!this.stopped && this.carry !== undefined) {
      const last = new Uint8Array(this.carry.length + 1);
      last.set(this.carry);
      last[this.carry.length] = NL;
      this.carry = undefined;
      this.processLines(last, 0, last.length);
    }
    if (!this.headerSeen) {
      const problem = this.totalBytes === 0 ? 'the input is empty' : 'the input contains only whitespace';
      throw new DigitInputError(
        'EMPTY',
        { file: this.file },
        `${problem}; expected a CSV with the header ${headerDescription(true)}`,
      );
    }
    if (this.count + this.taken === 0 && this.limit !== 0) {
      throw new DigitInputError('HEADER_ONLY', { file: this.file, line: 1 }, 'the CSV has a header but no data rows');
    }
    const n = this.count;
    const fit = (a: Uint8Array, length: number): Uint8Array =>
      a.length === length ? a : a.length - length <= a.length / 8 ? a.subarray(0, length) : a.slice(0, length);
    const pixels = fit(this.pixels, n * PIXELS_PER_IMAGE);
    const labels = this.labelled ? fit(this.labels, n) : undefined;
    this.pixels = new Uint8Array(0);
    this.labels = new Uint8Array(0);
    return { count: n, pixels, labels, labelled: this.labelled };
  }

  private checkLineLength(length: number): void {
    if (length > MAX_LINE_BYTES) {
      const carry = this.carry ?? new Uint8Array(0);
      const cr = carry.indexOf(CR);
      if (cr >= 0) this.loneCr(carry, cr, this.line + 1);
      throw new DigitInputError(
        'LINE_TOO_LONG',
        { file: this.file, line: this.line + 1 },
        `line is longer than ${MAX_LINE_BYTES} bytes without a line break; is this a digit CSV?`,
      );
    }
  }

  /** Parses the lines in `buf[start, end)`; `buf[end - 1]` is a line feed. */
  private processLines(buf: Uint8Array, start: number, end: number): void {
    while (!this.headerSeen && start < end) {
      const nl = buf.indexOf(NL, start);
      this.line++;
      this.parseHeader(buf, start, nl);
      start = nl + 1;
    }
    if (this.headerSeen && !this.stopped && start < end) this.scanRows(buf, start, end);
  }

  /**
   * The fast path: whole rows of plain digits and commas. Any surprise sends
   * the row to {@link slowRow}. `buf[end - 1]` is a line feed, so no read goes
   * past `end` (each row stops at its line feed).
   */
  private scanRows(buf: Uint8Array, p: number, end: number): void {
    const limit = this.limit - this.taken;
    const labelled = this.labelled;
    let pixels = this.pixels;
    let labels = this.labels;
    let count = this.count;
    let line = this.line;
    while (p < end) {
      if (count >= limit) {
        this.stopped = true;
        break;
      }
      line++;
      if ((count + 1) * PIXELS_PER_IMAGE > pixels.length) {
        this.count = count;
        this.grow(end - p);
        pixels = this.pixels;
        labels = this.labels;
      }
      const rowStart = p;
      let ok = false;
      row: if (this.pendingBlank === 0) {
        if (labelled) {
          // Labels are one digit 0..9 followed by a comma.
          const d = (buf[p] as number) - 48;
          if (d >>> 0 > 9 || buf[p + 1] !== COMMA) break row;
          labels[count] = d;
          p += 2;
        }
        let q = count * PIXELS_PER_IMAGE;
        const qEnd = q + PIXELS_PER_IMAGE;
        for (;;) {
          // One to three digits, then a comma or the line end.
          let v = (buf[p] as number) - 48;
          if (v >>> 0 > 9) break row;
          let c = buf[++p] as number;
          let d = c - 48;
          if (d >>> 0 <= 9) {
            v = v * 10 + d;
            c = buf[++p] as number;
            d = c - 48;
            if (d >>> 0 <= 9) {
              v = v * 10 + d;
              if (v > 255) break row;
              c = buf[++p] as number;
            }
          }
          pixels[q++] = v;
          if (c === COMMA) {
            if (q === qEnd) break row;
            p++;
            continue;
          }
          if (q !== qEnd) break row;
          if (c === NL) {
            p++;
            ok = true;
          } else if (c === CR && buf[p + 1] === NL) {
            p += 2;
            ok = true;
          }
          break row;
        }
      }
      if (ok) {
        if (++count + this.taken > this.maxRows) this.tooManyRows(line);
        continue;
      }
      const nl = buf.indexOf(NL, rowStart);
      this.count = count;
      this.line = line;
      this.slowRow(buf, rowStart, nl);
      count = this.count;
      p = nl + 1;
    }
    this.count = count;
    this.line = line;
  }

  /** Makes room for at least one more row, guessing the final size from the bytes left. */
  private grow(bytesLeft: number): void {
    const have = this.pixels.length / PIXELS_PER_IMAGE;
    // A row is at least 2 bytes per field ("0,"), so the size hint bounds the row count.
    const hinted = this.sizeHint === undefined ? 0 : Math.ceil(this.sizeHint / (2 * PIXELS_PER_IMAGE)) + 1;
    let rows = Math.max(
      have * 2,
      256,
      this.count + 1,
      have === 0 ? hinted : 0,
      Math.ceil(bytesLeft / (2 * PIXELS_PER_IMAGE)) + 1,
    );
    // One row past maxRows is parsed before the refusal, so room for it is all that is ever needed.
    const cap = Math.max(Math.min(this.limit, this.maxRows + 1) - this.taken, this.count + 1);
    if (rows >= cap) rows = cap;
    else if (Number.isFinite(cap)) {
      // Grow through cap / 2^k, so the last step doubles into the cap: old and new arrays then hold
      // 1.5 caps at once rather than up to 2.
      let aligned = cap;
      while (Math.ceil(aligned / 2) >= rows) aligned = Math.ceil(aligned / 2);
      rows = aligned;
    }
    const pixels = new Uint8Array(rows * PIXELS_PER_IMAGE);
    pixels.set(this.pixels.subarray(0, this.count * PIXELS_PER_IMAGE));
    this.pixels = pixels;
    if (this.labelled) {
      const labels = new Uint8Array(rows);
      labels.set(this.labels.subarray(0, this.count));
      this.labels = labels;
    }
  }

  /** Validates the header line `buf[start, nl)` (line {@link line}). */
  private parseHeader(buf: Uint8Array, start: number, nl: number): void {
    let end = nl;
    if (end > start && buf[end - 1] === CR) end--;
    if (this.line === 1) {
      if (buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf)
        start += 3; // UTF-8 BOM
      else if ((buf[start] === 0xff && buf[start + 1] === 0xfe) || (buf[start] === 0xfe && buf[start + 1] === 0xff)) {
        throw new DigitInputError(
          'BAD_ENCODING',
          { file: this.file, line: 1, column: 1 },
          'the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8',
        );
      }
    }
    const raw = buf.subarray(start, end);
    const cr = raw.indexOf(CR);
    if (cr >= 0 && !isBlank(raw)) this.loneCr(raw, cr, this.line);
    if (isBlank(raw)) {
      this.leadingBlank++;
      return;
    }
    if (this.leadingBlank > 0) {
      throw new DigitInputError(
        'BAD_HEADER',
        { file: this.file, line: 1, column: 1 },
        `line 1 is blank; the header ${headerDescription(this.wantLabelled ?? true)} must be the first line`,
      );
    }
    const fields = this.splitLine(raw, 'BAD_HEADER');
    const first = fields[0] ?? '';
    this.explainForeignHeader(fields);
    const labelled =
      first === 'label' ? true : first === 'pixel0' ? false : (this.wantLabelled ?? fields.length !== PIXELS_PER_IMAGE);
    if (this.wantLabelled !== undefined && this.wantLabelled !== labelled) {
      throw new DigitInputError(
        'BAD_HEADER',
        { file: this.file, line: 1, column: 1 },
        this.wantLabelled
          ? `options.labelled is true but the header has no label column: it starts with ${JSON.stringify(first)}, expected "label"`
          : `options.labelled is false but the header starts with ${JSON.stringify(first)}, expected "pixel0"`,
      );
    }
    const expected = labelled ? LABELLED_HEADER : LABELLED_HEADER.slice(1);
    const n = Math.min(fields.length, expected.length);
    for (let i = 0; i < n; i++) {
      const field = fields[i] ?? '';
      if (field !== expected[i]) {
        const earlier = fields.indexOf(field);
        const home = expected.indexOf(field);
        const why =
          earlier >= 0 && earlier < i
            ? `: duplicate column, ${quote(field)} is also column ${earlier + 1}`
            : home >= 0
              ? `: the columns are out of order (${quote(field)} belongs in column ${home + 1})`
              : '';
        throw new DigitInputError(
          'BAD_HEADER',
          { file: this.file, line: 1, column: i + 1 },
          `header field ${i + 1} is ${quote(field)}, expected ${quote(expected[i] ?? '')}${why} (the header must be ${headerDescription(labelled)})`,
        );
      }
    }
    if (fields.length < expected.length) {
      throw new DigitInputError(
        'BAD_HEADER',
        { file: this.file, line: 1, column: fields.length + 1 },
        `the header ends after ${fields.length} fields; expected ${expected.length}: ${headerDescription(labelled)}`,
      );
    }
    if (fields.length === expected.length + 1 && fields[expected.length] === '') {
      throw new DigitInputError(
        'BAD_HEADER',
        { file: this.file, line: 1, column: expected.length + 1 },
        `the header ends with a trailing comma (an empty field ${expected.length + 1}); a spreadsheet re-save may add one: remove it from every line`,
      );
    }
    if (fields.length > expected.length) {
      throw new DigitInputError(
        'BAD_HEADER',
        { file: this.file, line: 1, column: expected.length + 1 },
        `unexpected header field ${quote(fields[expected.length] ?? '')} after "pixel783"; expected ${expected.length} fields: ${headerDescription(labelled)}`,
      );
    }
    this.headerSeen = true;
    this.labelled = labelled;
    this.fields = expected.length;
    if (this.limit === 0) this.stopped = true;
  }

  /**
   * The slow path for one data row `buf[start, nl)` (line {@link line}): csv-parse
   * splits it, then each cell is checked. Appends the row or throws the
   * precise error. Blank lines are remembered: fine at the end of the file, an
   * error if a data row follows.
   */
  private slowRow(buf: Uint8Array, start: number, nl: number): void {
    let end = nl;
    if (end > start && buf[end - 1] === CR) end--;
    const raw = buf.subarray(start, end);
    const cr = raw.indexOf(CR);
    if (cr >= 0 && !isBlank(raw)) this.loneCr(raw, cr, this.line);
    if (isBlank(raw)) {
      if (this.pendingBlank === 0) this.pendingBlank = this.line;
      return;
    }
    if (this.pendingBlank !== 0) {
      throw new DigitInputError(
        'COLUMN_COUNT',
        { file: this.file, line: this.pendingBlank, column: 1 },
        `blank line between data rows; expected ${this.fields} fields`,
      );
    }
    const cells = this.splitLine(raw, 'BAD_CELL');
    if (cells[0] === 'label' || cells[0] === 'pixel0') {
      throw new DigitInputError(
        'BAD_HEADER',
        { file: this.file, line: this.line, column: 1 },
        `line ${this.line} repeats the header; were several CSV files joined? Keep only the header on line 1`,
      );
    }
    if (cells.length !== this.fields) {
      const column = cells.length < this.fields ? cells.length + 1 : this.fields + 1;
      const delimiter = cells.length === 1 ? foreignDelimiter(cells[0] ?? '') : undefined;
      const hint =
        cells.length === this.fields + 1 && cells[this.fields] === ''
          ? '; the row ends with a trailing comma'
          : delimiter !== undefined
            ? `; the fields are separated by ${delimiter}, not commas`
            : '';
      throw new DigitInputError(
        'COLUMN_COUNT',
        { file: this.file, line: this.line, column },
        `expected ${this.fields} fields (${headerDescription(this.labelled)}), got ${cells.length}${hint}`,
      );
    }
    const offset = this.labelled ? 1 : 0;
    const base = this.count * PIXELS_PER_IMAGE;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i] as string;
      const location = { file: this.file, line: this.line, column: i + 1 };
      const name = LABELLED_HEADER[i + 1 - offset] as string;
      if (!/^-?[0-9]+$/.test(cell)) {
        throw new DigitInputError(
          'BAD_CELL',
          location,
          cell === ''
            ? `empty cell in column ${name}; expected an integer`
            : `${name} is ${quote(cell)}, not an integer${numberHint(cell)}`,
        );
      }
      const value = Number(cell);
      if (i < offset) {
        if (value > 9 || value < 0) throw new DigitInputError('LABEL_RANGE', location, `label ${cell} is outside 0..9`);
        this.labels[this.count] = value;
      } else {
        if (value > 255 || value < 0)
          throw new DigitInputError('PIXEL_RANGE', location, `${name} is ${cell}, outside 0..255`);
        this.pixels[base + i - offset] = value;
      }
    }
    if (++this.count + this.taken > this.maxRows) this.tooManyRows(this.line);
  }

  /** Refuses the row on `line`, one past {@link maxRows}. */
  private tooManyRows(line: number): never {
    throw inputTooLarge(
      { file: this.file, line },
      `more data rows than allowed: line ${line} holds row ${this.maxRows + 1}`,
      'maxRows',
      this.maxRows,
    );
  }

  /** Throws the error for a carriage return that does not end a line (old Mac line ends). */
  private loneCr(raw: Uint8Array, index: number, line: number): never {
    throw new DigitInputError(
      'BAD_ENCODING',
      { file: this.file, line, column: fieldAt(raw, index) },
      'carriage return (CR) without a line feed: the file has old Mac (CR-only) line ends; save it with LF or CRLF line ends',
    );
  }

  /** Throws a helpful `BAD_HEADER` for a first line that is plainly not a digit CSV header. */
  private explainForeignHeader(fields: readonly string[]): void {
    const first = fields[0] ?? '';
    const at = { file: this.file, line: 1, column: 1 };
    if (first.trimStart().startsWith('<')) {
      throw new DigitInputError(
        'BAD_HEADER',
        at,
        'this looks like an HTML or XML page (a failed download?), not a digit CSV',
      );
    }
    if (/^sep=/i.test(first)) {
      throw new DigitInputError(
        'BAD_HEADER',
        at,
        `line 1 is Excel's ${quote(fields.join(','))} line; delete it so the header ${headerDescription(this.wantLabelled ?? true)} comes first`,
      );
    }
    if (first === 'ImageId') {
      throw new DigitInputError('BAD_HEADER', at, 'this is a submission file (ImageId,Label), not digit images');
    }
    const delimiter = fields.length < PIXELS_PER_IMAGE ? foreignDelimiter(first) : undefined;
    if (delimiter !== undefined && /^(label|pixel0)/.test(first)) {
      throw new DigitInputError(
        'BAD_HEADER',
        at,
        `the header is separated by ${delimiter}, not commas (a spreadsheet export with another list separator?); save the file as comma-separated CSV`,
      );
    }
  }

  /** Splits one line (without its line end) into fields with csv-parse, after encoding checks. */
  private splitLine(raw: Uint8Array, code: 'BAD_HEADER' | 'BAD_CELL'): string[] {
    const nul = raw.indexOf(0);
    if (nul >= 0) {
      throw new DigitInputError(
        'BAD_ENCODING',
        { file: this.file, line: this.line, column: fieldAt(raw, nul) },
        'NUL byte: the file looks like UTF-16 or binary data; save it as UTF-8 text',
      );
    }
    let text: string;
    try {
      this.decoder ??= new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
      text = this.decoder.decode(raw);
    } catch (error) {
      const bad = firstInvalidUtf8(raw);
      const byte = (raw[bad] ?? 0).toString(16).toUpperCase().padStart(2, '0');
      throw new DigitInputError(
        'BAD_ENCODING',
        { file: this.file, line: this.line, column: fieldAt(raw, bad) },
        `invalid UTF-8 (byte 0x${byte}); the file looks like Latin-1/Windows-1252 or binary data: save it as UTF-8 text`,
        { cause: error },
      );
    }
    let records: string[][];
    try {
      records = parseCsv(text, { record_delimiter: '\n', relax_column_count: true });
    } catch (error) {
      const index = (error as { index?: unknown }).index;
      const csvCode = (error as { code?: unknown }).code;
      const column = typeof index === 'number' ? index + 1 : 1;
      const problem =
        csvCode === 'CSV_QUOTE_NOT_CLOSED'
          ? 'unterminated quoted field (line breaks inside cells are not allowed)'
          : `malformed CSV: ${(error as Error).message}`;
      throw new DigitInputError(code, { file: this.file, line: this.line, column }, problem, { cause: error });
    }
    return records[0] ?? [];
  }
}

/** Names a delimiter other than a comma that splits `text`, if any. */
function foreignDelimiter(text: string): string | undefined {
  if (text.includes(';')) return 'semicolons';
  if (text.includes('\t')) return 'tabs';
  if (text.includes('|')) return 'vertical bars';
  return undefined;
}

/** A hint for numbers a spreadsheet re-save may produce: `255.0`, `1e2`, `+3`. */
function numberHint(cell: string): string {
  if (/^\+[0-9]+$/.test(cell)) return `; write it without the '+' sign`;
  if (/^[+-]?[0-9]*\.?[0-9]+e[+-]?[0-9]+$/i.test(cell))
    return `; scientific notation is not accepted, write whole numbers (${Number(cell)})`;
  if (/^[+-]?[0-9]+\.0*$/.test(cell)) return `; write it as ${Number(cell)} (spreadsheet re-saves can add decimals)`;
  return '';
}

/** Index of the first byte that breaks UTF-8 decoding (0 when none is found). */
function firstInvalidUtf8(raw: Uint8Array): number {
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number;
    if (b < 0x80) continue;
    const n = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (((raw[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += n;
  }
  return 0;
}

/** `label, pixel0..pixel783` or `pixel0..pixel783`, for messages. */
function headerDescription(labelled: boolean): string {
  return labelled ? 'label,pixel0,...,pixel783' : 'pixel0,...,pixel783';
}

function quote(value: string): string {
  return JSON.stringify(value.length > 24 ? `${value.slice(0, 24)}...` : value);
}

/** True when the bytes are only spaces, tabs and carriage returns. */
function isBlank(raw: Uint8Array): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== 32 && c !== 9 && c !== CR) return false;
  }
  return true;
}

/** The 1-based field number holding byte `index` of a line (commas counted, quotes ignored). */
function fieldAt(raw: Uint8Array, index: number): number {
  let field = 1;
  for (let i = 0; i < index; i++) if (raw[i] === COMMA) field++;
  return field;
}

/** Concatenates two byte arrays into a new one. */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

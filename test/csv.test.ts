import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { parse as csvParseSync } from 'csv-parse/sync';
import { gzipSync, zipSync } from 'fflate';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import { loadDigitCsv, type DigitCsvSource, type LoadDigitCsvOptions } from '../src/data/csv.js';
import { DigitCsvScanner } from '../src/data/csv_scanner.js';
import type { DigitDataset } from '../src/data/dataset.js';
import { isCsvText } from '../src/data/source.js';
import { DigitInputError, type DigitInputErrorCode } from '../src/errors.js';

const COMPETITION_ZIP = resolve(import.meta.dirname, '../../shared/data/digit-recognizer.zip');

const dir = mkdtempSync(join(tmpdir(), 'digit-csv-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PIXELS = 784;
const HEADER_FIELDS = ['label', ...Array.from({ length: PIXELS }, (_, i) => `pixel${i}`)];
const LABELLED_HEADER = HEADER_FIELDS.join(',');
const UNLABELLED_HEADER = HEADER_FIELDS.slice(1).join(',');

/** Deterministic pixel `i` of row `r`, covering 0..255 with 1-3 digit values. */
const pixelAt = (r: number, i: number): number => (r * 31 + i * 7) % 256;

/** Cells of a labelled data row (label `r % 10`). */
function rowCells(r: number, labelled = true): string[] {
  const cells = Array.from({ length: PIXELS }, (_, i) => String(pixelAt(r, i)));
  return labelled ? [String(r % 10), ...cells] : cells;
}

/** A CSV with `rows` rows; `edit` may change the cells of a row (by 0-based index). */
function makeCsv(
  rows: number,
  opts: {
    labelled?: boolean;
    eol?: string;
    finalEol?: boolean;
    edit?: (r: number, cells: string[]) => string[] | string;
  } = {},
): string {
  const { labelled = true, eol = '\n', finalEol = true, edit } = opts;
  const lines = [labelled ? LABELLED_HEADER : UNLABELLED_HEADER];
  for (let r = 0; r < rows; r++) {
    const cells = rowCells(r, labelled);
    const edited = edit === undefined ? cells : edit(r, cells);
    lines.push(typeof edited === 'string' ? edited : edited.join(','));
  }
  return lines.join(eol) + (finalEol ? eol : '');
}

function expectRows(ds: DigitDataset, rows: number, labelled = true): void {
  expect(ds.count).toBe(rows);
  expect(ds.pixels.length).toBe(rows * PIXELS);
  for (let r = 0; r < rows; r++) {
    for (const i of [0, 1, 2, 100, 500, 783]) expect(ds.pixels[r * PIXELS + i]).toBe(pixelAt(r, i));
  }
  if (labelled) expect(Array.from(ds.labels ?? [])).toEqual(Array.from({ length: rows }, (_, r) => r % 10));
  else expect(ds.labels).toBeUndefined();
}

/** Expects `promise` to reject with a DigitInputError of `code` at `line`/`column`. */
async function expectInputError(
  promise: Promise<unknown>,
  code: DigitInputErrorCode,
  line?: number,
  column?: number,
): Promise<DigitInputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DigitInputError);
  const e = error as DigitInputError;
  expect({ code: e.code, line: e.line, column: e.column }).toEqual({ code, line, column });
  const where =
    line === undefined ? e.file : column === undefined ? `${e.file}:${line}` : `${e.file}:${line}:${column}`;
  expect(e.message.startsWith(`${where}: `)).toBe(true);
  return e;
}

const enc = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const setCell =
  (c: number, value: string) =>
  (r: number, cells: string[]): string[] => {
    if (r === 1) cells[c] = value;
    return cells;
  };

describe('loadDigitCsv: valid input', () => {
  it('parses LF and CRLF files identically, with or without a final newline', async () => {
    for (const eol of ['\n', '\r\n']) {
      for (const finalEol of [true, false]) {
        const ds = await loadDigitCsv(makeCsv(5, { eol, finalEol }));
        expectRows(ds, 5);
        expect(ds.source).toBe('<text>');
      }
    }
  });

  it('parses unlabelled files (test.csv layout)', async () => {
    expectRows(await loadDigitCsv(makeCsv(4, { labelled: false })), 4, false);
    expectRows(await loadDigitCsv(makeCsv(4, { labelled: false }), { labelled: false }), 4, false);
  });

  it('accepts a UTF-8 BOM, blank trailing lines, quoted integers and leading zeros', async () => {
    expectRows(await loadDigitCsv(enc(`\uFEFF${makeCsv(3)}`)), 3);
    expectRows(await loadDigitCsv(`${makeCsv(3, { eol: '\r\n' })}\r\n\r\n  \n`), 3);
    // Every cell quoted: each row goes through the csv-parse slow path.
    const quoted = makeCsv(3, { edit: (_r, cells) => cells.map((c) => `"${c}"`) });
    expectRows(await loadDigitCsv(quoted), 3);
    // A quoted header too.
    expectRows(await loadDigitCsv(quoted.replace(LABELLED_HEADER, HEADER_FIELDS.map((h) => `"${h}"`).join(','))), 3);
    const zeros = await loadDigitCsv(
      makeCsv(3, { edit: (r, cells) => (r === 1 ? cells.map((c) => c.padStart(4, '0')) : cells) }),
    );
    expectRows(zeros, 3);
  });

  it('matches csv-parse on random data, whatever the chunk boundaries', async () => {
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    const lines = [LABELLED_HEADER];
    for (let r = 0; r < 40; r++) {
      lines.push([rand(10), ...Array.from({ length: PIXELS }, () => (rand(3) === 0 ? rand(256) : 0))].join(','));
    }
    const text = lines.join('\r\n');
    const reference = (csvParseSync(text) as string[][]).slice(1);
    const expectedPixels = Uint8Array.from(reference.flatMap((row) => row.slice(1).map(Number)));
    const expectedLabels = Uint8Array.from(reference.map((row) => Number(row[0])));
    const bytes = enc(text);
    for (const size of [1, 2, 3, 7, 64, 1000, 3141, 1 << 20]) {
      const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
        bytes.subarray(i * size, (i + 1) * size),
      );
      const ds = await loadDigitCsv(Readable.from(chunks));
      expect(ds.count).toBe(40);
      expect(ds.pixels).toEqual(expectedPixels);
      expect(ds.labels).toEqual(expectedLabels);
    }
  });

  it('stops after `limit` rows without parsing the rest', async () => {
    const bad = makeCsv(10, { edit: (r, cells) => (r === 5 ? 'garbage' : cells) });
    expectRows(await loadDigitCsv(bad, { limit: 3 }), 3);
    const none = await loadDigitCsv(bad, { limit: 0 });
    expect(none.count).toBe(0);
    await expect(loadDigitCsv(bad, { limit: 6 })).rejects.toMatchObject({ code: 'COLUMN_COUNT', line: 7 });
    expectRows(await loadDigitCsv(makeCsv(2), { limit: 100 }), 2);
    await expect(loadDigitCsv(makeCsv(2), { limit: -1 })).rejects.toBeInstanceOf(RangeError);
    await expect(loadDigitCsv(makeCsv(2), { limit: 1.5 })).rejects.toBeInstanceOf(RangeError);

    // A stream is not read past the limit.
    let pulled = 0;
    const lines = makeCsv(1000)
      .split('\n')
      .map((l) => `${l}\n`);
    async function* source(): AsyncGenerator<string> {
      for (const line of lines) {
        pulled++;
        yield line;
      }
    }
    expectRows(await loadDigitCsv(source(), { limit: 5 }), 5);
    expect(pulled).toBeLessThan(10);
  });

  it('reports progress', async () => {
    const seen: number[] = [];
    await loadDigitCsv(makeCsv(700), { onProgress: (rows) => seen.push(rows) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toBe(700);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it('tells CSV text from paths', () => {
    expect(isCsvText('label,pixel0')).toBe(true);
    expect(isCsvText('pixel0,pixel1')).toBe(true);
    expect(isCsvText('\uFEFFlabel')).toBe(true);
    expect(isCsvText('a\nb')).toBe(true);
    expect(isCsvText('')).toBe(true);
    expect(isCsvText('data/train.csv')).toBe(false);
    expect(isCsvText('label.csv')).toBe(true); // documented: starts with "label", so use { path } for such names
  });
});

describe('loadDigitCsv: malformed input', () => {
  const header = LABELLED_HEADER;
  const cases: {
    name: string;
    input: string | Uint8Array;
    code: DigitInputErrorCode;
    line?: number;
    column?: number;
    options?: LoadDigitCsvOptions;
  }[] = [
    { name: 'empty input', input: '', code: 'EMPTY' },
    { name: 'only whitespace', input: ' \r\n\n\t\n', code: 'EMPTY' },
    { name: 'only a BOM', input: enc('\uFEFF'), code: 'EMPTY' },
    { name: 'header only', input: `${header}\n`, code: 'HEADER_ONLY', line: 1 },
    { name: 'header and blank lines', input: `${header}\r\n\r\n\r\n`, code: 'HEADER_ONLY', line: 1 },
    {
      name: 'wrong header field',
      input: makeCsv(2).replace('pixel5,', 'pixel55,'),
      code: 'BAD_HEADER',
      line: 1,
      column: 7,
    },
    { name: 'capitalised label', input: makeCsv(2).replace('label', 'Label'), code: 'BAD_HEADER', line: 1, column: 1 },
    { name: 'short header', input: makeCsv(2).replace(',pixel783', ''), code: 'BAD_HEADER', line: 1, column: 785 },
    {
      name: 'extra header field',
      input: makeCsv(2).replace('pixel783', 'pixel783,extra'),
      code: 'BAD_HEADER',
      line: 1,
      column: 786,
    },
    { name: 'no header', input: makeCsv(3).split('\n').slice(1).join('\n'), code: 'BAD_HEADER', line: 1, column: 1 },
    {
      name: 'space in header',
      input: makeCsv(2).replace('pixel9,', 'pixel9 ,'),
      code: 'BAD_HEADER',
      line: 1,
      column: 11,
    },
    { name: 'blank first line', input: `\n${makeCsv(2)}`, code: 'BAD_HEADER', line: 1, column: 1 },
    {
      name: 'labelled: true on test.csv',
      input: makeCsv(2, { labelled: false }),
      code: 'BAD_HEADER',
      line: 1,
      column: 1,
      options: { labelled: true },
    },
    {
      name: 'labelled: false on train.csv',
      input: makeCsv(2),
      code: 'BAD_HEADER',
      line: 1,
      column: 1,
      options: { labelled: false },
    },
    {
      name: 'row with a missing field',
      input: makeCsv(3, { edit: (r, c) => (r === 1 ? c.slice(0, -1) : c) }),
      code: 'COLUMN_COUNT',
      line: 3,
      column: 785,
    },
    {
      name: 'row with an extra field',
      input: makeCsv(3, { edit: (r, c) => (r === 1 ? [...c, '0'] : c) }),
      code: 'COLUMN_COUNT',
      line: 3,
      column: 786,
    },
    { name: 'truncated last row', input: makeCsv(3).slice(0, -1000), code: 'COLUMN_COUNT', line: 4, column: 505 },
    {
      name: 'blank line between rows',
      input: makeCsv(3, { edit: (r, c) => (r === 1 ? '' : c) }),
      code: 'COLUMN_COUNT',
      line: 3,
      column: 1,
    },
    { name: 'decimal pixel', input: makeCsv(3, { edit: setCell(11, '1.5') }), code: 'BAD_CELL', line: 3, column: 12 },
    { name: 'word pixel', input: makeCsv(3, { edit: setCell(11, 'abc') }), code: 'BAD_CELL', line: 3, column: 12 },
    { name: 'leading space', input: makeCsv(3, { edit: setCell(11, ' 3') }), code: 'BAD_CELL', line: 3, column: 12 },
    { name: 'trailing space', input: makeCsv(3, { edit: setCell(784, '3 ') }), code: 'BAD_CELL', line: 3, column: 785 },
    { name: 'empty cell', input: makeCsv(3, { edit: setCell(11, '') }), code: 'BAD_CELL', line: 3, column: 12 },
    { name: 'empty last cell', input: makeCsv(3, { edit: setCell(784, '') }), code: 'BAD_CELL', line: 3, column: 785 },
    { name: 'plus sign', input: makeCsv(3, { edit: setCell(2, '+3') }), code: 'BAD_CELL', line: 3, column: 3 },
    {
      name: 'unterminated quote',
      input: makeCsv(3, { edit: setCell(5, '"12') }),
      code: 'BAD_CELL',
      line: 3,
      column: 6,
    },
    {
      name: 'text after a closing quote',
      input: makeCsv(3, { edit: setCell(5, '"12"3') }),
      code: 'BAD_CELL',
      line: 3,
      column: 6,
    },
    { name: 'pixel 256', input: makeCsv(3, { edit: setCell(11, '256') }), code: 'PIXEL_RANGE', line: 3, column: 12 },
    { name: 'pixel 1000', input: makeCsv(3, { edit: setCell(11, '1000') }), code: 'PIXEL_RANGE', line: 3, column: 12 },
    {
      name: 'negative pixel',
      input: makeCsv(3, { edit: setCell(11, '-1') }),
      code: 'PIXEL_RANGE',
      line: 3,
      column: 12,
    },
    { name: 'label 10', input: makeCsv(3, { edit: setCell(0, '10') }), code: 'LABEL_RANGE', line: 3, column: 1 },
    { name: 'non-numeric label', input: makeCsv(3, { edit: setCell(0, 'x') }), code: 'BAD_CELL', line: 3, column: 1 },
    {
      name: 'unlabelled pixel out of range',
      input: makeCsv(3, { labelled: false, edit: setCell(783, '300') }),
      code: 'PIXEL_RANGE',
      line: 3,
      column: 784,
    },
    {
      name: 'UTF-16 BOM',
      input: cat(Uint8Array.of(0xff, 0xfe), enc(makeCsv(1))),
      code: 'BAD_ENCODING',
      line: 1,
      column: 1,
    },
    {
      name: 'UTF-16 without BOM (NUL bytes)',
      input: enc(makeCsv(1)).reduce(
        (out, b, i) => (out.set([b, 0], 2 * i), out),
        new Uint8Array(2 * enc(makeCsv(1)).length),
      ),
      code: 'BAD_ENCODING',
      line: 1,
      column: 1,
    },
    {
      name: 'NUL byte in a row',
      input: makeCsv(3, { edit: setCell(3, '1\u00002') }),
      code: 'BAD_ENCODING',
      line: 3,
      column: 4,
    },
    {
      name: 'invalid UTF-8',
      input: (() => {
        const b = enc(makeCsv(3, { edit: setCell(3, 'Z') }));
        b[b.indexOf(90)] = 0xff;
        return b;
      })(),
      code: 'BAD_ENCODING',
      line: 3,
      column: 4,
    },
    { name: 'non-ASCII character', input: makeCsv(3, { edit: setCell(3, 'é') }), code: 'BAD_CELL', line: 3, column: 4 },
  ];

  for (const { name, input, code, line, column, options } of cases) {
    it(`${name} -> ${code}${line === undefined ? '' : ` at ${line}:${column ?? ''}`}`, async () => {
      const e = await expectInputError(
        loadDigitCsv(typeof input === 'string' ? { text: input } : input, options),
        code,
        line,
        column,
      );
      expect(e.file).toBe(typeof input === 'string' ? '<text>' : '<bytes>');
      // Same error whatever the chunking: one byte at a time through a stream.
      const bytes = typeof input === 'string' ? enc(input) : input;
      if (bytes.length < 20_000) {
        const bytewise = Readable.from(Array.from(bytes, (b) => Uint8Array.of(b)));
        await expectInputError(loadDigitCsv(bytewise, options), code, line, column);
      }
    });
  }

  it('names the problem in the message', async () => {
    const e = await expectInputError(
      loadDigitCsv(makeCsv(3, { edit: setCell(11, '1.5') }), { name: 'mine.csv' }),
      'BAD_CELL',
      3,
      12,
    );
    expect(e.message).toBe('mine.csv:3:12: pixel10 is "1.5", not an integer');
    const ragged = await expectInputError(
      loadDigitCsv(makeCsv(3, { edit: (r, c) => (r === 0 ? c.slice(0, 10) : c) })),
      'COLUMN_COUNT',
      2,
      11,
    );
    expect(ragged.problem).toMatch(/expected 785 fields .*got 10/);
  });

  it('rejects lines too long to be digit rows', () => {
    const scanner = new DigitCsvScanner({ file: 'big' });
    scanner.push(enc(`${LABELLED_HEADER}\n`));
    const chunk = new Uint8Array(1 << 16).fill(49);
    expect(() => {
      for (let i = 0; i < 20; i++) scanner.push(chunk);
    }).toThrow(expect.objectContaining({ code: 'LINE_TOO_LONG', line: 2 }) as Error);
  });
});

describe('loadDigitCsv: sources', () => {
  const text = makeCsv(6, { eol: '\r\n' });
  const bytes = enc(text);
  const file = join(dir, 'train.csv');
  writeFileSync(file, bytes);

  it('reads a path, { path }, text, { text, name }, Uint8Array and ArrayBuffer', async () => {
    const fromPath = await loadDigitCsv(file);
    expectRows(fromPath, 6);
    expect(fromPath.source).toBe(file);
    expectRows(await loadDigitCsv({ path: file }), 6);
    expectRows(await loadDigitCsv(text), 6);
    const named = await loadDigitCsv({ text, name: 'pasted' });
    expect(named.source).toBe('pasted');
    expectRows(await loadDigitCsv(bytes), 6);
    expectRows(await loadDigitCsv(bytes.buffer.slice(0) as ArrayBuffer), 6);
    expect((await loadDigitCsv(bytes, { name: 'n.csv' })).source).toBe('n.csv');
  });

  it('reads a Blob, a web ReadableStream and a Node Readable', async () => {
    const blob = await loadDigitCsv(new Blob([bytes]));
    expectRows(blob, 6);
    expect(blob.source).toBe('<blob>');
    expect((await loadDigitCsv(new File([bytes], 'upload.csv'))).source).toBe('upload.csv');
    const web = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 1000) controller.enqueue(bytes.slice(i, i + 1000));
        controller.close();
      },
    });
    const fromWeb = await loadDigitCsv(web);
    expectRows(fromWeb, 6);
    expect(fromWeb.source).toBe('<stream>');
    const { createReadStream } = await import('node:fs');
    expectRows(await loadDigitCsv(createReadStream(file, { highWaterMark: 777 })), 6);
    expectRows(await loadDigitCsv(Readable.from([text.slice(0, 5000), text.slice(5000)])), 6);
  });

  it('reads gzip files and streams', async () => {
    const gz = join(dir, 'train.csv.gz');
    writeFileSync(gz, gzipSync(bytes));
    const ds = await loadDigitCsv(gz);
    expectRows(ds, 6);
    expect(ds.source).toBe(gz);
    const gzBytes = gzipSync(bytes);
    expectRows(
      await loadDigitCsv(
        Readable.from(
          Array.from({ length: Math.ceil(gzBytes.length / 100) }, (_, i) => gzBytes.slice(i * 100, i * 100 + 100)),
        ),
      ),
      6,
    );
    expectRows(await loadDigitCsv(new Blob([gzBytes])), 6);
  });

  it('reads zip members and names them in errors', async () => {
    const zip = join(dir, 'archive.zip');
    const bad = enc(makeCsv(3, { labelled: false, edit: setCell(3, 'x') }));
    writeFileSync(
      zip,
      zipSync({
        'train.csv': bytes,
        'test.csv': enc(makeCsv(2, { labelled: false })),
        'bad.csv': bad,
        'notes.txt': enc('hi'),
      }),
    );
    const ds = await loadDigitCsv(zip, { member: 'train.csv' });
    expectRows(ds, 6);
    expect(ds.source).toBe(`${zip}:train.csv`);
    expectRows(await loadDigitCsv(zip, { member: 'test.csv' }), 2, false);
    const e = await expectInputError(loadDigitCsv(zip, { member: 'bad.csv' }), 'BAD_CELL', 3, 4);
    expect(e.file).toBe(`${zip}:bad.csv`);

    const missing = await expectInputError(loadDigitCsv(zip, { member: 'valid.csv' }), 'ZIP_MEMBER_MISSING');
    expect(missing.file).toBe(zip);
    expect(missing.message).toMatch(/valid\.csv.*train\.csv, test\.csv, bad\.csv, notes\.txt/);
    const ambiguous = await expectInputError(loadDigitCsv(zip), 'ZIP_MEMBER_MISSING');
    expect(ambiguous.message).toMatch(/3 \.csv files.*options\.member/);

    // One CSV (in a folder, stored uncompressed): picked by default, or by base name.
    const single = zipSync({ 'data/only.csv': [bytes, { level: 0 }], 'readme.md': enc('x') });
    expectRows(await loadDigitCsv(single), 6);
    expectRows(await loadDigitCsv(single, { member: 'only.csv' }), 6);
    expect((await loadDigitCsv(single, { name: 'up.zip' })).source).toBe('up.zip:data/only.csv');
    await expectInputError(loadDigitCsv(zipSync({})), 'ZIP_MEMBER_MISSING');
    await expectInputError(loadDigitCsv(zipSync({ 'a.txt': enc('x') })), 'ZIP_MEMBER_MISSING');
  });

  it('rejects corrupt archives and missing files', async () => {
    const gz = gzipSync(bytes);
    await expectInputError(loadDigitCsv(gz.subarray(0, gz.length >> 1)), 'CORRUPT_ARCHIVE');
    const mangled = gz.slice();
    mangled.fill(0xff, 20, 60);
    await expectInputError(loadDigitCsv(mangled), 'CORRUPT_ARCHIVE');
    const zip = zipSync({ 'train.csv': bytes });
    await expectInputError(loadDigitCsv(zip.subarray(0, zip.length - 30)), 'CORRUPT_ARCHIVE');
    const badDeflate = zip.slice();
    badDeflate.fill(0xff, 50, 120);
    await expectInputError(loadDigitCsv(badDeflate), 'CORRUPT_ARCHIVE');

    const absent = join(dir, 'absent.csv');
    const e = await expectInputError(loadDigitCsv(absent), 'NOT_FOUND');
    expect(e.file).toBe(absent);
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    await expectInputError(loadDigitCsv(folder), 'UNREADABLE');
    await expectInputError(loadDigitCsv(42 as unknown as DigitCsvSource), 'UNSUPPORTED');
  });
});

describe('loadDigitCsv: types', () => {
  it('has the documented signature', () => {
    expectTypeOf(loadDigitCsv).parameter(0).toEqualTypeOf<DigitCsvSource>();
    expectTypeOf(loadDigitCsv).parameter(1).toEqualTypeOf<LoadDigitCsvOptions | undefined>();
    expectTypeOf(loadDigitCsv).returns.resolves.toEqualTypeOf<DigitDataset>();
    expectTypeOf<string>().toMatchTypeOf<DigitCsvSource>();
    expectTypeOf<Uint8Array>().toMatchTypeOf<DigitCsvSource>();
    expectTypeOf<Blob>().toMatchTypeOf<DigitCsvSource>();
    expectTypeOf<ReadableStream<Uint8Array>>().toMatchTypeOf<DigitCsvSource>();
    expectTypeOf<Readable>().toMatchTypeOf<DigitCsvSource>();
    expectTypeOf<{ text: string; name: string }>().toMatchTypeOf<DigitCsvSource>();
    expectTypeOf<{ path: string }>().toMatchTypeOf<DigitCsvSource>();
    expectTypeOf<number>().not.toMatchTypeOf<DigitCsvSource>();
    expectTypeOf<LoadDigitCsvOptions['onProgress']>().toEqualTypeOf<((rows: number) => void) | undefined>();
  });
});

describe.skipIf(!existsSync(COMPETITION_ZIP))('loadDigitCsv: Kaggle digit-recognizer.zip', () => {
  it('loads train.csv: 42,000 labelled images', async () => {
    const start = performance.now();
    const train = await loadDigitCsv(COMPETITION_ZIP, { member: 'train.csv' });
    const ms = performance.now() - start;
    expect(train.count).toBe(42_000);
    expect(train.pixels.length).toBe(42_000 * PIXELS);
    expect(train.source).toBe(`${COMPETITION_ZIP}:train.csv`);
    const counts = new Array<number>(10).fill(0);
    for (const label of train.labels ?? []) counts[label] = (counts[label] ?? 0) + 1;
    expect(counts.reduce((a, b) => a + b, 0)).toBe(42_000);
    for (const n of counts) expect(n).toBeGreaterThan(3500);
    for (const n of counts) expect(n).toBeLessThan(5000);
    let max = 0;
    let ink = 0;
    for (const p of train.pixels) {
      if (p > max) max = p;
      if (p > 0) ink++;
    }
    expect(max).toBe(255);
    // Mostly background: about a fifth of the pixels carry ink.
    expect(ink / train.pixels.length).toBeGreaterThan(0.1);
    expect(ink / train.pixels.length).toBeLessThan(0.3);
    // Corners are background.
    for (let i = 0; i < train.count; i += 997) expect(train.pixels[i * PIXELS]).toBe(0);
    expect(ms).toBeLessThan(20_000); // ~0.6 s here; generous for slow CI
  });

  it('loads test.csv: 28,000 unlabelled images', async () => {
    const test = await loadDigitCsv(COMPETITION_ZIP, { member: 'test.csv', labelled: false });
    expect(test.count).toBe(28_000);
    expect(test.labels).toBeUndefined();
    expect(Math.max(...test.pixels.subarray(0, 100 * PIXELS))).toBe(255);
  });

  it('needs a member name, and honours limit', async () => {
    const e = await expectInputError(loadDigitCsv(COMPETITION_ZIP), 'ZIP_MEMBER_MISSING');
    expect(e.message).toMatch(/train\.csv/);
    const head = await loadDigitCsv(COMPETITION_ZIP, { member: 'train.csv', limit: 10 });
    expect(head.count).toBe(10);
    await expectInputError(loadDigitCsv(COMPETITION_ZIP, { member: 'sample_submission.csv' }), 'BAD_HEADER', 1, 1);
  });
});

/**
 * The catalogue of malformed inputs (issue "Never lose work, never crash on bad
 * input"): every kind of broken CSV, gzip, zip and model folder we know of,
 * each with the typed error, line and column the library must give. A subset
 * also runs through `examples/predict.ts`, which must print exactly one line,
 * exit 1, show no stack trace and write nothing.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { gzipSync, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DigitInputError,
  DigitModelError,
  fileSystemIO,
  loadDigitCsv,
  loadDigitModel,
  type DigitInputErrorCode,
  type DigitModelErrorCode,
} from 'digit-recognizer';
import { pool, tempDir, useBackend } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const dir = tempDir('digit-catalogue-');
const inputs = join(dir, 'inputs');
const models = join(dir, 'models');
mkdirSync(inputs);
mkdirSync(models);

// ---- building blocks: Kaggle's test.csv layout (784 pixel columns), 3 rows ----

const PIXEL_NAMES = Array.from({ length: 784 }, (_, i) => `pixel${i}`);
const HEADER = PIXEL_NAMES.join(',');
const LABELLED_HEADER = `label,${HEADER}`;
const cells = (r: number): string[] => Array.from({ length: 784 }, (_, i) => String((r * 31 + i * 7) % 256));

/** A test.csv with `rows` rows; `edit(r, cells)` may change row r (0-based; row r is on line r + 2). */
function csv(
  rows = 3,
  opts: { eol?: string; header?: string; edit?: (r: number, c: string[]) => string[] | string } = {},
): string {
  const lines = [opts.header ?? HEADER];
  for (let r = 0; r < rows; r++) {
    const edited = opts.edit?.(r, cells(r)) ?? cells(r);
    lines.push(typeof edited === 'string' ? edited : edited.join(','));
  }
  return lines.join(opts.eol ?? '\n') + (opts.eol ?? '\n');
}
/** Sets cell `c` (0-based, so column c + 1) of row 1 (line 3). */
const cell =
  (c: number, value: string) =>
  (r: number, row: string[]): string[] => {
    if (r === 1) row[c] = value;
    return row;
  };
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  return out;
};
const utf16 = (s: string, bigEndian: boolean): Uint8Array => {
  const out = new Uint8Array(2 * s.length);
  for (let i = 0; i < s.length; i++) out[2 * i + (bigEndian ? 1 : 0)] = s.charCodeAt(i);
  return out;
};
/** Replaces the byte of the first `marker` character with `byte`. */
const withByte = (text: string, marker: string, byte: number): Uint8Array => {
  const bytes = enc(text);
  bytes[bytes.indexOf(marker.charCodeAt(0))] = byte;
  return bytes;
};
/** A 512-byte tar header for `name`: enough for the "ustar" magic at offset 257. */
const tar = (name: string, body: Uint8Array): Uint8Array => {
  const header = new Uint8Array(512);
  header.set(enc(name));
  header.set(enc('ustar\u000000'), 257);
  return cat(header, body, new Uint8Array(512 - (body.length % 512)));
};

const gz = gzipSync(enc(csv()));
/** A stored zip whose member data has one pixel digit changed: the CSV stays valid, only the CRC-32 tells. */
const zipWithBadCrc = (): Uint8Array => {
  const zip = zipSync({ 'test.csv': [enc(csv()), { level: 0 }] }).slice();
  // First byte of row 1, inside the member data: the search starts past the local header (30 bytes
  // and the name), whose DOS time and date can hold 0x0a themselves (from 01:16 to 01:23, for one).
  const at = zip.indexOf(0x0a, 30 + 'test.csv'.length) + 1;
  zip[at] = zip[at] === 0x30 ? 0x31 : 0x30;
  return zip;
};

// ---- the catalogue ----

interface InputCase {
  /** File name in the inputs folder; its extension is only for people. */
  readonly name: string;
  readonly what: string;
  /** File content; `undefined` for cases about the path itself. */
  readonly bytes: Uint8Array | string | undefined;
  readonly code: DigitInputErrorCode;
  readonly line?: number;
  readonly column?: number;
  /** Zip member named in the error (the script reads member test.csv of a zip). */
  readonly member?: string;
  /** Also run through examples/predict.ts. */
  readonly script?: boolean;
}

const INPUT_CASES: readonly InputCase[] = [
  // encodings and byte-order marks
  {
    name: 'utf16le-bom.csv',
    what: 'UTF-16 LE with BOM (Excel "Unicode text")',
    bytes: cat(Uint8Array.of(0xff, 0xfe), utf16(csv(), false)),
    code: 'BAD_ENCODING',
    line: 1,
    column: 1,
    script: true,
  },
  {
    name: 'utf16be-bom.csv',
    what: 'UTF-16 BE with BOM',
    bytes: cat(Uint8Array.of(0xfe, 0xff), utf16(csv(), true)),
    code: 'BAD_ENCODING',
    line: 1,
    column: 1,
  },
  {
    name: 'utf16le-nobom.csv',
    what: 'UTF-16 LE without BOM (NUL bytes)',
    bytes: utf16(csv(), false),
    code: 'BAD_ENCODING',
    line: 1,
    column: 1,
  },
  {
    name: 'latin1.csv',
    what: 'a Latin-1 byte (0xE9) in a cell',
    bytes: withByte(csv(3, { edit: cell(3, 'Z') }), 'Z', 0xe9),
    code: 'BAD_ENCODING',
    line: 3,
    column: 4,
    script: true,
  },
  {
    name: 'nul.csv',
    what: 'a NUL byte inside a row',
    bytes: csv(3, { edit: cell(3, '1\u00002') }),
    code: 'BAD_ENCODING',
    line: 3,
    column: 4,
  },
  {
    name: 'cr-only.csv',
    what: 'old Mac CR-only line ends',
    bytes: csv(3, { eol: '\r' }),
    code: 'BAD_ENCODING',
    line: 1,
    column: 784,
    script: true,
  },
  {
    name: 'cr-only-big.csv',
    what: 'CR-only line ends, over 1 MB without a line feed',
    bytes: csv(900, { eol: '\r' }),
    code: 'BAD_ENCODING',
    line: 1,
    column: 784,
  },
  {
    name: 'png.csv',
    what: 'a PNG image named .csv',
    bytes: Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52),
    code: 'BAD_ENCODING',
    line: 1,
    column: 1,
  },
  // shape of the table
  {
    name: 'ragged-short.csv',
    what: 'a row with a missing field',
    bytes: csv(3, { edit: (r, c) => (r === 1 ? c.slice(0, -1) : c) }),
    code: 'COLUMN_COUNT',
    line: 3,
    column: 784,
    script: true,
  },
  {
    name: 'ragged-long.csv',
    what: 'a row with an extra field',
    bytes: csv(3, { edit: (r, c) => (r === 1 ? [...c, '0'] : c) }),
    code: 'COLUMN_COUNT',
    line: 3,
    column: 785,
  },
  {
    name: 'truncated.csv',
    what: 'a file cut off mid-row',
    bytes: csv().slice(0, -1000),
    code: 'COLUMN_COUNT',
    line: 4,
    column: 504,
  },
  {
    name: 'blank-middle.csv',
    what: 'a blank line between rows',
    bytes: csv(3, { edit: (r, c) => (r === 1 ? '' : c) }),
    code: 'COLUMN_COUNT',
    line: 3,
    column: 1,
  },
  {
    name: 'huge-line.csv',
    what: 'a 2 MB line without a line break',
    bytes: `${HEADER}\n${'1,'.repeat(1 << 20)}`,
    code: 'LINE_TOO_LONG',
    line: 2,
  },
  {
    name: 'label-header-test-rows.csv',
    what: "train.csv's header over test.csv's rows",
    bytes: csv(3, { header: LABELLED_HEADER }),
    code: 'COLUMN_COUNT',
    line: 2,
    column: 785,
  },
  // headers
  { name: 'empty.csv', what: 'an empty file', bytes: '', code: 'EMPTY', script: true },
  { name: 'header-only.csv', what: 'a header and no rows', bytes: `${HEADER}\n`, code: 'HEADER_ONLY', line: 1 },
  {
    name: 'no-header.csv',
    what: 'rows without a header',
    bytes: csv().split('\n').slice(1).join('\n'),
    code: 'BAD_HEADER',
    line: 1,
    column: 1,
  },
  {
    name: 'header-order.csv',
    what: 'header columns in the wrong order',
    bytes: csv(3, { header: HEADER.replace('pixel0,pixel1,', 'pixel1,pixel0,') }),
    code: 'BAD_HEADER',
    line: 1,
    column: 1,
  },
  {
    name: 'header-duplicate.csv',
    what: 'a duplicated header column',
    bytes: csv(3, { header: HEADER.replace('pixel6,', 'pixel5,') }),
    code: 'BAD_HEADER',
    line: 1,
    column: 7,
  },
  {
    name: 'header-repeated.csv',
    what: 'two CSV files joined: the header again on line 4',
    bytes: csv(2) + csv(1),
    code: 'BAD_HEADER',
    line: 4,
    column: 1,
    script: true,
  },
  {
    name: 'header-case.csv',
    what: 'a capitalised header (Pixel0)',
    bytes: csv(3, { header: HEADER.replace('pixel0', 'Pixel0') }),
    code: 'BAD_HEADER',
    line: 1,
    column: 1,
  },
  {
    name: 'submission.csv',
    what: 'a submission file passed as test data',
    bytes: 'ImageId,Label\n1,2\n',
    code: 'BAD_HEADER',
    line: 1,
    column: 1,
  },
  {
    name: 'html.csv',
    what: 'an HTML error page saved as .csv',
    bytes: '<!DOCTYPE html>\n<html><body>Not found</body></html>\n',
    code: 'BAD_HEADER',
    line: 1,
    column: 1,
  },
  // spreadsheet re-saves
  {
    name: 'semicolons.csv',
    what: 'semicolon delimiters (European Excel)',
    bytes: csv().replaceAll(',', ';'),
    code: 'BAD_HEADER',
    line: 1,
    column: 1,
    script: true,
  },
  {
    name: 'tabs.csv',
    what: 'tab delimiters',
    bytes: csv().replaceAll(',', '\t'),
    code: 'BAD_HEADER',
    line: 1,
    column: 1,
  },
  {
    name: 'sep-line.csv',
    what: 'Excel\'s "sep=," first line',
    bytes: `sep=,\n${csv()}`,
    code: 'BAD_HEADER',
    line: 1,
    column: 1,
  },
  {
    name: 'trailing-commas.csv',
    what: 'a trailing comma on every line',
    bytes: csv().replaceAll('\n', ',\n'),
    code: 'BAD_HEADER',
    line: 1,
    column: 785,
  },
  {
    name: 'trailing-comma-row.csv',
    what: 'a trailing comma on one row',
    bytes: csv(3, { edit: (r, c) => (r === 1 ? [...c, ''] : c) }),
    code: 'COLUMN_COUNT',
    line: 3,
    column: 785,
  },
  {
    name: 'scientific.csv',
    what: 'scientific notation 1e2',
    bytes: csv(3, { edit: cell(11, '1e2') }),
    code: 'BAD_CELL',
    line: 3,
    column: 12,
    script: true,
  },
  {
    name: 'decimal.csv',
    what: 'a re-saved 255.0',
    bytes: csv(3, { edit: cell(11, '255.0') }),
    code: 'BAD_CELL',
    line: 3,
    column: 12,
  },
  {
    name: 'plus.csv',
    what: "a leading '+'",
    bytes: csv(3, { edit: cell(2, '+3') }),
    code: 'BAD_CELL',
    line: 3,
    column: 3,
  },
  {
    name: 'word.csv',
    what: 'a word in a pixel cell',
    bytes: csv(3, { edit: cell(11, 'abc') }),
    code: 'BAD_CELL',
    line: 3,
    column: 12,
  },
  {
    name: 'empty-cell.csv',
    what: 'an empty cell',
    bytes: csv(3, { edit: cell(11, '') }),
    code: 'BAD_CELL',
    line: 3,
    column: 12,
  },
  {
    name: 'unterminated-quote.csv',
    what: 'an unterminated quote',
    bytes: csv(3, { edit: cell(5, '"12') }),
    code: 'BAD_CELL',
    line: 3,
    column: 6,
  },
  {
    name: 'nbsp.csv',
    what: 'a non-breaking space after a number',
    bytes: csv(3, { edit: cell(5, '12\u00a0') }),
    code: 'BAD_CELL',
    line: 3,
    column: 6,
  },
  {
    name: 'pixel-256.csv',
    what: 'pixel 256',
    bytes: csv(3, { edit: cell(11, '256') }),
    code: 'PIXEL_RANGE',
    line: 3,
    column: 12,
  },
  {
    name: 'pixel-negative.csv',
    what: 'pixel -1',
    bytes: csv(3, { edit: cell(783, '-1') }),
    code: 'PIXEL_RANGE',
    line: 3,
    column: 784,
  },
  {
    name: 'label-10.csv',
    what: 'label 10 in train.csv layout',
    bytes: csv(3, { header: LABELLED_HEADER, edit: (r, c) => [r === 1 ? '10' : '1', ...c] }),
    code: 'LABEL_RANGE',
    line: 3,
    column: 1,
  },
  // gzip
  { name: 'empty.csv.gz', what: 'gzip of an empty file', bytes: gzipSync(new Uint8Array(0)), code: 'EMPTY' },
  { name: 'half.csv.gz', what: 'gzip cut in half', bytes: gz.subarray(0, gz.length >> 1), code: 'CORRUPT_ARCHIVE' },
  {
    name: 'no-trailer.csv.gz',
    what: 'gzip missing its 8-byte trailer',
    bytes: gz.subarray(0, gz.length - 8),
    code: 'CORRUPT_ARCHIVE',
    script: true,
  },
  {
    name: 'bad-crc.csv.gz',
    what: 'gzip with a wrong CRC-32',
    bytes: (() => {
      const g = gz.slice();
      g[g.length - 6] = (g[g.length - 6] as number) ^ 0xff;
      return g;
    })(),
    code: 'CORRUPT_ARCHIVE',
  },
  {
    name: 'zip-in.gz',
    what: 'a zip inside gzip',
    bytes: gzipSync(zipSync({ 'test.csv': enc(csv()) })),
    code: 'UNSUPPORTED',
  },
  { name: 'tar.csv.gz', what: 'a .tar.gz', bytes: gzipSync(tar('test.csv', enc(csv()))), code: 'UNSUPPORTED' },
  {
    name: 'bad-deflate.csv.gz',
    what: 'gzip with garbage in the deflate data',
    bytes: (() => {
      const g = gz.slice();
      g.fill(0xff, 20, 60);
      return g;
    })(),
    code: 'CORRUPT_ARCHIVE',
  },
  // zip (the script reads member test.csv)
  {
    name: 'empty-member.zip',
    what: 'a zip whose test.csv is empty',
    bytes: zipSync({ 'test.csv': new Uint8Array(0) }),
    code: 'EMPTY',
    member: 'test.csv',
  },
  {
    name: 'folder-only.zip',
    what: 'a zip holding only a folder',
    bytes: zipSync({ data: {} }),
    code: 'ZIP_MEMBER_MISSING',
  },
  {
    name: 'no-test.zip',
    what: 'a zip without test.csv',
    bytes: zipSync({ 'train.csv': enc(csv()) }),
    code: 'ZIP_MEMBER_MISSING',
  },
  {
    name: 'xlsx.zip',
    what: 'an Excel workbook renamed .zip',
    bytes: zipSync({ '[Content_Types].xml': enc('<Types/>'), 'xl/workbook.xml': enc('<workbook/>') }),
    code: 'ZIP_MEMBER_MISSING',
  },
  {
    name: 'bad-crc.zip',
    what: 'a zip member with a wrong CRC-32',
    bytes: zipWithBadCrc(),
    code: 'CORRUPT_ARCHIVE',
    member: 'test.csv',
    script: true,
  },
  {
    name: 'truncated.zip',
    what: 'a zip cut short',
    bytes: (() => {
      const z = zipSync({ 'test.csv': enc(csv()) });
      return z.subarray(0, z.length - 30);
    })(),
    code: 'CORRUPT_ARCHIVE',
  },
  {
    name: 'bad-row.zip',
    what: 'a bad row inside a zip member',
    bytes: zipSync({ 'test.csv': enc(csv(3, { edit: cell(3, 'x') })) }),
    code: 'BAD_CELL',
    line: 3,
    column: 4,
    member: 'test.csv',
  },
  // paths
  { name: 'missing.csv', what: 'a file that does not exist', bytes: undefined, code: 'NOT_FOUND' },
];

/** The valid variants around the catalogue: each must load its 3 rows. */
const VALID: readonly { what: string; bytes: Uint8Array | string }[] = [
  { what: 'UTF-8 BOM', bytes: cat(Uint8Array.of(0xef, 0xbb, 0xbf), enc(csv())) },
  { what: 'CRLF line ends', bytes: csv(3, { eol: '\r\n' }) },
  { what: 'mixed LF and CRLF', bytes: csv().replace('\n', '\r\n') },
  {
    what: 'quoted header and cells',
    bytes: csv(3, { header: PIXEL_NAMES.map((h) => `"${h}"`).join(','), edit: (_r, c) => c.map((v) => `"${v}"`) }),
  },
  { what: 'no final newline, blank trailing lines', bytes: `${csv().trimEnd()}\n\n\r\n` },
  { what: 'leading zeros', bytes: csv(3, { edit: (r, c) => (r === 1 ? c.map((v) => v.padStart(3, '0')) : c) }) },
  { what: 'train.csv layout', bytes: csv(3, { header: LABELLED_HEADER, edit: (r, c) => [String(r), ...c] }) },
];

// ---- model folders ----

interface ModelCase {
  readonly name: string;
  readonly what: string;
  /** Makes the broken folder from a copy of a good one (`undefined`: the folder does not exist). */
  readonly make: ((folder: string, weights: string) => void) | undefined;
  readonly code: DigitModelErrorCode;
  readonly script?: boolean;
}

const editJson = (folder: string, edit: (json: Record<string, unknown>) => void): void => {
  const json = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(join(folder, 'model.json'), JSON.stringify(json));
};

const MODEL_CASES: readonly ModelCase[] = [
  { name: 'missing-folder', what: 'no such folder', make: undefined, code: 'NOT_FOUND', script: true },
  { name: 'no-model-json', what: 'model.json missing', make: (f) => rmSync(join(f, 'model.json')), code: 'NOT_FOUND' },
  {
    name: 'empty-json',
    what: 'model.json empty',
    make: (f) => writeFileSync(join(f, 'model.json'), ''),
    code: 'BAD_JSON',
  },
  {
    name: 'garbage-json',
    what: 'model.json cut short',
    make: (f) => writeFileSync(join(f, 'model.json'), readFileSync(join(f, 'model.json'), 'utf8').slice(0, 50)),
    code: 'BAD_JSON',
    script: true,
  },
  {
    name: 'not-a-model',
    what: 'JSON that is not a model',
    make: (f) => writeFileSync(join(f, 'model.json'), '{"name":"hello"}'),
    code: 'BAD_JSON',
  },
  {
    name: 'bad-manifest',
    what: 'weightsManifest of the wrong shape',
    make: (f) => editJson(f, (j) => (j.weightsManifest = [{ paths: 'weights.bin' }])),
    code: 'BAD_JSON',
  },
  {
    name: 'bad-topology',
    what: 'an unreadable modelTopology',
    make: (f) => editJson(f, (j) => (j.modelTopology = { foo: 1 })),
    code: 'BAD_JSON',
  },
  {
    name: 'renamed-weight',
    what: 'a weight name that matches no layer',
    make: (f) =>
      editJson(f, (j) => ((j.weightsManifest as { weights: { name: string }[] }[])[0]!.weights[0]!.name = 'nope')),
    code: 'BAD_JSON',
  },
  { name: 'no-weights', what: 'weights file missing', make: (f, w) => rmSync(join(f, w)), code: 'MISSING_WEIGHTS' },
  {
    name: 'truncated-weights',
    what: 'weights file truncated',
    make: (f, w) => writeFileSync(join(f, w), readFileSync(join(f, w)).subarray(0, 1000)),
    code: 'WEIGHTS_SIZE',
    script: true,
  },
  {
    name: 'extra-weights',
    what: 'extra bytes after the weights',
    make: (f, w) => writeFileSync(join(f, w), Buffer.concat([readFileSync(join(f, w)), Buffer.alloc(12)])),
    code: 'WEIGHTS_SIZE',
  },
  {
    name: 'wrong-input',
    what: 'a model for another task (input [4])',
    make: undefined,
    code: 'WRONG_SHAPE',
    script: true,
  },
  { name: 'wrong-output', what: 'a 28x28 model with 5 classes', make: undefined, code: 'WRONG_SHAPE' },
];

/** A small digit model: flatten + dense, so the script cases start fast. */
function tinyModel(inputShape: number[] = [28, 28, 1], units = 10): tfl.LayersModel {
  if (inputShape.length === 1)
    return tfl.sequential({ layers: [tfl.layers.dense({ inputShape, units, activation: 'softmax' })] });
  return tfl.sequential({
    layers: [tfl.layers.flatten({ inputShape }), tfl.layers.dense({ units, activation: 'softmax' })],
  });
}

let goodModel = '';

beforeAll(async () => {
  await useBackend('cpu');
  for (const c of INPUT_CASES) if (c.bytes !== undefined) writeFileSync(join(inputs, c.name), c.bytes);
  goodModel = join(models, 'good');
  await tinyModel().save(fileSystemIO(goodModel));
  await tinyModel([4]).save(fileSystemIO(join(models, 'wrong-input')));
  await tinyModel([28, 28, 1], 5).save(fileSystemIO(join(models, 'wrong-output')));
  const weights = readdirSync(goodModel).find((f) => f.endsWith('.bin')) as string;
  for (const c of MODEL_CASES) {
    if (c.make === undefined) continue;
    cpSync(goodModel, join(models, c.name), { recursive: true });
    c.make(join(models, c.name), weights);
  }
});

const inputPath = (c: InputCase): string => join(inputs, c.name);
const isZip = (c: InputCase): boolean => c.name.endsWith('.zip');

/** The library's error for a case, loaded as the predict script loads it. */
async function libraryError(c: InputCase): Promise<DigitInputError> {
  const error = await loadDigitCsv(inputPath(c), isZip(c) ? { member: 'test.csv' } : {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, c.what).toBeInstanceOf(DigitInputError);
  return error as DigitInputError;
}

describe('catalogue: malformed CSV, gzip and zip inputs (library)', () => {
  it('has at least 25 kinds of malformed input', () => {
    expect(INPUT_CASES.length).toBeGreaterThanOrEqual(25);
    expect(new Set(INPUT_CASES.map((c) => c.name)).size).toBe(INPUT_CASES.length);
  });

  for (const c of INPUT_CASES) {
    const where = c.line === undefined ? '' : ` at ${c.line}${c.column === undefined ? '' : `:${c.column}`}`;
    it(`${c.what} (${c.name}) -> ${c.code}${where}`, async () => {
      const e = await libraryError(c);
      const file = c.member === undefined ? inputPath(c) : `${inputPath(c)}:${c.member}`;
      expect({ code: e.code, file: e.file, line: e.line, column: e.column }).toEqual({
        code: c.code,
        file,
        line: c.line,
        column: c.column,
      });
      const prefix =
        c.line === undefined ? file : c.column === undefined ? `${file}:${c.line}` : `${file}:${c.line}:${c.column}`;
      expect(e.message).toBe(`${prefix}: ${e.problem}`);
      expect(e.message).not.toContain('\n');
      expect(e.problem.length).toBeGreaterThan(10);
    });
  }

  it('gives clear reasons for the confusing cases', async () => {
    const problem = async (name: string): Promise<string> =>
      (await libraryError(INPUT_CASES.find((c) => c.name === name) as InputCase)).problem;
    expect(await problem('cr-only.csv')).toMatch(/old Mac \(CR-only\) line ends/);
    expect(await problem('cr-only-big.csv')).toMatch(/old Mac/);
    expect(await problem('utf16le-bom.csv')).toMatch(/UTF-16/);
    expect(await problem('latin1.csv')).toMatch(/byte 0xE9.*Latin-1/);
    expect(await problem('semicolons.csv')).toMatch(/separated by semicolons/);
    expect(await problem('trailing-commas.csv')).toMatch(/trailing comma/);
    expect(await problem('trailing-comma-row.csv')).toMatch(/trailing comma/);
    expect(await problem('header-order.csv')).toMatch(/out of order \("pixel1" belongs in column 2\)/);
    expect(await problem('header-duplicate.csv')).toMatch(/duplicate column, "pixel5" is also column 6/);
    expect(await problem('header-repeated.csv')).toMatch(/repeats the header/);
    expect(await problem('scientific.csv')).toMatch(/scientific notation/);
    expect(await problem('decimal.csv')).toMatch(/write it as 255/);
    expect(await problem('plus.csv')).toMatch(/without the '\+' sign/);
    expect(await problem('submission.csv')).toMatch(/submission file/);
    expect(await problem('html.csv')).toMatch(/HTML/);
    expect(await problem('sep-line.csv')).toMatch(/sep=/);
    expect(await problem('png.csv')).toMatch(/PNG image/);
    expect(await problem('zip-in.gz')).toMatch(/holds a zip archive/);
    expect(await problem('tar.csv.gz')).toMatch(/tar archive/);
    expect(await problem('no-trailer.csv.gz')).toMatch(/truncated or damaged/);
    expect(await problem('bad-crc.zip')).toMatch(/CRC-32 mismatch/);
    expect(await problem('folder-only.zip')).toMatch(/only folders \(data\/\)/);
  });

  it('loads the valid variants around the catalogue', async () => {
    for (const v of VALID) {
      const ds = await loadDigitCsv(typeof v.bytes === 'string' ? { text: v.bytes } : v.bytes);
      expect(ds.count, v.what).toBe(3);
      expect(ds.pixels[784 + 5], v.what).toBe(Number(cells(1)[5]));
    }
  });

  it('reports a folder passed as a CSV', async () => {
    await expect(loadDigitCsv(inputs)).rejects.toMatchObject({
      name: 'DigitInputError',
      code: 'UNREADABLE',
      file: inputs,
    });
  });
});

describe('catalogue: broken model folders (library)', () => {
  for (const c of MODEL_CASES) {
    it(`${c.what} (${c.name}) -> ${c.code}`, async () => {
      const error = await loadDigitModel(join(models, c.name)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DigitModelError);
      const e = error as DigitModelError;
      expect(e.code).toBe(c.code);
      expect(e.target.startsWith(join(models, c.name))).toBe(true);
      expect(e.message).not.toContain('\n');
    });
  }

  it('says which part is missing', async () => {
    const message = async (name: string): Promise<string> =>
      ((await loadDigitModel(join(models, name)).catch((e: Error) => e)) as Error).message;
    expect(await message('missing-folder')).toMatch(/no model\.json: the folder does not exist/);
    expect(await message('no-model-json')).toMatch(/no model\.json here/);
    expect(await message('bad-manifest')).toMatch(/weightsManifest\[0\] needs/);
    expect(await message('truncated-weights')).toMatch(/weights hold 1000 bytes but model\.json describes \d+/);
    expect(await message('wrong-input')).toMatch(/\[null,4\] -> \[null,10\]/);
    const file = (await loadDigitModel(join(goodModel, 'model.json')).catch((e: Error) => e)) as DigitModelError;
    expect(file).toMatchObject({ code: 'NOT_FOUND' });
    expect(file.message).toMatch(/is a file, expected a model folder/);
  });
});

// ---- the predict script ----

interface ScriptResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runPredict(args: string[]): Promise<ScriptResult> {
  return new Promise((done) => {
    const child = spawn(TSX, ['--conditions=digit-recognizer-source', join(ROOT, 'examples/predict.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** The script's one line for a library error, as runScript prints it. */
const oneLine = (error: Error): string => `predict: error: ${error.message}\n`;

describe('catalogue: examples/predict.ts (subprocess)', () => {
  it('prints exactly one line, exits 1 and writes nothing, for each representative case', async () => {
    const outDir = join(dir, 'script-out');
    mkdirSync(outDir);
    const inputJobs = INPUT_CASES.filter((c) => c.script === true).map((c) => async () => {
      const expected = await libraryError(c);
      const out = join(outDir, `${c.name}.submission.csv`);
      return {
        label: c.name,
        expected: oneLine(expected),
        result: await runPredict(['--model', goodModel, '--data', inputPath(c), '--out', out]),
      };
    });
    const modelJobs = MODEL_CASES.filter((c) => c.script === true).map((c) => async () => {
      const expected = (await loadDigitModel(join(models, c.name)).catch((e: Error) => e)) as Error;
      const data = inputPath(INPUT_CASES[0] as InputCase);
      const out = join(outDir, `${c.name}.submission.csv`);
      return {
        label: c.name,
        expected: oneLine(expected),
        result: await runPredict(['--model', join(models, c.name), '--data', data, '--out', out]),
      };
    });
    const jobs = [...inputJobs, ...modelJobs];
    expect(jobs.length).toBeGreaterThanOrEqual(8);
    const runs = await pool(jobs, 3);
    for (const { label, expected, result } of runs) {
      expect(result.stderr, label).toBe(expected);
      expect(result.code, label).toBe(1);
      expect(result.stderr, label).not.toMatch(/^\s+at /m);
      expect(result.stdout, label).toBe('');
    }
    expect(readdirSync(outDir)).toEqual([]);
  }, 180_000);

  it('still predicts a good file', async () => {
    const good = join(dir, 'good.csv');
    writeFileSync(good, csv(5));
    const out = join(dir, 'good-submission.csv');
    const r = await runPredict(['--model', goodModel, '--data', good, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(6);
  }, 60_000);
});

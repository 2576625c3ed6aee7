import { createWriteStream, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { gzipSync, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildDigitCnn,
  DigitInputError,
  DigitOutputError,
  formatSubmission,
  loadDigitCsv,
  predictDigitCsv,
  predictDigits,
  streamDigitCsv,
  type DigitCsvChunk,
} from 'digit-recognizer';
import { tempDir, useBackend } from './helpers.js';

const ROWS = 20_000;
const HEADER = Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',');
const dir = tempDir('digit-stream-');
const csvPath = join(dir, 'test.csv');

/** Row `r`: a bright block whose place depends on `r % 10`, plus a little noise; mostly zeros like real digits. */
function rowCells(r: number): number[] {
  const cells = new Array<number>(784).fill(0);
  const d = r % 10;
  const top = 2 + (d % 5) * 5;
  const left = d < 5 ? 4 : 16;
  for (let y = top; y < top + 5; y++)
    for (let x = left; x < left + 8; x++) cells[y * 28 + x] = 150 + ((r * 7 + x * 3 + y) % 106);
  cells[(r * 13) % 784] = (r * 31) % 256;
  return cells;
}

/** Writes a test.csv of `rows` rows; `edit` may replace the text of a row (0-based). */
async function writeCsv(path: string, rows: number, edit?: (r: number, line: string) => string): Promise<void> {
  const out = createWriteStream(path);
  const write = (text: string): Promise<void> =>
    new Promise((resolve) => (out.write(text) ? resolve() : out.once('drain', () => resolve())));
  await write(`${HEADER}\n`);
  let batch = '';
  for (let r = 0; r < rows; r++) {
    const line = rowCells(r).join(',');
    batch += `${edit === undefined ? line : edit(r, line)}\n`;
    if (batch.length > 1 << 20) {
      await write(batch);
      batch = '';
    }
  }
  await write(batch);
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/** A tiny model from 28x28x1 images to 10 classes: fast, deterministic, enough to compare paths. */
function tinyModel(): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [28, 28, 1] }),
      tfl.layers.dense({
        units: 10,
        activation: 'softmax',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }),
      }),
    ],
  });
  return model;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Files left in `folder` other than `keep`: temp files would show up here. */
function strayFiles(folder: string, keep: string[] = []): string[] {
  return readdirSync(folder).filter((f) => !keep.includes(f));
}

beforeAll(async () => {
  await useBackend('wasm');
  await writeCsv(csvPath, ROWS);
}, 120_000);

describe('streamDigitCsv', () => {
  it('yields chunks of chunkRows rows identical to loadDigitCsv', async () => {
    const whole = await loadDigitCsv(csvPath);
    expect(whole.count).toBe(ROWS);
    const chunks: DigitCsvChunk[] = [];
    for await (const chunk of streamDigitCsv(csvPath, { chunkRows: 3000 })) chunks.push(chunk);
    expect(chunks.map((c) => c.count)).toEqual([3000, 3000, 3000, 3000, 3000, 3000, 2000]);
    expect(chunks.map((c) => c.offset)).toEqual([0, 3000, 6000, 9000, 12_000, 15_000, 18_000]);
    for (const c of chunks) {
      expect(c.labels).toBeUndefined();
      expect(c.source).toBe(csvPath);
      expect(c.totalBytes).toBe(readFileSync(csvPath).length);
      // Buffer.equals: toEqual walks 2.4 MB arrays element by element, for a minute.
      expect(sameBytes(c.pixels, whole.pixels.subarray(c.offset * 784, (c.offset + c.count) * 784))).toBe(true);
    }
    expect(chunks.at(-1)?.bytesRead).toBe(chunks.at(-1)?.totalBytes);
    // bytesRead only grows.
    expect(chunks.map((c) => c.bytesRead)).toEqual([...chunks.map((c) => c.bytesRead)].sort((a, b) => a - b));
  });

  it('honours limit, labelled files, gzip and zip, and stops reading when the consumer stops', async () => {
    const limited: number[] = [];
    for await (const chunk of streamDigitCsv(csvPath, { chunkRows: 400, limit: 1000 })) limited.push(chunk.count);
    expect(limited).toEqual([400, 400, 200]);

    const text = `label,${HEADER}\n${Array.from({ length: 25 }, (_, r) => `${r % 10},${rowCells(r).join(',')}`).join('\n')}\n`;
    const bytes = new TextEncoder().encode(text);
    for (const source of [text, gzipSync(bytes), zipSync({ 'train.csv': bytes })]) {
      const chunks: DigitCsvChunk[] = [];
      for await (const chunk of streamDigitCsv(source, { chunkRows: 10 })) chunks.push(chunk);
      expect(chunks.map((c) => c.count)).toEqual([10, 10, 5]);
      expect(Array.from(chunks.flatMap((c) => Array.from(c.labels ?? [])))).toEqual(
        Array.from({ length: 25 }, (_, r) => r % 10),
      );
    }

    let n = 0;
    for await (const chunk of streamDigitCsv(csvPath, { chunkRows: 100 })) {
      n += chunk.count;
      if (n >= 300) break;
    }
    expect(n).toBe(300);
    await expect(streamDigitCsv(csvPath, { chunkRows: 0 }).next()).rejects.toBeInstanceOf(RangeError);
  });
});

describe('predictDigitCsv', () => {
  it('predicts the same labels as loadDigitCsv + predictDigits and streams the same submission', async () => {
    const model = tinyModel();
    const out = join(dir, 'submission.csv');
    const progress: number[] = [];
    const result = await predictDigitCsv(model, csvPath, {
      chunkRows: 4096,
      destination: out,
      onProgress: (p) => progress.push(p.rows),
    });
    expect(result.count).toBe(ROWS);
    expect(result.accuracy).toBeUndefined();
    expect(result.destination).toBe(out);
    expect(progress).toEqual([4096, 8192, 12_288, 16_384, 20_000]);

    const reference = await predictDigits(model, await loadDigitCsv(csvPath));
    expect(sameBytes(result.labels, reference.labels)).toBe(true);
    const written = readFileSync(out, 'utf8');
    expect(written).toBe(formatSubmission(reference));
    const lines = written.trimEnd().split('\n');
    expect(lines).toHaveLength(ROWS + 1);
    expect(lines[0]).toBe('ImageId,Label');
    expect(lines[1]).toMatch(/^1,[0-9]$/);
    expect(lines.at(-1)).toMatch(/^20000,[0-9]$/);
    expect(strayFiles(dir, ['test.csv', 'submission.csv'])).toEqual([]);
  });

  it('matches predictDigits with a real CNN and reports accuracy on a labelled file', async () => {
    const model = buildDigitCnn({ architecture: 'compact', seed: 2 });
    const labelled = join(dir, 'labelled.csv');
    writeFileSync(
      labelled,
      `label,${HEADER}\n${Array.from({ length: 600 }, (_, r) => `${r % 10},${rowCells(r).join(',')}`).join('\n')}\n`,
    );
    const result = await predictDigitCsv(model, labelled, { chunkRows: 256 });
    const data = await loadDigitCsv(labelled);
    const reference = await predictDigits(model, data);
    expect(result.labels).toEqual(reference.labels);
    let right = 0;
    for (let i = 0; i < data.count; i++) if (data.labels?.[i] === reference.labels[i]) right++;
    expect(result.accuracy).toBeCloseTo(right / data.count, 10);
    expect(result.destination).toBeUndefined();
    const tta = await predictDigitCsv(model, labelled, { chunkRows: 256, tta: true });
    const ttaReference = await predictDigits(model, data, { tta: true });
    expect(tta.labels).toEqual(ttaReference.labels);
    expect(tta.labels).not.toEqual(result.labels);
  });

  it('writes nothing when row 15,000 is malformed, and keeps an existing submission', async () => {
    const bad = join(dir, 'bad-15000.csv');
    // Line 1 is the header, so row r sits on line r + 2: row 14,998 is line 15,000.
    await writeCsv(bad, ROWS, (r, line) => (r === 14_998 ? line.replace(/^(\d+),(\d+),/, '$1,x,') : line));
    const outDir = join(dir, 'atomic');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(outDir);
    const out = join(outDir, 'submission.csv');
    const progress: number[] = [];
    const error = await predictDigitCsv(tinyModel(), bad, {
      chunkRows: 1000,
      destination: out,
      onProgress: (p) => progress.push(p.rows),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigitInputError);
    expect(error).toMatchObject({ code: 'BAD_CELL', file: bad, line: 15_000, column: 2 });
    expect((error as Error).message).toBe(`${bad}:15000:2: pixel1 is "x", not an integer`);
    expect(progress.at(-1)).toBe(14_000); // the rows before it were predicted and streamed to the temp file...
    expect(existsSync(out)).toBe(false); // ...which is gone
    expect(strayFiles(outDir)).toEqual([]);

    writeFileSync(out, 'old submission\n');
    await expect(predictDigitCsv(tinyModel(), bad, { destination: out })).rejects.toMatchObject({
      code: 'BAD_CELL',
      line: 15_000,
    });
    expect(readFileSync(out, 'utf8')).toBe('old submission\n');
    expect(strayFiles(outDir, ['submission.csv'])).toEqual([]);
  });

  it('checks expectedRows, honours an abort signal and rejects bad destinations before reading', async () => {
    const outDir = join(dir, 'checks');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(outDir);
    const out = join(outDir, 'submission.csv');
    await expect(
      predictDigitCsv(tinyModel(), csvPath, { destination: out, expectedRows: 28_000, limit: 500 }),
    ).rejects.toMatchObject({ name: 'DigitOutputError', code: 'BAD_PREDICTIONS' });
    expect(strayFiles(outDir)).toEqual([]);

    const controller = new AbortController();
    const reason = new Error('stop');
    await expect(
      predictDigitCsv(tinyModel(), csvPath, {
        destination: out,
        chunkRows: 500,
        signal: controller.signal,
        onProgress: ({ rows }) => rows >= 1000 && controller.abort(reason),
      }),
    ).rejects.toBe(reason);
    expect(strayFiles(outDir)).toEqual([]);

    const missing = await predictDigitCsv(tinyModel(), csvPath, { destination: join(dir, 'no/such/dir/s.csv') }).catch(
      (e: unknown) => e,
    );
    expect(missing).toBeInstanceOf(DigitOutputError);
    expect(missing).toMatchObject({ code: 'NO_DIRECTORY' });
    await expect(predictDigitCsv(tinyModel(), csvPath, { destination: outDir })).rejects.toMatchObject({
      code: 'IS_DIRECTORY',
    });
    expect(strayFiles(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

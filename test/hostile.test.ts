/**
 * Hostile inputs (issue 21), beside the catalogue of honest mistakes
 * (catalogue.test.ts): files made to hurt. Decompression bombs are generated
 * on the fly in a temp folder (never committed) and each is loaded in a child
 * process that reports its own peak resident memory; model folders try to
 * read outside themselves; a picture claims gigapixels; a killed writer's
 * temp file waits for the next run.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { encode } from 'fast-png';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkImageSize,
  DEFAULT_MAX_ROWS,
  DigitInputError,
  DigitModelError,
  fileSystemIO,
  loadDigitCsv,
  loadDigitModel,
  preprocessDigitImage,
  readImageSize,
  streamDigitCsv,
  sweepStaleTempFiles,
  type DigitInputErrorCode,
  type DigitLimit,
  type DigitModelErrorCode,
  type ImageSize,
} from 'digit-recognizer';
import { TEST_HEADER, writeGzipBomb, writeZipBomb, ZERO_ROW, type BombContent } from './bombs.js';
import { pool, syntheticDigits, tempDir, useBackend } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..');
const NODE_ARGS = ['--import', 'tsx', '--conditions=digit-recognizer-source'];
const PRELOAD = ['--import', join(ROOT, 'test/hostile/report_peak_rss.ts')];
/**
 * A bound on resident memory for any input whatever its inflated size. The issue set 300 MB on
 * Node 20, where the worst case (many-rows: the 100,000 rows the default limit lets in, then the
 * refusal) peaks at 272 MB; Node 24 lets more garbage build up before collecting and peaks at
 * 314-327 MB on the same file (121 MB for a one-row file, against Node 20's 149), so the bound
 * leaves Node 24 that headroom. What matters is that it does not grow with the bomb.
 */
const PEAK_BOUND = 360 * 2 ** 20;
const MiB = 2 ** 20;
const dir = tempDir('digit-hostile-');

/** Runs a script with the peak-memory preload; resolves with its exit code, output and peak RSS in bytes. */
function runChild(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; peak: number }> {
  const rssFile = join(dir, `rss-${Math.random().toString(36).slice(2)}`);
  return new Promise((done) => {
    const child = spawn(process.execPath, [...NODE_ARGS, ...PRELOAD, ...args], {
      cwd: ROOT,
      env: { ...process.env, FORCE_COLOR: '0', PEAK_RSS_FILE: rssFile },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      const peak = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) : Number.NaN;
      done({ code, stdout, stderr, peak });
    });
  });
}

// ---- decompression bombs ----

/** 1.5 GiB without a line break after the header, from 1.5 MB. */
const LONG_LINE: BombContent = { head: TEST_HEADER, body: '1'.repeat(MiB), times: 1500, tail: '\n' };
/** A header of 786 million columns (1.5 GiB). */
const WIDE_HEADER: BombContent = { head: 'pixel0', body: ',x'.repeat(MiB / 2), times: 1500, tail: '\n' };
/** 669,000 valid all-zero rows (1 GiB) from 1.9 MB. */
const MANY_ROWS: BombContent = { head: TEST_HEADER, body: ZERO_ROW.repeat(669), times: 1000 };

interface BombCase {
  readonly name: string;
  readonly what: string;
  readonly write: (file: string) => void;
  readonly code: DigitInputErrorCode;
  readonly line?: number;
  readonly limit?: DigitLimit;
  /** Read with streamDigitCsv instead of loadDigitCsv. */
  readonly stream?: boolean;
}

const zipped =
  (content: BombContent, options?: { declaredSize?: number; zip64?: boolean }) =>
  (file: string): void =>
    void writeZipBomb(file, 'test.csv', content, options);
const gzipped =
  (content: BombContent) =>
  (file: string): void =>
    void writeGzipBomb(file, content);

const BOMB_CASES: readonly BombCase[] = [
  {
    name: 'long-line.csv.gz',
    what: 'gzip: a 1.5 GiB second line',
    write: gzipped(LONG_LINE),
    code: 'LINE_TOO_LONG',
    line: 2,
  },
  {
    name: 'long-line-stream.csv.gz',
    what: 'gzip: a 1.5 GiB second line, streamed',
    write: gzipped(LONG_LINE),
    code: 'LINE_TOO_LONG',
    line: 2,
    stream: true,
  },
  {
    name: 'wide-header.csv.gz',
    what: 'gzip: a header of 786 million columns',
    write: gzipped(WIDE_HEADER),
    code: 'LINE_TOO_LONG',
    line: 1,
  },
  {
    name: 'many-rows.csv.gz',
    what: 'gzip: 669,000 valid rows (1 GiB)',
    write: gzipped(MANY_ROWS),
    code: 'TOO_LARGE',
    line: DEFAULT_MAX_ROWS + 2,
    limit: { option: 'maxRows', value: DEFAULT_MAX_ROWS },
  },
  {
    name: 'long-line.zip',
    what: 'zip: a member recording its 1.5 GiB (refused before inflating)',
    write: zipped(LONG_LINE),
    code: 'TOO_LARGE',
    limit: { option: 'maxBytes', value: 512 * MiB },
  },
  {
    name: 'zip64-member.zip',
    what: 'zip64: a member recording 5 GiB',
    write: zipped(MANY_ROWS, { zip64: true, declaredSize: 5 * 2 ** 30 }),
    code: 'TOO_LARGE',
    limit: { option: 'maxBytes', value: 512 * MiB },
  },
  {
    name: 'long-line-lying.zip',
    what: 'zip: a 1.5 GiB line in a member recording 400 MiB',
    write: zipped(LONG_LINE, { declaredSize: 400 * MiB }),
    code: 'LINE_TOO_LONG',
    line: 2,
  },
  {
    name: 'wide-header-lying.zip',
    what: 'zip: 786 million header columns in a member recording 100 MiB',
    write: zipped(WIDE_HEADER, { declaredSize: 100 * MiB }),
    code: 'LINE_TOO_LONG',
    line: 1,
  },
  {
    name: 'tiny-declared.zip',
    what: 'zip: 1.5 GiB in a member recording 10,000 bytes',
    write: zipped(LONG_LINE, { declaredSize: 10_000 }),
    code: 'CORRUPT_ARCHIVE',
  },
  {
    name: 'many-rows-lying.zip',
    what: 'zip: 669,000 valid rows in a member recording 500 MiB',
    write: zipped(MANY_ROWS, { declaredSize: 500 * MiB }),
    code: 'TOO_LARGE',
    line: DEFAULT_MAX_ROWS + 2,
    limit: { option: 'maxRows', value: DEFAULT_MAX_ROWS },
  },
];

describe('hostile: decompression bombs (child processes, default limits)', () => {
  const bombs = join(dir, 'bombs');
  beforeAll(() => {
    mkdirSync(bombs);
    for (const c of BOMB_CASES) c.write(join(bombs, c.name));
  });

  it('are small files that inflate to gigabytes', () => {
    for (const c of BOMB_CASES) expect(statSync(join(bombs, c.name)).size, c.name).toBeLessThan(2 * MiB);
  });

  it(`refuses each with its typed error while the child's peak memory stays under 360 MB`, async () => {
    const runs = await pool(
      BOMB_CASES.map((c) => async () => {
        const path = join(bombs, c.name);
        const args = [join(ROOT, 'test/hostile/load_csv_child.ts'), c.stream === true ? 'stream' : 'load', path];
        if (c.name.endsWith('.zip')) args.push('test.csv');
        return { c, path, run: await runChild(args) };
      }),
      2,
    );
    // The peaks, for the record (CI keeps test/.artifacts).
    mkdirSync(join(ROOT, 'test/.artifacts'), { recursive: true });
    writeFileSync(
      join(ROOT, 'test/.artifacts/hostile-peaks.json'),
      `${JSON.stringify(Object.fromEntries(runs.map(({ c, run }) => [c.name, `${(run.peak / MiB).toFixed(0)} MB`])), null, 2)}\n`,
    );
    for (const { c, path, run } of runs) {
      expect(run.code, `${c.name}: ${run.stderr}`).toBe(0);
      const result = JSON.parse(run.stdout) as { code?: string; message?: string; line?: number; limit?: DigitLimit };
      const file = c.name.endsWith('.zip') ? `${path}:test.csv` : path;
      expect({ code: result.code, line: result.line, limit: result.limit }, c.what).toEqual({
        code: c.code,
        line: c.line,
        limit: c.limit,
      });
      expect(result.message, c.what).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[:]`));
      expect(result.message, c.what).not.toContain('\n');
      if (c.limit !== undefined) expect(result.message).toContain(`raise options.${c.limit.option}`);
      expect(run.peak, `${c.what}: peak ${(run.peak / MiB).toFixed(0)} MB`).toBeLessThan(PEAK_BOUND);
    }
  }, 300_000);

  it('examples/predict.ts streams a bomb to one line, writes nothing and stays under 360 MB', async () => {
    const model = join(dir, 'bomb-model');
    await useBackend('cpu');
    await digitModel().save(fileSystemIO(model));
    const out = join(dir, 'bomb-out');
    mkdirSync(out);
    const script = join(ROOT, 'examples/predict.ts');
    const common = ['--model', model, '--out', join(out, 'submission.csv'), '--backend', 'cpu'];
    const [line, rows] = await pool(
      [
        () => runChild([script, ...common, '--data', join(bombs, 'long-line.csv.gz')]),
        () => runChild([script, ...common, '--data', join(bombs, 'many-rows.csv.gz'), '--max-rows', '20000']),
      ],
      2,
    );
    expect(line?.stderr).toBe(
      `predict: error: ${join(bombs, 'long-line.csv.gz')}:2: line is longer than 1048576 bytes without a line break; is this a digit CSV?\n`,
    );
    expect(rows?.stderr).toBe(
      `predict: error: ${join(bombs, 'many-rows.csv.gz')}:20002: more data rows than allowed: line 20002 holds row 20001 (limit 20000); raise --max-rows N to accept it\n`,
    );
    for (const r of [line, rows]) {
      expect(r?.code).toBe(1);
      expect(r?.stdout).toBe('');
      expect(r?.peak).toBeLessThan(PEAK_BOUND);
    }
    expect(readdirSync(out)).toEqual([]);
  }, 240_000);
});

describe('hostile: CSV limits (library)', () => {
  const rows = (n: number): string => TEST_HEADER + ZERO_ROW.repeat(n);

  it('refuses more rows than maxRows at the first extra row, and takes Infinity', async () => {
    const e = await loadDigitCsv(rows(5), { maxRows: 4 }).catch((error: unknown) => error);
    expect(e).toBeInstanceOf(DigitInputError);
    expect(e).toMatchObject({ code: 'TOO_LARGE', line: 6, limit: { option: 'maxRows', value: 4 } });
    expect((await loadDigitCsv(rows(5), { maxRows: 5 })).count).toBe(5);
    expect((await loadDigitCsv(`${rows(5)}\n\n`, { maxRows: 5 })).count).toBe(5);
    expect((await loadDigitCsv(rows(5), { maxRows: 2, limit: 2 })).count).toBe(2);
    expect((await loadDigitCsv(rows(5), { maxRows: Number.POSITIVE_INFINITY })).count).toBe(5);
    const chunks: number[] = [];
    const stream = streamDigitCsv(rows(9), { chunkRows: 4, maxRows: 8 });
    await expect(
      (async () => {
        for await (const chunk of stream) chunks.push(chunk.count);
      })(),
    ).rejects.toMatchObject({ code: 'TOO_LARGE', line: 10 });
    // The rows before the refusal may come out first (here they sit in the same chunk of bytes as row 9).
    expect(chunks.reduce((n, c) => n + c, 0)).toBeLessThanOrEqual(8);
    for (const bad of [0, -1, 1.5, Number.NaN])
      await expect(loadDigitCsv(rows(1), { maxRows: bad })).rejects.toBeInstanceOf(RangeError);
  });

  it('refuses a plain file over maxBytes before reading it, unless only its first rows are asked for', async () => {
    const file = join(dir, 'ten.csv');
    writeFileSync(file, rows(10));
    const size = statSync(file).size;
    await expect(loadDigitCsv(file, { maxBytes: size - 1 })).rejects.toMatchObject({
      code: 'TOO_LARGE',
      file,
      line: undefined,
      limit: { option: 'maxBytes', value: size - 1 },
    });
    expect((await loadDigitCsv(file, { maxBytes: size - 1, limit: 3 })).count).toBe(3);
    // A stream's size is not known in advance: refused once past the bound.
    const streamed = Readable.from([rows(10)]);
    await expect(loadDigitCsv(streamed, { maxBytes: 5000 })).rejects.toMatchObject({ code: 'TOO_LARGE' });
  });

  it('reads a zip from a stream whole only up to maxArchiveBytes; a path or bytes piece by piece', async () => {
    const zip = zipSync({ 'test.csv': new TextEncoder().encode(rows(40)) });
    const e = await loadDigitCsv(Readable.from([Buffer.from(zip)]), { maxArchiveBytes: 1000 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'TOO_LARGE', file: '<stream>', limit: { option: 'maxArchiveBytes', value: 1000 } });
    expect((e as Error).message).toMatch(/pass a path or Blob/);
    expect((await loadDigitCsv(Readable.from([Buffer.from(zip)]))).count).toBe(40);
    expect((await loadDigitCsv(zip, { maxArchiveBytes: 1000 })).count).toBe(40);
    expect((await loadDigitCsv(new Blob([zip]), { maxArchiveBytes: 1000 })).count).toBe(40);
  });

  it('reads zip64 archives', async () => {
    const file = join(dir, 'zip64.zip');
    writeZipBomb(file, 'test.csv', { head: TEST_HEADER, body: ZERO_ROW, times: 3 }, { zip64: true });
    expect((await loadDigitCsv(file)).count).toBe(3);
    expect((await loadDigitCsv(readFileSync(file))).count).toBe(3);
  });
});

// ---- model folders ----

function digitModel(): tfl.LayersModel {
  return tfl.sequential({
    layers: [tfl.layers.flatten({ inputShape: [28, 28, 1] }), tfl.layers.dense({ units: 10, activation: 'softmax' })],
  });
}

type Json = Record<string, unknown>;
interface Manifest {
  paths: string[];
  weights: { name: string; shape: number[]; dtype: string }[];
}

interface ModelCase {
  readonly name: string;
  readonly what: string;
  /** Makes the hostile folder from a copy of a good one; `weights` is its weights file, `secret` a file outside. */
  readonly make: (folder: string, weights: string, secret: string) => void;
  readonly code: DigitModelErrorCode;
  /** What the message must say (the entry it names). */
  readonly says: RegExp;
  readonly limit?: DigitLimit;
  readonly script?: boolean;
}

const editJson = (folder: string, edit: (json: Json, manifest: Manifest[]) => void): void => {
  const json = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8')) as Json;
  edit(json, json['weightsManifest'] as Manifest[]);
  writeFileSync(join(folder, 'model.json'), JSON.stringify(json));
};
const nested = (depth: number): Json => (depth === 0 ? {} : { config: nested(depth - 1) });

const MODEL_CASES: readonly ModelCase[] = [
  {
    name: 'traversal',
    what: 'a weights path "../secret.bin" to a file of exactly the weights size',
    make: (f) => editJson(f, (_, m) => (m[0]!.paths = ['../secret.bin'])),
    code: 'UNSAFE_PATH',
    says: /weightsManifest\[0\]\.paths\[0\] is "\.\.\/secret\.bin": weights must be plain file names/,
    script: true,
  },
  {
    name: 'deep-traversal',
    what: 'a weights path "../../../etc/hostname"',
    make: (f) => editJson(f, (_, m) => (m[0]!.paths = ['../../../etc/hostname'])),
    code: 'UNSAFE_PATH',
    says: /weightsManifest\[0\]\.paths\[0\] is "\.\.\/\.\.\/\.\.\/etc\/hostname"/,
  },
  {
    name: 'absolute',
    what: 'an absolute weights path to a file of exactly the weights size',
    make: (f, _w, secret) => editJson(f, (_, m) => (m[0]!.paths = [secret])),
    code: 'UNSAFE_PATH',
    says: /weightsManifest\[0\]\.paths\[0\] is "\/.*secret\.bin": weights must be plain file names/,
  },
  {
    name: 'url',
    what: 'a weights path that is a URL',
    make: (f) => editJson(f, (_, m) => (m[0]!.paths = ['http://127.0.0.1:9/steal'])),
    code: 'UNSAFE_PATH',
    says: /paths\[0\] is "http:\/\/127\.0\.0\.1:9\/steal"/,
  },
  {
    name: 'symlink-escape',
    what: 'the weights file a symlink to a file outside the folder',
    make: (f, w, secret) => {
      rmSync(join(f, w));
      symlinkSync(secret, join(f, w));
    },
    code: 'UNSAFE_PATH',
    says: /weightsManifest\[0\]\.paths\[0\] "weights\.[0-9a-f]+\.bin" is a link to a file outside the folder/,
    script: true,
  },
  {
    name: 'model-json-symlink',
    what: 'model.json a symlink to a file outside the folder',
    make: (f) => {
      cpSync(join(f, 'model.json'), `${f}.json`);
      rmSync(join(f, 'model.json'));
      symlinkSync(`${f}.json`, join(f, 'model.json'));
    },
    code: 'UNSAFE_PATH',
    says: /model\.json "model\.json" is a link to a file outside the folder/,
  },
  {
    name: 'duplicate',
    what: 'the same weights file listed twice',
    make: (f, w) =>
      editJson(f, (_, m) => {
        m[0]!.paths = [w, w];
      }),
    code: 'UNSAFE_PATH',
    says: /weightsManifest\[0\]\.paths\[1\] names "weights\.[0-9a-f]+\.bin" again \(as weightsManifest\[0\]\.paths\[0\]\)/,
  },
  {
    name: 'fifo',
    what: 'the weights file a named pipe (would block a read forever)',
    make: (f, w) => {
      rmSync(join(f, w));
      execFileSync('mkfifo', [join(f, w)]);
    },
    code: 'UNSAFE_PATH',
    says: /paths\[0\] "weights\.[0-9a-f]+\.bin" is not a regular file/,
  },
  {
    name: 'huge-json',
    what: 'a 9 MiB model.json',
    make: (f) =>
      writeFileSync(join(f, 'model.json'), readFileSync(join(f, 'model.json'), 'utf8') + ' '.repeat(9 * MiB)),
    code: 'TOO_LARGE',
    says: /model\.json is \d+ bytes, more than allowed \(limit 8388608\); raise options\.maxModelJsonBytes/,
    limit: { option: 'maxModelJsonBytes', value: 8 * MiB },
  },
  {
    name: 'huge-declared',
    what: 'a weight declared as 10^12 floats (the file holds a few kB)',
    make: (f) => editJson(f, (_, m) => (m[0]!.weights[0]!.shape = [1_000_000, 1_000_000])),
    code: 'TOO_LARGE',
    says: /the weights declared up to weightsManifest\[0\]\.weights\[0\] \(.+\) take more bytes than allowed \(limit 134217728\)/,
    limit: { option: 'maxWeightBytes', value: 128 * MiB },
  },
  {
    name: 'bad-shape',
    what: 'a weight with a negative dimension',
    make: (f) => editJson(f, (_, m) => (m[0]!.weights[1]!.shape = [-10])),
    code: 'BAD_JSON',
    says: /weightsManifest\[0\]\.weights\[1\] \(.+\) has shape \[-10\]/,
  },
  {
    name: 'deep-topology',
    what: 'a topology nested 100 deep',
    make: (f) => editJson(f, (j) => ((j['modelTopology'] as Json)['extra'] = nested(100))),
    code: 'TOO_LARGE',
    says: /nested deeper than allowed \(limit 64\)/,
    limit: { option: 'maxTopologyDepth', value: 64 },
  },
  {
    name: 'many-layers',
    what: 'a topology of 2,000 layers',
    make: (f) =>
      editJson(f, (j) => {
        const config = (j['modelTopology'] as Json)['config'] as Json;
        config['layers'] = Array.from({ length: 2000 }, () => ({ class_name: 'Dense', config: {} }));
      }),
    code: 'TOO_LARGE',
    says: /more layers than allowed \(limit 1024\)/,
    limit: { option: 'maxLayers', value: 1024 },
  },
];

describe('hostile: model folders (library and examples/predict.ts)', () => {
  const models = join(dir, 'models');
  let good = '';
  let weightsFile = '';

  beforeAll(async () => {
    await useBackend('cpu');
    mkdirSync(models);
    good = join(models, 'good');
    await digitModel().save(fileSystemIO(good));
    weightsFile = readdirSync(good).find((f) => f.endsWith('.bin')) as string;
    // Bytes outside every model folder, sized to pass for its weights.
    const secret = join(models, 'secret.bin');
    writeFileSync(secret, Buffer.alloc(statSync(join(good, weightsFile)).size, 7));
    for (const c of MODEL_CASES) {
      cpSync(good, join(models, c.name), { recursive: true });
      c.make(join(models, c.name), weightsFile, secret);
    }
  });

  for (const c of MODEL_CASES) {
    it(`${c.what} (${c.name}) -> ${c.code}`, async () => {
      const error = await loadDigitModel(join(models, c.name)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DigitModelError);
      const e = error as DigitModelError;
      expect(e.code).toBe(c.code);
      expect(e.target.startsWith(join(models, c.name))).toBe(true);
      expect(e.message).toMatch(c.says);
      expect(e.message).not.toContain('\n');
      expect(e.limit).toEqual(c.limit);
    });
  }

  it('loads a folder whose weights are a symlink to a file inside it, and honours raised limits', async () => {
    const inside = join(models, 'inside-link');
    cpSync(good, inside, { recursive: true });
    mkdirSync(join(inside, 'store'));
    renameSync(join(inside, weightsFile), join(inside, 'store', weightsFile));
    symlinkSync(join('store', weightsFile), join(inside, weightsFile));
    expect((await loadDigitModel(inside)).outputs[0]?.shape).toEqual([null, 10]);
    await expect(loadDigitModel(join(models, 'deep-topology'), { maxTopologyDepth: 200 })).resolves.toBeDefined();
    await expect(loadDigitModel(good, { maxWeightBytes: 100 })).rejects.toMatchObject({
      code: 'TOO_LARGE',
      limit: { option: 'maxWeightBytes', value: 100 },
    });
    expect(() => fileSystemIO(good, { maxLayers: 0 })).toThrow(RangeError);
  });

  it('checks what a custom IOHandler loaded', async () => {
    const artifacts = await fileSystemIO(join(models, 'deep-topology'), { maxTopologyDepth: 200 }).load!();
    const handler: tf.io.IOHandler = { load: async () => artifacts };
    await expect(loadDigitModel(handler)).rejects.toMatchObject({ code: 'TOO_LARGE', target: 'custom IOHandler' });
    const truncated: tf.io.IOHandler = {
      load: async () => ({ ...artifacts, modelTopology: {}, weightData: new ArrayBuffer(12) }),
    };
    await expect(loadDigitModel(truncated)).rejects.toMatchObject({ code: 'WEIGHTS_SIZE' });
  });

  it('the predict script prints one line, exits 1 and writes nothing', async () => {
    const data = join(dir, 'three.csv');
    writeFileSync(data, TEST_HEADER + ZERO_ROW.repeat(3));
    const out = join(dir, 'model-script-out');
    mkdirSync(out);
    for (const c of MODEL_CASES.filter((m) => m.script === true)) {
      const expected = (await loadDigitModel(join(models, c.name)).catch((e: Error) => e)) as Error;
      const r = spawnSync(
        process.execPath,
        [
          ...NODE_ARGS,
          join(ROOT, 'examples/predict.ts'),
          '--model',
          join(models, c.name),
          '--data',
          data,
          '--out',
          join(out, 'sub.csv'),
        ],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } },
      );
      expect(r.stderr, c.name).toBe(`predict: error: ${expected.message}\n`);
      expect(r.status, c.name).toBe(1);
    }
    expect(readdirSync(out)).toEqual([]);
  }, 120_000);
});

describe('hostile: models over HTTP', () => {
  let server: Server;
  let base = '';
  const requests: string[] = [];
  const files = new Map<string, Uint8Array>();

  beforeAll(async () => {
    await useBackend('cpu');
    const folder = join(dir, 'http-model');
    await digitModel().save(fileSystemIO(folder));
    const json = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8')) as { weightsManifest: Manifest[] };
    const weights = readFileSync(join(folder, json.weightsManifest[0]!.paths[0]!));
    const withPaths = (paths: string[]): Uint8Array =>
      new TextEncoder().encode(JSON.stringify({ ...json, weightsManifest: [{ ...json.weightsManifest[0], paths }] }));
    files.set('/good/model.json', withPaths(['w.bin']));
    files.set('/good/w.bin', weights);
    files.set('/secret.bin', weights);
    files.set('/escape/model.json', withPaths(['../secret.bin']));
    files.set('/long/model.json', withPaths(['w.bin']));
    files.set('/long/w.bin', Buffer.concat([weights, Buffer.alloc(4096)]));
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      const body = files.get(request.url ?? '');
      response.writeHead(body === undefined ? 404 : 200).end(body);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  it('loads a model beside its model.json', async () => {
    expect((await loadDigitModel(`${base}/good/model.json`)).outputs[0]?.shape).toEqual([null, 10]);
  });

  it('refuses a model.json that names a file elsewhere without requesting it', async () => {
    requests.length = 0;
    await expect(loadDigitModel(`${base}/escape/model.json`)).rejects.toMatchObject({
      code: 'UNSAFE_PATH',
      target: `${base}/escape/model.json`,
    });
    expect(requests).toEqual(['/escape/model.json']);
  });

  it('refuses weights longer than model.json declares, and a model.json over its bound', async () => {
    await expect(loadDigitModel(`${base}/long/model.json`)).rejects.toMatchObject({ code: 'WEIGHTS_SIZE' });
    await expect(loadDigitModel(`${base}/good/model.json`, { maxModelJsonBytes: 100 })).rejects.toMatchObject({
      code: 'TOO_LARGE',
      limit: { option: 'maxModelJsonBytes', value: 100 },
    });
  });
});

// ---- pictures ----

const png = (width: number, height: number): Uint8Array =>
  encode({ width, height, data: new Uint8Array(width * height), channels: 1 });
const bytes = (...parts: (number[] | string)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));
const le16 = (n: number): number[] => [n & 0xff, n >> 8];
const le32 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const be16 = (n: number): number[] => [n >> 8, n & 0xff];

const IMAGE_CASES: readonly { what: string; bytes: Uint8Array; size: ImageSize | undefined }[] = [
  { what: 'a PNG', bytes: png(37, 21), size: { format: 'png', width: 37, height: 21 } },
  {
    what: 'a PNG claiming 100,000 x 100,000',
    bytes: (() => {
      const p = png(1, 1).slice();
      new DataView(p.buffer).setUint32(16, 100_000);
      new DataView(p.buffer).setUint32(20, 100_000);
      return p;
    })(),
    size: { format: 'png', width: 100_000, height: 100_000 },
  },
  {
    what: 'a GIF',
    bytes: bytes('GIF89a', le16(640), le16(480), [0, 0, 0]),
    size: { format: 'gif', width: 640, height: 480 },
  },
  {
    what: 'a bottom-up BMP',
    bytes: bytes('BM', le32(0), le32(0), le32(54), le32(40), le32(300), le32(200), le16(1), le16(24)),
    size: { format: 'bmp', width: 300, height: 200 },
  },
  {
    what: 'a top-down BMP',
    bytes: bytes('BM', le32(0), le32(0), le32(54), le32(40), le32(300), le32(-200), le16(1), le16(24)),
    size: { format: 'bmp', width: 300, height: 200 },
  },
  {
    what: 'a WebP (VP8X)',
    bytes: bytes('RIFF', le32(30), 'WEBPVP8X', le32(10), le32(0), [0xff, 0x0f, 0], [0x37, 0x09, 0]),
    size: { format: 'webp', width: 4096, height: 2360 },
  },
  {
    what: 'a JPEG whose frame header follows 70 kB of metadata',
    bytes: bytes(
      [0xff, 0xd8],
      ...Array.from({ length: 2 }, () => [0xff, 0xe1, ...be16(35_000), ...new Array<number>(34_998).fill(0)]),
      [0xff, 0xc0, ...be16(17), 8, ...be16(3000), ...be16(4000), 3],
    ),
    size: { format: 'jpeg', width: 4000, height: 3000 },
  },
  { what: 'a JPEG cut before its frame header', bytes: bytes([0xff, 0xd8, 0xff, 0xe1, ...be16(100)]), size: undefined },
  { what: 'a text file', bytes: bytes('pixel0,pixel1'), size: undefined },
];

describe('hostile: pictures', () => {
  for (const c of IMAGE_CASES) {
    it(`reads the size of ${c.what} from its header`, () => {
      expect(readImageSize(c.bytes)).toEqual(c.size);
    });
  }

  it('refuses a picture over maxPixels before allocating anything', () => {
    // The array is empty: the bound is checked before the sizes are compared, let alone allocated.
    const e = (() => {
      try {
        preprocessDigitImage(new Uint8Array(0), 100_000, 100_000);
      } catch (error) {
        return error;
      }
    })();
    expect(e).toBeInstanceOf(DigitInputError);
    expect(e).toMatchObject({
      code: 'TOO_LARGE',
      file: '<image>',
      limit: { option: 'maxPixels', value: 4096 * 4096 },
    });
    expect((e as Error).message).toBe(
      '<image>: the picture is 100000 x 100000 pixels, more than allowed (limit 16777216); raise options.maxPixels to accept it',
    );
    expect(() => preprocessDigitImage(new Uint8Array(40 * 40 * 4), 40, 40, { maxPixels: 1000 })).toThrow(/limit 1000/);
    expect(preprocessDigitImage(new Uint8Array(40 * 40 * 4), 40, 40)).toHaveLength(784);
    expect(() => checkImageSize(4096, 4096)).not.toThrow();
    expect(() => checkImageSize(4097, 4096, { name: 'photo.jpg' })).toThrow(/^photo\.jpg: the picture is 4097 x 4096/);
  });
});

// ---- leftovers of a killed writer ----

describe('hostile: temp files a killed writer left', () => {
  const deadPid = (): number => {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    return Number(child.stdout);
  };

  it('sweeps those of finished processes and this one before it started, keeps a live writer’s', async () => {
    const folder = join(dir, 'sweep');
    mkdirSync(folder);
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    const dead = deadPid();
    const cases: { name: string; removed: boolean; old?: boolean }[] = [
      { name: `.history.csv.${dead}.k3j2h1g0.tmp`, removed: true },
      { name: `.submission.csv.${dead}.a1.tmp`, removed: true },
      { name: `.submission.csv.${live.pid}.a1b2c3d4.tmp`, removed: false },
      { name: `.history.csv.${process.pid}.oldoldol.tmp`, removed: true, old: true },
      { name: `.history.csv.${process.pid}.newnewne.tmp`, removed: false },
      { name: `.notes.tmp`, removed: false },
      { name: `history.csv.${dead}.k3j2h1g0.tmp`, removed: false },
    ];
    try {
      for (const c of cases) {
        writeFileSync(join(folder, c.name), 'partial');
        if (c.old === true) utimesSync(join(folder, c.name), new Date(2000, 0, 1), new Date(2000, 0, 1));
      }
      const only = await sweepStaleTempFiles(folder, { names: ['submission.csv'] });
      expect(only).toEqual([`.submission.csv.${dead}.a1.tmp`]);
      const removed = await sweepStaleTempFiles(folder);
      expect([...only, ...removed].sort()).toEqual(
        cases
          .filter((c) => c.removed)
          .map((c) => c.name)
          .sort(),
      );
      expect(readdirSync(folder).sort()).toEqual(
        cases
          .filter((c) => !c.removed)
          .map((c) => c.name)
          .sort(),
      );
      expect(await sweepStaleTempFiles(join(dir, 'no-such-folder'))).toEqual([]);
    } finally {
      live.kill();
    }
  });

  it('the scripts sweep their output folder: kaggle where it writes, predict beside --out', async () => {
    await useBackend('cpu');
    const dead = deadPid();
    const data = join(dir, 'sweep-data');
    mkdirSync(data);
    const digits = syntheticDigits(60);
    const row = (i: number): string => Array.from(digits.pixels.subarray(i * 784, (i + 1) * 784)).join(',');
    writeFileSync(
      join(data, 'train.csv'),
      `label,${TEST_HEADER}${Array.from({ length: 60 }, (_, i) => `${digits.labels![i]},${row(i)}\n`).join('')}`,
    );
    writeFileSync(join(data, 'test.csv'), TEST_HEADER + Array.from({ length: 5 }, (_, i) => `${row(i)}\n`).join(''));
    const out = join(dir, 'sweep-out');
    mkdirSync(out);
    const stale = [`.history.csv.${dead}.x1y2z3w4.tmp`, `.submission.csv.${dead}.x1y2z3w4.tmp`];
    for (const name of stale) writeFileSync(join(out, name), 'half a file');
    const kaggle = spawnSync(
      process.execPath,
      [
        ...NODE_ARGS,
        join(ROOT, 'examples/kaggle.ts'),
        '--data',
        data,
        '--out',
        out,
        '--model',
        'compact',
        '--epochs',
        '1',
        '--backend',
        'cpu',
      ],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, timeout: 300_000 },
    );
    expect(kaggle.status, kaggle.stderr).toBe(0);
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    writeFileSync(join(out, stale[1]!), 'half a file');
    const predict = spawnSync(
      process.execPath,
      [
        ...NODE_ARGS,
        join(ROOT, 'examples/predict.ts'),
        '--model',
        join(out, 'best-model'),
        '--data',
        data,
        '--out',
        join(out, 'again.csv'),
        '--backend',
        'cpu',
      ],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } },
    );
    expect(predict.status, predict.stderr).toBe(0);
    // Only the temp files of its own target: another name's are not its to sweep.
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([stale[1]]);
    writeFileSync(join(out, `.again.csv.${dead}.q.tmp`), 'half a file');
    const again = spawnSync(
      process.execPath,
      [
        ...NODE_ARGS,
        join(ROOT, 'examples/predict.ts'),
        '--model',
        join(out, 'best-model'),
        '--data',
        data,
        '--out',
        join(out, 'again.csv'),
        '--backend',
        'cpu',
      ],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } },
    );
    expect(again.status, again.stderr).toBe(0);
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([stale[1]]);
  }, 360_000);
});

/**
 * Memory of streaming prediction and of training (run by hand, not in CI):
 *
 *   npm run bench -- bench/data/stream.ts [--rows 1000000] [--keep DIR]      -> bench/results/stream.json
 *   npm run bench -- bench/data/stream.ts --train [--epochs 5] [--images 4000] -> bench/results/stream_train.json
 *
 * Streaming: writes a test.csv of `--rows` rows (default 1,000,000, about
 * 1.8 GB; rows of Kaggle's test.csv repeated when the competition zip is beside
 * the repo, synthetic digits otherwise) to a temp folder, saves an untrained
 * compact CNN, and runs `examples/predict.ts` on it as a subprocess under
 * `/usr/bin/time -v` (or, without it, sampling the child's VmHWM in /proc).
 * Prints peak RSS, wall time and rows per second.
 *
 * Training: trains the compact model on a small subset (wasm backend) and
 * prints RSS and tf.memory() after every epoch, to show memory stays flat.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  buildDigitCnn,
  fileSystemIO,
  loadDigitCsv,
  loadMnist,
  subsetDataset,
  trainDigits,
  type DigitDataset,
} from 'digit-recognizer';

import { ROOT } from '../lib/results.js';
import { startBench } from '../lib/setup.js';

const COMPETITION_ZIP = resolve(ROOT, '../shared/data/digit-recognizer.zip');
const MB = 1024 * 1024;

const bench = await startBench(import.meta.url, {
  about: 'peak memory of streaming prediction over a large CSV, and memory after each epoch of training',
  backend: 'wasm-stock',
  threads: 1,
  options: {
    rows: { type: 'string', default: '1000000' },
    keep: { type: 'string' },
    train: { type: 'boolean', default: false },
    epochs: { type: 'string', default: '5' },
    images: { type: 'string', default: '4000' },
  },
  name: (flags) => (flags.train ? 'stream_train' : 'stream'),
});
const flags = bench.flags;

if (flags.train) await trainBench(Number(flags.epochs), Number(flags.images));
else await streamBench(Number(flags.rows), flags.keep);
await bench.results.save();

async function streamBench(rows: number, keep: string | undefined): Promise<void> {
  const work = keep ?? mkdtempSync(join(tmpdir(), 'digit-stream-bench-'));
  try {
    const csv = join(work, 'test.csv');
    const source = await sourceRows();
    const estimate = rows * (source.bytes / source.rows.length);
    const fsStat = statfsSync(work);
    const free = fsStat.bavail * fsStat.bsize;
    console.log(
      `free disk in ${work}: ${(free / 2 ** 30).toFixed(1)} GiB, CSV needs about ${(estimate / 2 ** 30).toFixed(2)} GiB`,
    );
    if (free < estimate * 1.2 + 512 * MB) throw new Error('not enough free disk for the benchmark CSV');

    if (!existsSync(csv) || statSync(csv).size < estimate * 0.9) {
      const t = performance.now();
      await writeCsv(csv, rows, source.rows);
      console.log(
        `wrote ${rows} rows (${(statSync(csv).size / MB).toFixed(0)} MB, ${source.what}) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
    }
    const modelDir = join(work, 'model');
    await buildDigitCnn({ architecture: 'compact', seed: 1 }).save(fileSystemIO(modelDir));

    const out = join(work, 'submission.csv');
    const args = [
      '--import',
      'tsx',
      '--conditions=digit-recognizer-source',
      join(ROOT, 'examples/predict.ts'),
      '--model',
      modelDir,
      '--data',
      csv,
      '--out',
      out,
    ];
    const useTime = existsSync('/usr/bin/time');
    const started = performance.now();
    const result = await run(
      useTime ? '/usr/bin/time' : process.execPath,
      useTime ? ['-v', process.execPath, ...args] : args,
    );
    const wall = (performance.now() - started) / 1000;
    if (result.code !== 0) throw new Error(`predict failed (${result.code}):\n${result.stderr}`);
    const timeRss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr)?.[1];
    const peakKb = timeRss === undefined ? result.sampledPeakKb : Number(timeRss);
    const lines = readFileSync(out, 'utf8').length; // bytes
    console.log(
      result.stderr
        .split('\n')
        .filter((l) => /^(predicted|wrote|predicting)/.test(l))
        .join('\n'),
    );
    console.log(`submission ${(lines / MB).toFixed(1)} MB`);
    bench.results
      .table('stream', '`npm run predict` streaming a large CSV through an untrained `compact` model', [
        { key: 'rows', label: 'rows', digits: 0 },
        { key: 'csvMB', label: 'CSV (MB)', digits: 0 },
        { key: 'source', label: 'rows from' },
        { key: 'peakMiB', label: 'peak RSS (MiB)', digits: 0 },
        { key: 'measuredBy', label: 'peak measured by' },
        { key: 'seconds', label: 'wall time, start-up included (s)', digits: 1 },
        { key: 'rowsPerSecond', label: 'rows/s', digits: 0 },
      ])
      .row({
        rows,
        csvMB: statSync(csv).size / MB,
        source: source.what,
        peakMiB: peakKb / 1024,
        measuredBy: useTime ? '/usr/bin/time -v' : '/proc VmHWM sampling',
        seconds: wall,
        rowsPerSecond: rows / wall,
      });
  } finally {
    if (keep === undefined) rmSync(work, { recursive: true, force: true });
  }
}

/** Rows to repeat: Kaggle's test.csv when available, else synthetic digits. */
async function sourceRows(): Promise<{ rows: string[]; bytes: number; what: string }> {
  let data: DigitDataset;
  let what: string;
  if (existsSync(COMPETITION_ZIP)) {
    data = await loadDigitCsv(COMPETITION_ZIP, { member: 'test.csv' });
    what = "Kaggle's test.csv rows repeated";
  } else {
    data = await loadMnist({ split: 'test' });
    what = 'MNIST test images repeated';
  }
  const rows: string[] = [];
  let bytes = 0;
  for (let r = 0; r < data.count; r++) {
    const line = `${Array.from(data.pixels.subarray(r * 784, (r + 1) * 784)).join(',')}\n`;
    rows.push(line);
    bytes += line.length;
  }
  return { rows, bytes, what };
}

/** Streams `rows` rows to `path`, cycling through `source`. */
async function writeCsv(path: string, rows: number, source: string[]): Promise<void> {
  const out = createWriteStream(path);
  const write = (text: string): Promise<void> =>
    new Promise((done) => (out.write(text) ? done() : out.once('drain', () => done())));
  await write(`${Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',')}\n`);
  let batch = '';
  for (let r = 0; r < rows; r++) {
    batch += source[r % source.length] as string;
    if (batch.length > 4 * MB) {
      await write(batch);
      batch = '';
    }
  }
  await write(batch);
  await new Promise<void>((done, fail) => out.end((error?: Error | null) => (error ? fail(error) : done())));
}

/** Runs a command, collecting stderr and sampling the child's peak RSS from /proc. */
function run(command: string, args: string[]): Promise<{ code: number | null; stderr: string; sampledPeakKb: number }> {
  return new Promise((done) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    let peak = 0;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      process.stderr.write(d);
    });
    const timer = setInterval(() => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      } catch {
        // finished
      }
    }, 500);
    child.on('close', (code) => {
      clearInterval(timer);
      done({ code, stderr, sampledPeakKb: peak });
    });
  });
}

async function trainBench(epochs: number, images: number): Promise<void> {
  const all = await loadMnist({ split: 'train' });
  const data = subsetDataset(
    all,
    Array.from({ length: images }, (_, i) => i),
  );
  const model = buildDigitCnn({ architecture: 'compact', seed: 1 });
  const rss = (): string => `${(process.memoryUsage().rss / MB).toFixed(0)} MiB`;
  const before = tf.memory();
  console.log(
    `before: RSS ${rss()}, tensors ${before.numTensors}, tensor bytes ${(before.numBytes / MB).toFixed(1)} MiB`,
  );
  const table = bench.results.table(
    'epochs',
    `Training \`compact\` on ${images} MNIST images, batch 64, wasm: memory after each epoch`,
    [
      { key: 'epoch', label: 'epoch', digits: 0 },
      { key: 'seconds', label: 'seconds', digits: 1 },
      { key: 'rssMiB', label: 'RSS (MiB)', digits: 0 },
      { key: 'heapMiB', label: 'JS heap used (MiB)', digits: 0 },
      { key: 'tensors', label: 'tf tensors', digits: 0 },
      { key: 'tensorMiB', label: 'tf bytes (MiB)', digits: 1 },
    ],
  );
  await trainDigits(model, data, {
    epochs,
    batchSize: 64,
    seed: 1,
    onProgress: (p) => {
      if (p.phase !== 'epoch') return;
      const m = tf.memory();
      const u = process.memoryUsage();
      table.row({
        epoch: p.epoch,
        seconds: p.seconds,
        rssMiB: u.rss / MB,
        heapMiB: u.heapUsed / MB,
        tensors: m.numTensors,
        tensorMiB: m.numBytes / MB,
      });
    },
  });
  const after = tf.memory();
  console.log(`after: RSS ${rss()}, tensors ${after.numTensors}, tensor bytes ${(after.numBytes / MB).toFixed(1)} MiB`);
}

/**
 * Memory benchmarks for issue 6 (run by hand, not in CI):
 *
 *   npm run bench -- bench/data/stream.ts [--rows 1000000] [--keep DIR]
 *   npm run bench -- bench/data/stream.ts --train [--epochs 5] [--images 4000]
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
import '@tensorflow/tfjs-backend-wasm';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  buildDigitCnn,
  fileSystemIO,
  loadDigitCsv,
  loadMnist,
  subsetDataset,
  trainDigits,
  type DigitDataset,
} from 'digit-recognizer';

const ROOT = resolve(import.meta.dirname, '../..');
const COMPETITION_ZIP = resolve(ROOT, '../shared/data/digit-recognizer.zip');
const MB = 1024 * 1024;

const { values: flags } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    keep: { type: 'string' },
    train: { type: 'boolean', default: false },
    epochs: { type: 'string', default: '5' },
    images: { type: 'string', default: '4000' },
  },
});

if (flags.train) await trainBench(Number(flags.epochs), Number(flags.images));
else await streamBench(Number(flags.rows), flags.keep);

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
    await tf.setBackend('wasm');
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
    console.log(
      `rows: ${rows}, CSV ${(statSync(csv).size / MB).toFixed(0)} MB, submission ${(lines / MB).toFixed(1)} MB`,
    );
    console.log(
      `peak RSS: ${(peakKb / 1024).toFixed(0)} MiB (${useTime ? '/usr/bin/time -v' : '/proc VmHWM sampling'})`,
    );
    console.log(`wall: ${wall.toFixed(1)} s including start-up, ${(rows / wall).toFixed(0)} rows/s overall`);
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
  await tf.setBackend('wasm');
  await tf.ready();
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
  const rows: string[] = [
    '| epoch | seconds | RSS (MiB) | heap used (MiB) | tf tensors | tf bytes (MiB) |',
    '|---|---|---|---|---|---|',
  ];
  await trainDigits(model, data, {
    epochs,
    batchSize: 64,
    seed: 1,
    onProgress: (p) => {
      if (p.phase !== 'epoch') return;
      const m = tf.memory();
      const u = process.memoryUsage();
      const line = `| ${p.epoch} | ${p.seconds.toFixed(1)} | ${(u.rss / MB).toFixed(0)} | ${(u.heapUsed / MB).toFixed(0)} | ${m.numTensors} | ${(m.numBytes / MB).toFixed(1)} |`;
      rows.push(line);
      console.log(line);
    },
  });
  const after = tf.memory();
  console.log(`after: RSS ${rss()}, tensors ${after.numTensors}, tensor bytes ${(after.numBytes / MB).toFixed(1)} MiB`);
  console.log(rows.join('\n'));
}

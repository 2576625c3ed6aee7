/**
 * Training and prediction throughput on the wasm backend, per network and thread count, with the
 * PyTorch peer of the seed net in the same run when asked (`--pytorch`). Run by hand:
 * `npm run bench -- bench/steps/train.ts [--arch seed,compact,lean,strong] [--thread-counts 1,2] [--steps 40] [--batch 64] [--pytorch]`.
 *
 * Each configuration runs in its own Node process (the thread count is fixed before the wasm
 * backend starts): trainDigits (fitDataset, the library's real loop) over `steps` batches of MNIST
 * training images, timed from the end of step 3 (XNNPACK operator set-up) to the last step, then
 * predictDigits over 4096 MNIST test images. `--pytorch` runs bench/peers/pytorch_seed.py (same
 * network, step and batches) with each thread count after them.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { ROOT } from '../lib/results.js';
import { setUpBackend, startBench } from '../lib/setup.js';

const OPTIONS = {
  steps: { type: 'string', default: '40' },
  batch: { type: 'string', default: '64' },
  // Not --threads: every bench's own --threads takes one count (bench/lib/setup.ts).
  'thread-counts': { type: 'string', default: '1,2' },
  arch: { type: 'string', default: 'seed,compact,lean,strong' },
  pytorch: { type: 'boolean', default: false },
  python: { type: 'string', default: '/usr/bin/python3' },
} as const;

interface Result {
  arch: string;
  threads: number;
  /** The native kernels' SIMD path, or `off`. */
  native: string;
  node: string;
  trainImagesPerSecond: number;
  predictImagesPerSecond: number;
}

const WARM_STEPS = 3;
const PREDICT_IMAGES = 4096;

/** One configuration, in a process of its own: prints its result as a JSON line. */
async function child(): Promise<void> {
  const { values: flags } = parseArgs({
    options: { ...OPTIONS, child: { type: 'boolean', default: false }, threads: { type: 'string', default: '1' } },
  });
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { buildDigitCnn } = await import('../../src/model/build.js');
  const { trainDigits } = await import('../../src/training/train.js');
  const { predictDigits } = await import('../../src/prediction/predict.js');
  const { loadMnist } = await import('../../src/data/mnist.js');
  const { createDigitDataset, PIXELS_PER_IMAGE } = await import('../../src/data/dataset.js');

  const steps = Number(flags.steps);
  const batch = Number(flags.batch);
  // trainDigits registers the training kernels itself, as for any user.
  await setUpBackend('wasm-stock', Number(flags.threads));
  // The native kernels (where they load and DIGIT_RECOGNIZER_NATIVE is not 0) on as many threads.
  const { configureNativeKernels } = await import('../../src/kernels/addon/load.js');
  const native = configureNativeKernels({ threads: Number(flags.threads) });

  const [train, test] = await Promise.all([loadMnist({ split: 'train' }), loadMnist({ split: 'test' })]);
  const first = (n: number, name: string) =>
    createDigitDataset(train.pixels.subarray(0, n * PIXELS_PER_IMAGE), train.labels?.subarray(0, n), name);
  const data = first(steps * batch, 'bench train');
  const validationData = createDigitDataset(
    test.pixels.subarray(0, 64 * PIXELS_PER_IMAGE),
    test.labels?.subarray(0, 64),
    'bench val',
  );

  const model = buildDigitCnn({ architecture: flags.arch, seed: 1 });
  const marks: { batch: number; seconds: number }[] = [];
  await trainDigits(model, data, {
    epochs: 1,
    batchSize: batch,
    validationData,
    onProgress: (p) => {
      if (p.phase === 'batch' && (p.batch === WARM_STEPS || p.batch === steps))
        marks.push({ batch: p.batch, seconds: p.seconds });
    },
  });
  const [warm, last] = marks as [{ batch: number; seconds: number }, { batch: number; seconds: number }];
  const trainImagesPerSecond = ((last.batch - warm.batch) * batch) / (last.seconds - warm.seconds);

  const predictData = createDigitDataset(
    test.pixels.subarray(0, PREDICT_IMAGES * PIXELS_PER_IMAGE),
    undefined,
    'bench predict',
  );
  await predictDigits(model, createDigitDataset(test.pixels.subarray(0, 256 * PIXELS_PER_IMAGE), undefined, 'warm-up'));
  const t0 = performance.now();
  await predictDigits(model, predictData);
  const predictImagesPerSecond = (PREDICT_IMAGES * 1000) / (performance.now() - t0);
  const result: Result = {
    arch: flags.arch,
    threads: wasm.getThreadsCount(),
    native: native.on ? native.isa : 'off',
    node: process.versions.node,
    trainImagesPerSecond,
    predictImagesPerSecond,
  };
  console.log(JSON.stringify(result));
}

async function parent(): Promise<void> {
  const bench = await startBench(import.meta.url, {
    about: 'training and prediction images/s on wasm per network and thread count, with the PyTorch peer',
    backend: 'none',
    options: OPTIONS,
  });
  const flags = bench.flags;
  const self = fileURLToPath(import.meta.url);
  const archs = flags.arch.split(',');
  const threadCounts = flags['thread-counts'].split(',').map(Number);
  const table = bench.results.table(
    'throughput',
    `Batch ${flags.batch}, ${flags.steps} training steps of MNIST images (timed after ${WARM_STEPS}), prediction of ${PREDICT_IMAGES} images (batch 256)`,
    [
      { key: 'net', label: 'net' },
      { key: 'backend', label: 'backend' },
      { key: 'threads', label: 'threads', digits: 0 },
      { key: 'train', label: 'train images/s', digits: 1 },
      { key: 'trainVsOne', label: 'vs 1 thread', digits: 2, suffix: 'x' },
      { key: 'predict', label: 'predict images/s', digits: 0 },
      { key: 'predictVsOne', label: 'vs 1 thread', digits: 2, suffix: 'x' },
    ],
  );
  const rows = (backend: string, arch: string, results: Result[]): void => {
    const base = results.find((r) => r.threads === 1);
    for (const r of results) {
      table.row({
        net: arch,
        backend,
        threads: r.threads,
        train: r.trainImagesPerSecond,
        trainVsOne: base === undefined ? null : r.trainImagesPerSecond / base.trainImagesPerSecond,
        predict: r.predictImagesPerSecond,
        predictVsOne: base === undefined ? null : r.predictImagesPerSecond / base.predictImagesPerSecond,
      });
    }
  };
  for (const arch of archs) {
    const results: Result[] = [];
    for (const threads of threadCounts) {
      const run = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          self,
          '--child',
          '--arch',
          arch,
          '--threads',
          String(threads),
          '--steps',
          flags.steps,
          '--batch',
          flags.batch,
        ],
        { encoding: 'utf8' },
      );
      const line = run.stdout.trim().split('\n').at(-1) ?? '';
      if (run.status !== 0 || !line.startsWith('{')) {
        process.stderr.write(`${arch} x${threads} failed:\n${run.stderr.slice(-1500)}\n`);
        continue;
      }
      results.push(JSON.parse(line) as Result);
    }
    const native = results.find((r) => r.native !== 'off')?.native;
    if (results.length > 0) rows(native === undefined ? 'ours, wasm' : `ours, wasm + native ${native}`, arch, results);
  }
  if (flags.pytorch && archs.includes('seed')) {
    const results: Result[] = [];
    let version = '?';
    for (const threads of threadCounts) {
      const run = spawnSync(
        flags.python,
        [
          join(ROOT, 'bench/peers/pytorch_seed.py'),
          '--threads',
          String(threads),
          '--steps',
          flags.steps,
          '--no-results',
          '--allow-load',
        ],
        { encoding: 'utf8' },
      );
      const line = run.stdout?.trim().split('\n').at(-1) ?? '';
      if (run.status !== 0 || !line.startsWith('{')) {
        process.stderr.write(`PyTorch x${threads} failed: ${(run.stderr ?? run.error?.message ?? '').slice(-500)}\n`);
        continue;
      }
      const r = JSON.parse(line) as { torch: string; train_images_per_s: number; predict_images_per_s: number };
      version = r.torch;
      results.push({
        arch: 'seed',
        threads,
        native: 'off',
        node: '',
        trainImagesPerSecond: r.train_images_per_s,
        predictImagesPerSecond: r.predict_images_per_s,
      });
    }
    if (results.length > 0) rows(`PyTorch ${version}, CPU`, 'seed', results);
  }
  await bench.results.save();
}

if (process.argv.includes('--child')) await child();
else await parent();

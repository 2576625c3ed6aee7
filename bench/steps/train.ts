/**
 * Training and prediction speed on the wasm backend, 1 thread vs 2 threads, for the seed and
 * strong nets. Run by hand: `npm run bench -- bench/steps/train.ts [--steps 40] [--batch 64] [--threads 1,2]`.
 *
 * Each configuration runs in its own Node process (the thread count is fixed before the wasm
 * backend starts): trainDigits (fitDataset, the library's real loop) over `steps` batches of MNIST
 * training images, timed from the end of step 3 (XNNPACK operator set-up) to the last step, then
 * predictDigits over 4096 MNIST test images. Prints a markdown table.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    steps: { type: 'string', default: '40' },
    batch: { type: 'string', default: '64' },
    threads: { type: 'string', default: '1,2' },
    arch: { type: 'string', default: 'seed,strong' },
    child: { type: 'boolean', default: false },
  },
});

interface Result {
  arch: string;
  threads: number;
  trainImagesPerSecond: number;
  predictImagesPerSecond: number;
}

const WARM_STEPS = 3;
const PREDICT_IMAGES = 4096;

async function child(): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { configureWasmThreads } = await import('../../src/kernels/wasm_threads.js');
  const { buildDigitCnn } = await import('../../src/model/build.js');
  const { trainDigits } = await import('../../src/training/train.js');
  const { predictDigits } = await import('../../src/prediction/predict.js');
  const { loadMnist } = await import('../../src/data/mnist.js');
  const { createDigitDataset, PIXELS_PER_IMAGE } = await import('../../src/data/dataset.js');

  const threads = Number(flags.threads);
  const steps = Number(flags.steps);
  const batch = Number(flags.batch);
  configureWasmThreads(threads, { setThreadsCount: wasm.setThreadsCount });
  await tf.setBackend('wasm');
  await tf.ready();

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
    trainImagesPerSecond,
    predictImagesPerSecond,
  };
  console.log(JSON.stringify(result));
}

function parent(): void {
  const self = fileURLToPath(import.meta.url);
  const rows: Result[] = [];
  for (const arch of flags.arch.split(',')) {
    for (const threads of flags.threads.split(',').map(Number)) {
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
      const r = JSON.parse(line) as Result;
      rows.push(r);
      process.stderr.write(
        `${arch} ${r.threads} thread(s): ${r.trainImagesPerSecond.toFixed(1)} train img/s, ${r.predictImagesPerSecond.toFixed(0)} predict img/s\n`,
      );
    }
  }
  console.log(
    `Node ${process.versions.node}, ${availableParallelism()} cores, batch ${flags.batch}, ${flags.steps} training steps (timed after ${WARM_STEPS}), prediction of ${PREDICT_IMAGES} images (batch 256).\n`,
  );
  console.log('| net | backend | threads | train images/s | vs 1 thread | predict images/s | vs 1 thread |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const arch of flags.arch.split(',')) {
    console.log(`| ${arch} | stock tfjs wasm | 1 | cannot train (no Conv2DBackpropFilter kernel) | | | |`);
    const base = rows.find((r) => r.arch === arch && r.threads === 1);
    for (const r of rows.filter((x) => x.arch === arch)) {
      const ratio = (a: number, b: number | undefined): string => (b === undefined ? '' : `${(a / b).toFixed(2)}x`);
      console.log(
        `| ${arch} | ours wasm | ${r.threads} | ${r.trainImagesPerSecond.toFixed(1)} | ${ratio(r.trainImagesPerSecond, base?.trainImagesPerSecond)} | ${r.predictImagesPerSecond.toFixed(0)} | ${ratio(r.predictImagesPerSecond, base?.predictImagesPerSecond)} |`,
      );
    }
  }
}

if (flags.child) await child();
else parent();

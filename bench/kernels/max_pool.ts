/**
 * The gradient of the zoo's 2x2/2 max pools on the wasm backend, TypeScript over the heap
 * (src/kernels/wasm/helpers/max_pool_grad_heap.ts) against WebAssembly SIMD (native/max_pool.c): the kernel alone on
 * `lean`'s and `compact`'s pool shapes (median ms of 15 calls; the outputs must be identical),
 * then a training step of `lean` and `compact` with the SIMD route off and on, alternating every
 * 3 steps in one process. Run by hand: `npm run bench -- bench/kernels/max_pool.ts [--threads 2] [--rounds 8]`.
 */
import * as tf from '@tensorflow/tfjs-core';

import { overrideKernelRoutes } from '../../src/kernels/routes.js';
import { maxPoolGrad2D } from '../../src/kernels/wasm/helpers/max_pool_grad_heap.js';
import { maxPoolGrad2x2Simd } from '../../src/kernels/wasm/helpers/max_pool_simd.js';
import { isNativeBackend, prepareNativeKernels, type NativeBackend } from '../../src/kernels/wasm/helpers/native.js';
import { alternateSteps, median, stepColumns, stepRow } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: "the gradient of the zoo's 2x2/2 max pools, TypeScript over the wasm heap against WebAssembly SIMD",
  backend: 'wasm',
  options: { rounds: { type: 'string', default: '8' } },
});
const flags = bench.flags;
const found = tf.backend();
if (!isNativeBackend(found)) throw new Error('needs the wasm backend');
const backend: NativeBackend = found;
await prepareNativeKernels(backend);
const attrs = { filterSize: 2, strides: 2, pad: 'valid' as const };

function time(run: () => tf.TensorInfo): { ms: number; out: Float32Array } {
  const ms: number[] = [];
  let out: tf.TensorInfo | undefined;
  for (let i = 0; i < 15; i++) {
    if (out !== undefined) backend.disposeData(out.dataId);
    const started = performance.now();
    out = run();
    ms.push(performance.now() - started);
  }
  const values = Float32Array.from(backend.typedArrayFromHeap(out!));
  backend.disposeData(out!.dataId);
  return { ms: median(ms), out: values };
}

const kernels = bench.results.table('kernel', 'The kernel alone, median ms of 15 calls', [
  { key: 'input', label: 'pool input' },
  { key: 'heap', label: 'TypeScript (ms)', digits: 2 },
  { key: 'simd', label: 'SIMD (ms)', digits: 2 },
  { key: 'ratio', label: 'ratio', digits: 1, suffix: 'x' },
  { key: 'identical', label: 'identical outputs' },
]);
for (const shape of [
  [64, 28, 28, 32],
  [64, 10, 10, 64],
  [64, 26, 26, 32],
  [64, 11, 11, 64],
] as [number, number, number, number][]) {
  const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
  const dy = tf.randomNormal(
    [shape[0], Math.floor(shape[1] / 2), Math.floor(shape[2] / 2), shape[3]],
    0,
    1,
    'float32',
    2,
  );
  const info = tf.backend_util.computePool2DInfo(shape, attrs.filterSize, attrs.strides, 1, attrs.pad);
  const heap = time(() => maxPoolGrad2D(backend, dy, x, info));
  const simd = time(() => maxPoolGrad2x2Simd(backend, dy, x, info));
  const same = heap.out.every((v, i) => Object.is(v, simd.out[i]));
  kernels.row({
    input: `[${shape.join(',')}]`,
    heap: heap.ms,
    simd: simd.ms,
    ratio: heap.ms / simd.ms,
    identical: same ? 'yes' : 'NO',
  });
  tf.dispose([x, dy]);
}

const steps = bench.results.table(
  'steps',
  `Training step, batch 64, ${bench.threads} threads, the routes alternating every 3 steps, medians of ${flags.rounds} rounds`,
  stepColumns('TypeScript', 'SIMD'),
);
for (const arch of ['lean', 'compact']) {
  const t = await alternateSteps(
    arch,
    {
      heap: () => overrideKernelRoutes({ MaxPoolGrad: { 'simd-2x2': 'off' } }),
      simd: () => overrideKernelRoutes({ MaxPoolGrad: { 'simd-2x2': 'auto' } }),
    },
    Number(flags.rounds),
  );
  steps.row(stepRow(arch, t.heap, t.simd));
}
overrideKernelRoutes({ MaxPoolGrad: { 'simd-2x2': 'auto' } });
await bench.results.save();

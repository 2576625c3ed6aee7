/**
 * The gradient of the zoo's 2x2/2 max pools on the wasm backend, TypeScript over the heap
 * (src/kernels/wasm/helpers/max_pool_grad_heap.ts) against WebAssembly SIMD (native/max_pool.c): the kernel alone on
 * `lean`'s and `compact`'s pool shapes (median ms of 15 calls; the outputs must be identical),
 * then a training step of `lean` and `compact` with the SIMD route off and on, alternating every
 * 3 steps in one process. Run by hand: `npm run bench -- bench/max_pool.ts [--threads 2] [--rounds 8]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from 'node:util';

import { overrideKernelRoutes } from '../src/kernels/routes.js';
import { maxPoolGrad2D } from '../src/kernels/wasm/helpers/max_pool_grad_heap.js';
import { maxPoolGrad2x2Simd } from '../src/kernels/wasm/helpers/max_pool_simd.js';
import { isNativeBackend, prepareNativeKernels, type NativeBackend } from '../src/kernels/wasm/helpers/native.js';
import { configureWasmThreads } from '../src/kernels/wasm_threads.js';
import { registerWasmTrainingKernels } from '../src/kernels/wasm_training.js';
import { alternateSteps, median, stepRow } from './ab.js';

const { values: flags } = parseArgs({
  options: { threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: '8' } },
});
configureWasmThreads(Number(flags.threads), { setThreadsCount: wasm.setThreadsCount });
await tf.setBackend('wasm');
await tf.ready();
registerWasmTrainingKernels();
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

console.log('| pool input | TypeScript ms | SIMD ms | ratio | identical |\n|---|---:|---:|---:|---|');
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
  console.log(
    `| [${shape.join(',')}] | ${heap.ms.toFixed(2)} | ${simd.ms.toFixed(2)} | ${(heap.ms / simd.ms).toFixed(1)}x | ${same ? 'yes' : 'NO'} |`,
  );
  tf.dispose([x, dy]);
}

console.log(
  '\n| net | TypeScript ms/step | SIMD ms/step | images/s TypeScript / SIMD | ratio |\n|---|---:|---:|---:|---:|',
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
  console.log(stepRow(arch, t.heap, t.simd));
}
overrideKernelRoutes({ MaxPoolGrad: { 'simd-2x2': 'auto' } });

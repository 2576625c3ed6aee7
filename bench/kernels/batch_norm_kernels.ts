/**
 * The fused training batch norm's two kernels alone on the wasm backend, TypeScript over the heap
 * (src/kernels/wasm/helpers/batch_norm_heap.ts) against WebAssembly SIMD (native/batch_norm.c), on the zoo's layer
 * shapes: median ms of `--calls` calls each, and the largest difference between the two routes'
 * outputs relative to the largest value. Run by hand:
 * `npm run bench -- bench/kernels/batch_norm_kernels.ts [--calls 15]`.
 */
import * as tf from '@tensorflow/tfjs-core';

import {
  batchNormTrainingGradOnHeap,
  batchNormTrainingOnHeap,
} from '../../src/kernels/wasm/helpers/batch_norm_heap.js';
import { batchNormTrainingGradSimd, batchNormTrainingSimd } from '../../src/kernels/wasm/helpers/batch_norm_simd.js';
import { isNativeBackend, prepareNativeKernels, type NativeBackend } from '../../src/kernels/wasm/helpers/native.js';
import { median } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

// Both routes run on the calling thread: one XNNPACK thread, as tfjs starts in Node.
const bench = await startBench(import.meta.url, {
  about: "the fused training batch norm's two kernels alone, TypeScript over the wasm heap against WebAssembly SIMD",
  backend: 'wasm-stock',
  threads: 1,
  options: { calls: { type: 'string', default: '15' } },
});
const CALLS = Number(bench.flags.calls);
const found = tf.backend();
if (!isNativeBackend(found)) throw new Error('needs the wasm backend');
const backend: NativeBackend = found;
await prepareNativeKernels(backend);

function time(run: () => tf.TensorInfo[]): { ms: number; out: Float32Array[] } {
  const ms: number[] = [];
  let out: tf.TensorInfo[] = [];
  for (let i = 0; i < CALLS; i++) {
    out.forEach((info) => backend.disposeData(info.dataId));
    const started = performance.now();
    out = run();
    ms.push(performance.now() - started);
  }
  const values = out.map((info) => Float32Array.from(backend.typedArrayFromHeap(info)));
  out.forEach((info) => backend.disposeData(info.dataId));
  return { ms: median(ms), out: values };
}
function worst(a: Float32Array[], b: Float32Array[]): number {
  let diff = 0;
  let scale = 0;
  a.forEach((xs, k) =>
    xs.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - b[k]![i]!));
      scale = Math.max(scale, Math.abs(b[k]![i]!));
    }),
  );
  return diff / scale;
}

const table = bench.results.table('kernels', `The two kernels alone, median ms of ${CALLS} calls`, [
  { key: 'tensor', label: 'tensor' },
  { key: 'forwardHeap', label: 'forward, TypeScript (ms)', digits: 2 },
  { key: 'forwardSimd', label: 'forward, SIMD (ms)', digits: 2 },
  { key: 'forwardRatio', label: 'ratio', digits: 1, suffix: 'x' },
  { key: 'backwardHeap', label: 'backward, TypeScript (ms)', digits: 2 },
  { key: 'backwardSimd', label: 'backward, SIMD (ms)', digits: 2 },
  { key: 'backwardRatio', label: 'ratio', digits: 1, suffix: 'x' },
  { key: 'difference', label: 'largest difference (of the largest value)' },
]);
for (const shape of [
  [64, 28, 28, 32],
  [64, 26, 26, 32],
  [64, 12, 12, 64],
  [64, 3, 3, 128],
]) {
  const channels = shape[3]!;
  const x = tf.add(
    tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 1), 3),
    tf.randomUniform([channels], 0, 5, 'float32', 2),
  );
  const dy = tf.randomNormal(shape, 0, 0.01, 'float32', 3);
  const gamma = tf.randomUniform([channels], 0.5, 1.5, 'float32', 4);
  const beta = tf.randomUniform([channels], -0.5, 0.5, 'float32', 5);
  const heapForward = time(() => batchNormTrainingOnHeap(backend, x, gamma, beta, 1e-3));
  const simdForward = time(() => batchNormTrainingSimd(backend, x, gamma, beta, 1e-3));
  const [mean, variance] = [tf.tensor1d(heapForward.out[1]!), tf.tensor1d(heapForward.out[2]!)];
  const heapBackward = time(() => batchNormTrainingGradOnHeap(backend, dy, x, gamma, mean, variance, 1e-3));
  const simdBackward = time(() => batchNormTrainingGradSimd(backend, dy, x, gamma, mean, variance, 1e-3));
  const difference = Math.max(worst(simdForward.out, heapForward.out), worst(simdBackward.out, heapBackward.out));
  table.row({
    tensor: `[${shape.join(',')}]`,
    forwardHeap: heapForward.ms,
    forwardSimd: simdForward.ms,
    forwardRatio: heapForward.ms / simdForward.ms,
    backwardHeap: heapBackward.ms,
    backwardSimd: simdBackward.ms,
    backwardRatio: heapBackward.ms / simdBackward.ms,
    difference: difference.toExponential(1),
  });
  tf.dispose([x, dy, gamma, beta, mean, variance]);
}
await bench.results.save();

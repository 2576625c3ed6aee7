/**
 * The fused training batch norm's two kernels alone on the wasm backend, TypeScript over the heap
 * (src/kernels/wasm/helpers/batch_norm_heap.ts) against WebAssembly SIMD (native/batch_norm.c), on the zoo's layer
 * shapes: median ms of `--calls` calls each, and the largest difference between the two routes'
 * outputs relative to the largest value. Run by hand:
 * `npm run bench -- bench/batch_norm_kernels.ts [--calls 15]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from 'node:util';

import { batchNormTrainingGradOnHeap, batchNormTrainingOnHeap } from '../src/kernels/wasm/helpers/batch_norm_heap.js';
import { batchNormTrainingGradSimd, batchNormTrainingSimd } from '../src/kernels/wasm/helpers/batch_norm_simd.js';
import { isNativeBackend, prepareNativeKernels, type NativeBackend } from '../src/kernels/wasm/helpers/native.js';

const { values: flags } = parseArgs({ options: { calls: { type: 'string', default: '15' } } });
const CALLS = Number(flags.calls);
await tf.setBackend('wasm');
await tf.ready();
const found = tf.backend();
if (!isNativeBackend(found)) throw new Error('needs the wasm backend');
const backend: NativeBackend = found;
await prepareNativeKernels(backend);

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
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

console.log(
  '| tensor | forward TypeScript → SIMD (ms) | backward TypeScript → SIMD (ms) | largest difference |\n|---|---:|---:|---:|',
);
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
  const ratio = (a: number, b: number): string => `${a.toFixed(2)} → ${b.toFixed(2)} (${(a / b).toFixed(1)}x)`;
  console.log(
    `| [${shape.join(',')}] | ${ratio(heapForward.ms, simdForward.ms)} | ${ratio(heapBackward.ms, simdBackward.ms)} | ${difference.toExponential(1)} |`,
  );
  tf.dispose([x, dy, gamma, beta, mean, variance]);
}

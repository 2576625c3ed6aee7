/**
 * The SIMD module's worker pool (src/kernels/wasm/helpers/pool.ts): every route whose module calls
 * it splits, forced on the threaded wasm build with the native addon off, in a fresh Node process
 * (threads are chosen once per process), first with the pool held to 1 thread and then on 2. Each
 * output is checked against its float64 reference, the two runs for bitwise equality, and the
 * process must exit by itself (the pool's workers may not keep it alive). The single-threaded build
 * (memory not shared: no pool) is checked against the references too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import {
  convGeometry,
  float64BatchNorm,
  float64BatchNormGrad,
  float64Conv2D,
  float64Conv2DInputGrad,
  float64FilterGrad,
  float64MaxPoolGrad,
  relativeError,
  sizeOf,
  values,
  type ConvShape,
} from './kernel_reference.js';
import { nativeSimdVariant } from '../src/kernels/wasm/helpers/native.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const src = (path: string): string => JSON.stringify(new URL(`../src/${path}`, import.meta.url).href);

/** Reads the cases on stdin, runs each through its forced route with the pool on 1 thread, then on THREADS. */
const CHILD = `
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { readFileSync } from 'node:fs';
import { configureWasmThreads } from ${src('kernels/wasm_threads.ts')};
import { readyWasmTrainingKernels } from ${src('kernels/wasm_training.ts')};
import { overrideKernelRoutes, traceKernelRoutes } from ${src('kernels/routes.ts')};
import { asNativeBackend, nativePoolThreads, nativeSimdVariant } from ${src('kernels/wasm/helpers/native.ts')};
import { overridePoolThreads } from ${src('kernels/wasm/helpers/pool.ts')};
const threads = Number(process.env.THREADS);
configureWasmThreads(threads, { setThreadsCount: wasm.setThreadsCount });
await tf.setBackend('wasm');
await readyWasmTrainingKernels();
const cases = JSON.parse(readFileSync(0, 'utf8'));
async function run(c) {
  const restore = overrideKernelRoutes({ [c.kernel]: { [c.route]: 'force' } });
  const tensors = Object.fromEntries(Object.entries(c.inputs).map(([name, t]) => [name, tf.tensor(t.values, t.shape)]));
  try {
    const { result, routes } = await traceKernelRoutes(() => {
      const out = tf.engine().runKernel(c.kernel, tensors, c.attrs);
      const outs = Array.isArray(out) ? out : [out];
      const data = outs.map((t) => Array.from(t.dataSync()));
      tf.dispose(outs);
      return data;
    });
    const top = routes.filter((r) => r.depth === 0).map((r) => r.kernel + ':' + r.route);
    if (top.join() !== c.kernel + ':' + c.route) throw new Error('ran ' + top.join());
    return result;
  } finally {
    restore();
    tf.dispose(Object.values(tensors));
  }
}
overridePoolThreads(1);
const one = [];
for (const c of cases) one.push(await run(c));
overridePoolThreads(undefined);
// The first pooled call starts the workers; they come up asynchronously.
const backend = asNativeBackend(tf.backend());
for (let i = 0; i < 400 && nativePoolThreads(backend) < threads; i++) {
  await run(cases[0]);
  await new Promise((resolve) => setTimeout(resolve, 25));
}
const poolThreads = nativePoolThreads(backend);
const many = [];
for (const c of cases) many.push(await run(c));
console.log(JSON.stringify({ variant: nativeSimdVariant(), poolThreads, one, many }));
`;

type Tensor = { shape: number[]; values: number[] };
interface PoolCase {
  label: string;
  kernel: string;
  route: string;
  inputs: Record<string, Tensor>;
  attrs: Record<string, unknown>;
  reference: () => ArrayLike<number>[];
}

const tensor = (shape: number[], seed: number, scale = 1): Tensor => ({
  shape,
  values: Array.from(values(sizeOf(shape), seed), (v) => v * scale),
});
const f32 = (t: Tensor): Float32Array => Float32Array.from(t.values);

function convCases(c: ConvShape, routes: { forward?: string; dW?: string; dx?: string }): PoolCase[] {
  const info = convGeometry(c.x, c.filter, c.strides, c.pad);
  const x = tensor(c.x, 1);
  const filter = tensor(c.filter, 2);
  const dy = tensor([c.x[0], info.outHeight, info.outWidth, c.filter[3]], 3);
  const bias = tensor([c.filter[3]], 4);
  const conv = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
  const label = `${c.x} * ${c.filter}, stride ${c.strides}, ${String(c.pad)}`;
  const out: PoolCase[] = [];
  if (routes.forward !== undefined)
    out.push({
      label,
      kernel: 'FusedConv2D',
      route: routes.forward,
      inputs: { x, filter, bias },
      attrs: { ...conv, activation: 'relu' },
      reference: () => {
        const b = f32(bias);
        return [float64Conv2D(c, f32(x), f32(filter)).map((v, i) => Math.max(0, v + (b[i % b.length] as number)))];
      },
    });
  if (routes.dW !== undefined)
    out.push({
      label,
      kernel: 'Conv2DBackpropFilter',
      route: routes.dW,
      inputs: { x, dy },
      attrs: { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter },
      reference: () => [float64FilterGrad(c, f32(x), f32(dy))],
    });
  if (routes.dx !== undefined)
    out.push({
      label,
      kernel: 'Conv2DBackpropInput',
      route: routes.dx,
      inputs: { dy, filter },
      attrs: { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x },
      reference: () => [float64Conv2DInputGrad(c, f32(dy), f32(filter))],
    });
  return out;
}

const poolX = tensor([3, 7, 5, 8], 5, 4);
poolX.values = poolX.values.map((v) => Math.round(v)); // ties: the first-maximum rule across rows of the split
const poolInfo = tf.backend_util.computePool2DInfo([3, 7, 5, 8], 2, 2, 1, 'valid');
const poolDy = tensor([3, poolInfo.outHeight, poolInfo.outWidth, 8], 6);
const bnX = tensor([5, 7, 7, 16], 7, 3);
const bnGamma: Tensor = { shape: [16], values: Array.from(values(16, 8), (v) => v + 1) };
const bnBeta = tensor([16], 9);
const bnDy = tensor([5, 7, 7, 16], 10);
const [, bnMean, bnVariance] = float64BatchNorm(f32(bnX), f32(bnGamma), f32(bnBeta), 1e-3);

const CASES: PoolCase[] = [
  ...convCases(
    { x: [3, 10, 9, 8], filter: [5, 5, 8, 12], strides: 1, pad: 'same' },
    { forward: 'winograd-5x5', dW: 'winograd-5x5', dx: 'winograd-5x5' },
  ),
  ...convCases(
    { x: [3, 11, 10, 6], filter: [3, 3, 6, 10], strides: 1, pad: 'valid' },
    { forward: 'winograd-3x3', dW: 'winograd-3x3', dx: 'winograd-3x3' },
  ),
  ...convCases(
    { x: [3, 11, 12, 8], filter: [3, 3, 8, 12], strides: 2, pad: 'same' },
    { dW: 'direct-simd', dx: 'direct-simd' },
  ),
  // 40 output channels: one group of 32 and a remainder in the filter gradient's items.
  ...convCases(
    { x: [3, 9, 8, 1], filter: [3, 3, 1, 40], strides: 1, pad: 'same' },
    { dW: 'one-channel-simd', dx: 'one-channel-simd' },
  ),
  {
    label: '2x2/2 valid, odd sizes, ties',
    kernel: 'MaxPoolGrad',
    route: 'simd-2x2',
    inputs: { input: poolX, dy: poolDy, output: { shape: [3, 3, 2, 8], values: [] } },
    attrs: { filterSize: 2, strides: 2, pad: 'valid' },
    reference: () => [float64MaxPoolGrad(f32(poolX), [3, 7, 5, 8], f32(poolDy), 2, 2, 'valid')],
  },
  {
    label: '[5,7,7,16]',
    kernel: 'DigitBatchNormTraining',
    route: 'simd',
    inputs: { x: bnX, gamma: bnGamma, beta: bnBeta },
    attrs: { epsilon: 1e-3 },
    reference: () => float64BatchNorm(f32(bnX), f32(bnGamma), f32(bnBeta), 1e-3),
  },
  {
    label: '[5,7,7,16]',
    kernel: 'DigitBatchNormTrainingGrad',
    route: 'simd',
    inputs: {
      dy: bnDy,
      x: bnX,
      gamma: bnGamma,
      mean: { shape: [16], values: Array.from(Float32Array.from(bnMean)) },
      variance: { shape: [16], values: Array.from(Float32Array.from(bnVariance)) },
    },
    attrs: { epsilon: 1e-3 },
    reference: () =>
      float64BatchNormGrad(
        f32(bnDy),
        f32(bnX),
        f32(bnGamma),
        Float32Array.from(bnMean),
        Float32Array.from(bnVariance),
        1e-3,
      ),
  },
];
// MaxPoolGrad's `output` input is unused by the routes but must be a tensor of the pooled shape.
(CASES.find((c) => c.kernel === 'MaxPoolGrad') as PoolCase).inputs['output'] = tensor([3, 3, 2, 8], 11);

interface ChildResult {
  variant: 'relaxed' | 'plain';
  poolThreads: number;
  one: number[][][];
  many: number[][][];
}

function runChild(threads: number, nodeFlags: string[] = []): ChildResult {
  const input = JSON.stringify(CASES.map(({ reference: _, ...c }) => c));
  const run = spawnSync(process.execPath, [...nodeFlags, '--import', 'tsx', '--input-type=module', '-e', CHILD], {
    cwd: ROOT,
    env: { ...process.env, THREADS: String(threads), DIGIT_RECOGNIZER_NATIVE: '0' },
    input,
    encoding: 'utf8',
    timeout: 120_000,
  });
  // A timeout here (status null) means the pool's workers kept the process alive.
  expect(run.status, run.stderr.slice(-2000)).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as ChildResult;
}

function checkReferences(outputs: number[][][]): void {
  CASES.forEach((c, i) => {
    const expected = c.reference();
    const got = outputs[i] as number[][];
    expect(got.length, `${c.kernel} ${c.route}: ${c.label}`).toBe(expected.length);
    got.forEach((out, j) =>
      expect(
        relativeError(out, expected[j] as ArrayLike<number>),
        `${c.kernel} ${c.route}: ${c.label}, output ${j}`,
      ).toBeLessThanOrEqual(1e-4),
    );
  });
}

describe('the SIMD module on a worker pool', () => {
  it.skipIf(availableParallelism() < 2)(
    'gives every pooled route its reference on 1 and 2 threads, bit for bit the same, and lets the process exit',
    () => {
      const { poolThreads, one, many } = runChild(2);
      expect(poolThreads).toBe(2);
      checkReferences(one);
      checkReferences(many);
      CASES.forEach((c, i) => expect(many[i], `${c.kernel} ${c.route}: ${c.label}`).toEqual(one[i]));
    },
    200_000,
  );

  // Node 20 has relaxed SIMD behind a flag; Node 22 and later by default.
  const relaxedFlags = nativeSimdVariant() === 'relaxed' ? [] : ['--experimental-wasm-relaxed-simd'];
  it.skipIf(availableParallelism() < 2)(
    'gives the relaxed-SIMD build (fused multiply-adds) the references too, the same bits on 1 and 2 threads',
    () => {
      const { variant, poolThreads, one, many } = runChild(2, relaxedFlags);
      expect(variant).toBe('relaxed');
      expect(poolThreads).toBe(2);
      checkReferences(one);
      checkReferences(many);
      CASES.forEach((c, i) => expect(many[i], `${c.kernel} ${c.route}: ${c.label}`).toEqual(one[i]));
    },
    200_000,
  );

  it('runs on the calling thread alone on the single-threaded build', () => {
    const { poolThreads, one, many } = runChild(1);
    expect(poolThreads).toBe(1);
    checkReferences(many);
    CASES.forEach((c, i) => expect(many[i], `${c.kernel} ${c.route}: ${c.label}`).toEqual(one[i]));
  }, 200_000);
});

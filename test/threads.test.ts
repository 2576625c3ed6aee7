import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { configureWasmThreads } from '../src/kernels/wasm_threads.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const src = (path: string): string => JSON.stringify(new URL(`../src/${path}`, import.meta.url).href);

/**
 * Trains the seed net a few steps in a fresh Node process (threads are chosen before the wasm
 * backend starts, once per process) and prints what it saw. The process must exit by itself:
 * XNNPACK's pool workers may not keep it alive.
 */
const CHILD = `
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { configureWasmThreads } from ${src('kernels/wasm_threads.ts')};
import { registerWasmTrainingKernels } from ${src('kernels/wasm_training.ts')};
import { buildDigitCnn } from ${src('model/build.ts')};
configureWasmThreads(Number(process.env.THREADS), { setThreadsCount: wasm.setThreadsCount });
await tf.setBackend('wasm');
registerWasmTrainingKernels();
const n = 16;
const pixels = new Float32Array(n * 784);
let s = 12345;
for (let i = 0; i < pixels.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; pixels[i] = s / 2 ** 32; }
const labels = Array.from({ length: n }, (_, i) => (i * 7) % 10);
const xs = tf.tensor4d(pixels, [n, 28, 28, 1]);
const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), 10).cast('float32');
const model = buildDigitCnn({ seed: 3 });
const losses = [];
for (let i = 0; i < 3; i++) { const r = await model.trainOnBatch(xs, ys); losses.push(Array.isArray(r) ? r[0] : r); }
const weights = await Promise.all(model.getWeights().map((w) => w.data()));
const checksum = weights.map((w) => w.reduce((a, v) => a + Math.abs(v), 0));
console.log(JSON.stringify({ threads: wasm.getThreadsCount(), losses, checksum }));
`;

interface ChildResult {
  threads: number;
  losses: number[];
  checksum: number[];
}

function train(threads: number): ChildResult {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    cwd: ROOT,
    env: { ...process.env, THREADS: String(threads) },
    encoding: 'utf8',
    timeout: 90_000,
  });
  // A timeout here (status null) means the pool's workers kept the process alive.
  expect(run.status, run.stderr.slice(-2000)).toBe(0);
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as ChildResult;
}

function relativeDiff(a: number[], b: number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number)) / Math.max(Math.abs(v), 1e-12)));
}

describe('configureWasmThreads', () => {
  it('refuses a thread count that is not a positive integer', () => {
    expect(() => configureWasmThreads(0)).toThrow(RangeError);
    expect(() => configureWasmThreads(1.5)).toThrow(RangeError);
  });

  it('selects the single-threaded build for 1 thread and refuses once the backend has started', async () => {
    const calls: number[] = [];
    expect(configureWasmThreads(1, { setThreadsCount: (n) => calls.push(n) })).toEqual({
      threads: 1,
      threaded: false,
      nodeShim: false,
    });
    expect(calls).toEqual([1]);
    expect(tf.env().get('WASM_HAS_MULTITHREAD_SUPPORT')).toBe(false);
    expect(await tf.setBackend('wasm')).toBe(true);
    expect(() => configureWasmThreads(2)).toThrow(/already initialised/);
  });

  it.skipIf(availableParallelism() < 2)(
    'trains on 2 threads in Node, gives the 1-thread results, and lets the process exit',
    () => {
      const one = train(1);
      const two = train(2);
      expect(one.threads).toBe(1);
      expect(two.threads).toBe(2);
      expect(relativeDiff(two.losses, one.losses)).toBeLessThan(1e-5);
      expect(relativeDiff(two.checksum, one.checksum)).toBeLessThan(1e-5);
      expect(one.losses[2]).toBeLessThan(one.losses[0] as number);
    },
    200_000,
  );
});

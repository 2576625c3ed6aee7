import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import { createDigitDataset, type DigitDataset } from 'digit-recognizer';

/** The competition download beside the repo; tests using it skip when absent. */
export const COMPETITION_ZIP = resolve(import.meta.dirname, '../../shared/data/digit-recognizer.zip');

/** Switches TensorFlow.js to `backend` and waits for it. */
export async function useBackend(backend: 'cpu' | 'wasm'): Promise<void> {
  await tf.setBackend(backend);
  await tf.ready();
}

/** A temp directory removed after the test file. */
export function tempDir(prefix = 'digit-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A small, easy, labelled set: each digit is a distinct bright block, so a
 * model learns it in a few steps and tests stay fast.
 */
export function syntheticDigits(count: number, seed = 1): DigitDataset {
  const pixels = new Uint8Array(count * 784);
  const labels = new Uint8Array(count);
  let s = seed;
  const rand = (): number => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < count; i++) {
    const label = i % 10;
    labels[i] = label;
    const row = 2 + (label % 5) * 5;
    const col = label < 5 ? 4 : 16;
    for (let y = row; y < row + 5; y++)
      for (let x = col; x < col + 8; x++) pixels[i * 784 + y * 28 + x] = 200 + Math.floor(rand() * 55);
    for (let k = 0; k < 20; k++) pixels[i * 784 + Math.floor(rand() * 784)] = Math.floor(rand() * 80);
  }
  return createDigitDataset(pixels, labels, 'synthetic');
}

/** Runs `jobs` at most `width` at a time (subprocess tests that would swamp two cores run all at once). */
export async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await (jobs[i] as () => Promise<T>)();
      }
    }),
  );
  return results;
}

/** The last epoch a kaggle run's training state in `out` holds (0 when there is none yet). */
export function stateEpoch(out: string): number {
  try {
    return (JSON.parse(readFileSync(join(out, 'train-state/state.json'), 'utf8')) as { meta: { epoch: number } }).meta
      .epoch;
  } catch {
    return 0;
  }
}

/** The epoch column of the history.csv a kaggle run wrote in `out`. */
export function historyEpochs(out: string): string[] {
  return readFileSync(join(out, 'history.csv'), 'utf8')
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')[0]!);
}

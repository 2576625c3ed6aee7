/**
 * Same-process A/B timing of training steps, shared by the benches that compare two routes of a
 * kernel: the host's speed drifts by 20 % and more within an hour, so the arms alternate every
 * few steps and each arm's figure is the median of its rounds.
 */
import * as tf from '@tensorflow/tfjs-core';

import { buildDigitCnn } from '../../src/model/build.js';
import { median } from '../../src/training/median.js';
import type { Cell, Column } from './results.js';

/**
 * The middle value; of an even count, the mean of the two middle ones (until 2026-12-08 this took the
 * upper one, so a two-round figure was the faster round of a throughput and the slower of a time).
 */
export { median };

/**
 * Median ms of a training step (batch `batch`, random images and labels) of a fresh `arch` for each
 * arm: per round, each arm's `use()` runs, one warm-up step, then `steps` timed steps.
 */
export async function alternateSteps<Arm extends string>(
  arch: string,
  arms: Record<Arm, () => void>,
  rounds: number,
  { batch = 64, steps = 3 } = {},
): Promise<Record<Arm, number>> {
  const model = buildDigitCnn({ architecture: arch, seed: 1 });
  const xs = tf.randomUniform([batch, 28, 28, 1]);
  const ys = tf.cast(tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32') as tf.Tensor1D, 10), 'float32');
  const names = Object.keys(arms) as Arm[];
  const times = new Map<Arm, number[]>(names.map((name) => [name, []]));
  try {
    await model.trainOnBatch(xs, ys);
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        arms[name]();
        await model.trainOnBatch(xs, ys);
        const started = performance.now();
        for (let i = 0; i < steps; i++) await model.trainOnBatch(xs, ys);
        times.get(name)!.push((performance.now() - started) / steps);
      }
    }
  } finally {
    tf.dispose([xs, ys]);
    model.dispose();
  }
  return Object.fromEntries(names.map((name) => [name, median(times.get(name)!)])) as Record<Arm, number>;
}

/**
 * The columns of a step A/B table: net, each arm's ms per step and images/s, and the ratio of the
 * first arm's time to the second's (above 1: the second is faster). `off` is the arm without the
 * change measured, `on` the arm with it.
 */
export function stepColumns(off: string, on: string): Column[] {
  return [
    { key: 'net', label: 'net' },
    { key: 'offMs', label: `${off} (ms/step)`, digits: 1 },
    { key: 'onMs', label: `${on} (ms/step)`, digits: 1 },
    { key: 'offImages', label: `${off} (images/s)`, digits: 0 },
    { key: 'onImages', label: `${on} (images/s)`, digits: 0 },
    { key: 'ratio', label: 'ratio', digits: 2, suffix: 'x' },
  ];
}

/** A row of {@link stepColumns}: `off` and `on` are ms per step of batch `batch`. */
export function stepRow(arch: string, off: number, on: number, batch = 64): Record<string, Cell> {
  return {
    net: arch,
    offMs: off,
    onMs: on,
    offImages: (batch / off) * 1000,
    onImages: (batch / on) * 1000,
    ratio: off / on,
  };
}

/**
 * Median ms of 15 calls, each on a fresh copy of `operand` made before the clock starts: training
 * hands every call a new dy, and XNNPACK's matmul repacks an operand it has not seen (with the same
 * operand every call its cached packing makes a kernel look several times faster than in
 * bench/steps/profile.ts's training step).
 */
export async function timeKernel(
  operand: tf.Tensor,
  run: (fresh: tf.Tensor) => tf.Tensor,
): Promise<{ ms: number; out: Float32Array }> {
  const ms: number[] = [];
  let out: tf.Tensor | undefined;
  let previous: tf.Tensor | undefined;
  for (let i = 0; i < 15; i++) {
    out?.dispose();
    // Made while the previous copy is still alive, so that it cannot reuse that memory.
    const fresh = tf.add(operand, 0);
    previous?.dispose();
    previous = fresh;
    const started = performance.now();
    out = run(fresh);
    ms.push(performance.now() - started);
  }
  previous?.dispose();
  const values = (await out!.data()) as Float32Array;
  out!.dispose();
  return { ms: median(ms), out: values };
}

/** The largest difference between `a` and `b`, relative to the largest magnitude in `b`. */
export function relativeDifference(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let magnitude = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    magnitude = Math.max(magnitude, Math.abs(b[i]!));
  }
  return diff / magnitude;
}

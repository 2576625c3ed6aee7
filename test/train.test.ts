import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  buildDigitCnn,
  CheckpointBestCallback,
  stratifiedSplit,
  trainDigits,
  type DigitDataset,
  type TrainDigitsOptions,
  type TrainDigitsResult,
  type TrainProgress,
  fileTrainingState,
  memoryTrainingState,
} from 'digit-recognizer';
import type * as tfl from '@tensorflow/tfjs-layers';
import { readdirSync } from 'node:fs';
import { syntheticDigits, tempDir, useBackend } from './helpers.js';

describe('stratifiedSplit', () => {
  const labels = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 10);

  it('holds out the same fraction of every digit, reproducibly', () => {
    const split = stratifiedSplit(labels, 0.1, 5);
    expect(split.validation.length).toBe(100);
    expect(split.train.length).toBe(900);
    const perDigit = new Array(10).fill(0);
    for (const i of split.validation) perDigit[labels[i]!]++;
    expect(perDigit).toEqual(new Array(10).fill(10));
    const all = new Set([...split.train, ...split.validation]);
    expect(all.size).toBe(1000);
    expect(stratifiedSplit(labels, 0.1, 5)).toEqual(split);
    expect(stratifiedSplit(labels, 0.1, 6).validation).not.toEqual(split.validation);
  });

  it('rejects impossible fractions', () => {
    expect(() => stratifiedSplit(labels, 1, 1)).toThrow(RangeError);
    expect(() => stratifiedSplit(labels, -0.1, 1)).toThrow(RangeError);
  });
});

describe('trainDigits', () => {
  let data: DigitDataset;
  beforeAll(async () => {
    // The stock cpu backend trains convolutions at ~65 MFLOP/s; wasm is the backend to train on.
    await useBackend('wasm');
    data = syntheticDigits(600);
  });

  it('trains, reports progress and history, and returns the best epoch', async () => {
    const model = buildDigitCnn({ architecture: 'compact', seed: 2 });
    const progress: TrainProgress[] = [];
    const result = await trainDigits(model, data, {
      epochs: 3,
      batchSize: 32,
      onProgress: (p) => void progress.push(p),
    });
    expect(result.trainCount).toBe(540);
    expect(result.validationCount).toBe(60);
    expect(result.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    for (const h of result.history) {
      expect(h.seconds).toBeGreaterThan(0);
      expect(h.imagesPerSecond).toBeGreaterThan(0);
      expect(h.val_acc).toBeGreaterThanOrEqual(0);
    }
    const bestAcc = Math.max(...result.history.map((h) => h.val_acc!));
    expect(result.bestValue).toBeCloseTo(bestAcc, 6);
    expect(result.history[result.bestEpoch - 1]?.val_acc).toBeCloseTo(bestAcc, 6);
    expect(bestAcc).toBeGreaterThan(0.9);
    // The returned model holds the best epoch's weights: evaluating it reproduces val_acc.
    const batches = progress.filter((p) => p.phase === 'batch');
    expect(batches.length).toBe(3 * Math.ceil(540 / 32));
    expect(batches.at(-1)?.batch).toBe(17);
    expect(progress.filter((p) => p.phase === 'epoch').length).toBe(3);
    // Memory stays flat: training again allocates nothing that outlives it
    // (the first run created the optimiser's slot variables).
    const before = tf.memory();
    await trainDigits(model, data, { epochs: 2, batchSize: 32 });
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
    model.dispose();
  });

  it('is reproducible for a seed (for nets without dropout, whose masks tfjs draws unseeded)', async () => {
    const run = async (): Promise<number[]> => {
      const model = buildDigitCnn({
        architecture: 'compact',
        seed: 4,
        layers: (ls) => ls.filter((l) => l.getClassName() !== 'Dropout'),
      });
      const r = await trainDigits(model, data, { epochs: 1, batchSize: 50, seed: 9 });
      const w = Array.from(model.getWeights()[0]!.dataSync().slice(0, 10));
      model.dispose();
      return [...w, r.history[0]!.loss];
    };
    expect(await run()).toEqual(await run());
  });

  it('stops when aborted and keeps the best model so far', async () => {
    const model = buildDigitCnn({ architecture: 'compact', seed: 2 });
    const controller = new AbortController();
    const result = await trainDigits(model, data, {
      epochs: 5,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'epoch') controller.abort();
      },
    });
    expect(result.stopped).toBe(true);
    expect(result.history.length).toBeLessThan(5);
    model.dispose();
  });

  it('uses a given checkpoint and refuses unlabelled data', async () => {
    const model = buildDigitCnn({ architecture: 'compact' });
    const checkpoint = new CheckpointBestCallback({ monitor: 'val_loss' });
    const result = await trainDigits(model, data, { epochs: 1, checkpoint });
    expect(result.monitor).toBe('val_loss');
    expect(checkpoint.bestEpoch).toBe(1);
    checkpoint.dispose();
    const unlabelled = { ...data, labels: undefined };
    await expect(trainDigits(model, unlabelled)).rejects.toThrow(/labelled/);
    await expect(trainDigits(model, data, { epochs: 0 })).rejects.toThrow(RangeError);
    model.dispose();
  });

  it('trains the seed net on the wasm backend', async () => {
    await useBackend('wasm');
    const model = buildDigitCnn({ seed: 1 });
    const result = await trainDigits(model, syntheticDigits(200), { epochs: 2, batchSize: 20 });
    expect(result.history).toHaveLength(2);
    expect(result.bestValue).toBeGreaterThan(0.5);
    model.dispose();
  });

  it('resumes an interrupted run exactly where it stopped', async () => {
    const noDropout = {
      architecture: 'compact',
      seed: 5,
      layers: (ls: tfl.layers.Layer[]) => ls.filter((l) => l.getClassName() !== 'Dropout'),
    } as const;
    const options = { epochs: 3, batchSize: 50, seed: 11 };
    const straight = buildDigitCnn(noDropout);
    const full = await trainDigits(straight, data, { ...options, state: memoryTrainingState() });

    const store = memoryTrainingState();
    const controller = new AbortController();
    const first = buildDigitCnn(noDropout);
    const cut = await trainDigits(first, data, {
      ...options,
      state: store,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'epoch' && p.epoch === 2) controller.abort();
      },
    });
    expect(cut.stopped).toBe(true);
    expect(cut.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect((await store.read())?.meta.epoch).toBe(2);

    // A new process would build a fresh model: the state brings back weights, optimiser and best.
    const second = buildDigitCnn({ ...noDropout, seed: 99 });
    const resumed = await trainDigits(second, data, { ...options, state: store });
    expect(resumed.resumedEpochs).toBe(2);
    expect(resumed.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(resumed.history[2]!.loss).toBe(full.history[2]!.loss);
    expect(resumed.history[2]!.val_acc).toBe(full.history[2]!.val_acc);
    expect(resumed.bestEpoch).toBe(full.bestEpoch);
    expect(Array.from(second.getWeights()[0]!.dataSync())).toEqual(Array.from(straight.getWeights()[0]!.dataSync()));

    // Finished: running again trains nothing and returns the same best model.
    const third = buildDigitCnn({ ...noDropout, seed: 100 });
    const again = await trainDigits(third, data, { ...options, state: store });
    expect(again.resumedEpochs).toBe(3);
    expect(Array.from(third.getWeights()[0]!.dataSync())).toEqual(Array.from(straight.getWeights()[0]!.dataSync()));

    // Other settings refuse the state rather than mixing runs.
    await expect(
      trainDigits(buildDigitCnn(noDropout), data, { ...options, batchSize: 20, state: store }),
    ).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    [straight, first, second, third].forEach((m) => m.dispose());
  });

  it('keeps its state on disk atomically', async () => {
    const dir = tempDir();
    const store = fileTrainingState(dir);
    const model = buildDigitCnn({ architecture: 'compact', seed: 1 });
    await trainDigits(model, data, { epochs: 2, batchSize: 100, state: store });
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^state\.[0-9a-f]{16}\.bin$/);
    expect(files[1]).toBe('state.json');
    const saved = await store.read();
    expect(saved?.meta.epoch).toBe(2);
    expect(saved?.meta.history).toHaveLength(2);
    model.dispose();
  });

  it('is typed', () => {
    expectTypeOf(trainDigits).parameter(2).toEqualTypeOf<TrainDigitsOptions | undefined>();
    expectTypeOf(trainDigits).returns.resolves.toEqualTypeOf<TrainDigitsResult>();
  });
});

import { describe, expect, it } from 'vitest';
import { buildDigitCnn, trainDigits, type TrainDigitsOptions } from 'digit-recognizer';
import { syntheticDigits, useBackend } from './helpers.js';

/**
 * For each batch, whether a task queued after the previous batch had run by
 * the time this one reported, i.e. whether training let the event loop run.
 */
async function loopRanAfterBatches(yieldEvery: TrainDigitsOptions['yieldEvery']): Promise<boolean[]> {
  await useBackend('cpu');
  const model = buildDigitCnn({ architecture: 'compact', seed: 1 });
  let ran = false;
  const seen: boolean[] = [];
  await trainDigits(model, syntheticDigits(60), {
    epochs: 1,
    batchSize: 10,
    validationSplit: 0,
    yieldEvery,
    onProgress: (p) => {
      if (p.phase !== 'batch') return;
      if (p.batch > 1) seen.push(ran);
      ran = false;
      setImmediate(() => (ran = true));
    },
  });
  model.dispose();
  return seen;
}

describe('trainDigits lets the event loop run', () => {
  it("between every two batches with yieldEvery 'batch'", async () => {
    expect(await loopRanAfterBatches('batch')).toEqual([true, true, true, true, true]);
  });

  it("not at all mid-epoch with yieldEvery 'never' (the batches run as one task)", async () => {
    expect(await loopRanAfterBatches('never')).toEqual([false, false, false, false, false]);
  });

  it('at most every N ms with a number', async () => {
    // An interval no run of six tiny batches reaches: no yield mid-epoch.
    expect(await loopRanAfterBatches(3_600_000)).toEqual([false, false, false, false, false]);
  });
});

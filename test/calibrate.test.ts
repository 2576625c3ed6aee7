import { describe, expect, it } from 'vitest';
import { calibrateDigitRecipe, createDigitDataset, getDigitRecipe } from 'digit-recognizer';
import { useBackend } from './helpers.js';

describe('calibrateDigitRecipe', () => {
  it('times real steps on a given clock, and one slow step does not move its reading', async () => {
    await useBackend('cpu');
    const count = 9 * 64;
    const pixels = new Uint8Array(count * 784).map((_, i) => (i * 37) % 256);
    const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
    const data = createDigitDataset(pixels, labels, 'synthetic');
    // Every clock reading is one second after the last, except that the fifth timed step's end
    // reads 100 s late (a host that stalled for that step): the median of six steps ignores it.
    let now = 0;
    let calls = 0;
    const clock = (): number => {
      calls++;
      if (calls === 2 * 3 + 2 * 5) now += 100;
      return ++now;
    };
    const recipe = { ...getDigitRecipe('compact'), augment: false as const };
    const cost = await calibrateDigitRecipe(recipe, data, { clock, predictImages: 64 });
    expect(cost.trainSecondsPerImage).toBeCloseTo(1 / 64, 12);
    expect(cost.predictSecondsPerImage).toBeCloseTo(1 / 64, 12);
  });
});

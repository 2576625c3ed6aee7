/**
 * A small seeded PRNG (mulberry32): the same seed gives the same split and the
 * same shuffling on every machine and backend, which `Math.random` cannot.
 */
export function seededRandom(seed: number): () => number {
  let state = (seed >>> 0) ^ 0x9e3779b9;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles `values` in place (Fisher-Yates) with `random`, and returns it. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(values: T, random: () => number): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = values[i] as number;
    values[i] = values[j] as number;
    values[j] = tmp;
  }
  return values;
}

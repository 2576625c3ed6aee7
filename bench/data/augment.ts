/**
 * Cost of on-the-fly augmentation per image, affine only and with the elastic
 * field, next to plain scaling of the pixels, plus the elastic field's mean
 * displacement. Run by hand: `npm run bench -- bench/data/augment.ts [--images 4096] [--rounds 7]`.
 */
import { augmentImage, augmentRanges, type AugmentRanges } from '../../src/index.js';
import { seededRandom } from '../../src/training/random.js';
import { median } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: 'microseconds per image of the affine augmentation, with and without the elastic field, against plain scaling',
  backend: 'none',
  options: { images: { type: 'string', default: '4096' }, rounds: { type: 'string', default: '7' } },
});
const IMAGES = Number(bench.flags.images);
const ROUNDS = Number(bench.flags.rounds);
const pixels = new Uint8Array(IMAGES * 784);
const random = seededRandom(1);
for (let i = 0; i < pixels.length; i++) pixels[i] = random() < 0.2 ? Math.floor(random() * 256) : 0;
const out = new Float32Array(IMAGES * 784);

function microseconds(run: () => void): number {
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const t = performance.now();
    run();
    times.push(((performance.now() - t) * 1000) / IMAGES);
  }
  return median(times);
}

const augmented = (ranges: AugmentRanges) => () => {
  const r = seededRandom(2);
  for (let i = 0; i < IMAGES; i++) augmentImage(pixels, i * 784, out, i * 784, ranges, r);
};
const scaleOnly = microseconds(() => {
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i]! / 255;
});
const affine = microseconds(augmented(augmentRanges()));
const elastic = microseconds(augmented(augmentRanges({ elastic: { alpha: 34, sigma: 4 } })));

// Mean displacement of the elastic field alone: where a single bright pixel's ink lands.
let total = 0;
const trials = 2000;
const onePixel = new Uint8Array(784);
onePixel[14 * 28 + 14] = 255;
const image = new Float32Array(784);
const r = seededRandom(3);
for (let t = 0; t < trials; t++) {
  augmentImage(
    onePixel,
    0,
    image,
    0,
    augmentRanges({ rotation: 0, shift: 0, zoom: 0, elastic: { alpha: 34, sigma: 4 } }),
    r,
  );
  let m = 0,
    sx = 0,
    sy = 0;
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++) {
      const v = image[y * 28 + x]!;
      m += v;
      sx += v * x;
      sy += v * y;
    }
  if (m > 0) total += Math.hypot(sx / m - 14, sy / m - 14);
}

bench.results
  .table('cost', `Microseconds per image, median of ${ROUNDS} rounds of ${IMAGES} images`, [
    { key: 'scaling', label: 'scaling only', digits: 2 },
    { key: 'affine', label: 'affine (default ranges)', digits: 2 },
    { key: 'elastic', label: 'affine + elastic (alpha 34, sigma 4)', digits: 2 },
  ])
  .row({ scaling: scaleOnly, affine, elastic });
bench.results
  .table(
    'displacement',
    `Elastic field alone (alpha 34, sigma 4): mean displacement of the centre pixel, ${trials} draws`,
    [{ key: 'pixels', label: 'mean displacement (px)', digits: 2 }],
  )
  .row({ pixels: total / trials });
await bench.results.save();

/**
 * Cost of on-the-fly augmentation per image, affine only and with the elastic
 * field, next to plain scaling of the pixels, plus the elastic field's mean
 * displacement. Run by hand: `npm run bench -- bench/data/augment.ts`.
 */
import { augmentImage, augmentRanges, type AugmentRanges } from '../../src/index.js';
import { seededRandom } from '../../src/training/random.js';

const IMAGES = 4096;
const pixels = new Uint8Array(IMAGES * 784);
const random = seededRandom(1);
for (let i = 0; i < pixels.length; i++) pixels[i] = random() < 0.2 ? Math.floor(random() * 256) : 0;
const out = new Float32Array(IMAGES * 784);

function microseconds(run: () => void): number {
  const times: number[] = [];
  for (let round = 0; round < 7; round++) {
    const t = performance.now();
    run();
    times.push(((performance.now() - t) * 1000) / IMAGES);
  }
  return times.sort((a, b) => a - b)[3]!;
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

console.log(`median of 7 rounds of ${IMAGES} images, microseconds per image (Node ${process.versions.node}):`);
console.log(`| scaling only | affine (default ranges) | affine + elastic (alpha 34, sigma 4) |`);
console.log(`|---:|---:|---:|`);
console.log(`| ${scaleOnly.toFixed(2)} | ${affine.toFixed(2)} | ${elastic.toFixed(2)} |`);
console.log(`elastic alpha 34, sigma 4: mean displacement of the centre pixel ${(total / trials).toFixed(2)} px`);

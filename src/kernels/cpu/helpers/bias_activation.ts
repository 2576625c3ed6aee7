/**
 * Bias and activation applied in place on a fresh output of the cpu backend's convolutions and
 * matmuls, saving the stock fused kernels' two extra tensors.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

import { float32Values, type CpuBackendLike } from './backend.js';

export const IN_PLACE_ACTIVATIONS = new Set<string>(['linear', 'relu', 'relu6', 'leakyrelu', 'elu', 'sigmoid']);

/** Bias values to add per output channel (length 1 or `channels`), or undefined when the bias needs broadcasting we do not handle. */
export function biasValues(
  backend: CpuBackendLike,
  bias: TensorInfo | undefined,
  channels: number,
): Float32Array | null | undefined {
  if (bias === undefined || bias === null) return null;
  const values = float32Values(backend, bias);
  if (values === undefined) return undefined;
  const rankOk = bias.shape.length <= 1;
  if (!rankOk || (values.length !== channels && values.length !== 1)) return undefined;
  return values;
}

/** Same element formulas as the cpu backend's Relu, Relu6, LeakyRelu, Elu and Sigmoid kernels. */
export function biasActivation(
  y: Float32Array,
  channels: number,
  bias: Float32Array | null,
  activation: string,
  alpha: number,
): void {
  if (bias !== null) {
    if (bias.length === 1) {
      const v = bias[0] as number;
      for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) + v;
    } else {
      for (let i = 0; i < y.length; i += channels) {
        for (let c = 0; c < channels; c++) y[i + c] = (y[i + c] as number) + (bias[c] as number);
      }
    }
  }
  switch (activation) {
    case 'relu':
      for (let i = 0; i < y.length; i++) if ((y[i] as number) < 0) y[i] = 0;
      break;
    case 'relu6':
      for (let i = 0; i < y.length; i++) y[i] = Math.min(Math.max(0, y[i] as number), 6);
      break;
    case 'leakyrelu':
      for (let i = 0; i < y.length; i++) if ((y[i] as number) < 0) y[i] = alpha * (y[i] as number);
      break;
    case 'elu':
      for (let i = 0; i < y.length; i++) if ((y[i] as number) < 0) y[i] = Math.exp(y[i] as number) - 1;
      break;
    case 'sigmoid':
      for (let i = 0; i < y.length; i++) y[i] = 1 / (1 + Math.exp(-(y[i] as number)));
      break;
    default: // linear
  }
}

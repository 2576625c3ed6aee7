/** Reference values and checks shared by the wasm and cpu kernel tests. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';
import { buildDigitCnn } from 'digit-recognizer';

/** Deterministic values in [-0.5, 0.5). */
export function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Largest absolute difference, relative to the largest magnitude of the reference. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let magnitude = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    magnitude = Math.max(magnitude, Math.abs(expected[i] as number));
  }
  return diff / Math.max(magnitude, 1e-12);
}

/** The convolution a test case describes (NHWC, dilation 1). */
export interface ConvShape {
  readonly x: [number, number, number, number];
  readonly filter: [number, number, number, number];
  readonly strides: number;
  readonly pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
}

/** dW[kh,kw,ci,co] = sum x[b, oh*s + kh - padTop, ow*s + kw - padLeft, ci] * dy[b,oh,ow,co], in float64. */
export function float64FilterGrad(c: ConvShape, x: Float32Array, dy: Float32Array): Float64Array {
  const [b, h, w, ci] = c.x;
  const [kh, kw, , co] = c.filter;
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
  const { outHeight: oh, outWidth: ow } = info;
  const dW = new Float64Array(kh * kw * ci * co);
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const rBase = ((n * oh + i) * ow + j) * co;
        for (let p = 0; p < kh; p++) {
          const y = i * c.strides + p - info.padInfo.top;
          if (y < 0 || y >= h) continue;
          for (let q = 0; q < kw; q++) {
            const xx = j * c.strides + q - info.padInfo.left;
            if (xx < 0 || xx >= w) continue;
            const xBase = ((n * h + y) * w + xx) * ci;
            const wBase = (p * kw + q) * ci * co;
            for (let k = 0; k < ci; k++) {
              const xv = x[xBase + k] as number;
              const o = wBase + k * co;
              for (let m = 0; m < co; m++) dW[o + m] = (dW[o + m] as number) + xv * (dy[rBase + m] as number);
            }
          }
        }
      }
    }
  }
  return dW;
}

/** The library's seed network, uncompiled. */
export function seedNet(): tfl.Sequential {
  return buildDigitCnn({ compile: false });
}

/** `n` deterministic one-hot labels. */
export function oneHot(n: number, seed: number): tf.Tensor2D {
  const labels = Array.from(values(n, seed), (v) => Math.floor((v + 0.5) * 10));
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 'float32') as tf.Tensor2D);
}

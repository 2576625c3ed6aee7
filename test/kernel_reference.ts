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

/** A named convolution to check, with `float64FilterReference` where the stock filter gradient is too slow to compare with. */
export interface ConvCase extends ConvShape {
  readonly name: string;
  readonly float64FilterReference?: boolean;
}

/** The shapes both backends' kernels are checked on: the seed net's two convs, padding, strides, odd sizes, batch 1. */
export const CONV_CASES: readonly ConvCase[] = [
  { name: 'seed conv1 5x5 valid', x: [4, 28, 28, 1], filter: [5, 5, 1, 100], strides: 1, pad: 'valid' },
  {
    name: 'seed conv2 5x5 valid',
    x: [2, 24, 24, 100],
    filter: [5, 5, 100, 50],
    strides: 1,
    pad: 'valid',
    float64FilterReference: true,
  },
  { name: '3x3 same', x: [4, 12, 12, 8], filter: [3, 3, 8, 16], strides: 1, pad: 'same' },
  { name: '5x5 same stride 2', x: [4, 14, 14, 6], filter: [5, 5, 6, 10], strides: 2, pad: 'same' },
  { name: '3x3 valid stride 2, odd size', x: [3, 13, 11, 5], filter: [3, 3, 5, 7], strides: 2, pad: 'valid' },
  {
    name: '2x2 same stride 2, odd size (negative end pad)',
    x: [2, 7, 9, 3],
    filter: [2, 2, 3, 4],
    strides: 2,
    pad: 'same',
  },
  { name: 'batch 1, odd sizes, 4x3 same', x: [1, 9, 7, 3], filter: [4, 3, 3, 5], strides: 1, pad: 'same' },
  { name: 'batch 1, 1x1 valid', x: [1, 5, 5, 4], filter: [1, 1, 4, 3], strides: 1, pad: 'valid' },
  { name: 'head: 4x4 valid to 1x1', x: [3, 4, 4, 6], filter: [4, 4, 6, 8], strides: 1, pad: 'valid' },
  { name: 'small output: 3x3 valid 5x5 to 3x3', x: [2, 5, 5, 4], filter: [3, 3, 4, 6], strides: 1, pad: 'valid' },
  // Strided, even sizes, dy of 64+ positions: the sub-pixel route on wasm (one stride-1 convolution per output phase).
  {
    name: 'sub-pixel: 5x5 same stride 2, 16x16, 6 -> 10 channels',
    x: [2, 16, 16, 6],
    filter: [5, 5, 6, 10],
    strides: 2,
    pad: 'same',
  },
  {
    name: 'sub-pixel: 4x4 valid stride 2, 20x18 -> 9x8',
    x: [2, 20, 18, 4],
    filter: [4, 4, 4, 8],
    strides: 2,
    pad: 'valid',
  },
  // One input channel (a first layer; its own SIMD route on wasm): blocks of 32 and of 4 output channels, strides, edges.
  {
    name: 'first layer: 3x3 same, 1 -> 32 channels (lean)',
    x: [4, 28, 28, 1],
    filter: [3, 3, 1, 32],
    strides: 1,
    pad: 'same',
  },
  {
    name: 'first layer: 5x5 same stride 2, odd sizes, 1 -> 12 channels',
    x: [3, 13, 11, 1],
    filter: [5, 5, 1, 12],
    strides: 2,
    pad: 'same',
  },
  {
    name: 'first layer: 4x3 valid stride 2, 1 -> 36 channels',
    x: [2, 9, 10, 1],
    filter: [4, 3, 1, 36],
    strides: 2,
    pad: 'valid',
  },
  {
    name: 'first layer: 3x3 same, 1 -> 6 channels (no SIMD route)',
    x: [2, 8, 7, 1],
    filter: [3, 3, 1, 6],
    strides: 1,
    pad: 'same',
  },
  // Winograd on wasm: channel counts off the 4-lane vectors, outputs not a multiple of the 4x4 tile.
  {
    name: 'Winograd: 5x5 same, odd sizes, 22 -> 50 channels',
    x: [2, 11, 9, 22],
    filter: [5, 5, 22, 50],
    strides: 1,
    pad: 'same',
  },
  {
    name: 'Winograd: 5x5 valid 10x7 to 6x3, 36 -> 36 channels',
    x: [3, 10, 7, 36],
    filter: [5, 5, 36, 36],
    strides: 1,
    pad: 'valid',
  },
  // More input than output channels: the filter gradient's products are computed as Xᵀ·D.
  { name: 'Winograd: 5x5 same, 61 -> 13 channels', x: [2, 9, 10, 61], filter: [5, 5, 61, 13], strides: 1, pad: 'same' },
  {
    name: 'Winograd: 3x3 same, odd sizes, 22 -> 50 channels',
    x: [2, 11, 9, 22],
    filter: [3, 3, 22, 50],
    strides: 1,
    pad: 'same',
  },
  {
    name: 'Winograd: 3x3 valid 10x7 to 8x5, 36 -> 36 channels',
    x: [3, 10, 7, 36],
    filter: [3, 3, 36, 36],
    strides: 1,
    pad: 'valid',
  },
  {
    name: 'Winograd: 3x3 valid, 61 -> 17 channels',
    x: [2, 9, 10, 61],
    filter: [3, 3, 61, 17],
    strides: 1,
    pad: 'valid',
  },
];

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

/**
 * The library's seed network, uncompiled, with fixed Glorot weights. Fixed because a ReLU net's
 * gradient jumps where a unit's input crosses zero: on the tests' inputs the smallest conv2 input
 * is ~1e-5 of the largest, the size of the float32 difference between two backends' convolutions
 * (Winograd's included), so with unseeded weights about 1 draw in 15 flipped a unit on one backend
 * only and moved conv1's gradient by up to 3e-2 (measured). Seed 3 has the widest margins of
 * seeds 1-30 on both test batches; with it both backends compute the same function deterministically.
 */
export function seedNet(): tfl.Sequential {
  return buildDigitCnn({ compile: false, seed: 3 });
}

/** `n` deterministic one-hot labels. */
export function oneHot(n: number, seed: number): tf.Tensor2D {
  const labels = Array.from(values(n, seed), (v) => Math.floor((v + 0.5) * 10));
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 'float32') as tf.Tensor2D);
}

/** A matmul case: operand shapes and transpose flags. */
export interface MatMulCase {
  readonly a: number[];
  readonly b: number[];
  readonly ta: boolean;
  readonly tb: boolean;
}

/** Matmul shapes both kernel suites check: a dense layer's three products, transposes, broadcast batches. */
export const MATMUL_CASES: readonly MatMulCase[] = [
  { a: [64, 300], b: [300, 40], ta: false, tb: false },
  { a: [300, 64], b: [300, 40], ta: true, tb: false },
  { a: [64, 300], b: [40, 300], ta: false, tb: true },
  { a: [300, 64], b: [40, 300], ta: true, tb: true },
  { a: [3, 7, 5], b: [1, 6, 7], ta: true, tb: true },
];

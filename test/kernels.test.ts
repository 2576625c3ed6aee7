import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { overrideKernelRoutes, traceKernelRoutes, type RouteTraceEntry } from '../src/kernels/routes.js';
import { isNativeBackend } from '../src/kernels/wasm/helpers/native.js';
import { registerWasmTrainingKernels } from '../src/kernels/wasm_training.js';
import {
  CONV_CASES,
  MATMUL_CASES,
  float64FilterGrad,
  type ConvCase,
  oneHot,
  relativeError,
  seedNet,
  sizeOf,
  values,
} from './kernel_reference.js';

const TOLERANCE = 1e-4;

/** The routes the calls from tfjs (not our routes' inner calls) took, as `kernel:route`. */
function topRoutes(entries: readonly RouteTraceEntry[], kernel?: string): string[] {
  return entries
    .filter((e) => e.depth === 0 && (kernel === undefined || e.kernel === kernel))
    .map((e) => `${e.kernel}:${e.route}`);
}

async function use(backend: 'cpu' | 'wasm'): Promise<void> {
  expect(await tf.setBackend(backend)).toBe(true);
  await tf.ready();
}

interface ConvGrads {
  dx: Float32Array;
  dW: Float32Array;
}

/** Gradients of sum(conv2d(x, f) * r) on the current backend: dx = BackpropInput(r), dW = BackpropFilter(x, r). */
async function convGrads(c: ConvCase, wantFilter = true): Promise<ConvGrads | { dx: Float32Array; dW?: undefined }> {
  const x = tf.tensor4d(values(sizeOf(c.x), 1), c.x);
  const f = tf.tensor4d(values(sizeOf(c.filter), 2), c.filter);
  const yShape = tf.conv2d(x, f, c.strides, c.pad);
  const r = tf.tensor(values(sizeOf(yShape.shape), 3), yShape.shape);
  yShape.dispose();
  const loss = (a: tf.Tensor, b: tf.Tensor): tf.Scalar =>
    tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), r));
  try {
    if (!wantFilter) {
      const dx = tf.grad((a: tf.Tensor) => loss(a, f))(x);
      const out = { dx: (await dx.data()) as Float32Array };
      dx.dispose();
      return out;
    }
    const [dx, dW] = tf.grads(loss)([x, f]) as [tf.Tensor, tf.Tensor];
    const out = { dx: (await dx.data()) as Float32Array, dW: (await dW.data()) as Float32Array };
    tf.dispose([dx, dW]);
    return out;
  } finally {
    tf.dispose([x, f, r]);
  }
}

/** dW[kh,kw,ci,co] = sum x[b, oh*s + kh - padTop, ow*s + kw - padLeft, ci] * r[b,oh,ow,co], in float64. */
function float64FilterGradOf(c: ConvCase): Float64Array {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
  return float64FilterGrad(c, values(sizeOf(c.x), 1), values(c.x[0] * info.outHeight * info.outWidth * c.filter[3], 3));
}

const CASES = CONV_CASES;

/** Gradients of the mean categorical cross-entropy wrt every trainable weight, in weight order. */
async function seedNetGrads(weights: Float32Array[], batch: number): Promise<Float32Array[]> {
  const model = seedNet();
  model.setWeights(weights.map((w, i) => tf.tensor(w, model.getWeights()[i]?.shape)));
  const xs = tf.tensor4d(
    values(batch * 784, 7).map((v) => v + 0.5),
    [batch, 28, 28, 1],
  );
  const ys = oneHot(batch, 8);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { grads } = tf.variableGrads(
    () =>
      tf.mean(tfl.metrics.categoricalCrossentropy(ys, model.apply(xs, { training: true }) as tf.Tensor)) as tf.Scalar,
    vars,
  );
  const out: Float32Array[] = [];
  for (const v of vars) out.push((await (grads[v.name] as tf.Tensor).data()) as Float32Array);
  tf.dispose([xs, ys, Object.values(grads)]);
  model.dispose();
  return out;
}

describe('wasm training kernels', () => {
  let stockInput: tf.KernelConfig | undefined;
  let stockMatMul: tf.KernelConfig | undefined;
  // The portable path: its routes are what these tests name (the native ones: test/native.test.ts).
  let restoreNative: () => void = () => undefined;
  beforeAll(async () => {
    await use('wasm');
    stockInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
    stockMatMul = tf.getKernel('BatchMatMul', 'wasm');
    registerWasmTrainingKernels();
    restoreNative = overrideKernelRoutes({ '*': { native: 'off' } });
  });
  afterAll(async () => {
    restoreNative();
    await use('cpu');
  });

  it('registers idempotently, without warnings', () => {
    const warn = vi.spyOn(console, 'warn');
    try {
      const filter = tf.getKernel('Conv2DBackpropFilter', 'wasm');
      const input = tf.getKernel('Conv2DBackpropInput', 'wasm');
      const matMul = tf.getKernel('BatchMatMul', 'wasm');
      expect(filter).toBeDefined();
      expect(stockInput).toBeDefined();
      expect(input?.kernelFunc).not.toBe(stockInput?.kernelFunc);
      expect(matMul?.kernelFunc).not.toBe(stockMatMul?.kernelFunc);
      registerWasmTrainingKernels();
      registerWasmTrainingKernels();
      expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBe(filter);
      expect(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc).toBe(input?.kernelFunc);
      expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).toBe(matMul?.kernelFunc);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  describe.each(CASES)('conv2d gradients: $name', (c) => {
    it('match the cpu backend', async () => {
      await use('cpu');
      const ref = await convGrads(c, !c.float64FilterReference);
      await use('wasm');
      const got = (await convGrads(c)) as ConvGrads;
      expect(relativeError(got.dx, ref.dx)).toBeLessThan(TOLERANCE);
      const refDW = ref.dW ?? float64FilterGradOf(c);
      expect(relativeError(got.dW, refDW)).toBeLessThan(TOLERANCE);
    });
  });

  describe('Winograd F(4x4, 5x5) and F(4x4, 3x3)', () => {
    afterAll(() => registerWasmTrainingKernels({ winograd: true }));

    /** The routes the three kernels of a stride-1 'valid' convolution of x [1, side, side, cin] by [k, k', cin, cout] take. */
    const routesOf = async (side: number, k: number, kw: number, cin: number, cout: number): Promise<string[]> => {
      const { routes } = await traceKernelRoutes(() =>
        tf.tidy(() => {
          const x = tf.zeros([1, side, side, cin]) as tf.Tensor4D;
          const f = tf.zeros([k, kw, cin, cout]) as tf.Tensor4D;
          const [dx, dW] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid')),
          )([x, f]);
          tf.conv2d(x, f, 1, 'valid').dataSync();
          (dx as tf.Tensor).dataSync();
          (dW as tf.Tensor).dataSync();
        }),
      );
      return [...new Set(topRoutes(routes).filter((r) => r.startsWith('Conv2D')))].sort();
    };

    it('takes wide 5x5 layers, and conv1-like narrow ones only for the filter gradient', async () => {
      await use('wasm');
      expect(await routesOf(12, 5, 5, 100, 50)).toEqual([
        'Conv2D:winograd-5x5',
        'Conv2DBackpropFilter:winograd-5x5',
        'Conv2DBackpropInput:winograd-5x5',
      ]);
      // One input channel, 100 outputs: the SIMD first-layer routes take both gradients; with those off, the filter gradient is Winograd's.
      expect(await routesOf(12, 5, 5, 1, 100)).toEqual([
        'Conv2D:stock',
        'Conv2DBackpropFilter:one-channel-simd',
        'Conv2DBackpropInput:one-channel-simd',
      ]);
      const restore = overrideKernelRoutes({ '*': { 'one-channel-simd': 'off' } });
      try {
        expect(await routesOf(12, 5, 5, 1, 100)).toEqual([
          'Conv2D:stock',
          'Conv2DBackpropFilter:winograd-5x5',
          'Conv2DBackpropInput:zero-inserted-conv',
        ]);
      } finally {
        restore();
      }
      expect(await routesOf(10, 4, 4, 64, 64)).toEqual([
        'Conv2D:stock',
        'Conv2DBackpropFilter:direct-simd',
        'Conv2DBackpropInput:zero-inserted-conv',
      ]);
      expect(await routesOf(10, 3, 5, 64, 64)).toEqual([
        'Conv2D:stock',
        'Conv2DBackpropFilter:direct-simd',
        'Conv2DBackpropInput:zero-inserted-conv',
      ]);
      // Output 1x1 (a 10x10 filter over 10x10): too few pixels per image for direct-simd.
      expect(await routesOf(10, 10, 10, 64, 64)).toContain('Conv2DBackpropFilter:transposed-conv');
    });

    it('takes 3x3 layers from 1,024 channel pairs, all three kernels, and not the first layer', async () => {
      await use('wasm');
      const winograd3 = [
        'Conv2D:winograd-3x3',
        'Conv2DBackpropFilter:winograd-3x3',
        'Conv2DBackpropInput:winograd-3x3',
      ];
      expect(await routesOf(10, 3, 3, 32, 32)).toEqual(winograd3);
      expect(await routesOf(10, 3, 3, 16, 32)).toEqual([
        'Conv2D:stock',
        'Conv2DBackpropFilter:direct-simd',
        'Conv2DBackpropInput:zero-inserted-conv',
      ]);
      const restore = overrideKernelRoutes({ '*': { 'winograd-3x3': 'off' } });
      try {
        expect(await routesOf(10, 3, 3, 64, 64)).toEqual([
          'Conv2D:stock',
          'Conv2DBackpropFilter:direct-simd',
          'Conv2DBackpropInput:zero-inserted-conv',
        ]);
        expect(await routesOf(12, 5, 5, 100, 50)).toContain('Conv2D:winograd-5x5');
      } finally {
        restore();
      }
      expect(await routesOf(10, 3, 3, 64, 64)).toEqual(winograd3);
    });

    it('runs FusedConv2D with bias and ReLU like the cpu backend', async () => {
      const run = async (): Promise<Float32Array> => {
        const x = tf.tensor4d(values(2 * 13 * 10 * 24, 31), [2, 13, 10, 24]);
        const f = tf.tensor4d(values(5 * 5 * 24 * 60, 32), [5, 5, 24, 60]);
        const bias = tf.tensor1d(values(60, 33));
        const y = tf.fused.conv2d({ x, filter: f, bias, activation: 'relu', strides: 1, pad: 'same' });
        const data = (await y.data()) as Float32Array;
        tf.dispose([x, f, bias, y]);
        return data;
      };
      await use('cpu');
      const ref = await run();
      await use('wasm');
      const got = await run();
      expect(relativeError(got, ref)).toBeLessThan(TOLERANCE);
      expect(got.some((v) => v === 0)).toBe(true); // the ReLU clipped something
    });

    /** y, dx and dW of a valid stride-1 convolution of x [64, side, side, cin] by a [k, k, cin, cout] filter, by each route. */
    const compareRoutes = async (
      switchRoute: (winograd: boolean) => void,
      side: number,
      k: number,
      cin: number,
      cout: number,
      seed: number,
    ): Promise<void> => {
      const out = side - k + 1;
      const run = async (winograd: boolean): Promise<Float32Array[]> => {
        switchRoute(winograd);
        const { result, routes } = await traceKernelRoutes(() =>
          tf.tidy(() => {
            const x = tf.tensor4d(values(64 * side * side * cin, seed), [64, side, side, cin]);
            const f = tf.tensor4d(values(k * k * cin * cout, seed + 1), [k, k, cin, cout]);
            const r = tf.tensor4d(values(64 * out * out * cout, seed + 2), [64, out, out, cout]);
            const [dx, dW] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
              tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid'), r)),
            )([x, f]);
            const y = tf.conv2d(x, f, 1, 'valid');
            return [y, dx as tf.Tensor, dW as tf.Tensor].map((t) => t.dataSync() as Float32Array);
          }),
        );
        // The switch really changes the route of all three kernels.
        const name = `winograd-${k}x${k}`;
        const winogradRoutes = topRoutes(routes).filter((r) => r.endsWith(name));
        expect(new Set(winogradRoutes).size, `${name} ${winograd ? 'on' : 'off'}`).toBe(winograd ? 3 : 0);
        return result;
      };
      const before = tf.memory().numDataBuffers;
      const direct = await run(false);
      const winograd = await run(true);
      expect(tf.memory().numDataBuffers).toBe(before);
      for (let i = 0; i < 3; i++) {
        expect(relativeError(winograd[i] as Float32Array, direct[i] as Float32Array)).toBeLessThan(TOLERANCE);
        // Not bitwise equal: the switch really changes the route.
        expect(winograd[i]).not.toEqual(direct[i]);
      }
    };

    it('agrees with the direct route on the seed conv2 at batch 64 (several chunks), frees every intermediate', async () => {
      await use('wasm');
      await compareRoutes((winograd) => registerWasmTrainingKernels({ winograd }), 24, 5, 100, 50, 41);
    });

    it("agrees with the direct route on lean's conv3 (3x3, 12x12 -> 10x10, 64 -> 64) at batch 64, frees every intermediate", async () => {
      await use('wasm');
      let restore = (): void => {};
      try {
        await compareRoutes(
          (winograd) => {
            restore();
            restore = overrideKernelRoutes({ '*': { 'winograd-3x3': winograd ? 'auto' : 'off' } });
          },
          12,
          3,
          64,
          64,
          51,
        );
      } finally {
        restore();
      }
    });
  });

  it.each([
    ...MATMUL_CASES,
    // A short left operand with transposeB is computed as (b·aᵀ)ᵀ.
    { a: [8, 300], b: [200, 300], ta: false, tb: true },
    { a: [1, 5, 30], b: [1, 40, 30], ta: false, tb: true },
  ])('BatchMatMul $a x $b (transposeA=$ta, transposeB=$tb) matches the cpu backend', async ({ a, b, ta, tb }) => {
    const run = async (): Promise<Float32Array> => {
      const ta_ = tf.tensor(values(sizeOf(a), 21), a);
      const tb_ = tf.tensor(values(sizeOf(b), 22), b);
      const out = tf.matMul(ta_, tb_, ta, tb);
      const data = (await out.data()) as Float32Array;
      tf.dispose([ta_, tb_, out]);
      return data;
    };
    await use('cpu');
    const ref = await run();
    await use('wasm');
    const before = tf.memory();
    expect(relativeError(await run(), ref)).toBeLessThan(TOLERANCE);
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
  });

  it('tiles like the cpu backend, broadcasting size-1 axes fast and delegating the rest', async () => {
    const cases: [number[], number[]][] = [
      [
        [1, 1, 1, 32],
        [4, 6, 6, 1],
      ],
      [
        [1, 3],
        [5, 1],
      ],
      [
        [2, 3],
        [2, 2],
      ],
      [
        [3, 1],
        [1, 4],
      ],
    ];
    for (const [shape, reps] of cases) {
      const x = values(sizeOf(shape), shape.length);
      await use('cpu');
      const expected = tf.tile(tf.tensor(x, shape), reps).dataSync().slice();
      await use('wasm');
      const before = tf.memory().numTensors;
      const actual = tf.tidy(() => tf.tile(tf.tensor(x, shape), reps).dataSync().slice());
      expect(Array.from(actual), `${shape} x ${reps}`).toEqual(Array.from(expected));
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('sums and averages over leading axes like the cpu backend, and delegates other axes', async () => {
    // Leading-axes cases take our path (odd row counts exercise the 8-row unrolling's tail); the rest go to stock.
    const cases: [number[], number | number[], boolean][] = [
      [[3, 5, 7, 4], [0, 1, 2], false],
      [[3, 5, 7, 4], [0, 1, 2], true],
      [[9, 6], 0, false],
      [[17, 2, 3], [1, 0], true],
      [[4, 5, 6], [2], false],
      [[4, 5, 6], [0, 1, 2], false],
      [[4, 5, 6], [0, 2], true],
      [[4, 5], -2, false],
    ];
    for (const [shape, axis, keepDims] of cases) {
      const x = values(sizeOf(shape), shape.length).map((v) => v * 100);
      for (const op of [tf.sum, tf.mean]) {
        await use('cpu');
        const expected = op(tf.tensor(x, shape), axis, keepDims);
        const want = { shape: expected.shape, data: expected.dataSync().slice() };
        expected.dispose();
        await use('wasm');
        const before = tf.memory();
        const input = tf.tensor(x, shape);
        const actual = op(input, axis, keepDims);
        expect(actual.shape, `${op.name} ${shape} over ${axis}`).toEqual(want.shape);
        expect(relativeError(actual.dataSync() as Float32Array, want.data as Float32Array)).toBeLessThan(1e-6);
        tf.dispose([input, actual]);
        expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
      }
    }
  });

  it('backpropagates max pooling like the cpu backend, ties and odd edges included', async () => {
    // Overlapping windows add up where they share a maximum (the stock wasm kernel gets that case wrong).
    const cases: [number[], number, number, 'valid' | 'same'][] = [
      [[2, 6, 8, 3], 2, 2, 'valid'],
      [[2, 7, 5, 4], 2, 2, 'valid'],
      [[1, 9, 9, 2], 3, 3, 'valid'],
      [[1, 6, 6, 2], 3, 2, 'valid'],
      [[2, 5, 5, 3], 2, 2, 'same'],
      // Channels in fours take the SIMD route for 2x2/2 pools: even, odd and 'same' (unpadded) sizes.
      [[2, 6, 8, 4], 2, 2, 'valid'],
      [[2, 7, 5, 8], 2, 2, 'valid'],
      [[1, 10, 10, 12], 2, 2, 'same'],
    ];
    for (const [shape, size, stride, pad] of cases) {
      // Rounded values make ties common, so the first-maximum rule is checked too.
      const x = values(sizeOf(shape), 5).map((v) => Math.round(v * 4));
      const grad = (): Float32Array =>
        tf.tidy(() => {
          const input = tf.tensor4d(x, shape as [number, number, number, number]);
          const y = tf.maxPool(input, size, stride, pad);
          const dy = tf.tensor(values(sizeOf(y.shape), 6), y.shape);
          return tf
            .grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, size, stride, pad), dy)))(input)
            .dataSync() as Float32Array;
        });
      await use('cpu');
      const expected = grad().slice();
      await use('wasm');
      expect(Array.from(grad()), `${shape} pool ${size}/${stride} ${pad}`).toEqual(Array.from(expected));
    }
  });

  it('takes the SIMD route for 2x2/2 pools of channels in fours, and only for them', async () => {
    await use('wasm');
    const route = async (shape: [number, number, number, number], size: number): Promise<string[]> => {
      const { routes } = await traceKernelRoutes(() =>
        tf.tidy(() => {
          const x = tf.zeros(shape) as tf.Tensor4D;
          tf.grad((v: tf.Tensor) => tf.sum(tf.maxPool(v as tf.Tensor4D, size, 2, 'valid')))(x).dataSync();
        }),
      );
      return topRoutes(routes, 'MaxPoolGrad');
    };
    expect(await route([2, 7, 5, 8], 2)).toEqual(['MaxPoolGrad:simd-2x2']);
    expect(await route([2, 7, 5, 6], 2)).toEqual(['MaxPoolGrad:heap']);
    expect(await route([2, 7, 5, 8], 3)).toEqual(['MaxPoolGrad:heap']);
    const restore = overrideKernelRoutes({ MaxPoolGrad: { 'simd-2x2': 'off' } });
    try {
      expect(await route([2, 7, 5, 8], 2)).toEqual(['MaxPoolGrad:heap']);
    } finally {
      restore();
    }
  });

  it("sums a first layer's filter gradient in float64: lean's conv1 at batch 64 within 1e-6 of a float64 reference", async () => {
    await use('wasm');
    const c: ConvCase = { name: 'lean conv1', x: [64, 28, 28, 1], filter: [3, 3, 1, 32], strides: 1, pad: 'same' };
    const got = (await convGrads(c)) as ConvGrads;
    // The general routes sum 50,000 products per weight in float32: about 7e-6 here (bench/kernels/single_channel_conv.ts).
    expect(relativeError(got.dW, float64FilterGradOf(c))).toBeLessThan(1e-6);
  });

  it('takes the SIMD route for one input channel and output channels in fours, and only for them', async () => {
    await use('wasm');
    const route = async (cin: number, cout: number): Promise<string[]> => {
      const { routes } = await traceKernelRoutes(() =>
        tf.tidy(() => {
          const x = tf.zeros([2, 6, 5, cin]) as tf.Tensor4D;
          const f = tf.zeros([3, 3, cin, cout]) as tf.Tensor4D;
          const [dx, dW] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')),
          )([x, f]);
          (dx as tf.Tensor).dataSync();
          (dW as tf.Tensor).dataSync();
        }),
      );
      return topRoutes(routes)
        .filter((r) => r.startsWith('Conv2DBackprop'))
        .sort();
    };
    const simd = ['Conv2DBackpropFilter:one-channel-simd', 'Conv2DBackpropInput:one-channel-simd'];
    expect(await route(1, 8)).toEqual(simd);
    expect(await route(1, 6)).toEqual([
      'Conv2DBackpropFilter:patches-matmul',
      'Conv2DBackpropInput:zero-inserted-conv',
    ]);
    expect(await route(2, 8)).toEqual([
      'Conv2DBackpropFilter:patches-matmul',
      'Conv2DBackpropInput:zero-inserted-conv',
    ]);
    const restore = overrideKernelRoutes({ '*': { 'one-channel-simd': 'off' } });
    try {
      expect(await route(1, 8)).toEqual([
        'Conv2DBackpropFilter:patches-matmul',
        'Conv2DBackpropInput:zero-inserted-conv',
      ]);
    } finally {
      restore();
    }
    expect(await route(1, 8)).toEqual(simd);
  });

  it('clones by sharing the buffer, as the cpu backend does: no copy, and either tensor outlives the other', async () => {
    await use('wasm');
    const backend = tf.backend();
    if (!isNativeBackend(backend)) throw new Error('the wasm backend should have heap access');
    const x = tf.tensor2d(values(12, 9), [3, 4]);
    const expected = Array.from(await x.data());
    const before = tf.memory();
    const y = tf.clone(x);
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
    expect(backend.typedArrayFromHeap(y).byteOffset).toBe(backend.typedArrayFromHeap(x).byteOffset);
    x.dispose();
    expect(Array.from(await y.data())).toEqual(expected);
    const z = tf.clone(y);
    y.dispose();
    expect(Array.from(await z.data())).toEqual(expected);
    z.dispose();
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers - 1);
  });

  it('computes strided input gradients by sub-pixel phases and by direct SIMD sums as dy·Wᵀ + col2im does, padding and cropping each phase', async () => {
    await use('wasm');
    const cases: {
      x: [number, number, number, number];
      filter: [number, number, number, number];
      strides: [number, number];
      pad: ConvCase['pad'];
    }[] = [
      { x: [2, 8, 8, 64], filter: [5, 5, 64, 64], strides: [2, 2], pad: 'same' }, // strong's second 5x5/2
      { x: [3, 14, 10, 6], filter: [5, 5, 6, 10], strides: [2, 2], pad: 'same' },
      { x: [2, 12, 9, 3], filter: [3, 4, 3, 5], strides: [2, 3], pad: 'valid' }, // phases of 2 and 1 columns
      {
        x: [2, 12, 12, 4],
        filter: [3, 3, 4, 8],
        strides: [2, 2],
        pad: [
          [0, 0],
          [4, 1],
          [1, 3],
          [0, 0],
        ],
      }, // a top pad past the filter: phases drop rows
    ];
    try {
      for (const c of cases) {
        const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
        const dy = tf.tensor4d(values(c.x[0] * info.outHeight * info.outWidth * c.filter[3], 11), [
          c.x[0],
          info.outHeight,
          info.outWidth,
          c.filter[3],
        ]);
        const filter = tf.tensor4d(values(sizeOf(c.filter), 12), c.filter);
        const run = async (): Promise<Float32Array> => {
          const dx = tf
            .engine()
            .runKernel(
              'Conv2DBackpropInput',
              { dy, filter },
              { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x },
            ) as tf.Tensor;
          const out = (await dx.data()) as Float32Array;
          dx.dispose();
          return out;
        };
        const off = overrideKernelRoutes({ Conv2DBackpropInput: { 'sub-pixel': 'off', 'direct-simd': 'off' } });
        const reference = await traceKernelRoutes(run);
        off();
        const force = overrideKernelRoutes({ Conv2DBackpropInput: { 'sub-pixel': 'force' } });
        const before = tf.memory().numDataBuffers;
        const got = await traceKernelRoutes(run);
        force();
        const label = `${c.x} ${c.filter} ${c.strides} ${JSON.stringify(c.pad)}`;
        expect(topRoutes(reference.routes), label).toEqual(['Conv2DBackpropInput:col2im']);
        expect(topRoutes(got.routes), label).toEqual(['Conv2DBackpropInput:sub-pixel']);
        expect(relativeError(got.result, reference.result), label).toBeLessThan(1e-5);
        expect(tf.memory().numDataBuffers).toBe(before);
        // The direct SIMD sum takes the layers with channels in fours: the same dx, also freeing its scratch.
        const direct = overrideKernelRoutes({ Conv2DBackpropInput: { 'direct-simd': 'force' } });
        const summed = await traceKernelRoutes(run);
        direct();
        if (c.filter[2] % 4 === 0 && c.filter[3] % 4 === 0) {
          expect(topRoutes(summed.routes), label).toEqual(['Conv2DBackpropInput:direct-simd']);
          expect(relativeError(summed.result, reference.result), label).toBeLessThan(1e-5);
          expect(tf.memory().numDataBuffers).toBe(before);
        }
        tf.dispose([dy, filter]);
      }
    } finally {
      overrideKernelRoutes({ Conv2DBackpropInput: { 'sub-pixel': 'auto', 'direct-simd': 'auto' } });
    }
  });

  it('frees every intermediate: tensors and wasm buffers stay stable over repeated gradients', async () => {
    await use('wasm');
    const c: ConvCase = { name: 'leak', x: [2, 11, 11, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' };
    await convGrads(c); // warm-up
    const before = tf.memory();
    for (let i = 0; i < 5; i++) await convGrads(c);
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(after.numBytes).toBe(before.numBytes);
  });

  it('gives the seed net the same cross-entropy gradients as the cpu backend', async () => {
    await use('cpu');
    const init = seedNet();
    const weights = await Promise.all(init.getWeights().map(async (w) => (await w.data()) as Float32Array));
    init.dispose();
    // Batch 2: the cpu backend's Conv2DBackpropFilter takes ~9 s per image for the second conv.
    const ref = await seedNetGrads(weights, 2);
    await new Promise<void>((resolve) => setImmediate(resolve)); // see test/setup.ts: this test alone runs 30-40 s
    await use('wasm');
    const got = await seedNetGrads(weights, 2);
    expect(got.length).toBe(8);
    got.forEach((g, i) => expect(relativeError(g, ref[i] as Float32Array), `weight ${i}`).toBeLessThan(TOLERANCE));
  });

  it('trains a net with batch norm, max pooling, dropout and a stride-2 conv on wasm', async () => {
    await use('wasm');
    const model = tfl.sequential();
    model.add(
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
    );
    model.add(tfl.layers.batchNormalization());
    model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tfl.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }));
    model.add(tfl.layers.dropout({ rate: 0.25 }));
    model.add(tfl.layers.flatten());
    model.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const xs = tf.tensor4d(
      values(16 * 784, 11).map((v) => v + 0.5),
      [16, 28, 28, 1],
    );
    const ys = oneHot(16, 12);
    const first = await model.trainOnBatch(xs, ys);
    let last = first;
    for (let i = 0; i < 5; i++) last = await model.trainOnBatch(xs, ys);
    expect(Number.isFinite(first as number)).toBe(true);
    expect(last as number).toBeLessThan(first as number);
    tf.dispose([xs, ys]);
    model.dispose();
  });
});

/**
 * The native kernels (native/node/, src/kernels/addon/load.ts) called directly over a heap of our
 * own: every SIMD path this CPU runs, on 1 and 2 threads, against the float64 references (the
 * avx512 path also where the CPU lacks it, from a test build for AVX2); hostile
 * shapes and offsets, refused with an error and no crash; and the fallback when they are off. The
 * same kernels inside tfjs (the `native` routes) are checked in test/kernel_routes.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  configureNativeKernels,
  nativeAddon,
  nativeKernelStatus,
  type NativeAddon,
} from '../src/kernels/addon/load.js';
import {
  CONV_CASES,
  MATMUL_CASES,
  convGeometry,
  float64Conv2D,
  float64Conv2DInputGrad,
  float64FilterGrad,
  float64MatMul,
  relativeError,
  sizeOf,
  values,
  type ConvShape,
} from './kernel_reference.js';

const ROOT = resolve(import.meta.dirname, '..');
const addon = nativeAddon();
const status = nativeKernelStatus();
const isas = status.on ? status.isas : [];

afterAll(() => {
  configureNativeKernels({ isa: 'auto', threads: 2 });
});

describe('the native kernels load', () => {
  it('in CI on linux-x64, where .ci/run built them (elsewhere they may be missing: the routes fall back)', () => {
    if (process.env['CI'] !== 'true' || process.platform !== 'linux' || process.arch !== 'x64') return;
    expect(status, 'npm install runs native/node/build.sh; CI must test the native routes').toMatchObject({ on: true });
  });

  it.skipIf(addon === undefined)('report the widest SIMD path this CPU has, and take narrower ones on request', () => {
    if (!status.on) return;
    expect(status.isas.at(-1)).toBe('sse2');
    expect(status.isa).toBe(status.isas[0]);
    expect(configureNativeKernels({ isa: 'sse2', threads: 1 })).toMatchObject({ on: true, isa: 'sse2', threads: 1 });
    expect(() => configureNativeKernels({ threads: 0 })).toThrow(RangeError);
    if (!status.isas.includes('avx512'))
      expect(() => configureNativeKernels({ isa: 'avx512' })).toThrow(/this CPU cannot run 'avx512'/);
    expect(configureNativeKernels({ isa: 'auto', threads: 2 })).toMatchObject({ isa: status.isa, threads: 2 });
  });
});

/** A heap of our own (a shared wasm memory, as tfjs' threaded build has) with tensors laid out one after another. */
class Heap {
  readonly memory = new WebAssembly.Memory({ initial: 1, maximum: 4096, shared: true });
  private end = 16; // offset 0 stays unused: a stray zero offset would show
  place(data: ArrayLike<number>): number {
    const at = this.end;
    this.end += data.length + 16; // a gap, so an overrun lands in another tensor's guard
    const need = this.end * 4;
    if (need > this.memory.buffer.byteLength)
      this.memory.grow(Math.ceil((need - this.memory.buffer.byteLength) / 65536));
    this.view().set(data, at);
    this.view().fill(Number.NaN, at + data.length, this.end);
    return at;
  }
  zeros(size: number): number {
    return this.place(new Float32Array(size).fill(Number.NaN));
  }
  view(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }
  read(at: number, size: number): Float32Array {
    return this.view().slice(at, at + size);
  }
}

function geometry(c: ConvShape): Int32Array {
  const info = convGeometry(c.x, c.filter, c.strides, c.pad);
  return Int32Array.of(
    c.x[0],
    c.x[1],
    c.x[2],
    c.x[3],
    info.outHeight,
    info.outWidth,
    c.filter[3],
    c.filter[0],
    c.filter[1],
    c.strides,
    c.strides,
    info.padInfo.top,
    info.padInfo.left,
  );
}

/** The three convolution kernels of `c` against float64, on the path and threads configured now. */
function checkConv(native: NativeAddon, c: ConvShape): void {
  const g = geometry(c);
  const dyShape = [c.x[0], g[4] as number, g[5] as number, c.filter[3]];
  const x = values(sizeOf(c.x), 1);
  const w = values(sizeOf(c.filter), 2);
  const dy = values(sizeOf(dyShape), 3);
  const bias = values(c.filter[3], 4);
  const heap = new Heap();
  const [xAt, wAt, dyAt, biasAt] = [x, w, dy, bias].map((t) => heap.place(t)) as [number, number, number, number];
  const yAt = heap.zeros(dy.length);
  const yReluAt = heap.zeros(dy.length);
  const dxAt = heap.zeros(x.length);
  const dwAt = heap.zeros(w.length);
  native.conv2d(heap.view(), g, xAt, wAt, -1, yAt, false);
  native.conv2d(heap.view(), g, xAt, wAt, biasAt, yReluAt, true);
  native.conv2dBackpropInput(heap.view(), g, dyAt, wAt, dxAt);
  native.conv2dBackpropFilter(heap.view(), g, xAt, dyAt, dwAt);
  const y = float64Conv2D(c, x, w);
  expect(relativeError(heap.read(yAt, y.length), y), 'forward').toBeLessThan(1e-5);
  const relu = y.map((v, i) => Math.max(0, v + (bias[i % bias.length] as number)));
  expect(relativeError(heap.read(yReluAt, y.length), relu), 'bias and ReLU').toBeLessThan(1e-5);
  expect(relativeError(heap.read(dxAt, x.length), float64Conv2DInputGrad(c, dy, w)), 'dx').toBeLessThan(1e-5);
  expect(relativeError(heap.read(dwAt, w.length), float64FilterGrad(c, x, dy)), 'dW').toBeLessThan(1e-5);
  // The guards between tensors are untouched.
  const view = heap.view();
  for (const [at, size] of [
    [yAt, y.length],
    [dxAt, x.length],
    [dwAt, w.length],
  ] as const)
    expect(Number.isNaN(view[at + size] as number), 'the guard after an output').toBe(true);
}

/** Matmuls of every shape kind against float64, on the path and threads configured now. */
function checkMatmuls(native: NativeAddon): void {
  const cases = [
    ...MATMUL_CASES,
    { a: [2, 5, 300], b: [2, 300, 7], ta: false, tb: false },
    { a: [1, 1], b: [1, 1], ta: false, tb: false },
    { a: [4, 600], b: [600, 33], ta: false, tb: false },
  ];
  for (const m of cases) {
    const heap = new Heap();
    const a = values(sizeOf(m.a), 5);
    const b = values(sizeOf(m.b), 6);
    const expected = float64MatMul(a, m.a, b, m.b, m.ta, m.tb);
    const [ar, ac] = m.a.slice(-2) as [number, number];
    const [br, bc] = m.b.slice(-2) as [number, number];
    const [rows, k] = m.ta ? [ac, ar] : [ar, ac];
    const n = m.tb ? br : bc;
    const aBatch = sizeOf(m.a.slice(0, -2));
    const bBatch = sizeOf(m.b.slice(0, -2));
    const dims = Int32Array.of(Math.max(aBatch, bBatch), rows, n, k, +(aBatch > 1), +(bBatch > 1), +m.ta, +m.tb);
    const [aAt, bAt, out] = [heap.place(a), heap.place(b), heap.zeros(expected.length)];
    native.matmul(heap.view(), dims, aAt, bAt, out);
    expect(relativeError(heap.read(out, expected.length), expected), `${m.a} x ${m.b}`).toBeLessThan(1e-5);
  }
}

const EXTRA_CONVS: (ConvShape & { name: string })[] = [
  {
    name: 'strong conv7: 4x4 valid to 1x1, 64 -> 128 (dx as matmul + scatter)',
    x: [3, 4, 4, 64],
    filter: [4, 4, 64, 128],
    strides: 1,
    pad: 'valid',
  },
  { name: 'stride 3, 7x7 to 3x3', x: [2, 7, 7, 5], filter: [3, 3, 5, 9], strides: 3, pad: 'same' },
  { name: 'a filter wider than the input', x: [2, 3, 3, 4], filter: [5, 5, 4, 6], strides: 1, pad: 'same' },
  {
    name: 'explicit padding, negative end pads',
    x: [2, 9, 8, 17],
    filter: [3, 2, 17, 33],
    strides: 2,
    pad: [
      [0, 0],
      [2, 0],
      [1, 0],
      [0, 0],
    ],
  },
];

describe.skipIf(addon === undefined)('native kernels against float64, every SIMD path this CPU runs', () => {
  const cases = [...CONV_CASES, ...EXTRA_CONVS];
  it.each(isas.flatMap((isa) => [1, 2].map((threads) => [isa, threads] as const)))(
    '%s, %i thread(s): convolutions',
    (isa, threads) => {
      configureNativeKernels({ isa, threads });
      for (const c of cases) {
        try {
          checkConv(addon!, c);
        } catch (error) {
          throw new Error(`${(c as { name: string }).name}: ${(error as Error).message}`);
        }
      }
    },
  );

  it.each(isas.flatMap((isa) => [1, 2].map((threads) => [isa, threads] as const)))(
    '%s, %i thread(s): matmuls',
    (isa, threads) => {
      configureNativeKernels({ isa, threads });
      checkMatmuls(addon!);
    },
  );
});

/**
 * The avx512 path (a 12 x 32 tile) runs only where the CPU has AVX-512. Elsewhere a test build of
 * the same sources (build.sh --emulated-avx512: that path compiled for AVX2, each 16-float vector
 * split in two by GCC) runs the same cases, so the wide tile's edges, panels and row pointers are
 * checked on every CI host with AVX2, not only on the hosts that would use them.
 */
describe.skipIf(addon === undefined || isas.includes('avx512') || !isas.includes('avx2'))(
  'the avx512 path, built for AVX2 where the CPU lacks AVX-512',
  () => {
    const file = join(ROOT, 'test/.artifacts/native-emulated-avx512/digit-recognizer.node');
    let emulated: NativeAddon;
    beforeAll(() => {
      const built = spawnSync('sh', [join(ROOT, 'native/node/build.sh'), '--emulated-avx512', file], {
        encoding: 'utf8',
      });
      expect(built.status, built.stderr).toBe(0);
      emulated = createRequire(import.meta.url)(file) as NativeAddon;
    });

    it.each([1, 2])('%i thread(s): convolutions and matmuls against float64', (threads) => {
      emulated.configure(threads, 'avx512');
      expect(emulated.info()).toMatchObject({ isa: 'avx512', threads });
      for (const c of [...CONV_CASES, ...EXTRA_CONVS]) {
        try {
          checkConv(emulated, c);
        } catch (error) {
          throw new Error(`${(c as { name: string }).name}: ${(error as Error).message}`);
        }
      }
      checkMatmuls(emulated);
    });
  },
);

describe.skipIf(addon === undefined)('native kernels are deterministic', () => {
  it('give the same bits on 1 and 2 threads (the filter gradient sums fixed parts in a fixed order)', () => {
    const c: ConvShape = { x: [16, 14, 14, 24], filter: [3, 3, 24, 40], strides: 1, pad: 'same' };
    const g = geometry(c);
    const outputs = [1, 2, 1].map((threads) => {
      configureNativeKernels({ threads, isa: 'auto' });
      const heap = new Heap();
      const xAt = heap.place(values(sizeOf(c.x), 7));
      const dyAt = heap.place(values(c.x[0] * (g[4] as number) * (g[5] as number) * c.filter[3], 8));
      const dwAt = heap.zeros(sizeOf(c.filter));
      addon!.conv2dBackpropFilter(heap.view(), g, xAt, dyAt, dwAt);
      return heap.read(dwAt, sizeOf(c.filter));
    });
    expect(outputs[1]).toEqual(outputs[0]);
    expect(outputs[2]).toEqual(outputs[0]);
  });
});

describe.skipIf(addon === undefined)('hostile shapes and offsets reach no memory', () => {
  const heap = new Heap();
  heap.place(new Float32Array(4096));
  const conv =
    (g: number[], at: number[] = [16, 16, -1, 16]) =>
    () =>
      addon!.conv2d(heap.view(), Int32Array.from(g), at[0]!, at[1]!, at[2]!, at[3]!, false);
  const ok = [1, 8, 8, 2, 6, 6, 3, 3, 3, 1, 1, 0, 0];
  const bad = (i: number, v: number): number[] => ok.map((d, j) => (j === i ? v : d));

  it('a well-formed call runs (the cases below differ from it in one thing)', () => {
    expect(conv(ok)).not.toThrow();
  });

  it.each([
    ['a zero dimension', bad(0, 0)],
    ['a negative dimension', bad(3, -5)],
    ['a dimension past 2^24', bad(2, 1 << 25)],
    ['a zero stride', bad(9, 0)],
    ['a stride past 64', bad(10, 65)],
    ['a padding past 2^20', bad(11, 1 << 21)],
    ['sizes whose product passes the heap', [40000, 40000, 40000, 2, 6, 6, 3, 3, 3, 1, 1, 0, 0]],
    ['output channels that overrun the heap', bad(6, 1 << 20)],
  ])('refuses %s', (_, g) => {
    expect(conv(g)).toThrow(/^digit-recognizer native kernels: /);
  });

  it.each([
    ['an output past the end of the heap', [16, 16, -1, heap.view().length - 10]],
    ['a negative offset', [-16, 16, -1, 16]],
    ['a fractional offset', [16.5, 16, -1, 16]],
    ['an offset past 2^53', [2 ** 60, 16, -1, 16]],
    ['a bias past the end', [16, 16, heap.view().length - 1, 16]],
  ])('refuses %s', (_, at) => {
    expect(conv(ok, at)).toThrow(/^digit-recognizer native kernels: /);
  });

  it('refuses the wrong kinds of argument', () => {
    const g = Int32Array.from(ok);
    const call =
      (...args: unknown[]) =>
      () =>
        (addon!.conv2d as (...a: unknown[]) => void)(...args);
    expect(call(new Float64Array(8), g, 16, 16, -1, 16, false)).toThrow(/heap is not a Float32Array/);
    expect(call(heap.view(), Float64Array.from(ok), 16, 16, -1, 16, false)).toThrow(/Int32Array of 13/);
    expect(call(heap.view(), g.subarray(1), 16, 16, -1, 16, false)).toThrow(/Int32Array of 13/);
    expect(call(heap.view(), g, 16, 16, -1, 16)).toThrow(/wrong number of arguments/);
    expect(call(heap.view(), g, '16', 16, -1, 16, false)).toThrow(/does not lie inside the heap/);
    const mm =
      (dims: number[], c = 16) =>
      () =>
        addon!.matmul(heap.view(), Int32Array.from(dims), 16, 16, c);
    expect(mm([1, 4, 4, 4, 0, 0, 0, 0])).not.toThrow();
    expect(mm([1, 1 << 20, 1 << 20, 4, 0, 0, 0, 0])).toThrow(/does not lie inside the heap/);
    expect(mm([1, 4, 4, -4, 0, 0, 0, 0])).toThrow(/out of range/);
    expect(mm([1, 4, 4, 4, 0, 0, 0, 0], heap.view().length - 4)).toThrow(/does not lie inside the heap/);
    expect(() => addon!.configure(0, null)).toThrow(/threads must be/);
    expect(() => addon!.configure(2, 'avx1024')).toThrow(/unknown/);
  });
});

describe('turned off, the package says so and runs on WebAssembly', () => {
  const info = (env: Record<string, string>, ...args: string[]) =>
    spawnSync(
      'node',
      ['--import', 'tsx', '--conditions=digit-recognizer-source', join(ROOT, 'examples/info.ts'), ...args],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, ...env },
        timeout: 120_000,
      },
    );

  it('DIGIT_RECOGNIZER_NATIVE=0 and --no-native', () => {
    const off = info({ DIGIT_RECOGNIZER_NATIVE: '0' });
    expect(off.status, off.stderr).toBe(0);
    expect(off.stdout).toMatch(/^native kernels: off \(turned off by DIGIT_RECOGNIZER_NATIVE=0\)$/m);
    const flag = info({}, '--no-native');
    expect(flag.stdout).toMatch(/^native kernels: off \(turned off by --no-native/m);
    if (addon !== undefined)
      expect(info({}, '--threads', '1').stdout).toMatch(/^native kernels: on \(\w+, 1 threads\)$/m);
  });
});

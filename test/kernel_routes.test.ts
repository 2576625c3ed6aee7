/**
 * The kernels' route tables (src/kernels/routes.ts): their headers against the code, which route
 * every layer of every zoo network takes on wasm in a training step and a prediction, and every
 * route of every kernel against a float64 reference (test/kernel_reference.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeAddon } from '../src/kernels/addon/load.js';
import { buildDigitCnn } from '../src/model/build.js';
import { cpuKernels } from '../src/kernels/cpu/register_all_kernels.js';
import { registerCpuTrainingKernels } from '../src/kernels/cpu_training.js';
import {
  kernelRouteTables,
  overrideKernelRoutes,
  traceKernelRoutes,
  type RoutedKernel,
  type RouteTraceEntry,
} from '../src/kernels/routes.js';
import { wasmKernels } from '../src/kernels/wasm/register_all_kernels.js';
import { readyWasmTrainingKernels } from '../src/kernels/wasm_training.js';
import {
  float64BatchNorm,
  float64BatchNormGrad,
  float64Conv2D,
  float64Conv2DInputGrad,
  float64FilterGrad,
  float64MatMul,
  float64MaxPool,
  float64MaxPoolGrad,
  float64Reduce,
  float64Tile,
  convGeometry,
  oneHot,
  relativeError,
  sizeOf,
  values,
  type ConvShape,
} from './kernel_reference.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KERNELS = join(ROOT, 'src/kernels');

async function use(backend: 'cpu' | 'wasm'): Promise<void> {
  expect(await tf.setBackend(backend)).toBe(true);
  await tf.ready();
}

beforeAll(async () => {
  await use('cpu');
  registerCpuTrainingKernels();
  await use('wasm');
  await readyWasmTrainingKernels();
});
afterAll(async () => {
  await use('cpu');
});

// ---------------------------------------------------------------------------------------------
// Headers: each kernel module's route list is its table's, in order, with its condition, reason,
// bench and (on wasm) the zoo layers that take it.
// ---------------------------------------------------------------------------------------------

/** The module of a kernel: its name in snake_case (`Conv2DBackpropFilter` -> conv2d_backprop_filter.ts). */
function moduleFile(kernel: RoutedKernel): string {
  const base = kernel.kernelName
    .replace(/^_/, '')
    .replace(/^Digit/, '')
    .replace(/Conv2D/g, 'Conv2d')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();
  return join(KERNELS, kernel.backend, `${base}.ts`);
}

/** A file's opening doc comment, without the ` * ` prefixes. */
function header(file: string): string {
  const match = /^\/\*\*\n([\s\S]*?)\n \*\//.exec(readFileSync(file, 'utf8'));
  if (match === null) throw new Error(`${file} opens with no doc comment`);
  return (match[1] as string)
    .split('\n')
    .map((line) => line.replace(/^ \*( |$)/, ''))
    .join('\n');
}

interface HeaderRoute {
  readonly number: number;
  readonly name: string;
  /** The entry's lines joined by spaces. */
  readonly text: string;
}

/** The numbered route entries of a header: "1. `name`: ..." and the lines indented under it. */
function headerRoutes(text: string): HeaderRoute[] {
  const routes: { number: number; name: string; lines: string[] }[] = [];
  let open = false;
  for (const line of text.split('\n')) {
    const start = /^(\d+)\. `([a-z0-9-]+)`/.exec(line);
    if (start !== null) {
      routes.push({ number: Number(start[1]), name: start[2] as string, lines: [line] });
      open = true;
    } else if (open && line.startsWith('   ')) {
      routes.at(-1)?.lines.push(line.trim());
    } else {
      open = false;
    }
  }
  return routes.map((r) => ({ number: r.number, name: r.name, text: r.lines.join(' ') }));
}

const NETS = ['seed', 'compact', 'lean', 'strong'] as const;

/** The zoo layers a header entry's "Zoo:" part names, as `net layer` (e.g. `strong conv2`); empty for "none". */
function zooLayers(entry: HeaderRoute): string[] {
  const zoo = /Zoo: (.*?)(?: [A-Z][a-z]+:|$)/.exec(entry.text)?.[1];
  if (zoo === undefined) throw new Error(`route ${entry.name} has no "Zoo:" line`);
  const found: string[] = [];
  for (const group of zoo.replace(/\([^)]*\)/g, '').split(';')) {
    const net = NETS.find((n) => new RegExp(`\\b${n}\\b`).test(group));
    if (net === undefined) continue;
    for (const layer of group.match(/\b(conv|bn|pool|dense)\d+\b/g) ?? []) found.push(`${net} ${layer}`);
  }
  return found.sort();
}

describe('kernel module headers', () => {
  const all = [...wasmKernels, ...cpuKernels];

  it('every defined route table is registered, and every kernel module is one', () => {
    expect(new Set(kernelRouteTables())).toEqual(new Set(all));
    for (const backend of ['wasm', 'cpu'] as const) {
      const modules = readdirSync(join(KERNELS, backend))
        .filter((f) => f.endsWith('.ts') && f !== 'register_all_kernels.ts')
        .sort();
      const kernels = all.filter((k) => k.backend === backend);
      expect(modules, backend).toEqual(kernels.map((k) => moduleFile(k).split('/').at(-1)).sort());
    }
  });

  it.each(all.map((k) => [`${k.backend} ${k.kernelName}`, k] as const))(
    '%s lists its routes in the order of its table, each with its condition, reason and bench',
    (_, kernel) => {
      const entries = headerRoutes(header(moduleFile(kernel)));
      expect(entries.map((e) => e.name)).toEqual(kernel.routeNames);
      expect(entries.map((e) => e.number)).toEqual(kernel.routeNames.map((_, i) => i + 1));
      for (const entry of entries) {
        expect(entry.text, entry.name).toMatch(/Applies: /);
        if (entry.name === 'stock') {
          expect(entry.text, entry.name).toMatch(/Applies: always/);
          continue;
        }
        expect(entry.text, entry.name).toMatch(/Why: /);
        const benches = [...entry.text.matchAll(/\b(bench\/[a-z0-9_/]+\.ts)\b/g)].map((m) => m[1] as string);
        expect(entry.text, entry.name).toMatch(/Bench: npm run bench -- bench\//);
        for (const bench of benches) expect(existsSync(join(ROOT, bench)), `${entry.name}: ${bench}`).toBe(true);
      }
      if (kernel.backend === 'wasm') for (const entry of entries) zooLayers(entry);
    },
  );

  it.each(['wasm', 'cpu'] as const)('%s/register_all_kernels.ts tabulates every kernel with its routes', (backend) => {
    const rows = [
      ...header(join(KERNELS, backend, 'register_all_kernels.ts')).matchAll(/^\| `(\w+)` +\| (\w+) +\| (.+?) +\|$/gm),
    ];
    const kernels = all.filter((k) => k.backend === backend);
    expect(rows.map((r) => [r[1], r[2], (r[3] as string).split(', ')])).toEqual(
      kernels.map((k) => [k.kernelName, k.install, k.routeNames]),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The zoo on wasm: which route every layer's every kernel takes.
// ---------------------------------------------------------------------------------------------

/** The training batch of every preset and of trainDigits' default: some routes depend on it (a dense layer's dy·Wᵀ). */
const BATCH = 64;

type Net = (typeof NETS)[number];
type Role = 'forward' | 'dx' | 'dW' | 'bias' | 'backward';

/** Per layer (conv1, bn1, pool1, dense1 ... counted per kind), the `kernel:route` of each role; the calls of no layer counted. */
interface RouteTable {
  readonly layers: Record<string, Partial<Record<Role, string>>>;
  readonly other: Record<string, number>;
}

interface LayerShapes {
  readonly name: string;
  readonly kind: 'conv' | 'bn' | 'pool' | 'dense';
  readonly input: number[];
  readonly output: number[];
  readonly kernel: number[];
}

function layerShapes(model: tfl.LayersModel): LayerShapes[] {
  const kinds: Record<string, LayerShapes['kind']> = {
    Conv2D: 'conv',
    BatchNormalization: 'bn',
    MaxPooling2D: 'pool',
    Dense: 'dense',
  };
  const counts = new Map<string, number>();
  const out: LayerShapes[] = [];
  for (const layer of model.layers) {
    const kind = kinds[layer.getClassName()];
    if (kind === undefined) continue;
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    const batched = (shape: (number | null)[]): number[] => [BATCH, ...(shape.slice(1) as number[])];
    out.push({
      name: `${kind}${n}`,
      kind,
      input: batched((layer.input as tfl.SymbolicTensor).shape),
      output: batched((layer.output as tfl.SymbolicTensor).shape),
      kernel: kind === 'conv' || kind === 'dense' ? (layer.getWeights()[0]?.shape ?? []) : [],
    });
  }
  return out;
}

const same = (a: readonly number[] | undefined, b: readonly number[]): boolean =>
  a !== undefined && a.length === b.length && a.every((d, i) => d === b[i]);
/** A matmul operand without its leading batch axes of 1. */
const unbatched = (shape: readonly number[] | undefined): number[] | undefined => {
  if (shape === undefined) return undefined;
  const s = [...shape];
  while (s.length > 2 && s[0] === 1) s.shift();
  return s;
};
/** Whether a `Sum` reduces every axis but the last: a bias's gradient. */
const biasAxes = (e: RouteTraceEntry, rank: number): boolean => {
  const axis = e.attrs['axis'] as number | number[];
  const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
  return same(
    axes,
    Array.from({ length: rank - 1 }, (_, i) => i),
  );
};

/** The layer and role of a call from tfjs, or `undefined` for the loss's, the optimizer's and other calls. */
function attribute(e: RouteTraceEntry, layers: readonly LayerShapes[]): [string, Role] | undefined {
  const s = e.shapes;
  for (const l of layers) {
    if (l.kind === 'conv') {
      if ((e.kernel === 'Conv2D' || e.kernel === 'FusedConv2D') && same(s['x'], l.input) && same(s['filter'], l.kernel))
        return [l.name, 'forward'];
      if (e.kernel === 'Conv2DBackpropInput' && same(s['dy'], l.output) && same(s['filter'], l.kernel))
        return [l.name, 'dx'];
      if (e.kernel === 'Conv2DBackpropFilter' && same(s['x'], l.input) && same(s['dy'], l.output))
        return [l.name, 'dW'];
      if (e.kernel === 'Sum' && same(s['x'], l.output) && biasAxes(e, 4)) return [l.name, 'bias'];
    } else if (l.kind === 'bn') {
      if (e.kernel === 'DigitBatchNormTraining' && same(s['x'], l.input)) return [l.name, 'forward'];
      if (e.kernel === 'FusedBatchNorm' && same(s['x'], l.input)) return [l.name, 'forward'];
      if (e.kernel === 'DigitBatchNormTrainingGrad' && same(s['x'], l.input)) return [l.name, 'backward'];
    } else if (l.kind === 'pool') {
      if (e.kernel === 'MaxPoolGrad' && same(s['input'], l.input)) return [l.name, 'backward'];
    } else {
      const [inputs, units] = l.kernel as [number, number];
      const [a, b] = [unbatched(s['a']), unbatched(s['b'])];
      if (e.kernel === 'BatchMatMul') {
        if (same(a, [BATCH, inputs]) && same(b, [inputs, units])) return [l.name, 'forward'];
        if (same(a, [BATCH, units]) && same(b, [inputs, units])) return [l.name, 'dx'];
        if (same(a, [BATCH, inputs]) && same(b, [BATCH, units])) return [l.name, 'dW'];
      }
      if (e.kernel === 'Sum' && same(s['x'], [BATCH, units]) && biasAxes(e, 2)) return [l.name, 'bias'];
    }
  }
  return undefined;
}

function routeTable(entries: readonly RouteTraceEntry[], layers: readonly LayerShapes[]): RouteTable {
  const table: RouteTable = { layers: {}, other: {} };
  for (const e of entries) {
    if (e.depth !== 0) continue;
    const route = `${e.kernel}:${e.route}`;
    const at = attribute(e, layers);
    if (at === undefined) {
      table.other[route] = (table.other[route] ?? 0) + 1;
      continue;
    }
    const [layer, role] = at;
    const roles = (table.layers[layer] ??= {});
    if (roles[role] !== undefined && roles[role] !== route)
      throw new Error(`${layer} ${role}: ${roles[role]} and ${route}`);
    roles[role] = route;
  }
  return table;
}

/** The route tables of one training step and one prediction of `net` at batch {@link BATCH}, on wasm. */
async function zooRoutes(net: Net): Promise<{ train: RouteTable; predict: RouteTable }> {
  await use('wasm');
  const model = buildDigitCnn({ architecture: net, seed: 1 });
  const xs = tf.tensor4d(values(BATCH * 784, 5), [BATCH, 28, 28, 1]);
  const ys = oneHot(BATCH, 6);
  try {
    const layers = layerShapes(model);
    const train = await traceKernelRoutes(() => model.trainOnBatch(xs, ys));
    const predict = await traceKernelRoutes(() =>
      tf.tidy(() => (model.predict(xs, { batchSize: BATCH }) as tf.Tensor).dataSync()),
    );
    return { train: routeTable(train.routes, layers), predict: routeTable(predict.routes, layers) };
  } finally {
    tf.dispose([xs, ys]);
    model.dispose();
  }
}

// Shorthands for the expected tables.
const BN = { forward: 'DigitBatchNormTraining:simd', backward: 'DigitBatchNormTrainingGrad:simd' } as const;
const POOL = { backward: 'MaxPoolGrad:simd-2x2' } as const;
const W3 = 'Conv2DBackpropFilter:winograd-3x3';
/** A batch norm in prediction (model.predict: predictDigits folds them into the convolutions first). */
const PREDICT_BN = { forward: 'FusedBatchNorm:stock' } as const;

/**
 * What every zoo network runs on wasm: per layer, the route of each of its kernels in one training
 * step (batch 64, the first step of a fresh model) and in a prediction; the calls that belong to
 * no layer (Identity's clones of saved tensors, the loss's sums and means) as counts per route.
 * Written out by hand from the route tables: a route that stops applying, or is switched off,
 * changes it.
 */
const EXPECTED: Record<Net, { train: RouteTable; predict: RouteTable }> = {
  seed: {
    train: {
      layers: {
        conv1: { forward: 'Conv2D:stock', dW: 'Conv2DBackpropFilter:one-channel-simd', bias: 'Sum:leading-axes' },
        conv2: {
          forward: 'Conv2D:winograd-5x5',
          dx: 'Conv2DBackpropInput:winograd-5x5',
          dW: 'Conv2DBackpropFilter:winograd-5x5',
          bias: 'Sum:leading-axes',
        },
        dense1: {
          forward: 'BatchMatMul:stock',
          dx: 'BatchMatMul:swapped-product',
          dW: 'BatchMatMul:transpose-first',
          bias: 'Sum:leading-axes',
        },
        dense2: { dx: 'BatchMatMul:transpose-first', dW: 'BatchMatMul:transpose-first', bias: 'Sum:leading-axes' },
      },
      other: { 'DigitAdam:heap': 8, 'Identity:share-buffer': 40, 'Sum:stock': 4, 'Mean:stock': 3 },
    },
    predict: {
      layers: { conv1: { forward: 'FusedConv2D:stock' }, conv2: { forward: 'FusedConv2D:winograd-5x5' } },
      other: { 'Identity:share-buffer': 1 },
    },
  },
  compact: {
    train: {
      layers: {
        conv1: { forward: 'Conv2D:stock', dW: 'Conv2DBackpropFilter:one-channel-simd', bias: 'Sum:leading-axes' },
        pool1: POOL,
        conv2: {
          forward: 'Conv2D:winograd-3x3',
          dx: 'Conv2DBackpropInput:winograd-3x3',
          dW: W3,
          bias: 'Sum:leading-axes',
        },
        pool2: POOL,
        dense1: {
          forward: 'BatchMatMul:stock',
          dx: 'BatchMatMul:swapped-product',
          dW: 'BatchMatMul:transpose-first',
          bias: 'Sum:leading-axes',
        },
        dense2: { dx: 'BatchMatMul:transpose-first', dW: 'BatchMatMul:transpose-first', bias: 'Sum:leading-axes' },
      },
      other: { 'DigitAdam:heap': 8, 'Identity:share-buffer': 50, 'Sum:stock': 4, 'Mean:stock': 3 },
    },
    predict: {
      layers: { conv1: { forward: 'FusedConv2D:stock' }, conv2: { forward: 'FusedConv2D:winograd-3x3' } },
      other: { 'Identity:share-buffer': 2 },
    },
  },
  lean: {
    train: {
      layers: {
        conv1: {
          forward: 'FusedConv2D:stock',
          dx: 'Conv2DBackpropInput:one-channel-simd',
          dW: 'Conv2DBackpropFilter:one-channel-simd',
        },
        bn1: BN,
        pool1: POOL,
        conv2: { forward: 'FusedConv2D:winograd-3x3', dx: 'Conv2DBackpropInput:winograd-3x3', dW: W3 },
        bn2: BN,
        conv3: { forward: 'FusedConv2D:winograd-3x3', dx: 'Conv2DBackpropInput:winograd-3x3', dW: W3 },
        bn3: BN,
        pool2: POOL,
        conv4: { forward: 'FusedConv2D:winograd-3x3', dx: 'Conv2DBackpropInput:col2im', dW: W3 },
        bn4: BN,
        dense1: { dx: 'BatchMatMul:swapped-product', dW: 'BatchMatMul:transpose-first', bias: 'Sum:leading-axes' },
      },
      other: { 'DigitAdam:heap': 14, 'Identity:share-buffer': 121, 'Sum:stock': 4, 'Mean:stock': 3 },
    },
    predict: {
      layers: {
        conv1: { forward: 'FusedConv2D:stock' },
        bn1: PREDICT_BN,
        conv2: { forward: 'FusedConv2D:winograd-3x3' },
        bn2: PREDICT_BN,
        conv3: { forward: 'FusedConv2D:winograd-3x3' },
        bn3: PREDICT_BN,
        conv4: { forward: 'FusedConv2D:winograd-3x3' },
        bn4: PREDICT_BN,
      },
      other: { 'Identity:share-buffer': 3 },
    },
  },
  strong: {
    train: {
      layers: {
        conv1: {
          forward: 'FusedConv2D:stock',
          dx: 'Conv2DBackpropInput:one-channel-simd',
          dW: 'Conv2DBackpropFilter:one-channel-simd',
        },
        bn1: BN,
        conv2: { forward: 'FusedConv2D:winograd-3x3', dx: 'Conv2DBackpropInput:winograd-3x3', dW: W3 },
        bn2: BN,
        conv3: {
          forward: 'FusedConv2D:stock',
          dx: 'Conv2DBackpropInput:direct-simd',
          dW: 'Conv2DBackpropFilter:direct-simd',
        },
        bn3: BN,
        conv4: { forward: 'FusedConv2D:winograd-3x3', dx: 'Conv2DBackpropInput:winograd-3x3', dW: W3 },
        bn4: BN,
        conv5: { forward: 'FusedConv2D:winograd-3x3', dx: 'Conv2DBackpropInput:winograd-3x3', dW: W3 },
        bn5: BN,
        conv6: {
          forward: 'FusedConv2D:stock',
          dx: 'Conv2DBackpropInput:direct-simd',
          dW: 'Conv2DBackpropFilter:direct-simd',
        },
        bn6: BN,
        conv7: {
          forward: 'FusedConv2D:stock',
          dx: 'Conv2DBackpropInput:col2im',
          dW: 'Conv2DBackpropFilter:transposed-conv',
        },
        bn7: BN,
        dense1: { dx: 'BatchMatMul:transpose-first', dW: 'BatchMatMul:transpose-first', bias: 'Sum:leading-axes' },
      },
      other: { 'DigitAdam:heap': 23, 'Identity:share-buffer': 183, 'Sum:stock': 4, 'Mean:stock': 3 },
    },
    predict: {
      layers: {
        conv1: { forward: 'FusedConv2D:stock' },
        bn1: PREDICT_BN,
        conv2: { forward: 'FusedConv2D:winograd-3x3' },
        bn2: PREDICT_BN,
        conv3: { forward: 'FusedConv2D:stock' },
        bn3: PREDICT_BN,
        conv4: { forward: 'FusedConv2D:winograd-3x3' },
        bn4: PREDICT_BN,
        conv5: { forward: 'FusedConv2D:winograd-3x3' },
        bn5: PREDICT_BN,
        conv6: { forward: 'FusedConv2D:stock' },
        bn6: PREDICT_BN,
        conv7: { forward: 'FusedConv2D:stock' },
        bn7: PREDICT_BN,
      },
      other: { 'Identity:share-buffer': 4 },
    },
  },
};

/** The `net layer`s whose kernel `kernel` takes `route` in {@link EXPECTED}, training or prediction. */
function expectedZoo(kernel: string, route: string): string[] {
  const found = new Set<string>();
  for (const net of NETS) {
    for (const table of [EXPECTED[net].train, EXPECTED[net].predict]) {
      for (const [layer, roles] of Object.entries(table.layers)) {
        if (Object.values(roles).includes(`${kernel}:${route}`)) found.add(`${net} ${layer}`);
      }
    }
  }
  return [...found].sort();
}

/** The kernels the Node addon runs, when it loads. */
const NATIVE_KERNELS = [
  'Conv2D',
  'FusedConv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'BatchMatMul',
  'FusedBatchNorm',
];

describe.skipIf(nativeAddon() === undefined)('zoo routes on wasm with the native kernels', () => {
  it.each(NETS)('%s: every convolution and matmul of a training step and a prediction takes `native`', async (net) => {
    const got = await zooRoutes(net);
    for (const table of [got.train, got.predict]) {
      const routes = Object.values(table.layers).flatMap((roles) => Object.values(roles));
      const native = routes.filter((r) => NATIVE_KERNELS.includes(r.split(':')[0] as string));
      expect(native.length).toBeGreaterThan(0);
      expect(native.filter((r) => !r.endsWith(':native'))).toEqual([]);
    }
  });
});

describe('zoo routes on wasm', () => {
  // The tables below are the portable path's: what runs where the native kernels do not load.
  let restoreNative: () => void = () => undefined;
  beforeAll(() => {
    restoreNative = overrideKernelRoutes({ '*': { native: 'off' } });
  });
  afterAll(() => restoreNative());

  it.each(NETS)('%s: every layer takes the expected route in a training step and a prediction', async (net) => {
    const got = await zooRoutes(net);
    expect(got.train).toEqual(EXPECTED[net].train);
    expect(got.predict).toEqual(EXPECTED[net].predict);
  });

  it.each(wasmKernels.map((k) => [k.kernelName, k] as const))(
    "%s's header names the zoo layers the expected tables give each route",
    (_, kernel) => {
      for (const entry of headerRoutes(header(moduleFile(kernel)))) {
        expect(zooLayers(entry), `${kernel.kernelName} ${entry.name}`).toEqual(
          expectedZoo(kernel.kernelName, entry.name),
        );
      }
    },
  );

  it('fails when any route the zoo takes is switched off', async () => {
    // Each route of the tables above, switched off in turn, on the first network that takes it.
    const taken = new Map<string, Net>();
    for (const net of NETS) {
      for (const table of [EXPECTED[net].train, EXPECTED[net].predict]) {
        const routes = [
          ...Object.values(table.layers).flatMap((roles) => Object.values(roles)),
          ...Object.keys(table.other),
        ];
        for (const route of routes) if (!taken.has(route)) taken.set(route, net);
      }
    }
    expect(taken.size).toBeGreaterThan(15);
    for (const [route, net] of taken) {
      const [kernel, name] = route.split(':') as [string, string];
      const restore = overrideKernelRoutes({ [kernel]: { [name]: 'off' } });
      try {
        const got = await zooRoutes(net).catch((error: unknown) => error);
        expect(got, `${route} off, ${net}`).not.toEqual(EXPECTED[net]);
      } finally {
        restore();
      }
    }
  }, 300_000);
});

// ---------------------------------------------------------------------------------------------
// Every route of every kernel, forced, against a float64 reference.
// ---------------------------------------------------------------------------------------------

type Backend = 'wasm' | 'cpu';
type Values = Record<string, Float32Array>;

/** One call of a kernel, the routes it is forced through on each backend, and its outputs in float64. */
interface RouteCase {
  readonly label: string;
  readonly kernel: string;
  readonly routes: Partial<Record<Backend, readonly string[]>>;
  readonly inputs: Record<string, { shape: number[]; values: Float32Array }>;
  readonly attrs: Record<string, unknown>;
  readonly reference: (v: Values) => ArrayLike<number>[];
  readonly tolerance?: number;
}

const input = (shape: number[], seed: number, scale = 1): { shape: number[]; values: Float32Array } => ({
  shape,
  values: values(sizeOf(shape), seed).map((v) => v * scale),
});

/** The forward, filter-gradient and input-gradient cases of one convolution, each through the given routes. */
function convCases(
  c: ConvShape & { label: string },
  routes: {
    forward: Partial<Record<Backend, string[]>>;
    dW: Partial<Record<Backend, string[]>>;
    dx: Partial<Record<Backend, string[]>>;
  },
): RouteCase[] {
  const info = convGeometry(c.x, c.filter, c.strides, c.pad);
  const dyShape = [c.x[0], info.outHeight, info.outWidth, c.filter[3]];
  const x = input(c.x, 1);
  const filter = input(c.filter, 2);
  const dy = input(dyShape, 3);
  const bias = input([c.filter[3]], 4);
  const conv = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
  const relu = (y: Float64Array, b: Float32Array): Float64Array =>
    y.map((v, i) => Math.max(0, v + (b[i % b.length] as number)));
  return [
    {
      label: c.label,
      kernel: 'Conv2D',
      routes: routes.forward,
      inputs: { x, filter },
      attrs: conv,
      reference: (v) => [float64Conv2D(c, v['x']!, v['filter']!)],
    },
    {
      label: `${c.label}, bias and ReLU`,
      kernel: 'FusedConv2D',
      routes: routes.forward,
      inputs: { x, filter, bias },
      attrs: { ...conv, activation: 'relu' },
      reference: (v) => [relu(float64Conv2D(c, v['x']!, v['filter']!), v['bias']!)],
    },
    {
      label: c.label,
      kernel: 'Conv2DBackpropFilter',
      routes: routes.dW,
      inputs: { x, dy },
      attrs: { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter },
      reference: (v) => [float64FilterGrad(c, v['x']!, v['dy']!)],
    },
    {
      label: c.label,
      kernel: 'Conv2DBackpropInput',
      routes: routes.dx,
      inputs: { dy, filter },
      attrs: { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x },
      reference: (v) => [float64Conv2DInputGrad(c, v['dy']!, v['filter']!)],
    },
  ];
}

const CPU_CONV = { cpu: ['im2col-gemm', 'stock'] };
const CPU_DX = { cpu: ['gemm-col2im', 'stock'] };
const pool = { x: [2, 7, 5, 8], size: 2, stride: 2 } as const;
// Rounded values make ties common, so the first-maximum rule is checked too.
const poolX = { shape: [...pool.x], values: values(sizeOf(pool.x), 5).map((v) => Math.round(v * 4)) };
// Stock wasm breaks ties otherwise, and drops the gradient of a window whose maximum is negative:
// its route is checked on distinct positive values.
const poolDistinct = { shape: [...pool.x], values: values(sizeOf(pool.x), 22).map((v) => v + 1) };
const overlapX = { shape: [1, 9, 9, 2], values: values(162, 18).map((v) => Math.round(v * 4)) };
const bnX = input([5, 7, 7, 8], 6, 3);
const bnOdd = input([4, 6], 7, 3);
const gamma = (c: number): { shape: number[]; values: Float32Array } => ({
  shape: [c],
  values: values(c, 8).map((v) => v + 1),
});
const beta = (c: number): { shape: number[]; values: Float32Array } => input([c], 9);
/** Statistics of a batch-norm input, as the forward kernel hands them to the gradient. */
const stats = (x: Float32Array, c: number): { mean: Float32Array; variance: Float32Array } => {
  const [, mean, variance] = float64BatchNorm(x, new Float32Array(c).fill(1), new Float32Array(c), 1e-3);
  return { mean: Float32Array.from(mean), variance: Float32Array.from(variance) };
};

const ROUTE_CASES: RouteCase[] = [
  ...convCases(
    { label: '5x5 same, 9x10, 8 -> 12', x: [2, 9, 10, 8], filter: [5, 5, 8, 12], strides: 1, pad: 'same' },
    {
      forward: { wasm: ['native', 'winograd-5x5', 'stock'], ...CPU_CONV },
      dW: { wasm: ['native', 'winograd-5x5', 'direct-simd', 'patches-matmul', 'transposed-conv'], ...CPU_CONV },
      dx: { wasm: ['native', 'winograd-5x5', 'direct-simd', 'col2im', 'zero-inserted-conv', 'stock'], ...CPU_DX },
    },
  ),
  ...convCases(
    { label: '3x3 valid, 9x10, 6 -> 10', x: [2, 9, 10, 6], filter: [3, 3, 6, 10], strides: 1, pad: 'valid' },
    {
      forward: { wasm: ['native', 'winograd-3x3', 'stock'], ...CPU_CONV },
      dW: { wasm: ['native', 'winograd-3x3', 'patches-matmul', 'transposed-conv'], ...CPU_CONV },
      dx: { wasm: ['native', 'winograd-3x3', 'col2im', 'zero-inserted-conv', 'stock'], ...CPU_DX },
    },
  ),
  ...convCases(
    { label: 'first layer 3x3 same, 1 -> 8', x: [2, 9, 8, 1], filter: [3, 3, 1, 8], strides: 1, pad: 'same' },
    {
      forward: { wasm: ['native', 'winograd-3x3', 'stock'], ...CPU_CONV },
      dW: { wasm: ['native', 'one-channel-simd', 'winograd-3x3', 'patches-matmul', 'transposed-conv'], ...CPU_CONV },
      dx: {
        wasm: ['native', 'one-channel-simd', 'winograd-3x3', 'col2im', 'zero-inserted-conv', 'stock'],
        ...CPU_DX,
      },
    },
  ),
  ...convCases(
    { label: 'first layer 4x4 same stride 2, 1 -> 8', x: [2, 10, 8, 1], filter: [4, 4, 1, 8], strides: 2, pad: 'same' },
    {
      forward: { wasm: ['native', 'stock'], ...CPU_CONV },
      dW: { wasm: ['native', 'one-channel-simd', 'patches-matmul', 'transposed-conv'], ...CPU_CONV },
      dx: { wasm: ['one-channel-simd', 'sub-pixel', 'col2im', 'zero-inserted-conv', 'stock'], ...CPU_DX },
    },
  ),
  ...convCases(
    { label: '5x5 same stride 2, 12x12, 6 -> 10', x: [2, 12, 12, 6], filter: [5, 5, 6, 10], strides: 2, pad: 'same' },
    {
      forward: { wasm: ['native', 'stock'], ...CPU_CONV },
      dW: { wasm: ['native', 'patches-matmul', 'transposed-conv'], ...CPU_CONV },
      dx: { wasm: ['native', 'sub-pixel', 'col2im', 'zero-inserted-conv', 'stock'], ...CPU_DX },
    },
  ),
  ...convCases(
    { label: '5x5 same stride 2, odd 11x12, 4 -> 8', x: [2, 11, 12, 4], filter: [5, 5, 4, 8], strides: 2, pad: 'same' },
    {
      forward: { wasm: ['stock'], ...CPU_CONV },
      dW: { wasm: ['direct-simd', 'patches-matmul', 'transposed-conv'], ...CPU_CONV },
      dx: { wasm: ['direct-simd', 'col2im', 'zero-inserted-conv', 'stock'], ...CPU_DX },
    },
  ),
  ...convCases(
    { label: '3x3 valid stride 2, odd 9x8, 6 -> 7', x: [2, 9, 8, 6], filter: [3, 3, 6, 7], strides: 2, pad: 'valid' },
    {
      forward: { wasm: ['stock'], ...CPU_CONV },
      dW: { wasm: ['patches-matmul', 'transposed-conv'], ...CPU_CONV },
      dx: { wasm: ['col2im', 'zero-inserted-conv', 'stock'], ...CPU_DX },
    },
  ),
  ...[
    { a: [5, 30], b: [40, 30], ta: false, tb: true, wasm: ['native', 'swapped-product', 'transpose-first', 'stock'] },
    { a: [30, 5], b: [30, 7], ta: true, tb: false, wasm: ['native', 'transpose-first', 'stock'] },
    { a: [3, 7, 5], b: [1, 6, 7], ta: true, tb: true, wasm: ['native', 'transpose-first', 'stock'] },
    { a: [2, 5, 30], b: [2, 30, 7], ta: false, tb: false, wasm: ['native', 'stock'] },
  ].map((m): RouteCase => ({
    label: `${m.a} x ${m.b}${m.ta ? ', transposeA' : ''}${m.tb ? ', transposeB' : ''}`,
    kernel: 'BatchMatMul',
    routes: { wasm: m.wasm, cpu: ['gemm', 'stock'] },
    inputs: { a: input(m.a, 10), b: input(m.b, 11) },
    attrs: { transposeA: m.ta, transposeB: m.tb },
    reference: (v) => [float64MatMul(v['a']!, m.a, v['b']!, m.b, m.ta, m.tb)],
  })),
  {
    label: '5x30 x 30x7, bias and ReLU',
    kernel: '_FusedMatMul',
    routes: { cpu: ['gemm', 'stock'] },
    inputs: { a: input([5, 30], 12), b: input([30, 7], 13), bias: input([7], 14) },
    attrs: { transposeA: false, transposeB: false, activation: 'relu' },
    reference: (v) => [
      float64MatMul(v['a']!, [5, 30], v['b']!, [30, 7], false, false).map((y, i) =>
        Math.max(0, y + (v['bias']![i % 7] as number)),
      ),
    ],
  },
  ...[
    { x: [1, 3], reps: [5, 1], wasm: ['broadcast-add', 'stock'] },
    { x: [1, 1, 1, 6], reps: [2, 3, 3, 1], wasm: ['broadcast-add', 'stock'] },
    { x: [2, 3], reps: [2, 2], wasm: ['stock'] },
  ].map((t): RouteCase => ({
    label: `[${t.x}] x [${t.reps}]`,
    kernel: 'Tile',
    routes: { wasm: t.wasm },
    inputs: { x: input(t.x, 15) },
    attrs: { reps: t.reps },
    reference: (v) => [float64Tile(v['x']!, t.x, t.reps)],
  })),
  ...(['Sum', 'Mean'] as const).flatMap((kernel) =>
    [
      { x: [17, 2, 3], axis: [0, 1], keepDims: false, wasm: ['leading-axes', 'stock'] },
      { x: [9, 6], axis: [0], keepDims: true, wasm: ['leading-axes', 'stock'] },
      { x: [4, 5, 6], axis: [2], keepDims: false, wasm: ['stock'] },
    ].map((r): RouteCase => ({
      label: `[${r.x}] over [${r.axis}]`,
      kernel,
      routes: { wasm: r.wasm },
      inputs: { x: input(r.x, 16, 100) },
      attrs: { axis: r.axis, keepDims: r.keepDims },
      reference: (v) => [float64Reduce(v['x']!, r.x, r.axis, kernel === 'Mean')],
      tolerance: 1e-6,
    })),
  ),
  {
    label: '2x2/2 valid, odd sizes, ties',
    kernel: 'MaxPoolGrad',
    routes: { wasm: ['simd-2x2', 'heap'] },
    inputs: {
      input: poolX,
      dy: input([2, 3, 2, 8], 17),
      output: {
        shape: [2, 3, 2, 8],
        values: Float32Array.from(float64MaxPool(poolX.values, [...pool.x], 2, 2, 'valid')),
      },
    },
    attrs: { filterSize: pool.size, strides: pool.stride, pad: 'valid' },
    reference: (v) => [float64MaxPoolGrad(v['input']!, [...pool.x], v['dy']!, pool.size, pool.stride, 'valid')],
    tolerance: 1e-6,
  },
  {
    label: '2x2/2 valid, odd sizes, distinct positive values',
    kernel: 'MaxPoolGrad',
    routes: { wasm: ['simd-2x2', 'heap', 'stock'] },
    inputs: {
      input: poolDistinct,
      dy: input([2, 3, 2, 8], 17),
      output: {
        shape: [2, 3, 2, 8],
        values: Float32Array.from(float64MaxPool(poolDistinct.values, [...pool.x], 2, 2, 'valid')),
      },
    },
    attrs: { filterSize: pool.size, strides: pool.stride, pad: 'valid' },
    reference: (v) => [float64MaxPoolGrad(v['input']!, [...pool.x], v['dy']!, pool.size, pool.stride, 'valid')],
    tolerance: 1e-6,
  },
  {
    label: '3x3/2 valid, overlapping windows, ties',
    kernel: 'MaxPoolGrad',
    routes: { wasm: ['heap'] },
    inputs: {
      input: overlapX,
      dy: input([1, 4, 4, 2], 19),
      output: {
        shape: [1, 4, 4, 2],
        values: Float32Array.from(float64MaxPool(overlapX.values, [1, 9, 9, 2], 3, 2, 'valid')),
      },
    },
    attrs: { filterSize: 3, strides: 2, pad: 'valid' },
    reference: (v) => [float64MaxPoolGrad(v['input']!, [1, 9, 9, 2], v['dy']!, 3, 2, 'valid')],
    tolerance: 1e-6,
  },
  {
    label: '[3,4]',
    kernel: 'Identity',
    routes: { wasm: ['share-buffer', 'stock'] },
    inputs: { x: input([3, 4], 20) },
    attrs: {},
    reference: (v) => [v['x']!],
    tolerance: 0,
  },
  ...[
    { x: bnX, wasm: ['simd', 'heap'] },
    { x: bnOdd, wasm: ['heap'] },
  ].flatMap(({ x, wasm }): RouteCase[] => {
    const c = x.shape.at(-1) as number;
    const { mean, variance } = stats(x.values, c);
    return [
      {
        label: `[${x.shape}]`,
        kernel: 'DigitBatchNormTraining',
        routes: { wasm, cpu: ['arrays'] },
        inputs: { x, gamma: gamma(c), beta: beta(c) },
        attrs: { epsilon: 1e-3 },
        reference: (v) => float64BatchNorm(v['x']!, v['gamma']!, v['beta']!, 1e-3),
      },
      {
        label: `[${x.shape}]`,
        kernel: 'DigitBatchNormTrainingGrad',
        routes: { wasm, cpu: ['arrays'] },
        inputs: {
          dy: input(x.shape, 21),
          x,
          gamma: gamma(c),
          mean: { shape: [c], values: mean },
          variance: { shape: [c], values: variance },
        },
        attrs: { epsilon: 1e-3 },
        reference: (v) => float64BatchNormGrad(v['dy']!, v['x']!, v['gamma']!, v['mean']!, v['variance']!, 1e-3),
      },
    ];
  }),
];

ROUTE_CASES.push({
  label: '[5,7,7,8], moving statistics',
  kernel: 'FusedBatchNorm',
  routes: { wasm: ['native', 'stock'] },
  inputs: {
    x: bnX,
    mean: input([8], 23),
    variance: { shape: [8], values: values(8, 24).map((v) => v + 1) },
    offset: beta(8),
    scale: gamma(8),
  },
  attrs: { varianceEpsilon: 1e-3 },
  reference: (v) => [
    Float64Array.from(v['x']!, (x, i) => {
      const c = i % 8;
      const s = v['scale']![c]! / Math.sqrt(v['variance']![c]! + 1e-3);
      return (x - v['mean']![c]!) * s + v['offset']![c]!;
    }),
  ],
});

ROUTE_CASES.push({
  label: '[3,5,7], step 3',
  kernel: 'DigitAdam',
  routes: { wasm: ['heap'] },
  inputs: {
    x: input([3, 5, 7], 25),
    m: input([3, 5, 7], 26, 0.1),
    v: { shape: [3, 5, 7], values: values(105, 27).map((v) => v * v * 0.01) },
    g: input([3, 5, 7], 28),
  },
  attrs: { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, c1: 1 - 0.9 ** 3, c2: 1 - 0.999 ** 3 },
  reference: (v) => {
    const m = v['m']!.map((m, i) => 0.9 * m + 0.1 * v['g']![i]!);
    const vv = v['v']!.map((s, i) => 0.999 * s + 0.001 * v['g']![i]! ** 2);
    const c1 = 1 - 0.9 ** 3;
    const c2 = 1 - 0.999 ** 3;
    const x = Float64Array.from(v['x']!, (x, i) => x - (0.01 * (m[i]! / c1)) / (Math.sqrt(vv[i]! / c2) + 1e-7));
    return [x, Float64Array.from(m), Float64Array.from(vv)];
  },
});

/** Every (backend, kernel, route) a case forces. */
const forcedRoutes = ROUTE_CASES.flatMap((c) =>
  (Object.entries(c.routes) as [Backend, string[]][]).flatMap(([backend, routes]) =>
    routes.map((route) => ({ backend, route, c })),
  ),
);

describe('every route against its float64 reference', () => {
  it('has a case for every route of every kernel', () => {
    const covered = new Set(forcedRoutes.map(({ backend, route, c }) => `${backend} ${c.kernel} ${route}`));
    const all = [...wasmKernels, ...cpuKernels].flatMap((k) =>
      k.routeNames.map((r) => `${k.backend} ${k.kernelName} ${r}`),
    );
    expect(all.filter((r) => !covered.has(r))).toEqual([]);
    expect([...covered].filter((r) => !all.includes(r))).toEqual([]);
  });

  const check = async (backend: Backend, route: string, c: RouteCase): Promise<void> => {
    await use(backend);
    const restore = overrideKernelRoutes({ [c.kernel]: { [route]: 'force' } }, backend);
    const tensors = Object.fromEntries(
      Object.entries(c.inputs).map(([name, t]) => [name, tf.tensor(t.values, t.shape)]),
    );
    try {
      const { result, routes } = await traceKernelRoutes(() => {
        const out = tf.engine().runKernel(c.kernel, tensors, c.attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
        const outs = Array.isArray(out) ? out : [out];
        const data = outs.map((t) => t.dataSync().slice() as Float32Array);
        tf.dispose(outs);
        return data;
      });
      expect(routes.filter((r) => r.depth === 0).map((r) => `${r.kernel}:${r.route}`)).toEqual([
        `${c.kernel}:${route}`,
      ]);
      const inputs = Object.fromEntries(Object.entries(c.inputs).map(([name, t]) => [name, t.values]));
      const expected = c.reference(inputs);
      expect(result.length).toBe(expected.length);
      result.forEach((got, i) =>
        expect(relativeError(got, expected[i] as ArrayLike<number>), `output ${i}`).toBeLessThanOrEqual(
          c.tolerance ?? 1e-4,
        ),
      );
    } finally {
      restore();
      tf.dispose(Object.values(tensors));
    }
  };
  const label = ({ backend, route, c }: (typeof forcedRoutes)[number]) =>
    [`${backend} ${c.kernel} ${route}: ${c.label}`, backend, route, c] as const;
  it.each(forcedRoutes.filter((r) => r.route !== 'native').map(label))('%s', (_, backend, route, c) =>
    check(backend, route, c),
  );
  // The Node addon's routes where it loads (CI requires it to: test/native.test.ts).
  it.skipIf(nativeAddon() === undefined).each(forcedRoutes.filter((r) => r.route === 'native').map(label))(
    '%s',
    (_, backend, route, c) => check(backend, route, c),
  );
});

describe('stock wasm MaxPoolGrad', () => {
  it("drops the gradient of a window whose maximum is negative, which the package's routes keep", async () => {
    await use('wasm');
    const x = tf.tensor4d(
      [0.5, 0.9, -0.3, -0.9, 0.4, 0.8, -0.7, -0.6, 0.8, 0.4, 0.9, -0.1, 1, -0.1, -0.9, 0.3],
      [1, 4, 4, 1],
    );
    const dy = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const output = tf.maxPool(x, 2, 2, 'valid');
    const grad = (route: string): number[] => {
      const restore = overrideKernelRoutes({ MaxPoolGrad: { [route]: 'force' } });
      try {
        const dx = tf
          .engine()
          .runKernel('MaxPoolGrad', { dy, input: x, output }, { filterSize: 2, strides: 2, pad: 'valid' });
        const out = Array.from((dx as tf.Tensor).dataSync());
        (dx as tf.Tensor).dispose();
        return out;
      } finally {
        restore();
      }
    };
    const expected = [0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 4, 0, 3, 0, 0, 0]; // -0.3 is the top-right window's maximum
    expect(grad('heap')).toEqual(expected);
    expect(grad('stock')[2]).toBe(0);
    tf.dispose([x, dy, output]);
  });
});

// ---------------------------------------------------------------------------------------------
// The override API itself.
// ---------------------------------------------------------------------------------------------

describe('overrideKernelRoutes', () => {
  // On the portable path, whose routes these tests name.
  let restoreNative: () => void = () => undefined;
  beforeAll(() => {
    restoreNative = overrideKernelRoutes({ '*': { native: 'off' } });
  });
  afterAll(() => restoreNative());

  it('refuses unknown kernels, routes and modes, changing nothing', async () => {
    expect(() => overrideKernelRoutes({ Conv2DBackpropInput: { 'sub-pixels': 'off' } })).toThrow(
      /has no route 'sub-pixels' \(routes: native, one-channel-simd, direct-simd, sub-pixel,/,
    );
    expect(() => overrideKernelRoutes({ Conv3D: { stock: 'off' } })).toThrow(/no wasm kernel 'Conv3D'/);
    expect(() => overrideKernelRoutes({ '*': { 'no-such-route': 'off' } })).toThrow(/has no route 'no-such-route'/);
    expect(() => overrideKernelRoutes({ MaxPoolGrad: { heap: 'on' as 'off' } })).toThrow(/mode 'on'/);
    // A valid entry next to an invalid one is not applied either.
    expect(() => overrideKernelRoutes({ Identity: { 'share-buffer': 'off' }, Tile: { nope: 'off' } })).toThrow();
    await use('wasm');
    const { routes } = await traceKernelRoutes(() => tf.tidy(() => tf.clone(tf.ones([2])).dataSync()));
    expect(routes.map((r) => r.route)).toContain('share-buffer');
  });

  it("restores the modes it replaced, once, and '*' reaches every kernel with the route", async () => {
    await use('wasm');
    const conv = async (): Promise<string[]> => {
      const { routes } = await traceKernelRoutes(() =>
        tf.tidy(() =>
          tf
            .conv2d(tf.zeros([1, 6, 6, 32]) as tf.Tensor4D, tf.zeros([3, 3, 32, 32]) as tf.Tensor4D, 1, 'same')
            .dataSync(),
        ),
      );
      return routes.filter((r) => r.depth === 0).map((r) => r.route);
    };
    expect(await conv()).toEqual(['winograd-3x3']);
    const off = overrideKernelRoutes({ '*': { 'winograd-3x3': 'off' } });
    expect(await conv()).toEqual(['stock']);
    const forced = overrideKernelRoutes({ Conv2D: { stock: 'force' } });
    forced();
    forced(); // a second call changes nothing
    expect(await conv()).toEqual(['stock']);
    off();
    expect(await conv()).toEqual(['winograd-3x3']);
  });

  it('traces nested calls with their depth, and nested traces see the same calls', async () => {
    await use('wasm');
    const outer = await traceKernelRoutes(async () => {
      const inner = await traceKernelRoutes(() =>
        tf.tidy(() => tf.matMul(tf.ones([3, 4]), tf.ones([5, 4]), false, true).dataSync()),
      );
      return inner.routes;
    });
    expect(outer.routes).toEqual(outer.result);
    expect(outer.routes.map((r) => [r.kernel, r.route, r.depth])).toEqual([['BatchMatMul', 'transpose-first', 0]]);
    expect(outer.routes[0]?.shapes).toEqual({ a: [3, 4], b: [5, 4] });
  });
});

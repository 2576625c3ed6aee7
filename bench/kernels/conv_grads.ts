/**
 * The convolution gradients on wasm, route by route, on every zoo layer past the first (whose
 * `one-channel-simd` routes have bench/kernels/single_channel_conv.ts): `Conv2DBackpropFilter`,
 * or with `--kernel dx` `Conv2DBackpropInput`. Each route that applies to the layer (a traced call
 * tells) is forced in turn, the order rotating every round, so all see the same machine. GFLOP/s
 * count the direct convolution's FLOPs for every route; "vs direct-simd" is the route's relative
 * difference from the direct sum (float32 rounding), blank where direct-simd does not apply.
 * Then the training steps of `strong`, `lean` and `seed` with that kernel's `direct-simd` off and
 * on (alternating every few steps in one process).
 * The routes (src/kernels/wasm/conv2d_backprop_filter.ts, conv2d_backprop_input.ts):
 * - dW transposed-conv: one XNNPACK convolution with the batch as channels (the reference)
 * - dx zero-inserted-conv, col2im, sub-pixel: XNNPACK convolutions or dy·Wᵀ and a scatter-add
 *   (the reference: col2im)
 * - winograd-3x3 / winograd-5x5: Winograd transforms (dW: products summed in native/outer_products.c)
 * - direct-simd: native/outer_products.c `filter_grad_direct` / `input_grad_direct`, on the calling thread
 * Run by hand: `npm run bench -- bench/kernels/conv_grads.ts [--kernel dW|dx] [--threads 2] [--rounds 9]`.
 */
import * as tf from '@tensorflow/tfjs-core';

import { overrideKernelRoutes, traceKernelRoutes } from '../../src/kernels/routes.js';
import { alternateSteps, median, relativeDifference, stepColumns, stepRow } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about:
    "a convolution gradient on wasm, each route forced in turn on the zoo's layers, and training steps with its direct-simd route off and on",
  backend: 'wasm',
  options: { rounds: { type: 'string', default: '9' }, kernel: { type: 'string', default: 'dW' } },
  name: (flags) => (flags.kernel === 'dx' ? 'input_grad' : 'filter_grad'),
});
const ROUNDS = Number(bench.flags.rounds);
const DX = bench.flags.kernel === 'dx';
if (!DX && bench.flags.kernel !== 'dW') throw new Error(`--kernel: dW or dx, not ${bench.flags.kernel}`);
const KERNEL = DX ? 'Conv2DBackpropInput' : 'Conv2DBackpropFilter';
const ROUTES = DX
  ? ['col2im', 'zero-inserted-conv', 'sub-pixel', 'winograd-3x3', 'winograd-5x5', 'direct-simd']
  : ['transposed-conv', 'winograd-3x3', 'winograd-5x5', 'direct-simd'];
const REFERENCE = DX ? 'col2im' : 'transposed-conv';

interface Layer {
  name: string;
  input: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: 'same' | 'valid';
}

const LAYERS: Layer[] = [
  { name: 'strong conv2', input: [64, 26, 26, 32], filter: [3, 3, 32, 32], stride: 1, pad: 'valid' },
  { name: 'strong conv3', input: [64, 24, 24, 32], filter: [5, 5, 32, 32], stride: 2, pad: 'same' },
  { name: 'strong conv4', input: [64, 12, 12, 32], filter: [3, 3, 32, 64], stride: 1, pad: 'valid' },
  { name: 'strong conv5', input: [64, 10, 10, 64], filter: [3, 3, 64, 64], stride: 1, pad: 'valid' },
  { name: 'strong conv6', input: [64, 8, 8, 64], filter: [5, 5, 64, 64], stride: 2, pad: 'same' },
  { name: 'strong conv7', input: [64, 4, 4, 64], filter: [4, 4, 64, 128], stride: 1, pad: 'valid' },
  { name: 'lean conv2', input: [64, 14, 14, 32], filter: [3, 3, 32, 64], stride: 1, pad: 'valid' },
  { name: 'lean conv3', input: [64, 12, 12, 64], filter: [3, 3, 64, 64], stride: 1, pad: 'valid' },
  { name: 'seed conv2', input: [64, 24, 24, 100], filter: [5, 5, 100, 50], stride: 1, pad: 'valid' },
];

const table = bench.results.table(
  'layers',
  `${KERNEL}, batch 64, ${bench.threads} threads, ms per call, medians of ${ROUNDS} rounds (each a median of 15 calls)`,
  [
    { key: 'layer', label: 'layer' },
    { key: 'route', label: 'route' },
    { key: 'ms', label: 'ms', digits: 2 },
    { key: 'gflops', label: 'GFLOP/s', digits: 1 },
    { key: 'vsReference', label: `vs ${REFERENCE}`, digits: 2, suffix: 'x' },
    { key: 'difference', label: 'vs direct-simd', digits: 7 },
  ],
);

function call(x: tf.Tensor4D, dy: tf.Tensor4D, filter: tf.Tensor4D, layer: Layer): tf.Tensor {
  const conv = { strides: [layer.stride, layer.stride], pad: layer.pad, dataFormat: 'NHWC' };
  return DX
    ? (tf.engine().runKernel(KERNEL, { dy, filter }, { ...conv, inputShape: layer.input }) as tf.Tensor)
    : (tf.engine().runKernel(KERNEL, { x, dy }, { ...conv, filterShape: layer.filter }) as tf.Tensor);
}

/** Whether `route`, forced, is the one that runs (it applies to the layer). */
async function takes(route: string, x: tf.Tensor4D, dy: tf.Tensor4D, filter: tf.Tensor4D, layer: Layer) {
  const restore = overrideKernelRoutes({ [KERNEL]: { [route]: 'force' } });
  try {
    const { routes } = await traceKernelRoutes(() => tf.dispose(call(x, dy, filter, layer)));
    return routes.some((r) => r.kernel === KERNEL && r.depth === 0 && r.route === route);
  } finally {
    restore();
  }
}

function timeRoute(route: string, x: tf.Tensor4D, dy: tf.Tensor4D, filter: tf.Tensor4D, layer: Layer) {
  const restore = overrideKernelRoutes({ [KERNEL]: { [route]: 'force' } });
  try {
    const ms: number[] = [];
    let out: Float32Array | undefined;
    for (let i = 0; i < 15; i++) {
      // A fresh dy each call, as in training (a kernel must not gain from an operand it has seen).
      const fresh = tf.add(dy, 0) as tf.Tensor4D;
      const started = performance.now();
      const result = call(x, fresh, filter, layer);
      const values = result.dataSync() as Float32Array;
      ms.push(performance.now() - started);
      out = values;
      tf.dispose([fresh, result]);
    }
    return { ms: median(ms), out: out! };
  } finally {
    restore();
  }
}

for (const layer of LAYERS) {
  const x = tf.randomNormal(layer.input, 0, 1, 'float32', 1) as tf.Tensor4D;
  const filter = tf.randomNormal(layer.filter, 0, 0.1, 'float32', 3) as tf.Tensor4D;
  const probe = tf.conv2d(x, filter, layer.stride, layer.pad);
  const dy = tf.randomNormal(probe.shape, 0, 1, 'float32', 2) as tf.Tensor4D;
  probe.dispose();
  const [kh, kw, ci, co] = layer.filter;
  const flops = 2 * dy.size * kh * kw * ci;
  const routes: string[] = [];
  for (const route of ROUTES) if (await takes(route, x, dy, filter, layer)) routes.push(route);
  const times = new Map<string, number[]>(routes.map((r) => [r, []]));
  const outputs = new Map<string, Float32Array>();
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < routes.length; i++) {
      const route = routes[(i + round) % routes.length]!;
      const { ms, out } = timeRoute(route, x, dy, filter, layer);
      times.get(route)!.push(ms);
      outputs.set(route, out);
    }
  }
  const reference = median(times.get(REFERENCE)!);
  for (const route of routes) {
    const ms = median(times.get(route)!);
    table.row({
      layer: `${layer.name} [${layer.input.slice(1).join(',')}] ${kh}x${kw}/${layer.stride} -> ${co}`,
      route,
      ms,
      gflops: flops / ms / 1e6,
      vsReference: reference / ms,
      difference: outputs.has('direct-simd')
        ? relativeDifference(outputs.get(route)!, outputs.get('direct-simd')!)
        : '',
    });
  }
  tf.dispose([x, dy, filter]);
}

const steps = bench.results.table(
  'steps',
  `Training step, batch 64, ${bench.threads} threads, ${KERNEL}'s direct-simd off and on, alternating every 3 steps, medians of ${ROUNDS} rounds`,
  stepColumns('direct-simd off', 'direct-simd on'),
);
for (const arch of ['strong', 'lean', 'seed']) {
  const t = await alternateSteps(
    arch,
    {
      off: () => overrideKernelRoutes({ [KERNEL]: { 'direct-simd': 'off' } }),
      on: () => overrideKernelRoutes({ [KERNEL]: { 'direct-simd': 'auto' } }),
    },
    ROUNDS,
  );
  steps.row(stepRow(arch, t.off, t.on));
}
overrideKernelRoutes({ [KERNEL]: { 'direct-simd': 'auto' } });
await bench.results.save();

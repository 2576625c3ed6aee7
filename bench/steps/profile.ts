/**
 * Profiles one training step (batch 64) of a zoo network on the wasm backend, kernel by kernel.
 * Run by hand: `npm run bench -- bench/steps/profile.ts [--threads N] [--steps S] [--batch B] [--arch seed|compact|lean|strong]` (results: bench/results/profile_<arch>.json).
 *
 * A step is what `model.trainOnBatch` / `fitDataset` run: forward, loss, gradients (tf.variableGrads)
 * and the Adam update. tf.profile() gives each kernel's time; a kernel is "forward" when it runs before
 * the loss is returned to tf.variableGrads, "optimizer" when it runs in applyGradients, "backward"
 * otherwise. Each row is the median over S profiled steps. The wall time
 * of a plain trainOnBatch step (not profiled) is printed too: the gap to the kernel sum is overhead.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { buildDigitCnn } from '../../src/model/build.js';
import { median } from '../lib/ab.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: 'one training step on wasm kernel by kernel: time, share and GFLOP/s of each, by phase',
  backend: 'wasm',
  threads: 1,
  options: {
    steps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '64' },
    arch: { type: 'string', default: 'seed' },
  },
  name: (flags) => `profile_${flags.arch}`,
});
const flags = bench.flags;
const STEPS = Number(flags.steps);
const B = Number(flags.batch);

const model = buildDigitCnn({ architecture: flags.arch, seed: 1 });
const optimizer = model.optimizer;
const xs = tf.randomUniform([B, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
const ys = tf.cast(tf.oneHot(tf.randomUniform([B], 0, 10, 'int32', 2) as tf.Tensor1D, 10), 'float32') as tf.Tensor2D;
const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
const lossFn = (): tf.Scalar =>
  tf.mean(tfl.metrics.categoricalCrossentropy(ys, model.apply(xs, { training: true }) as tf.Tensor)) as tf.Scalar;

interface Entry {
  phase: 'forward' | 'backward' | 'optimizer';
  label: string;
  ms: number;
  flops: number;
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** FLOPs (2 x MACs) of the convolution and matmul kernels, from their input and output shapes. */
function flopsOf(name: string, inputs: number[][], output: number[] | undefined): number {
  const [a, b] = inputs;
  if (a === undefined || b === undefined || output === undefined) return 0;
  switch (name) {
    case 'Conv2D':
    case 'FusedConv2D': // x [B,H,W,Ci], filter [KH,KW,Ci,Co] -> [B,OH,OW,Co]
      return 2 * prod(output) * (b[0] ?? 1) * (b[1] ?? 1) * (b[2] ?? 1);
    case 'Conv2DBackpropFilter': // x, dy -> filter [KH,KW,Ci,Co]
      return 2 * prod(b) * (output[0] ?? 1) * (output[1] ?? 1) * (output[2] ?? 1);
    case 'Conv2DBackpropInput': // dy, filter [KH,KW,Ci,Co] -> x
      return 2 * prod(a) * (b[0] ?? 1) * (b[1] ?? 1) * (b[2] ?? 1);
    case 'BatchMatMul':
    case '_FusedMatMul': {
      // [M,K] x [K,N] -> [M,N] (any transposes): K^2 = |a| |b| / |out| per batch.
      const batch = prod(output.slice(0, -2));
      const k = Math.sqrt((prod(a) * prod(b)) / (prod(output) * batch));
      return 2 * prod(output) * k;
    }
    default:
      return 0;
  }
}

type KernelInfo = Awaited<ReturnType<typeof tf.profile>>['kernels'][number];

function labelOf(k: KernelInfo): string {
  return `${k.name} ${k.inputShapes.map((s) => (s === null ? '-' : `[${s.join(',')}]`)).join(' ')}`;
}

async function profileStep(): Promise<{ entries: Entry[]; wall: number }> {
  const t0 = performance.now();
  let grads: tf.NamedTensorMap = {};
  // Kernels recorded when the loss is computed are the forward pass; those after it, the backward.
  let nForward = 0;
  const markedLoss = (): tf.Scalar => {
    const loss = lossFn();
    nForward = tf.engine().state.activeProfile.kernels.length;
    return loss;
  };
  // tf.profile() returns the engine's one activeProfile object: copy each kernel list out at once.
  const gradKernels = [
    ...(
      await tf.profile(() => {
        const r = tf.variableGrads(markedLoss, vars);
        r.value.dispose();
        grads = r.grads;
        return [] as tf.Tensor[];
      })
    ).kernels,
  ];
  const optKernels = [
    ...(
      await tf.profile(() => {
        optimizer.applyGradients(grads);
        return [] as tf.Tensor[];
      })
    ).kernels,
  ];
  const wall = performance.now() - t0;
  tf.dispose(Object.values(grads));
  const entries: Entry[] = [];
  gradKernels.forEach((k, i) => {
    entries.push({
      phase: i < nForward ? 'forward' : 'backward',
      label: labelOf(k),
      ms: k.kernelTimeMs as number,
      flops: flopsOf(
        k.name,
        k.inputShapes.filter((s) => s !== null),
        k.outputShapes[0] ?? undefined,
      ),
    });
  });
  for (const k of optKernels)
    entries.push({ phase: 'optimizer', label: k.name, ms: k.kernelTimeMs as number, flops: 0 });
  return { entries, wall };
}

// Warm-up (XNNPACK operator creation, Adam slots).
await model.trainOnBatch(xs, ys);
await profileStep();

const runs: Entry[][] = [];
const profiledWalls: number[] = [];
for (let i = 0; i < STEPS; i++) {
  const { entries, wall } = await profileStep();
  runs.push(entries);
  profiledWalls.push(wall);
}
const stepWalls: number[] = [];
for (let i = 0; i < STEPS; i++) {
  const t0 = performance.now();
  await model.trainOnBatch(xs, ys);
  stepWalls.push(performance.now() - t0);
}

// Aggregate by (phase, label): sum within a step, median over steps.
const keyOf = (e: Entry): string => `${e.phase}|${e.label}`;
const perStep = runs.map((entries) => {
  const m = new Map<string, { ms: number; flops: number; count: number }>();
  for (const e of entries) {
    const cur = m.get(keyOf(e)) ?? { ms: 0, flops: 0, count: 0 };
    cur.ms += e.ms;
    cur.flops += e.flops;
    cur.count++;
    m.set(keyOf(e), cur);
  }
  return m;
});
const keys = [...(perStep[0]?.keys() ?? [])];
const rows = keys.map((key) => {
  const [phase, label] = key.split('|') as [string, string];
  const first = perStep[0]?.get(key);
  return {
    phase,
    label,
    count: first?.count ?? 0,
    flops: first?.flops ?? 0,
    ms: median(perStep.map((m) => m.get(key)?.ms ?? 0)),
  };
});
const total = rows.reduce((a, r) => a + r.ms, 0);
const MIN_SHARE = 0.003;
rows.sort((a, b) => b.ms - a.ms);

bench.results
  .table(
    'step',
    `One ${flags.arch}-net training step, batch ${B}, wasm, ${bench.threads} thread(s), median of ${STEPS} steps`,
    [
      { key: 'kernelSum', label: 'kernel sum (ms)', digits: 1 },
      { key: 'profiledWall', label: 'profiled step wall (ms)', digits: 1 },
      { key: 'stepWall', label: 'plain trainOnBatch step (ms)', digits: 1 },
      { key: 'imagesPerSecond', label: 'images/s', digits: 0 },
    ],
  )
  .row({
    kernelSum: total,
    profiledWall: median(profiledWalls),
    stepWall: median(stepWalls),
    imagesPerSecond: (B * 1000) / median(stepWalls),
  });
const kernels = bench.results.table('kernels', `Kernels of the step, largest first (median ms per step)`, [
  { key: 'kernel', label: 'kernel (input shapes)' },
  { key: 'phase', label: 'phase' },
  { key: 'calls', label: 'calls', digits: 0 },
  { key: 'ms', label: 'ms per step', digits: 1 },
  { key: 'share', label: 'share', digits: 1, suffix: ' %' },
  { key: 'gflops', label: 'GFLOP/s', digits: 1 },
]);
let other = 0;
let otherCount = 0;
for (const r of rows) {
  if (r.ms / total < MIN_SHARE) {
    other += r.ms;
    otherCount += r.count;
    continue;
  }
  kernels.row({
    kernel: r.label,
    phase: r.phase,
    calls: r.count,
    ms: r.ms,
    share: (100 * r.ms) / total,
    gflops: r.flops > 0 ? r.flops / (r.ms * 1e6) : null,
  });
}
kernels.row({
  kernel: `(others, each < ${MIN_SHARE * 100} %)`,
  phase: null,
  calls: otherCount,
  ms: other,
  share: (100 * other) / total,
  gflops: null,
});
const byPhase = new Map<string, number>();
for (const r of rows) byPhase.set(r.phase, (byPhase.get(r.phase) ?? 0) + r.ms);
const phases = bench.results.table('phases', 'By phase', [
  { key: 'phase', label: 'phase' },
  { key: 'ms', label: 'ms per step', digits: 1 },
]);
for (const [phase, ms] of byPhase) phases.row({ phase, ms });
tf.dispose([xs, ys]);
model.dispose();
await bench.results.save();

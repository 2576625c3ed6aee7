/**
 * Output problems (issue "Never lose work, never crash on bad input"): a
 * missing or unwritable directory, a directory as the target, a full disk.
 * Each gives a clear DigitOutputError, and no partial or temp file is left.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigitOutputError, fileSystemIO, predictDigitCsv, writeFileAtomic, writeSubmission } from 'digit-recognizer';
import { toOutputError } from '../src/io/node.js';
import { tempDir, useBackend } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const isRoot = process.getuid?.() === 0;
/** As root, whether a child may run as "nobody" (needs CAP_SETUID, which some containers drop). */
const canDropToNobody = isRoot && spawnSync(process.execPath, ['-e', ''], { uid: 65534, gid: 65534 }).status === 0;
const dir = tempDir('digit-outputs-');
// Readable by everyone: the permission test runs the script as "nobody" when we are root.
chmodSync(dir, 0o755);

const HEADER = Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',');
const ROW = Array.from({ length: 784 }, (_, i) => String(i % 256)).join(',');
const testCsv = join(dir, 'test.csv');
const modelDir = join(dir, 'model');
const labels = Uint8Array.from({ length: 50 }, (_, i) => i % 10);

function tinyModel(): tfl.LayersModel {
  return tfl.sequential({
    layers: [tfl.layers.flatten({ inputShape: [28, 28, 1] }), tfl.layers.dense({ units: 10, activation: 'softmax' })],
  });
}

beforeAll(async () => {
  await useBackend('wasm');
  writeFileSync(testCsv, `${HEADER}\n${`${ROW}\n`.repeat(3000)}`);
  await tinyModel().save(fileSystemIO(modelDir));
});

async function outputError(promise: Promise<unknown>): Promise<DigitOutputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DigitOutputError);
  return error as DigitOutputError;
}

/** A fresh folder inside the temp dir. */
function folder(name: string, mode = 0o755): string {
  const path = join(dir, name);
  mkdirSync(path);
  chmodSync(path, mode);
  return path;
}

function runPredict(
  args: string[],
  asNobody = false,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(TSX, ['--conditions=digit-recognizer-source', join(ROOT, 'examples/predict.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, FORCE_COLOR: '0' },
      ...(asNobody ? { uid: 65534, gid: 65534 } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('missing directory and directory targets', () => {
  it('NO_DIRECTORY for a missing folder or a file used as a folder, from every writer', async () => {
    const missing = join(dir, 'no/such/dir/submission.csv');
    const notDir = join(testCsv, 'submission.csv');
    for (const target of [missing, notDir]) {
      expect(await outputError(writeSubmission(labels, target))).toMatchObject({ code: 'NO_DIRECTORY', path: target });
      expect(await outputError(writeFileAtomic(target, 'x'))).toMatchObject({ code: 'NO_DIRECTORY', path: target });
      expect(await outputError(predictDigitCsv(tinyModel(), testCsv, { destination: target }))).toMatchObject({
        code: 'NO_DIRECTORY',
        path: target,
      });
    }
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });

  it('IS_DIRECTORY when the target is a folder, which is left as it was', async () => {
    const target = folder('a-folder');
    writeFileSync(join(target, 'keep.txt'), 'keep');
    expect(await outputError(writeSubmission(labels, target))).toMatchObject({ code: 'IS_DIRECTORY', path: target });
    expect(await outputError(predictDigitCsv(tinyModel(), testCsv, { destination: target }))).toMatchObject({
      code: 'IS_DIRECTORY',
    });
    expect(readdirSync(target)).toEqual(['keep.txt']);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('the predict script says so in one line and exits 1', async () => {
    for (const [out, code] of [
      [join(dir, 'nope/s.csv'), /does not exist/],
      [folder('target-dir'), /is a directory/],
    ] as const) {
      const r = await runPredict(['--model', modelDir, '--data', testCsv, '--out', out]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^predict: error: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*\n$`));
      expect(r.stderr).toMatch(code);
    }
  }, 60_000);
});

describe('unwritable directory (chmod 555)', () => {
  // Root ignores permission bits, so as root the check runs the script as "nobody" instead,
  // and skips where even that is impossible.
  it.skipIf(isRoot && !canDropToNobody)(
    'NOT_WRITABLE, nothing written',
    async () => {
      const readOnly = folder('read-only', 0o555);
      const target = join(readOnly, 'submission.csv');
      if (!isRoot) {
        expect(await outputError(writeSubmission(labels, target))).toMatchObject({
          code: 'NOT_WRITABLE',
          path: target,
        });
        expect(await outputError(predictDigitCsv(tinyModel(), testCsv, { destination: target }))).toMatchObject({
          code: 'NOT_WRITABLE',
        });
      }
      const r = await runPredict(['--model', modelDir, '--data', testCsv, '--out', target], isRoot);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toBe(`predict: error: ${target}: permission denied\n`);
      expect(readdirSync(readOnly)).toEqual([]);
    },
    60_000,
  );
});

describe('disk full (ENOSPC)', () => {
  it('maps ENOSPC from a real write (/dev/full) to NO_SPACE', async () => {
    const error = await writeFile('/dev/full', 'x').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    const mapped = toOutputError(error, 'submission.csv');
    expect(mapped).toBeInstanceOf(DigitOutputError);
    expect(mapped).toMatchObject({
      code: 'NO_SPACE',
      path: 'submission.csv',
      message: 'submission.csv: no space left on device; nothing was written',
    });
  });

  // A real full disk: a 64 kB tmpfs, when this process may mount one (root in a container usually may).
  const small = join(dir, 'small-disk');
  let mounted = false;
  try {
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0777', 'tmpfs', small], { stdio: 'ignore' });
    mounted = true;
  } catch {
    mounted = false;
  }
  afterAll(() => {
    if (mounted) execFileSync('umount', [small]);
  });

  it.skipIf(!mounted)(
    'NO_SPACE mid-stream on a full 64 kB disk: no partial or temp file is left',
    async () => {
      // 3,000 rows of submission is about 20 kB: fill the disk so only part of it fits.
      writeFileSync(join(small, 'filler'), new Uint8Array(56 * 1024));
      const target = join(small, 'submission.csv');
      const progress: number[] = [];
      const error = await outputError(
        predictDigitCsv(tinyModel(), testCsv, {
          destination: target,
          chunkRows: 500,
          onProgress: (p) => progress.push(p.rows),
        }),
      );
      expect(error).toMatchObject({ code: 'NO_SPACE', path: target });
      expect(progress.length).toBeGreaterThan(0); // it failed part-way, not before starting
      expect(readdirSync(small)).toEqual(['filler']);

      const many = Uint8Array.from({ length: 20_000 }, (_, i) => i % 10);
      expect(await outputError(writeSubmission(many, target))).toMatchObject({ code: 'NO_SPACE' });
      expect(await outputError(writeFileAtomic(target, new Uint8Array(100_000)))).toMatchObject({ code: 'NO_SPACE' });
      expect(readdirSync(small)).toEqual(['filler']);

      const r = await runPredict(['--model', modelDir, '--data', testCsv, '--out', target, '--chunk-rows', '500']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toBe(`predict: error: ${target}: no space left on device; nothing was written\n`);
      expect(readdirSync(small)).toEqual(['filler']);
      // With room again it works, and replaces nothing but the target.
      writeFileSync(join(small, 'filler'), '');
      await predictDigitCsv(tinyModel(), testCsv, { destination: target });
      expect(readFileSync(target, 'utf8').split('\n')).toHaveLength(3002);
    },
    60_000,
  );
});

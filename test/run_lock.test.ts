import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FOLDER_LOCK_FILE } from 'digit-recognizer';
import { historyEpochs, pool, stateEpoch, tempDir } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..');
// node --import tsx (not the tsx launcher, which adds a parent process between signals and the script).
const NODE_ARGS = ['--import', 'tsx', '--conditions=digit-recognizer-source'];
const KAGGLE = [...NODE_ARGS, join(ROOT, 'examples/kaggle.ts')];
const SMALL = ['--model', 'compact', '--epochs', '3', '--train-limit', '2000', '--seed', '1'];
const dir = tempDir('digit-run-lock-');

function runToEnd(script: string, args: string[]) {
  const r = spawnSync(process.execPath, [...NODE_ARGS, join(ROOT, `examples/${script}.ts`), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** Starts a kaggle run in the background: its process, stderr so far, and its end. */
function start(out: string) {
  const child = spawn(process.execPath, [...KAGGLE, ...SMALL, '--out', out], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const run = { child, output: '' };
  child.stderr.on('data', (d: Buffer) => (run.output += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('exit', (code, signal) => res({ code, signal })),
  );
  return Object.assign(run, { done });
}

async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((r) => setTimeout(r, 50));
}

function lockPid(path: string): number {
  return (JSON.parse(readFileSync(join(path, FOLDER_LOCK_FILE), 'utf8')) as { pid: number }).pid;
}

describe('one kaggle run per --out folder', () => {
  it('refuses a second run on the folder in one line naming the first, which finishes intact', async () => {
    const out = join(dir, 'twice');
    const first = start(out);
    await until(() => existsSync(join(out, FOLDER_LOCK_FILE)) || first.child.exitCode !== null);
    expect(lockPid(out)).toBe(first.child.pid);

    const second = runToEnd('kaggle', [...SMALL, '--out', out]);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(
      `kaggle: error: ${out}: in use by process ${first.child.pid} (npm run kaggle -- ${[...SMALL, '--out', out].join(' ')}) since ${JSON.parse(readFileSync(join(out, FOLDER_LOCK_FILE), 'utf8')).since}; wait for it to end or stop it\n`,
    );

    const end = await first.done;
    expect(end.code, first.output).toBe(0);
    expect(first.output).not.toMatch(/resumed/);
    expect(historyEpochs(out)).toEqual(['1', '2', '3']);
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record).toMatchObject({ complete: true, resumedEpochs: 0, bestEpoch: expect.any(Number) });
    expect(record.models[0].epochSeconds).toHaveLength(3);
    expect(readFileSync(join(out, 'submission.csv'), 'utf8').split('\n')).toHaveLength(10_002);
    expect(existsSync(join(out, FOLDER_LOCK_FILE))).toBe(false);
    expect(existsSync(join(out, 'train-state', FOLDER_LOCK_FILE))).toBe(false);
  }, 300_000);

  it('writes nothing into a folder another live run holds', () => {
    const out = join(dir, 'held');
    mkdirSync(out);
    // A live process of this machine holds it: this test's own.
    const lock = {
      pid: process.pid,
      command: 'npm run kaggle -- --out held',
      hostname: hostname(),
      since: '2026-12-07T00:00:00.000Z',
      token: 'x',
      startTime: null,
      bootId: null,
    };
    writeFileSync(join(out, FOLDER_LOCK_FILE), JSON.stringify(lock));
    const r = runToEnd('kaggle', [...SMALL, '--out', out, '--force']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^kaggle: error: .*: in use by process ${process.pid} \\(npm run kaggle -- --out held\\)`),
    );
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(readdirSync(out)).toEqual([FOLDER_LOCK_FILE]);
  });

  it('takes over the lock a run killed with SIGKILL left, and resumes it', async () => {
    const out = join(dir, 'killed');
    const run = start(out);
    await until(() => stateEpoch(out) >= 1 || run.child.exitCode !== null);
    process.kill(-run.child.pid!, 'SIGKILL');
    expect((await run.done).signal).toBe('SIGKILL');
    const done = stateEpoch(out);
    expect(lockPid(out)).toBe(run.child.pid);

    const resumed = runToEnd('kaggle', [...SMALL, '--out', out]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resumed after epoch ${done}`);
    expect(historyEpochs(out)).toEqual(['1', '2', '3']);
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'))).toMatchObject({
      complete: true,
      resumedEpochs: done,
    });
    expect(existsSync(join(out, FOLDER_LOCK_FILE))).toBe(false);
    expect(existsSync(join(out, 'train-state', FOLDER_LOCK_FILE))).toBe(false);
  }, 300_000);

  it('stops on SIGTERM as on Ctrl-C, releasing the folder', async () => {
    const out = join(dir, 'terminated');
    const run = start(out);
    await until(() => stateEpoch(out) >= 1 || run.child.exitCode !== null);
    process.kill(run.child.pid!, 'SIGTERM');
    const end = await run.done;
    expect(end.code, run.output).toBe(130);
    expect(run.output).toMatch(/terminated: finishing this batch/);
    expect(run.output).toMatch(/run the same command to resume/);
    expect(existsSync(join(out, FOLDER_LOCK_FILE))).toBe(false);
    expect(existsSync(join(out, 'train-state', FOLDER_LOCK_FILE))).toBe(false);
  }, 300_000);
});

describe('negative numbers in flags', () => {
  it("get each flag's own one-line refusal", async () => {
    const csv = join(dir, 'any.csv');
    writeFileSync(csv, 'pixel0\n0\n');
    const predict = ['--model', 'pretrained', '--data', csv, '--out', join(dir, 'never.csv')];
    const cases: [string, string[], string][] = [
      ['kaggle', ['--minutes', '-3'], '--minutes must be a positive number, got "-3"'],
      ['kaggle', ['--minutes', '-0.5'], '--minutes must be a positive number, got "-0.5"'],
      ['kaggle', ['--epochs', '-3'], '--epochs must be an integer >= 1, got "-3"'],
      ['kaggle', ['--ensemble', '-2'], '--ensemble must be an integer >= 1, got "-2"'],
      ['kaggle', ['--tta', '-5'], '--tta must be an integer >= 1, got "-5"'],
      ['kaggle', ['--holdout', '-.1'], '--holdout must be a number from 0 to 0.5, got "-.1"'],
      ['kaggle', ['--train-limit', '-100'], '--train-limit must be an integer >= 100, got "-100"'],
      ['kaggle', ['--seed', '-1'], '--seed must be an integer >= 0, got "-1"'],
      ['kaggle', ['--batch-size', '-64'], '--batch-size must be an integer >= 1, got "-64"'],
      ['kaggle', ['--threads', '-2'], '--threads must be an integer >= 1, got "-2"'],
      ['kaggle', ['--max-rows', '-1'], '--max-rows must be an integer >= 1, got "-1"'],
      ['predict', [...predict, '--chunk-rows', '-4'], '--chunk-rows must be an integer >= 1, got "-4"'],
      ['predict', [...predict, '--max-rows', '-4'], '--max-rows must be an integer >= 1, got "-4"'],
      ['predict', [...predict, '--threads', '-4'], '--threads must be an integer >= 1, got "-4"'],
      ['info', ['--threads', '-1'], '--threads must be an integer >= 1, got "-1"'],
    ];
    const results = await pool(
      cases.map(([script, args], i) => async () => {
        const out = join(dir, `negative-${i}`);
        return new Promise<{ code: number | null; stderr: string; stdout: string; out: string }>((res) => {
          const extra = script === 'kaggle' ? ['--out', out] : [];
          const child = spawn(
            process.execPath,
            [...NODE_ARGS, join(ROOT, `examples/${script}.ts`), ...args, ...extra],
            {
              cwd: ROOT,
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          );
          let stderr = '';
          let stdout = '';
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          child.on('exit', (code) => res({ code, stderr, stdout, out }));
        });
      }),
      2,
    );
    cases.forEach(([script, args, message], i) => {
      const r = results[i]!;
      const what = `${script} ${args.join(' ')}`;
      expect(r.code, what).toBe(1);
      expect(r.stderr, what).toBe(`${script}: error: ${message}\n`);
      expect(r.stdout, what).toBe('');
      expect(existsSync(r.out), what).toBe(false);
    });
    expect(existsSync(join(dir, 'never.csv'))).toBe(false);
  }, 300_000);
});

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { historyEpochs, stateEpoch, tempDir } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..');
// node --import tsx (not the tsx launcher, which adds a parent process between signals and the script).
const NODE_ARGS = ['--import', 'tsx', '--conditions=digit-recognizer-source'];
const ARGS = [
  ...NODE_ARGS,
  join(ROOT, 'examples/kaggle.ts'),
  '--model',
  'compact',
  '--epochs',
  '3',
  '--train-limit',
  '4000',
  '--seed',
  '1',
];

// A budgeted run: the plan is calibrated on this machine, so its epochs are whatever fits.
const BUDGET_ARGS = [...NODE_ARGS, join(ROOT, 'examples/kaggle.ts'), '--minutes', '0.75', '--train-limit', '2000'];

function runToEnd(out: string, extra: string[] = [], args = ARGS) {
  const r = spawnSync(process.execPath, [...args, '--out', out, ...extra], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, stderr: r.stderr };
}

/** Starts the example in its own process group and kills the group with `signal` once `ready()` holds. */
async function runUntil(
  out: string,
  ready: () => boolean,
  signal: NodeJS.Signals,
  extra: string[] = [],
  args = ARGS,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, [...args, '--out', out, ...extra], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('exit', (code, sig) => res({ code, signal: sig })),
  );
  const timer = setInterval(() => {
    if (ready()) {
      clearInterval(timer);
      process.kill(-child.pid!, signal);
    }
  }, 50);
  const result = await done;
  clearInterval(timer);
  return { ...result, stderr };
}

describe('resumable example runs', () => {
  const dir = tempDir('digit-resume-');

  it('resumes after kill -9, finishes each epoch exactly once, and does not redo a finished run', async () => {
    const out = join(dir, 'killed');
    const killed = await runUntil(out, () => stateEpoch(out) >= 1, 'SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    const doneBefore = stateEpoch(out);
    expect(doneBefore).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(out, 'best-model/model.json'))).toBe(true);
    expect(existsSync(join(out, 'submission.csv'))).toBe(false);

    const resumed = runToEnd(out);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resumed after epoch ${doneBefore}`);
    expect(historyEpochs(out)).toEqual(['1', '2', '3']);
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record).toMatchObject({ complete: true, resumedEpochs: doneBefore });
    expect(readFileSync(join(out, 'submission.csv'), 'utf8').split('\n')).toHaveLength(10_002);
    // No temp file survives in any output folder.
    for (const sub of ['', 'best-model', 'train-state'])
      expect(readdirSync(join(out, sub)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const again = runToEnd(out);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already holds this finished run/);
    expect(again.stderr).not.toMatch(/epoch 1\/3/);
  });

  it('resumes a budgeted run after kill -9 with the plan it made, not a new calibration', async () => {
    const out = join(dir, 'budget');
    const killed = await runUntil(out, () => stateEpoch(out) >= 1, 'SIGKILL', [], BUDGET_ARGS);
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const planned = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')).plan;
    const resumed = runToEnd(out, [], BUDGET_ARGS);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`the interrupted run's plan (${join(out, 'plan.json')})`);
    expect(resumed.stderr).not.toMatch(/calibrated \d network/);
    expect(resumed.stderr).toMatch(/resumed after epoch \d/);
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record.plan).toMatchObject({ architecture: planned.recipe.architecture, epochs: planned.epochs });
  }, 400_000);

  it('stops cleanly on Ctrl-C and resumes; --force starts over', async () => {
    const out = join(dir, 'interrupted');
    const stopped = await runUntil(out, () => stateEpoch(out) >= 1, 'SIGINT');
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/run the same command to resume/);
    expect(stopped.stderr).not.toMatch(/^\s+at /m);
    const resumed = runToEnd(out);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resumed after epoch [12]/);
    expect(historyEpochs(out)).toEqual(['1', '2', '3']);

    const forced = runToEnd(out, ['--force']);
    expect(forced.code).toBe(0);
    expect(forced.stderr).not.toMatch(/resumed/);
    expect(forced.stderr).toMatch(/epoch 3\/3/);
  });

  it('refuses to mix a saved state with other settings', () => {
    const out = join(dir, 'killed');
    const other = runToEnd(out, ['--batch-size', '32']);
    expect(other.code).toBe(1);
    const errorLines = other.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('kaggle: error'));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/train-state: holds a training state from a run with different settings/);
    expect(errorLines[0]).toMatch(/or add --force to start over$/);
    expect(other.stderr).not.toMatch(/^\s+at /m);
  });
});

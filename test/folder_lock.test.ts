import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  buildDigitCnn,
  DigitLockError,
  fileTrainingState,
  FOLDER_LOCK_FILE,
  isDigitUserError,
  lockFolder,
  trainDigits,
} from 'digit-recognizer';
import { syntheticDigits, tempDir, useBackend } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..');
const dir = tempDir('digit-lock-');
const hasProc = existsSync('/proc/self/stat');
let folders = 0;

function folder(): string {
  const path = join(dir, `f${folders++}`);
  mkdirSync(path);
  return path;
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  } catch {
    return null;
  }
}

/** Writes a lock file as another run would have: `fields` override a record of this host and boot. */
function plantLock(path: string, fields: Record<string, unknown>): void {
  const record = {
    pid: 1,
    command: 'npm run kaggle -- --out elsewhere',
    hostname: hostname(),
    since: '2026-01-01T00:00:00.000Z',
    token: 'planted',
    startTime: null,
    bootId: bootId(),
    ...fields,
  };
  writeFileSync(join(path, FOLDER_LOCK_FILE), `${JSON.stringify(record)}\n`);
}

/** The id of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

describe('lockFolder', () => {
  it('gives a folder one holder at a time and names it to the next', async () => {
    const path = join(dir, 'created/inside');
    const lock = await lockFolder(path, { command: 'first\nrun' });
    expect(lock.holder).toMatchObject({ pid: process.pid, command: 'first run', hostname: hostname() });
    expect(JSON.parse(readFileSync(join(path, FOLDER_LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    const refused = await lockFolder(path).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DigitLockError);
    expect(isDigitUserError(refused)).toBe(true);
    const error = refused as DigitLockError;
    expect(error.message).toBe(
      `${path}: in use by process ${process.pid} (first run) since ${lock.holder.since}; wait for it to end or stop it`,
    );
    expect(error.holder.pid).toBe(process.pid);
    expect(error.directory).toBe(path);
    await lock.release();
    await lock.release();
    expect(existsSync(join(path, FOLDER_LOCK_FILE))).toBe(false);
    const again = await lockFolder(path);
    await again.release();
  });

  it('takes over the lock of a process that is gone', async () => {
    const path = folder();
    const pid = deadPid();
    plantLock(path, { pid, startTime: startTime(process.pid) });
    const lock = await lockFolder(path);
    expect(JSON.parse(readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('takes over a lock whose process id now names another process, and keeps a live one', async () => {
    const path = folder();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      const pid = child.pid!;
      plantLock(path, { pid, startTime: startTime(pid) });
      const live = await lockFolder(path).catch((e: unknown) => e);
      expect(live).toBeInstanceOf(DigitLockError);
      expect((live as DigitLockError).message).toContain(
        `in use by process ${pid} (npm run kaggle -- --out elsewhere)`,
      );
      if (!hasProc) return;
      // The same id, but the process holding it started at another time: the lock's owner is gone.
      plantLock(path, { pid, startTime: String(Number(startTime(pid)) - 1) });
      const lock = await lockFolder(path);
      expect(lock.holder.pid).toBe(process.pid);
      await lock.release();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it.skipIf(bootId() === null)('takes over a lock from before the machine restarted', async () => {
    const path = folder();
    plantLock(path, { pid: process.pid, startTime: startTime(process.pid), bootId: 'another-boot' });
    const lock = await lockFolder(path);
    await lock.release();
  });

  it('keeps a lock from another host, and says which file to delete', async () => {
    const path = folder();
    plantLock(path, { hostname: 'other-host', pid: deadPid() });
    const error = (await lockFolder(path).catch((e: unknown) => e)) as DigitLockError;
    expect(error).toBeInstanceOf(DigitLockError);
    expect(error.message).toMatch(/in use by process \d+ on other-host \(/);
    expect(error.message).toContain(`if it is no longer running there, delete ${join(path, FOLDER_LOCK_FILE)}`);
  });

  it('takes over a lock file it cannot read', async () => {
    const path = folder();
    writeFileSync(join(path, FOLDER_LOCK_FILE), '{"pid":');
    const lock = await lockFolder(path);
    await lock.release();
  });

  it('lets one of many simultaneous takers through, in this process', async () => {
    const path = folder();
    plantLock(path, { pid: deadPid() });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => lockFolder(path)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason, String(r.reason)).toBeInstanceOf(DigitLockError);
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof lockFolder>>>).value.release();
  });

  it('lets one of many simultaneous processes through, and releases when the holder exits', async () => {
    const path = folder();
    plantLock(path, { pid: deadPid() });
    const script = join(dir, 'child.mts');
    writeFileSync(
      script,
      `import { lockFolder } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/io/folder_lock.ts')).href)};
try {
  await lockFolder(process.argv[2]!, { command: 'child ' + process.argv[3] });
  process.stdout.write('locked');
  await new Promise((r) => setTimeout(r, 4000));
  process.exit(0);
} catch (error) {
  process.stdout.write((error as Error).name);
}
`,
    );
    const runs = await Promise.all(
      [1, 2, 3, 4].map(
        (k) =>
          new Promise<string>((res) => {
            const child = spawn(process.execPath, ['--import', 'tsx', script, path, String(k)], {
              cwd: ROOT,
              stdio: ['ignore', 'pipe', 'inherit'],
            });
            let out = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            child.on('exit', () => res(out));
          }),
      ),
    );
    expect(
      runs.filter((r) => r === 'locked'),
      runs.join(', '),
    ).toHaveLength(1);
    expect(runs.filter((r) => r === 'DigitLockError')).toHaveLength(3);
    // The winner left by process.exit without releasing: its exit removed the lock.
    expect(existsSync(join(path, FOLDER_LOCK_FILE))).toBe(false);
    expect(existsSync(join(path, `${FOLDER_LOCK_FILE}.takeover`))).toBe(false);
  }, 60_000);
});

describe('fileTrainingState and its lock', () => {
  it('one training or clear at a time; a training releases it however it ends', async () => {
    await useBackend('wasm');
    const path = join(dir, 'state');
    const store = fileTrainingState(path);
    const unlock = await store.lock!();
    await expect(fileTrainingState(path).lock!()).rejects.toBeInstanceOf(DigitLockError);
    await expect(store.clear()).rejects.toBeInstanceOf(DigitLockError);
    const model = buildDigitCnn({ architecture: 'compact', seed: 1 });
    const data = syntheticDigits(40);
    await expect(trainDigits(model, data, { epochs: 1, state: store })).rejects.toThrow(
      `${path}: in use by process ${process.pid}`,
    );
    await unlock();

    const result = await trainDigits(model, data, { epochs: 1, state: store });
    expect(result.history).toHaveLength(1);
    expect(existsSync(join(path, 'state.json'))).toBe(true);
    expect(existsSync(join(path, FOLDER_LOCK_FILE))).toBe(false);
    // A state from other settings is refused after the lock is taken: it is released again.
    await expect(trainDigits(model, data, { epochs: 1, batchSize: 8, state: store })).rejects.toThrow(
      /different settings/,
    );
    expect(existsSync(join(path, FOLDER_LOCK_FILE))).toBe(false);
    await store.clear();
    expect(existsSync(path)).toBe(false);
    model.dispose();
  });
});

/**
 * One user at a time for a folder (Node): a lock file in it, created atomically, naming the holder's
 * process, and taken over once that process is gone (killed, or the machine restarted).
 */
import { DigitLockError, type FolderLockHolder } from '../errors.js';
import { isRunning, nodeModules, tempFileName, toOutputError } from './node.js';

/** The lock file's name inside a locked folder. */
export const FOLDER_LOCK_FILE = '.digit-recognizer.lock';

export interface LockFolderOptions {
  /** The command line the lock records, which a refused run names (default: this process's). */
  readonly command?: string;
}

/** A held lock (see {@link lockFolder}). */
export interface FolderLock {
  readonly directory: string;
  /** The lock file. */
  readonly file: string;
  readonly holder: FolderLockHolder;
  /** Removes the lock file if it is still this lock's; later calls do nothing. */
  release(): Promise<void>;
}

/** What the lock file holds: the holder, and what tells a live holder from a reused process id. */
interface LockRecord extends FolderLockHolder {
  /** Unique to one acquisition: a release removes only its own lock. */
  readonly token: string;
  /** The holder's start time in clock ticks after boot (`/proc/<pid>/stat`), where there is /proc. */
  readonly startTime: string | null;
  /** The kernel's boot id: a lock from before a restart is stale whatever its process id. */
  readonly bootId: string | null;
}

type SyncFs = typeof import('node:fs');
type AsyncFs = typeof import('node:fs/promises');

/** Locks released synchronously if the process exits holding them (process.exit, an uncaught error). */
const held = new Map<string, { file: string; text: string; fs: SyncFs }>();
let exitHook = false;

/**
 * Locks `directory` (created if missing) for this process, or throws {@link DigitLockError} naming
 * the live holder. A lock whose process is gone is taken over: a process id that is no longer
 * running, or running but started at another time (a reused id), or a lock from before the machine
 * restarted. A lock from another host cannot be checked and is kept. Two processes starting at once
 * cannot both win: the lock file appears whole with a hard link that fails if it exists, and a stale
 * lock is removed only under a short second lock, after reading it again. Release it with
 * `release()`; a process that exits holding it (`process.exit`, an uncaught error) removes it too.
 */
export async function lockFolder(directory: string, options: LockFolderOptions = {}): Promise<FolderLock> {
  const { fs, path } = await nodeModules(directory);
  const env = await lockEnvironment();
  try {
    await fs.mkdir(directory, { recursive: true });
  } catch (error) {
    throw toOutputError(error, directory);
  }
  const file = path.join(directory, FOLDER_LOCK_FILE);
  const record = env.record(options.command ?? processCommand());
  const text = `${JSON.stringify(record)}\n`;
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await createExclusive(fs, path.join(directory, tempFileName(FOLDER_LOCK_FILE)), file, text))
      return holdLock(directory, file, text, record, env.fs);
    const found = await readLock(fs, file);
    if (found === undefined) continue;
    const state = found.record === undefined ? 'stale' : env.state(found.record);
    if (state !== 'stale') {
      throw new DigitLockError(directory, holderOf(found.record!), {
        otherHost: state === 'other-host',
        lockFile: file,
      });
    }
    await removeStale(fs, path.join(directory, tempFileName(`${FOLDER_LOCK_FILE}.takeover`)), file, found.text, env);
  }
  throw new Error(`${directory}: could not take ${FOLDER_LOCK_FILE} after 200 tries`);
}

/**
 * Throws the {@link DigitLockError} that {@link lockFolder} would, without taking the lock or
 * creating anything: for a run that should refuse before its slow start, then lock when it writes.
 */
export async function assertFolderUnlocked(directory: string): Promise<void> {
  const { fs, path } = await nodeModules(directory);
  const env = await lockEnvironment();
  const file = path.join(directory, FOLDER_LOCK_FILE);
  const found = await readLock(fs, file);
  if (found?.record === undefined) return;
  const state = env.state(found.record);
  if (state !== 'stale')
    throw new DigitLockError(directory, holderOf(found.record), { otherHost: state === 'other-host', lockFile: file });
}

function holdLock(directory: string, file: string, text: string, record: LockRecord, fs: SyncFs): FolderLock {
  const key = record.token;
  held.set(key, { file, text, fs });
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const lock of held.values()) releaseSync(lock.fs, lock.file, lock.text);
      held.clear();
    });
  }
  return {
    directory,
    file,
    holder: holderOf(record),
    release: async () => {
      if (!held.delete(key)) return;
      releaseSync(fs, file, text);
    },
  };
}

/** Removes `file` if it still holds `text`: a lock taken over as stale belongs to its new holder. */
function releaseSync(fs: SyncFs, file: string, text: string): void {
  try {
    if (fs.readFileSync(file, 'utf8') === text) fs.unlinkSync(file);
  } catch {
    // Already gone.
  }
}

/** Creates `file` holding `text` whole, or returns false if it exists. */
async function createExclusive(fs: AsyncFs, temp: string, file: string, text: string): Promise<boolean> {
  await fs.writeFile(temp, text, { flag: 'wx' });
  try {
    await fs.link(temp, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw error;
    // A file system without hard links: an exclusive create, written at once.
    try {
      await fs.writeFile(file, text, { flag: 'wx' });
      return true;
    } catch (inner) {
      if ((inner as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw inner;
    }
  } finally {
    await fs.rm(temp, { force: true });
  }
}

async function readLock(fs: AsyncFs, file: string): Promise<{ text: string; record?: LockRecord } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const record = parseRecord(text);
  return record === undefined ? { text } : { text, record };
}

/**
 * Removes the stale lock that read `staleText`, under `<lock>.takeover` so that two starters cannot
 * both remove a lock and the second remove the first's new one. Returns to be retried either way.
 */
async function removeStale(fs: AsyncFs, temp: string, file: string, staleText: string, env: LockEnvironment) {
  const guard = `${file}.takeover`;
  const guardText = `${JSON.stringify(env.record('takeover'))}\n`;
  if (!(await createExclusive(fs, temp, guard, guardText))) {
    const other = await readLock(fs, guard);
    if (other !== undefined && (other.record === undefined || env.state(other.record) === 'stale')) {
      // A taker killed in its few milliseconds under the guard.
      if ((await fs.readFile(guard, 'utf8').catch(() => undefined)) === other.text) await fs.rm(guard, { force: true });
    } else await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
    return;
  }
  try {
    // Only a guard holder removes a lock, and a stale lock's holder never releases it, so the lock
    // read here is the one removed.
    if ((await fs.readFile(file, 'utf8').catch(() => undefined)) === staleText) await fs.rm(file, { force: true });
  } finally {
    releaseSync(env.fs, guard, guardText);
  }
}

interface LockEnvironment {
  readonly fs: SyncFs;
  record(command: string): LockRecord;
  state(record: LockRecord): 'live' | 'stale' | 'other-host';
}

async function lockEnvironment(): Promise<LockEnvironment> {
  const [fs, os, crypto] = await Promise.all([import('node:fs'), import('node:os'), import('node:crypto')]);
  const bootId = (): string | null => {
    try {
      return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      return null;
    }
  };
  return {
    fs,
    record: (command) => ({
      pid: process.pid,
      command,
      hostname: os.hostname(),
      since: new Date().toISOString(),
      token: crypto.randomUUID(),
      startTime: processStartTime(fs, process.pid),
      bootId: bootId(),
    }),
    state: (record) => {
      if (record.hostname !== os.hostname()) return 'other-host';
      const boot = bootId();
      if (record.bootId !== null && boot !== null && record.bootId !== boot) return 'stale';
      if (!isRunning(record.pid)) return 'stale';
      if (record.startTime !== null) {
        const now = processStartTime(fs, record.pid);
        if (now !== null && now !== record.startTime) return 'stale';
      }
      return 'live';
    },
  };
}

/** Field 22 of `/proc/<pid>/stat` (after the command name, which may hold spaces and parentheses). */
function processStartTime(fs: SyncFs, pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function parseRecord(text: string): LockRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const nullableString = (v: unknown): v is string | null => v === null || typeof v === 'string';
  if (
    !(typeof r['pid'] === 'number' && Number.isInteger(r['pid']) && r['pid'] > 0) ||
    typeof r['command'] !== 'string' ||
    typeof r['hostname'] !== 'string' ||
    typeof r['since'] !== 'string' ||
    typeof r['token'] !== 'string' ||
    !nullableString(r['startTime']) ||
    !nullableString(r['bootId'])
  )
    return undefined;
  return value as LockRecord;
}

function holderOf(record: LockRecord): FolderLockHolder {
  return { pid: record.pid, command: oneLine(record.command), hostname: record.hostname, since: record.since };
}

function processCommand(): string {
  return ['node', ...process.argv.slice(1)].join(' ');
}

/** A command line fit for a one-line message. */
function oneLine(text: string): string {
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

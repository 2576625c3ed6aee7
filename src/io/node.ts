/**
 * Node-only file access, loaded lazily so the library stays importable in
 * browsers: nothing here is touched unless the caller passes a file path.
 */
import { DigitInputError, DigitOutputError } from '../errors.js';

type NodeFs = typeof import('node:fs/promises');
type NodePath = typeof import('node:path');

/** True when running under Node (or a runtime providing its fs module). */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** The Node `fs/promises` and `path` modules; a typed error in browsers. */
export async function nodeModules(purpose: string): Promise<{ fs: NodeFs; path: NodePath }> {
  if (!isNode()) {
    throw new DigitOutputError(
      'UNSUPPORTED',
      purpose,
      'file paths need Node; in a browser pass a Blob, stream or IOHandler instead',
    );
  }
  const [fs, path] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  return { fs, path };
}

/**
 * Writes `data` to `target` atomically: a temp file in the same directory, then
 * a rename, so a reader sees the old complete file or the new complete one and a
 * crash leaves no half-written file under the final name.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const { fs, path } = await nodeModules(target);
  const dir = path.dirname(path.resolve(target));
  await assertWritableTarget(fs, dir, target);
  const temp = path.join(dir, tempFileName(path.basename(target)));
  try {
    const handle = await fs.open(temp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw toOutputError(error, target);
  }
}

/**
 * The temp file a write of `name` goes through: `.NAME.PID.RANDOM.tmp`, beside
 * the target, renamed over it once complete. A process killed mid-write leaves
 * it behind; {@link sweepStaleTempFiles} removes it later.
 */
export function tempFileName(name: string): string {
  return `.${name}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
}

const TEMP_FILE = /^\.(.+)\.(\d+)\.[0-9a-z]+\.tmp$/;

/**
 * Removes from `directory` the temp files ({@link tempFileName}) that killed
 * writers left: those of a process no longer running on this machine, and
 * this process's own from before it started (a container may give every run
 * the same process id). A live writer's files are kept. `names` limits the
 * sweep to the temp files of those target names (for a folder shared with
 * other files). Returns the names removed; a missing folder has none.
 */
export async function sweepStaleTempFiles(
  directory: string,
  options: { readonly names?: readonly string[] } = {},
): Promise<string[]> {
  const { fs, path } = await nodeModules(directory);
  const entries = await fs.readdir(directory).catch(() => [] as string[]);
  const started = Date.now() - process.uptime() * 1000;
  const stale: string[] = [];
  for (const entry of entries) {
    const match = TEMP_FILE.exec(entry);
    if (match === null || (options.names !== undefined && !options.names.includes(match[1] as string))) continue;
    const pid = Number(match[2]);
    if (pid === process.pid) {
      const stat = await fs.stat(path.join(directory, entry)).catch(() => undefined);
      if (stat === undefined || stat.mtimeMs >= started) continue;
    } else if (isRunning(pid)) continue;
    await fs.rm(path.join(directory, entry), { force: true });
    stale.push(entry);
  }
  return stale;
}

/** Whether process `pid` is alive on this machine (sweeping temp files, folder locks). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: running, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Checks `dir` exists and `target` is not a directory, with typed errors. */
async function assertWritableTarget(fs: NodeFs, dir: string, target: string): Promise<void> {
  const dirStat = await fs.stat(dir).catch(() => undefined);
  if (dirStat === undefined) throw new DigitOutputError('NO_DIRECTORY', target, `directory ${dir} does not exist`);
  if (!dirStat.isDirectory()) throw new DigitOutputError('NO_DIRECTORY', target, `${dir} is not a directory`);
  const targetStat = await fs.stat(target).catch(() => undefined);
  if (targetStat?.isDirectory() === true)
    throw new DigitOutputError('IS_DIRECTORY', target, 'is a directory, expected a file path');
}

/** Maps a Node system error to a {@link DigitOutputError}; other errors pass through. */
export function toOutputError(error: unknown, target: string): unknown {
  if (error instanceof DigitOutputError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new DigitOutputError('NO_DIRECTORY', target, 'directory does not exist', { cause: error });
    case 'EISDIR':
      return new DigitOutputError('IS_DIRECTORY', target, 'is a directory, expected a file path', { cause: error });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new DigitOutputError('NOT_WRITABLE', target, 'permission denied', { cause: error });
    case 'ENOSPC':
    case 'EDQUOT':
      return new DigitOutputError('NO_SPACE', target, 'no space left on device; nothing was written', { cause: error });
    default:
      return error;
  }
}

/** Reads a whole file, mapping "not found" and permission problems to {@link DigitInputError}. */
export async function readFileBytes(file: string): Promise<Uint8Array> {
  const { fs } = await nodeModules(file);
  try {
    const buffer = await fs.readFile(file);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    throw toInputError(error, file);
  }
}

/** Maps a Node system error met while reading to a {@link DigitInputError}; other errors pass through. */
export function toInputError(error: unknown, file: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new DigitInputError('NOT_FOUND', { file }, 'no such file', { cause: error });
    case 'EISDIR':
      return new DigitInputError('UNREADABLE', { file }, 'is a directory, expected a file', { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new DigitInputError('UNREADABLE', { file }, 'permission denied', { cause: error });
    default:
      return error;
  }
}

/**
 * Writes `data` as `<stem>.<hash>.bin` in `directory`, then the index file
 * `indexName` (whose text names that data file) atomically, then removes older
 * `<stem>.*.bin` files. A reader that goes through the index therefore always
 * finds complete, matching data: the old set or the new one, never a mix.
 */
export async function writeIndexedData(
  directory: string,
  stem: string,
  data: Uint8Array,
  indexName: string,
  indexText: (dataFile: string) => string,
): Promise<void> {
  const { fs, path } = await nodeModules(directory);
  try {
    await fs.mkdir(directory, { recursive: true });
  } catch (error) {
    throw toOutputError(error, directory);
  }
  const { createHash } = await import('node:crypto');
  const dataFile = `${stem}.${createHash('sha256').update(data).digest('hex').slice(0, 16)}.bin`;
  await writeFileAtomic(path.join(directory, dataFile), data);
  await writeFileAtomic(path.join(directory, indexName), indexText(dataFile));
  const pattern = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.[0-9a-f]{16}\\.bin$`);
  const stale = (await fs.readdir(directory)).filter((f) => pattern.test(f) && f !== dataFile);
  await Promise.all(stale.map((f) => fs.rm(path.join(directory, f), { force: true })));
  // And the temp files killed writers left behind.
  await sweepStaleTempFiles(directory);
}

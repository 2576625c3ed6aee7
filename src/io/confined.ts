/**
 * Reading the files a model or state folder names (Node), confined to that
 * folder: the name must be a plain file name, its real path (symlinks
 * resolved) must lie inside the folder's real path, it must be a regular file
 * (not a pipe or device that never ends), and its size is checked before a
 * byte is read.
 *
 * @module
 */
import { DigitModelError } from '../errors.js';
import { modelTooLarge } from '../limits.js';
import { isPlainFileName } from './model_limits.js';
import { nodeModules } from './node.js';

/** A confined file, opened: its size is known and nothing is read yet. */
export interface ConfinedFile {
  readonly name: string;
  readonly size: number;
  /** Reads the whole file into `into` at `offset` (exactly `size` bytes), then closes it. */
  readInto(into: Uint8Array, offset: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens `name` in `directory` (whose real path is `realDirectory`) if it is a
 * plain name of a regular file that resolves inside the folder. `entry` names
 * where the name came from (`weightsManifest[0].paths[0]`), `target` the
 * folder for {@link DigitModelError}s. A missing or unreadable file throws
 * `missing(cause)`.
 */
export async function openConfinedFile(
  directory: string,
  realDirectory: string,
  name: string,
  entry: string,
  target: string,
  missing: (cause: unknown) => Error,
): Promise<ConfinedFile> {
  const { fs, path } = await nodeModules(directory);
  if (!isPlainFileName(name)) {
    throw new DigitModelError(
      'UNSAFE_PATH',
      target,
      `${entry} is ${JSON.stringify(name.slice(0, 200))}: it must be a plain file name in the folder`,
    );
  }
  let real: string;
  try {
    real = await fs.realpath(path.join(directory, name));
  } catch (error) {
    throw missing(error);
  }
  const inside = path.relative(realDirectory, real);
  if (inside === '' || path.isAbsolute(inside) || inside.split(path.sep)[0] === '..') {
    throw new DigitModelError(
      'UNSAFE_PATH',
      target,
      `${entry} ${JSON.stringify(name)} is a link to a file outside the folder; only files inside it are read`,
    );
  }
  // Non-blocking, so that a named pipe cannot hang the open; regular files read as usual.
  const { constants } = await import('node:fs');
  const flags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
  let handle: import('node:fs/promises').FileHandle;
  try {
    handle = await fs.open(real, flags);
  } catch (error) {
    throw missing(error);
  }
  let size: number;
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw new DigitModelError(
        'UNSAFE_PATH',
        target,
        `${entry} ${JSON.stringify(name)} is not a regular file (a folder, pipe or device)`,
      );
    }
    size = stat.size;
  } catch (error) {
    await handle.close();
    throw error;
  }
  return {
    name,
    size,
    readInto: async (into, offset) => {
      try {
        let filled = 0;
        while (filled < size) {
          const { bytesRead } = await handle.read(into, offset + filled, size - filled, filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        if (filled !== size) {
          throw new DigitModelError(
            'WEIGHTS_SIZE',
            target,
            `${entry} ${JSON.stringify(name)} shrank while it was read (${filled} of ${size} bytes)`,
          );
        }
      } finally {
        await handle.close();
      }
    },
    close: () => handle.close(),
  };
}

/**
 * Reads a confined file whole, refused (`TOO_LARGE`, naming `option` when the
 * caller has one to raise) before reading when it is larger than `maxBytes`.
 */
export async function readConfinedFile(
  directory: string,
  realDirectory: string,
  name: string,
  entry: string,
  target: string,
  missing: (cause: unknown) => Error,
  maxBytes: number,
  option: string | undefined,
): Promise<Uint8Array> {
  const file = await openConfinedFile(directory, realDirectory, name, entry, target, missing);
  if (file.size > maxBytes) {
    await file.close();
    const what = `${name} is ${file.size} bytes, more than allowed`;
    if (option !== undefined) throw modelTooLarge(target, what, option, maxBytes);
    throw new DigitModelError('TOO_LARGE', target, `${what} (limit ${maxBytes})`);
  }
  const bytes = new Uint8Array(file.size);
  await file.readInto(bytes, 0);
  return bytes;
}

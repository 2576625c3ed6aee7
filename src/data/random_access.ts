/**
 * Random access to the bytes of a source whose size is known: a file (Node),
 * a `Blob` or a buffer. A zip archive's directory sits at its end, so this is
 * what lets one be read piece by piece instead of whole.
 *
 * @module
 */
import { toInputError } from '../io/node.js';

/** Bytes that can be read at any offset. */
export interface RandomAccessBytes {
  /** Total size in bytes. */
  readonly size: number;
  /** Reads `length` bytes at `offset` into a new array: fewer only at the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases the source (closes a file); further reads fail. Idempotent. */
  close(): Promise<void>;
}

/** A buffer already in memory: reads are views, nothing is copied. */
export function bytesReader(bytes: Uint8Array): RandomAccessBytes {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
    close: async () => undefined,
  };
}

/** A `Blob` or `File`, read slice by slice. */
export function blobReader(blob: Blob, name: string): RandomAccessBytes {
  return {
    size: blob.size,
    read: async (offset, length) => {
      try {
        return new Uint8Array(await blob.slice(offset, Math.min(blob.size, offset + length)).arrayBuffer());
      } catch (error) {
        throw toInputError(error, name);
      }
    },
    close: async () => undefined,
  };
}

/** An open regular file of `size` bytes; `close` closes the handle. */
export function fileReader(
  handle: import('node:fs/promises').FileHandle,
  size: number,
  name: string,
): RandomAccessBytes {
  let closed = false;
  return {
    size,
    read: async (offset, length) => {
      const buffer = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      let filled = 0;
      try {
        while (filled < buffer.length) {
          const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
      } catch (error) {
        throw toInputError(error, name);
      }
      return filled === buffer.length ? buffer : buffer.subarray(0, filled);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/** The whole source in order, in reads of `chunkBytes`; closes the reader when done or stopped. */
export async function* readerChunks(reader: RandomAccessBytes, chunkBytes: number): AsyncGenerator<Uint8Array> {
  try {
    for (let offset = 0; offset < reader.size;) {
      const chunk = await reader.read(offset, chunkBytes);
      if (chunk.length === 0) return;
      offset += chunk.length;
      yield chunk;
    }
  } finally {
    await reader.close();
  }
}

import { DigitInputError, DigitModelError, DigitOutputError } from '../errors.js';
import type { StoredTrainingState, TrainingStateStore } from './state.js';
import { decodeStateIndex, DEFAULT_MAX_STATE_BYTES, encodeStateIndex, MAX_STATE_INDEX_BYTES } from './state_record.js';

/** Options of {@link indexedDbTrainingState}. */
export interface IndexedDbTrainingStateOptions {
  /** Largest tensor data, in bytes, that `read` accepts and `write` stores. Default 256 MiB. */
  readonly maxBytes?: number;
}

const STORE = 'training-state';
const KEY = 'state';

/**
 * A {@link TrainingStateStore} in the browser's IndexedDB, database `name`:
 * one record holding the state's index (metadata and tensor specs, as JSON)
 * and its tensor bytes, each as a `Blob`. `write` replaces the record in one
 * transaction, so a reload or crash mid-write leaves the previous state or the
 * new one, whole. `read` treats the record as untrusted: it checks the Blobs'
 * sizes before reading them (`maxBytes`, and a fixed bound on the index), then
 * every field of the index, and that the bytes are exactly what the specs
 * describe; anything else is a {@link DigitModelError}.
 */
export function indexedDbTrainingState(name: string, options: IndexedDbTrainingStateOptions = {}): TrainingStateStore {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256)
    throw new RangeError(`indexedDbTrainingState: the database name must be 1 to 256 characters, got ${String(name)}`);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_STATE_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
    throw new RangeError(`indexedDbTrainingState: maxBytes must be a positive integer, got ${maxBytes}`);
  const description = `IndexedDB "${name}"`;
  if (typeof indexedDB === 'undefined') {
    throw new DigitInputError(
      'UNSUPPORTED',
      { file: description },
      'IndexedDB is not available here (in Node, use fileTrainingState(directory))',
    );
  }
  const factory = indexedDB;
  const bad = (code: 'BAD_JSON' | 'WEIGHTS_SIZE', problem: string): never => {
    throw new DigitModelError(code, description, problem);
  };

  return {
    description,
    read: async (): Promise<StoredTrainingState | undefined> => {
      let record: unknown;
      try {
        record = await transact(factory, name, 'readonly', (store) => store.get(KEY));
      } catch (error) {
        throw new DigitInputError('UNREADABLE', { file: description }, `could not be read: ${reason(error)}`, {
          cause: error,
        });
      }
      if (record === undefined) return undefined;
      if (typeof record !== 'object' || record === null) return bad('BAD_JSON', 'the stored record is not an object');
      const { index, data } = record as { index?: unknown; data?: unknown };
      if (!(index instanceof Blob) || !(data instanceof Blob))
        return bad('BAD_JSON', 'the stored record is not a training state (no index and data)');
      if (index.size > MAX_STATE_INDEX_BYTES)
        return bad('WEIGHTS_SIZE', `the state's index takes ${index.size} bytes, more than ${MAX_STATE_INDEX_BYTES}`);
      if (data.size > maxBytes)
        return bad('WEIGHTS_SIZE', `the state's tensors take ${data.size} bytes, more than maxBytes (${maxBytes})`);
      const { meta, specs, dataBytes } = decodeStateIndex(await index.text(), description, maxBytes);
      if (data.size !== dataBytes)
        return bad('WEIGHTS_SIZE', `the specs describe ${dataBytes} bytes of tensors but ${data.size} are stored`);
      return { meta, specs, data: await data.arrayBuffer() };
    },
    write: async (state) => {
      const index = encodeStateIndex(state, description, maxBytes);
      const record = { index: new Blob([index], { type: 'application/json' }), data: new Blob([state.data]) };
      try {
        await transact(factory, name, 'readwrite', (store) => store.put(record, KEY));
      } catch (error) {
        throw writeError(description, error);
      }
    },
    clear: async () => {
      try {
        await transact(factory, name, 'readwrite', (store) => store.delete(KEY));
      } catch (error) {
        throw writeError(description, error);
      }
    },
  };
}

/**
 * Runs one request in its own transaction and resolves with its result once
 * the transaction has committed (not merely once the request succeeded), so a
 * resolved write is one a reload will see. Writes ask for `strict` durability.
 */
async function transact<T>(
  factory: IDBFactory,
  name: string,
  mode: IDBTransactionMode,
  run: (store: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const db = await openDatabase(factory, name);
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode, { durability: mode === 'readwrite' ? 'strict' : 'default' });
      const request = run(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onabort = tx.onerror = () => reject(tx.error ?? request.error ?? new Error('transaction aborted'));
    });
  } finally {
    db.close();
  }
}

/** Opens `name`, adding the object store in a version upgrade when the database exists without it. */
async function openDatabase(factory: IDBFactory, name: string): Promise<IDBDatabase> {
  const db = await opened(factory.open(name));
  if (db.objectStoreNames.contains(STORE)) return db;
  const version = db.version + 1;
  db.close();
  return opened(factory.open(name, version));
}

function opened(request: IDBOpenDBRequest): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
    };
    request.onsuccess = () => {
      const db = request.result;
      // Let another tab's upgrade go ahead rather than block it.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    request.onerror = () => reject(request.error ?? new Error('could not open the database'));
  });
}

function writeError(description: string, error: unknown): DigitOutputError {
  const full = error instanceof DOMException && error.name === 'QuotaExceededError';
  return new DigitOutputError(
    full ? 'NO_SPACE' : 'NOT_WRITABLE',
    description,
    full ? `the browser's storage quota is exhausted: ${reason(error)}` : `could not be written: ${reason(error)}`,
    { cause: error },
  );
}

function reason(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

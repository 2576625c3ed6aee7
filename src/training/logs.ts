import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * Reads a metric from tfjs-layers logs as a number. Logs are typed as numbers,
 * but `fitDataset` passes validation metrics (`val_*`) to callbacks as 0-d
 * tensors, so both forms are handled.
 */
export async function logValue(logs: tfl.Logs | undefined, key: string): Promise<number | undefined> {
  const raw: unknown = logs?.[key];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'object' && 'data' in raw && typeof raw.data === 'function') {
    const values = await (raw as { data(): Promise<ArrayLike<number>> }).data();
    return values[0];
  }
  return Number(raw);
}

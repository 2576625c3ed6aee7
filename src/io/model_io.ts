import * as tf from '@tensorflow/tfjs-core';
import { fileSystemIO } from './file_io.js';
import { boundedHttpIO } from './http_io.js';
import { checkModelArtifacts, type ResolvedModelLimits } from './model_limits.js';
import { storedModelIO } from './stored_io.js';

/**
 * Where a model is saved or loaded: a directory path (Node), a `file://` URL,
 * any URL scheme TensorFlow.js routes itself (`indexeddb://`, `localstorage://`,
 * `http(s)://`), or your own `tf.io.IOHandler`.
 */
export type ModelDestination = string | tf.io.IOHandler;

/** Turns a {@link ModelDestination} into what `model.save`/`loadLayersModel` accept. */
export function resolveModelIO(destination: ModelDestination): string | tf.io.IOHandler {
  if (typeof destination !== 'string') return destination;
  if (destination.startsWith('file://')) return fileSystemIO(decodeURIComponent(new URL(destination).pathname));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(destination)) return destination;
  return fileSystemIO(destination);
}

/**
 * The handler a model is loaded through, within `limits`: folders and
 * `file://` confined to the folder, `http(s)://` confined to the weights files
 * beside `model.json`, `indexeddb://` and `localstorage://` sized from their
 * stored info before loading, and every other handler checked once it has
 * loaded (it reads by itself, so only afterwards).
 */
export function resolveModelLoader(source: ModelDestination, limits: ResolvedModelLimits): tf.io.IOHandler | string {
  if (typeof source !== 'string') return checkedAfterLoad(source, 'custom IOHandler', limits);
  if (source.startsWith('file://')) return fileSystemIO(decodeURIComponent(new URL(source).pathname), limits);
  if (/^https?:\/\//i.test(source)) return boundedHttpIO(source, limits);
  if (/^(indexeddb|localstorage):\/\//i.test(source)) return storedModelIO(source, limits);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    const handlers = tf.io.getLoadHandlers(source);
    // None (or several): TensorFlow.js gives its own error for the URL.
    return handlers.length === 1 ? checkedAfterLoad(handlers[0] as tf.io.IOHandler, source, limits) : source;
  }
  return fileSystemIO(source, limits);
}

function checkedAfterLoad(handler: tf.io.IOHandler, target: string, limits: ResolvedModelLimits): tf.io.IOHandler {
  const load = handler.load?.bind(handler);
  if (load === undefined) return handler;
  return {
    load: async () => {
      const artifacts = await load();
      checkModelArtifacts(artifacts, target, limits);
      return artifacts;
    },
  };
}

/** A short name of a destination for messages. */
export function describeModelIO(destination: ModelDestination): string {
  return typeof destination === 'string' ? destination : 'custom IOHandler';
}

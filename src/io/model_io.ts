import type * as tf from '@tensorflow/tfjs-core';
import { fileSystemIO } from './file_io.js';

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

/** A short name of a destination for messages. */
export function describeModelIO(destination: ModelDestination): string {
  return typeof destination === 'string' ? destination : 'custom IOHandler';
}

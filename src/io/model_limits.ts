/**
 * The checks every model source goes through before, and after, its bytes
 * are read: weight paths that are plain file names (no traversal, no URL, no
 * duplicates), weight specs whose declared size is bounded, and a topology of
 * bounded depth and layer count. Each refusal is a {@link DigitModelError}
 * naming the manifest entry.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { DigitModelError } from '../errors.js';
import {
  DEFAULT_MAX_LAYERS,
  DEFAULT_MAX_MODEL_JSON_BYTES,
  DEFAULT_MAX_TOPOLOGY_DEPTH,
  DEFAULT_MAX_WEIGHT_BYTES,
  limitOption,
  modelTooLarge,
} from '../limits.js';

/** Bounds on a model read from a folder, URL, browser storage or `IOHandler`. */
export interface DigitModelLimits {
  /** Largest `model.json` (or stored topology and specs) in bytes; default {@link DEFAULT_MAX_MODEL_JSON_BYTES}. */
  readonly maxModelJsonBytes?: number;
  /** Most weight bytes declared and read; default {@link DEFAULT_MAX_WEIGHT_BYTES}. */
  readonly maxWeightBytes?: number;
  /** Deepest nesting in the topology; default {@link DEFAULT_MAX_TOPOLOGY_DEPTH}. */
  readonly maxTopologyDepth?: number;
  /** Most layers in the topology, nested models included; default {@link DEFAULT_MAX_LAYERS}. */
  readonly maxLayers?: number;
}

/** {@link DigitModelLimits} with every default filled in. */
export type ResolvedModelLimits = Required<DigitModelLimits>;

/** Fills in the defaults; a `RangeError` for a value that is not a positive integer or `Infinity`. */
export function resolveModelLimits(limits: DigitModelLimits = {}): ResolvedModelLimits {
  return {
    maxModelJsonBytes: limitOption(limits.maxModelJsonBytes, 'maxModelJsonBytes', DEFAULT_MAX_MODEL_JSON_BYTES),
    maxWeightBytes: limitOption(limits.maxWeightBytes, 'maxWeightBytes', DEFAULT_MAX_WEIGHT_BYTES),
    maxTopologyDepth: limitOption(limits.maxTopologyDepth, 'maxTopologyDepth', DEFAULT_MAX_TOPOLOGY_DEPTH),
    maxLayers: limitOption(limits.maxLayers, 'maxLayers', DEFAULT_MAX_LAYERS),
  };
}

/** True for a weights file name that names a file in the model's own folder and nothing else. */
export function isPlainFileName(name: string): boolean {
  return (
    name !== '' &&
    name !== '.' &&
    name !== '..' &&
    name.length <= 255 &&
    // Separators of either system, a drive or URL scheme's colon, NUL and other control characters.
    !/[/\\:\u0000-\u001f\u007f]/.test(name)
  );
}

/** The weights file names of a manifest, in order; refuses anything but distinct plain names. */
export function checkWeightPaths(manifest: tf.io.WeightsManifestConfig, target: string): string[] {
  const seen = new Map<string, string>();
  const names: string[] = [];
  manifest.forEach((group, g) => {
    group.paths.forEach((name, p) => {
      const entry = `weightsManifest[${g}].paths[${p}]`;
      if (!isPlainFileName(name)) {
        throw new DigitModelError(
          'UNSAFE_PATH',
          target,
          `${entry} is ${JSON.stringify(name.slice(0, 200))}: weights must be plain file names in the model's folder (no folders, "..", absolute paths or URLs)`,
        );
      }
      const earlier = seen.get(name);
      if (earlier !== undefined) {
        throw new DigitModelError(
          'UNSAFE_PATH',
          target,
          `${entry} names ${JSON.stringify(name)} again (as ${earlier}); each weights file may be listed once`,
        );
      }
      seen.set(name, entry);
      names.push(name);
    });
  });
  return names;
}

/** Bytes per element as stored: quantised weights (uint8/uint16/float16, e.g. from tfjs-converter) at their width. */
const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/**
 * The bytes `specs` declare, refused (`BAD_JSON`) when a spec is malformed and
 * (`TOO_LARGE`) when they add up to more than `maxWeightBytes`, before any
 * weight is read. `where(i)` names spec `i` in messages.
 */
export function declaredWeightBytes(
  specs: readonly tf.io.WeightsManifestEntry[],
  target: string,
  limits: ResolvedModelLimits,
  where: (i: number) => string,
): number {
  let total = 0;
  specs.forEach((spec, i) => {
    const s = spec as unknown as { name?: unknown; shape?: unknown; dtype?: unknown; quantization?: unknown };
    const entry = where(i);
    const quantization = s.quantization as { dtype?: unknown } | undefined;
    const dtype = quantization?.dtype ?? s.dtype;
    const width = typeof dtype === 'string' ? DTYPE_BYTES[dtype] : undefined;
    if (typeof s.name !== 'string' || !Array.isArray(s.shape) || width === undefined) {
      throw new DigitModelError(
        'BAD_JSON',
        target,
        `${entry} needs a name, a shape and a numeric dtype (float32, int32, bool, uint8, uint16, float16, complex64)`,
      );
    }
    let bytes = width;
    for (const d of s.shape as unknown[]) {
      if (!(typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
        throw new DigitModelError(
          'BAD_JSON',
          target,
          `${entry} (${s.name}) has shape ${JSON.stringify(s.shape)}; dimensions must be non-negative integers`,
        );
      }
      bytes *= d;
      // Stop multiplying past the bound, before the product loses precision.
      if (bytes > limits.maxWeightBytes) break;
    }
    total += bytes;
    if (total > limits.maxWeightBytes) {
      throw modelTooLarge(
        target,
        `the weights declared up to ${entry} (${s.name}) take more bytes than allowed`,
        'maxWeightBytes',
        limits.maxWeightBytes,
      );
    }
  });
  return total;
}

/**
 * Refuses a topology nested deeper than `maxTopologyDepth` or holding more
 * than `maxLayers` layers (the elements of every `layers` list, nested
 * models' included), walking it without recursion.
 */
export function checkTopology(topology: unknown, target: string, limits: ResolvedModelLimits): void {
  const stack: [unknown, number][] = [[topology, 1]];
  let layers = 0;
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (typeof value !== 'object' || value === null) continue;
    if (depth > limits.maxTopologyDepth) {
      throw modelTooLarge(
        target,
        'the model topology is nested deeper than allowed',
        'maxTopologyDepth',
        limits.maxTopologyDepth,
      );
    }
    if (Array.isArray(value)) {
      for (const item of value) stack.push([item, depth + 1]);
      continue;
    }
    for (const [key, item] of Object.entries(value)) {
      if (key === 'layers' && Array.isArray(item)) {
        layers += item.length;
        if (layers > limits.maxLayers)
          throw modelTooLarge(
            target,
            'the model topology holds more layers than allowed',
            'maxLayers',
            limits.maxLayers,
          );
      }
      stack.push([item, depth + 1]);
    }
  }
}

/**
 * The checks for artifacts an `IOHandler` already read (browser storage, a
 * custom handler): topology bounds, well-formed specs within the weight bound,
 * and weight data of exactly the declared size.
 */
export function checkModelArtifacts(
  artifacts: tf.io.ModelArtifacts,
  target: string,
  limits: ResolvedModelLimits,
): void {
  checkTopology(artifacts.modelTopology, target, limits);
  const specs = artifacts.weightSpecs ?? [];
  const expected = declaredWeightBytes(specs, target, limits, (i) => `weightSpecs[${i}]`);
  const data = artifacts.weightData;
  const held =
    data === undefined ? 0 : Array.isArray(data) ? data.reduce((n, b) => n + b.byteLength, 0) : data.byteLength;
  if (held !== expected) {
    throw new DigitModelError(
      'WEIGHTS_SIZE',
      target,
      `weights hold ${held} bytes but the weight specs describe ${expected}; the stored model is incomplete or mixed`,
    );
  }
}

import * as tf from '@tensorflow/tfjs-core';
import { DigitModelError } from '../errors.js';
import { openConfinedFile, readConfinedFile, type ConfinedFile } from './confined.js';
import {
  checkTopology,
  checkWeightPaths,
  declaredWeightBytes,
  resolveModelLimits,
  type DigitModelLimits,
  type ResolvedModelLimits,
} from './model_limits.js';
import { nodeModules, writeIndexedData } from './node.js';

const MODEL_JSON = 'model.json';

/**
 * A `tf.io.IOHandler` that saves a model to, and loads it from, a directory on
 * disk in Node, in the layout `tfjs-node` uses (`model.json` + weights), so the
 * folder loads anywhere TensorFlow.js loads models.
 *
 * Saving never exposes a mix of old and new: the weights go to a new file named
 * after their content hash, then `model.json` is replaced atomically to point at
 * it, and only then are older weight files removed.
 *
 * Loading reads only what lies in the folder: weights paths must be distinct
 * plain file names whose real path (symlinks resolved) is inside it, regular
 * files; `model.json` and the declared weight bytes are bounded by `limits`
 * before they are read, and so is the topology's depth and layer count.
 * Refusals are {@link DigitModelError}s (`UNSAFE_PATH`, `TOO_LARGE`) naming
 * the manifest entry.
 */
export function fileSystemIO(directory: string, limits: DigitModelLimits = {}): tf.io.IOHandler {
  const resolved = resolveModelLimits(limits);
  return {
    save: (artifacts) => saveToDirectory(directory, artifacts),
    load: () => loadFromDirectory(directory, resolved),
  };
}

async function saveToDirectory(directory: string, artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new DigitModelError(
      'BAD_OPTIONS',
      directory,
      'binary model topologies are not supported; save a LayersModel',
    );
  }
  const weights = weightBytes(artifacts.weightData);
  await writeIndexedData(directory, 'weights', weights, MODEL_JSON, (weightsName) => {
    const modelJson: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology ?? {},
      weightsManifest: [{ paths: [weightsName], weights: artifacts.weightSpecs ?? [] }],
      ...(artifacts.format === undefined ? {} : { format: artifacts.format }),
      ...(artifacts.generatedBy === undefined ? {} : { generatedBy: artifacts.generatedBy }),
      ...(artifacts.convertedBy == null ? {} : { convertedBy: artifacts.convertedBy }),
      ...(artifacts.trainingConfig === undefined ? {} : { trainingConfig: artifacts.trainingConfig }),
      ...(artifacts.userDefinedMetadata === undefined ? {} : { userDefinedMetadata: artifacts.userDefinedMetadata }),
    };
    return JSON.stringify(modelJson);
  });
  return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
}

function weightBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  const buffers = Array.isArray(data) ? data : [data];
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out;
}

async function loadFromDirectory(directory: string, limits: ResolvedModelLimits): Promise<tf.io.ModelArtifacts> {
  const { fs, path } = await nodeModules(directory);
  const jsonPath = path.join(directory, MODEL_JSON);
  const expectation = 'expected a folder saved by this library or tfjs';
  let realDirectory: string;
  try {
    realDirectory = await fs.realpath(directory);
    if (!(await fs.stat(realDirectory)).isDirectory()) {
      throw new DigitModelError('NOT_FOUND', directory, `is a file, expected a model folder; ${expectation}`);
    }
  } catch (error) {
    if (error instanceof DigitModelError) throw error;
    throw new DigitModelError('NOT_FOUND', directory, `no ${MODEL_JSON}: the folder does not exist; ${expectation}`, {
      cause: error,
    });
  }
  // Every file is opened through its real path and must lie in the folder: a model from someone else
  // cannot make this process read, and leak as "weights", any other file it can read.
  const bytes = await readConfinedFile(
    directory,
    realDirectory,
    MODEL_JSON,
    MODEL_JSON,
    directory,
    (cause) => {
      const code = (cause as NodeJS.ErrnoException).code;
      const what = code === 'ENOENT' ? `no ${MODEL_JSON} here` : `cannot read ${MODEL_JSON} (${code ?? String(cause)})`;
      return new DigitModelError('NOT_FOUND', directory, `${what}; ${expectation}`, { cause });
    },
    limits.maxModelJsonBytes,
    'maxModelJsonBytes',
  );
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(new TextDecoder().decode(bytes)) as tf.io.ModelJSON;
  } catch (error) {
    throw new DigitModelError('BAD_JSON', jsonPath, `is not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (
    typeof modelJson !== 'object' ||
    modelJson === null ||
    typeof modelJson.modelTopology !== 'object' ||
    !Array.isArray(modelJson.weightsManifest)
  ) {
    throw new DigitModelError(
      'BAD_JSON',
      jsonPath,
      'is not a TensorFlow.js model (needs modelTopology and weightsManifest)',
    );
  }
  modelJson.weightsManifest.forEach((group: unknown, i) => {
    const { paths, weights } = (group ?? {}) as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string') || !Array.isArray(weights)) {
      throw new DigitModelError(
        'BAD_JSON',
        jsonPath,
        `weightsManifest[${i}] needs a "paths" list of file names and a "weights" list`,
      );
    }
  });
  checkTopology(modelJson.modelTopology, jsonPath, limits);
  checkWeightPaths(modelJson.weightsManifest, jsonPath);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const where: string[] = [];
  modelJson.weightsManifest.forEach((group, g) => {
    group.weights.forEach((spec, w) => {
      specs.push(spec);
      where.push(`weightsManifest[${g}].weights[${w}]`);
    });
  });
  // Checked before any weight is read.
  const expected = declaredWeightBytes(specs, jsonPath, limits, (i) => where[i] as string);
  const files: ConfinedFile[] = [];
  try {
    for (const [g, group] of modelJson.weightsManifest.entries()) {
      for (const [p, file] of group.paths.entries()) {
        files.push(
          await openConfinedFile(
            directory,
            realDirectory,
            file,
            `weightsManifest[${g}].paths[${p}]`,
            directory,
            (cause) =>
              new DigitModelError(
                'MISSING_WEIGHTS',
                directory,
                `weights file ${file} named in ${MODEL_JSON} is missing or unreadable`,
                { cause },
              ),
          ),
        );
      }
    }
    const held = files.reduce((n, f) => n + f.size, 0);
    if (held !== expected) {
      throw new DigitModelError(
        'WEIGHTS_SIZE',
        directory,
        `weights hold ${held} bytes but ${MODEL_JSON} describes ${expected}; the folder is incomplete or mixed`,
      );
    }
  } catch (error) {
    await Promise.all(files.map((f) => f.close().catch(() => undefined)));
    throw error;
  }
  const weights = new Uint8Array(expected);
  let offset = 0;
  for (const [i, file] of files.entries()) {
    try {
      await file.readInto(weights, offset);
    } catch (error) {
      await Promise.all(files.slice(i + 1).map((f) => f.close().catch(() => undefined)));
      throw error;
    }
    offset += file.size;
  }
  return tf.io.getModelArtifactsForJSONSync(modelJson, specs, weights.buffer);
}

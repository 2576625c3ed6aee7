import * as tf from '@tensorflow/tfjs-core';
import { DigitModelError } from '../errors.js';
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
 */
export function fileSystemIO(directory: string): tf.io.IOHandler {
  return {
    save: (artifacts) => saveToDirectory(directory, artifacts),
    load: () => loadFromDirectory(directory),
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

const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  string: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

async function loadFromDirectory(directory: string): Promise<tf.io.ModelArtifacts> {
  const { fs, path } = await nodeModules(directory);
  const jsonPath = path.join(directory, MODEL_JSON);
  let text: string;
  try {
    text = await fs.readFile(jsonPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const folder = await fs.stat(directory).catch(() => undefined);
    const what =
      folder === undefined
        ? `no ${MODEL_JSON}: the folder does not exist`
        : !folder.isDirectory()
          ? 'is a file, expected a model folder'
          : code === 'ENOENT'
            ? `no ${MODEL_JSON} here`
            : `cannot read ${MODEL_JSON} (${code ?? String(error)})`;
    throw new DigitModelError('NOT_FOUND', directory, `${what}; expected a folder saved by this library or tfjs`, {
      cause: error,
    });
  }
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(text) as tf.io.ModelJSON;
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
  const specs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const group of modelJson.weightsManifest) {
    specs.push(...group.weights);
    for (const file of group.paths) {
      const weightsPath = path.join(directory, file);
      try {
        chunks.push(new Uint8Array(await fs.readFile(weightsPath)));
      } catch (error) {
        throw new DigitModelError(
          'MISSING_WEIGHTS',
          directory,
          `weights file ${file} named in ${MODEL_JSON} is missing or unreadable`,
          { cause: error },
        );
      }
    }
  }
  const weights = weightBytes(
    chunks.map((c) => c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength) as ArrayBuffer),
  );
  // Quantised weights (uint8/uint16/float16, e.g. from tfjs-converter) are stored at their quantised width.
  const expected = specs.reduce(
    (n, s) => n + (DTYPE_BYTES[s.quantization?.dtype ?? s.dtype] ?? 4) * s.shape.reduce((a, b) => a * b, 1),
    0,
  );
  if (weights.byteLength !== expected) {
    throw new DigitModelError(
      'WEIGHTS_SIZE',
      directory,
      `weights hold ${weights.byteLength} bytes but ${MODEL_JSON} describes ${expected}; the folder is incomplete or mixed`,
    );
  }
  return tf.io.getModelArtifactsForJSONSync(modelJson, specs, weights.buffer as ArrayBuffer);
}

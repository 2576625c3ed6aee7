/**
 * Loading a model over HTTP(S) with the same confinement as a folder:
 * TensorFlow.js' own `tf.io.http` handler does the work, through a fetch that
 * reads `model.json` (bounded), checks it before TensorFlow.js sees it, and
 * then fetches only the weights files it names, beside it, up to the bytes
 * they declare. A `model.json` cannot send the loader to another URL.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { DigitModelError } from '../errors.js';
import { modelTooLarge } from '../limits.js';
import { checkTopology, checkWeightPaths, declaredWeightBytes, type ResolvedModelLimits } from './model_limits.js';

/** A `tf.io.IOHandler` loading `url` (a `model.json`) within `limits`. */
export function boundedHttpIO(url: string, limits: ResolvedModelLimits): tf.io.IOHandler {
  const platformFetch = (input: string, init?: RequestInit): Promise<Response> =>
    tf.env().platform.fetch(input, init) as Promise<Response>;
  let weightUrls: Set<string> | undefined;
  let budget = 0;
  let received = 0;
  const fetchFunc = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const requested = input instanceof Request ? input.url : String(input);
    if (weightUrls === undefined) {
      const response = await platformFetch(requested, init);
      // tfjs reports a failed status itself.
      if (!response.ok) return response;
      const bytes = await readBody(response, limits.maxModelJsonBytes, () =>
        modelTooLarge(url, 'model.json is larger than allowed', 'maxModelJsonBytes', limits.maxModelJsonBytes),
      );
      const text = new TextDecoder().decode(bytes);
      const { names, expected } = checkModelJson(text, url, limits);
      // The weights URLs as tf.io.http makes them: beside model.json, with its query string.
      const slash = requested.lastIndexOf('/');
      const query = requested.lastIndexOf('?') > slash ? requested.slice(requested.lastIndexOf('?')) : '';
      weightUrls = new Set(names.map((name) => `${requested.slice(0, slash + 1)}${name}${query}`));
      budget = expected;
      return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
    }
    if (!weightUrls.has(requested)) {
      throw new DigitModelError(
        'UNSAFE_PATH',
        url,
        `refused to fetch ${requested}: it is not a weights file named in model.json`,
      );
    }
    const response = await platformFetch(requested, init);
    if (!response.ok) {
      throw new DigitModelError('MISSING_WEIGHTS', url, `weights file ${requested} answered HTTP ${response.status}`);
    }
    // The files are fetched in parallel: the bytes of all of them together are held to the declared total.
    const bytes = await readBody(
      response,
      budget,
      () => tooMany(url, budget),
      (n) => (received += n) > budget,
    );
    return new Response(bytes.buffer as ArrayBuffer);
  };
  return tf.io.http(url, { fetchFunc });
}

function tooMany(url: string, budget: number): DigitModelError {
  return new DigitModelError(
    'WEIGHTS_SIZE',
    url,
    `the weights files hold more than the ${budget} bytes model.json describes; the model is incomplete or mixed`,
  );
}

/** Checks a `model.json` text as a folder's is checked; returns its weights file names and declared bytes. */
function checkModelJson(text: string, url: string, limits: ResolvedModelLimits): { names: string[]; expected: number } {
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text) as tf.io.ModelJSON;
  } catch (error) {
    throw new DigitModelError('BAD_JSON', url, `is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const manifest = (json as { weightsManifest?: unknown } | null)?.weightsManifest ?? [];
  const groups = Array.isArray(manifest) ? (manifest as unknown[]) : undefined;
  const wellFormed = groups?.every((group) => {
    const { paths, weights } = (group ?? {}) as { paths?: unknown; weights?: unknown };
    return Array.isArray(paths) && paths.every((p) => typeof p === 'string') && Array.isArray(weights);
  });
  if (typeof json !== 'object' || json === null || groups === undefined || wellFormed !== true) {
    throw new DigitModelError(
      'BAD_JSON',
      url,
      'is not a TensorFlow.js model (needs a weightsManifest of "paths" and "weights" lists)',
    );
  }
  checkTopology(json.modelTopology, url, limits);
  const config = groups as tf.io.WeightsManifestConfig;
  const names = checkWeightPaths(config, url);
  const specs = config.flatMap((g) => g.weights);
  const where = config.flatMap((g, i) => g.weights.map((_, w) => `weightsManifest[${i}].weights[${w}]`));
  return { names, expected: declaredWeightBytes(specs, url, limits, (i) => where[i] as string) };
}

/**
 * Reads a response body, refused with `refuse()` when its declared length is
 * over `max` (before reading) or when more than `max` bytes arrive, or when
 * `over(n)` says the `n` bytes just read went past a shared bound.
 */
async function readBody(
  response: Response,
  max: number,
  refuse: () => Error,
  over: (n: number) => boolean = () => false,
): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > max) {
    await response.body?.cancel().catch(() => undefined);
    throw refuse();
  }
  const reader = response.body?.getReader();
  if (reader === undefined) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max || over(value.length)) {
      await reader.cancel().catch(() => undefined);
      throw refuse();
    }
    parts.push(value);
  }
  const out = new Uint8Array(new ArrayBuffer(total));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

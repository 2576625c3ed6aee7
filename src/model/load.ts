import * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/dataset.js';
import { DigitModelError } from '../errors.js';
import { describeModelIO, resolveModelLoader, type ModelDestination } from '../io/model_io.js';
import { resolveModelLimits, type DigitModelLimits } from '../io/model_limits.js';

/** Options of {@link loadDigitModel}: the bounds a model from elsewhere is read within. */
export type LoadDigitModelOptions = DigitModelLimits;

/**
 * Loads a saved digit classifier (for example `out/best-model`) and checks it is
 * one: input `[28, 28, 1]`, output 10 classes. A missing, incomplete or foreign
 * model gives a {@link DigitModelError} naming the folder and the problem.
 *
 * A model from someone else reads nothing outside itself: a folder's (or a
 * URL's) weights must be distinct plain file names beside `model.json`
 * (symlinks resolved, on Node), else `UNSAFE_PATH`; `model.json`, the declared
 * weight bytes, the topology's depth and its layers are bounded by `options`
 * before they are read (`TOO_LARGE`, whose `limit` names the option). Browser
 * storage is sized from its stored info first; a custom `IOHandler` is checked
 * once it has loaded.
 */
export async function loadDigitModel(
  source: ModelDestination,
  options: LoadDigitModelOptions = {},
): Promise<tfl.LayersModel> {
  const target = describeModelIO(source);
  const limits = resolveModelLimits(options);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(resolveModelLoader(source, limits));
  } catch (error) {
    if (error instanceof DigitModelError) throw error;
    // One line: scripts print the message alone, and tfjs messages may span lines.
    const message = String((error as Error)?.message ?? error).replace(/\s*\n\s*/g, ' ');
    throw new DigitModelError('BAD_JSON', target, `cannot load model: ${message}`, { cause: error });
  }
  assertDigitModel(model, target);
  return model;
}

/** Throws {@link DigitModelError} `WRONG_SHAPE` unless `model` maps `[28, 28, 1]` images to 10 classes. */
export function assertDigitModel(model: tfl.LayersModel, target = model.name): void {
  const input = model.inputs[0]?.shape;
  const output = model.outputs[0]?.shape;
  const inputOk =
    model.inputs.length === 1 &&
    input?.length === 4 &&
    input[1] === IMAGE_SIZE &&
    input[2] === IMAGE_SIZE &&
    input[3] === 1;
  const outputOk = model.outputs.length === 1 && output?.length === 2 && output[1] === NUM_CLASSES;
  if (!inputOk || !outputOk) {
    throw new DigitModelError(
      'WRONG_SHAPE',
      target,
      `expected a model from [28, 28, 1] images to 10 classes, got ${JSON.stringify(input)} -> ${JSON.stringify(output)}`,
    );
  }
}

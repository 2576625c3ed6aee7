/**
 * The model the views share: the pretrained default, or one trained in this
 * browser (kept in IndexedDB). Its weights are also held as in-memory
 * artifacts so it can be rebuilt on another backend after a switch.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  IMAGE_SIZE,
  loadDigitModel,
  loadPretrainedDigitModel,
  NUM_CLASSES,
  pixelsToFloats,
  pretrainedDigitModelInfo,
  type ModelDestination,
} from 'digit-recognizer';

export const TRAINED_MODEL_URL = 'indexeddb://digit-recognizer-web';
const TRAINED_INFO_KEY = 'digit-recognizer-web:trained-model';

export interface ModelInfo {
  readonly kind: 'pretrained' | 'trained';
  readonly architecture: string;
  /** Shown next to the model name, e.g. "98.4% on MNIST test". */
  readonly note: string;
}

export interface Prediction {
  readonly probabilities: Float32Array;
  /** Milliseconds from tensor creation to probabilities read back. */
  readonly ms: number;
}

type Listener = (info: ModelInfo) => void;

export class ModelHolder {
  private model: tfl.LayersModel | undefined;
  private artifacts: tf.io.ModelArtifacts | undefined;
  private current: ModelInfo | undefined;
  private readonly listeners: Listener[] = [];

  get info(): ModelInfo | undefined {
    return this.current;
  }

  get ready(): boolean {
    return this.model !== undefined;
  }

  /** The model for batch work (gallery); throws before one is loaded. */
  get layersModel(): tfl.LayersModel {
    if (this.model === undefined) throw new Error('no model loaded yet');
    return this.model;
  }

  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** Loads the model trained here before, if any, else the package's pretrained one. */
  async loadStartupModel(): Promise<void> {
    const trained = await trainedModelExists();
    if (trained) {
      try {
        const stored = localStorage.getItem(TRAINED_INFO_KEY);
        const info =
          stored === null
            ? { kind: 'trained' as const, architecture: 'custom', note: 'trained in this browser' }
            : (JSON.parse(stored) as ModelInfo);
        await this.use(await loadDigitModel(TRAINED_MODEL_URL), info);
        return;
      } catch (error) {
        console.warn('could not load the model trained here; using the pretrained one', error);
      }
    }
    await this.loadPretrained();
  }

  /** The package's pretrained model: its weights are part of the bundle, so nothing is fetched. */
  async loadPretrained(): Promise<void> {
    const model = await loadPretrainedDigitModel();
    const info = pretrainedDigitModelInfo();
    const note =
      info === undefined
        ? 'pretrained on MNIST'
        : `pretrained · ${(info.mnistTestAccuracy * 100).toFixed(2)}% on MNIST test`;
    await this.use(model, { kind: 'pretrained', architecture: info?.architecture ?? model.name, note });
  }

  /** Makes `model` the shared model (taking ownership) and remembers trained models' info. */
  async use(model: tfl.LayersModel, info: ModelInfo): Promise<void> {
    let captured: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        captured = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    if (this.model !== model) this.model?.dispose();
    this.model = model;
    this.artifacts = captured;
    this.current = info;
    if (info.kind === 'trained') localStorage.setItem(TRAINED_INFO_KEY, JSON.stringify(info));
    await this.warmUp();
    for (const listener of this.listeners) listener(info);
  }

  /** Rebuilds the model on the current backend (after `tf.setBackend`). */
  async rebuild(): Promise<void> {
    if (this.artifacts === undefined || this.current === undefined) return;
    const fresh = await loadDigitModel(tf.io.fromMemory(this.artifacts) as ModelDestination);
    this.model?.dispose();
    this.model = fresh;
    await this.warmUp();
    for (const listener of this.listeners) listener(this.current);
  }

  /** Deletes the model trained here from IndexedDB and goes back to the pretrained one. */
  async forgetTrained(): Promise<void> {
    if (await trainedModelExists()) await tf.io.removeModel(TRAINED_MODEL_URL);
    localStorage.removeItem(TRAINED_INFO_KEY);
    await this.loadPretrained();
  }

  /** Probabilities of the ten digits for one 28x28 image (784 bytes, 0 background, 255 ink). */
  async predict(pixels: Uint8Array): Promise<Prediction> {
    const model = this.layersModel;
    const started = performance.now();
    const output = tf.tidy(
      () => model.predict(tf.tensor4d(pixelsToFloats(pixels), [1, IMAGE_SIZE, IMAGE_SIZE, 1])) as tf.Tensor,
    );
    const values = (await output.data()) as Float32Array;
    output.dispose();
    return { probabilities: values.slice(0, NUM_CLASSES), ms: performance.now() - started };
  }

  /** One prediction so shaders compile and kernels load before the user waits on it. */
  private async warmUp(): Promise<void> {
    await this.predict(new Uint8Array(IMAGE_SIZE * IMAGE_SIZE));
  }
}

export async function trainedModelExists(): Promise<boolean> {
  try {
    return TRAINED_MODEL_URL in (await tf.io.listModels());
  } catch {
    return false;
  }
}

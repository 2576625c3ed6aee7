import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  buildDigitCnn,
  CheckpointBestCallback,
  DigitModelError,
  fileSystemIO,
  loadDigitModel,
  quantizeWeights,
  type CheckpointSaved,
} from 'digit-recognizer';
import { tempDir, useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));
const dir = tempDir();

function weightsOf(model: tfl.LayersModel): number[] {
  return model.getWeights().flatMap((w) => Array.from(w.dataSync().slice(0, 8)));
}

describe('fileSystemIO and loadDigitModel', () => {
  it('round-trips a model through a folder on disk', async () => {
    const model = buildDigitCnn({ architecture: 'compact', seed: 3 });
    const target = join(dir, 'round-trip');
    await model.save(fileSystemIO(target));
    const files = readdirSync(target).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toBe('model.json');
    expect(files[1]).toMatch(/^weights\.[0-9a-f]{16}\.bin$/);
    const loaded = await loadDigitModel(target);
    expect(weightsOf(loaded)).toEqual(weightsOf(model));
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 1);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(
      Array.from((model.predict(x) as tf.Tensor).dataSync()),
    );
    // Saving again replaces the weights file and leaves no stale one or temp file.
    model.setWeights(model.getWeights().map((w) => tf.mul(w, 2)));
    await model.save(fileSystemIO(target));
    expect(readdirSync(target)).toHaveLength(2);
    expect(weightsOf(await loadDigitModel(target))).toEqual(weightsOf(model));
  });

  it('saves and loads quantised (uint8) weights from a folder, as the pretrained model ships them', async () => {
    const model = buildDigitCnn({ architecture: 'compact', seed: 8 });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const target = join(dir, 'quantised');
    await fileSystemIO(target).save!(quantizeWeights(artifacts!));
    const loaded = await loadDigitModel(target);
    expect(loaded.countParams()).toBe(225_034);
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 3);
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = (loaded.predict(x) as tf.Tensor).dataSync();
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(0.02);
  });

  it('rejects missing, broken and foreign model folders with typed errors', async () => {
    const good = join(dir, 'good');
    await buildDigitCnn({ architecture: 'compact' }).save(fileSystemIO(good));
    await expect(loadDigitModel(join(dir, 'absent'))).rejects.toMatchObject({
      name: 'DigitModelError',
      code: 'NOT_FOUND',
    });

    const garbage = join(dir, 'garbage');
    await buildDigitCnn({ architecture: 'compact' }).save(fileSystemIO(garbage));
    writeFileSync(join(garbage, 'model.json'), '{"modelTopology": ');
    await expect(loadDigitModel(garbage)).rejects.toMatchObject({ code: 'BAD_JSON' });

    const truncated = join(dir, 'truncated');
    await buildDigitCnn({ architecture: 'compact' }).save(fileSystemIO(truncated));
    const weights = readdirSync(truncated).find((f) => f.endsWith('.bin'))!;
    truncateSync(join(truncated, weights), 1000);
    await expect(loadDigitModel(truncated)).rejects.toMatchObject({ code: 'WEIGHTS_SIZE' });

    const noWeights = join(dir, 'no-weights');
    await buildDigitCnn({ architecture: 'compact' }).save(fileSystemIO(noWeights));
    const json = JSON.parse(readFileSync(join(noWeights, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['gone.bin'];
    writeFileSync(join(noWeights, 'model.json'), JSON.stringify(json));
    await expect(loadDigitModel(noWeights)).rejects.toMatchObject({ code: 'MISSING_WEIGHTS' });

    const foreign = join(dir, 'foreign');
    const other = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] });
    await other.save(fileSystemIO(foreign));
    const error = await loadDigitModel(foreign).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigitModelError);
    expect(error).toMatchObject({ code: 'WRONG_SHAPE' });
    expect((error as Error).message).toContain(foreign);
  });
});

describe('CheckpointBestCallback', () => {
  it('saves only on improvement and restores the best weights', async () => {
    const model = buildDigitCnn({ architecture: 'compact', seed: 1 });
    const target = join(dir, 'best');
    const saved: CheckpointSaved[] = [];
    const checkpoint = new CheckpointBestCallback({ destination: target, onSave: (s) => void saved.push(s) });
    checkpoint.setModel(model);
    expect(checkpoint.monitor).toBe('val_acc');
    expect(checkpoint.mode).toBe('max');

    await checkpoint.onEpochEnd(0, { val_acc: 0.5, loss: 1 });
    const bestWeights = weightsOf(model);
    model.setWeights(model.getWeights().map((w) => tf.add(w, 1)));
    await checkpoint.onEpochEnd(1, { val_acc: 0.4, loss: 1 });
    expect(saved.map((s) => s.epoch)).toEqual([1]);
    expect(checkpoint.bestEpoch).toBe(1);
    expect(checkpoint.bestValue).toBe(0.5);
    expect(weightsOf(await loadDigitModel(target))).toEqual(bestWeights);

    expect(checkpoint.restoreBest(model)).toBe(true);
    expect(weightsOf(model)).toEqual(bestWeights);

    await checkpoint.onEpochEnd(2, { val_acc: 0.9, loss: 1 });
    expect(saved.map((s) => s.epoch)).toEqual([1, 3]);
    checkpoint.dispose();
  });

  it('minimises losses and explains a missing metric', async () => {
    const model = buildDigitCnn({ architecture: 'compact' });
    const checkpoint = new CheckpointBestCallback({ monitor: 'val_loss' });
    checkpoint.setModel(model);
    expect(checkpoint.mode).toBe('min');
    await checkpoint.onEpochEnd(0, { val_loss: 0.3 });
    await checkpoint.onEpochEnd(1, { val_loss: 0.2 });
    await checkpoint.onEpochEnd(2, { val_loss: 0.25 });
    expect(checkpoint.bestEpoch).toBe(2);
    await expect(new CheckpointBestCallback().onEpochEnd(0, { loss: 1 })).rejects.toThrow(
      /"val_acc" is not in the epoch logs \(have: loss\)/,
    );
    checkpoint.dispose();
  });

  it('accepts any tf.io handler as destination', async () => {
    let artifacts: tf.io.ModelArtifacts | undefined;
    const handler: tf.io.IOHandler = {
      save: async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      },
    };
    const model = buildDigitCnn({ architecture: 'compact' });
    const checkpoint = new CheckpointBestCallback({ destination: handler });
    checkpoint.setModel(model);
    await checkpoint.onEpochEnd(0, { val_acc: 0.1 });
    expect(artifacts?.weightSpecs?.length).toBe(model.weights.length);
    expect(existsSync(join(dir, 'custom'))).toBe(false);
    checkpoint.dispose();
  });

  it('is a tfjs-layers Callback', () => {
    expectTypeOf<CheckpointBestCallback>().toMatchTypeOf<tfl.Callback>();
    expectTypeOf<CheckpointBestCallback['bestValue']>().toEqualTypeOf<number>();
  });
});

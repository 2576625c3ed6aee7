import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  buildDigitCnn,
  countFlops,
  DigitModelError,
  getDigitArchitecture,
  registerDigitArchitecture,
  summarizeDigitArchitectures,
  type BuildDigitCnnOptions,
} from 'digit-recognizer';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));

describe('buildDigitCnn', () => {
  it('builds the seed network exactly as specified by default', () => {
    const model = buildDigitCnn();
    const layers = model.layers.map((l) => ({ cls: l.getClassName(), config: l.getConfig(), out: l.outputShape }));
    expect(layers.map((l) => l.cls)).toEqual(['Conv2D', 'Conv2D', 'Flatten', 'Dense', 'Dense']);
    expect(layers[0]?.config).toMatchObject({
      filters: 100,
      kernelSize: [5, 5],
      activation: 'relu',
      padding: 'valid',
      strides: [1, 1],
    });
    expect(layers[1]?.config).toMatchObject({
      filters: 50,
      kernelSize: [5, 5],
      activation: 'relu',
      padding: 'valid',
      strides: [1, 1],
    });
    expect(layers[3]?.config).toMatchObject({ units: 128, activation: 'relu' });
    expect(layers[4]?.config).toMatchObject({ units: 10, activation: 'softmax' });
    expect(model.inputs[0]?.shape).toEqual([null, 28, 28, 1]);
    expect(layers.map((l) => l.out)).toEqual([
      [null, 24, 24, 100],
      [null, 20, 20, 50],
      [null, 20000],
      [null, 128],
      [null, 10],
    ]);
    expect(model.countParams()).toBe(2_689_068);
    expect(countFlops(model)).toBe(2 * (24 * 24 * 100 * 25 + 20 * 20 * 50 * 2500 + 20000 * 128 + 128 * 10));
    model.dispose();
  });

  it('compiles with Adam and categorical cross-entropy, reporting acc', () => {
    const model = buildDigitCnn({ architecture: 'compact' });
    expect(model.optimizer).toBeDefined();
    expect(model.loss).toBe('categoricalCrossentropy');
    expect(model.metricsNames).toEqual(['loss', 'acc']);
    model.dispose();
    expect(buildDigitCnn({ architecture: 'compact', compile: false }).optimizer).toBeUndefined();
  });

  it('gives the same starting weights for the same seed', () => {
    const a = buildDigitCnn({ architecture: 'compact', seed: 7 });
    const b = buildDigitCnn({ architecture: 'compact', seed: 7 });
    const c = buildDigitCnn({ architecture: 'compact', seed: 8 });
    const first = (m: tfl.LayersModel) => Array.from(m.getWeights()[0]!.dataSync().slice(0, 20));
    expect(first(a)).toEqual(first(b));
    expect(first(a)).not.toEqual(first(c));
    // Layers get different seeds, so two same-shaped layers do not start identical.
    const w = a.getWeights();
    expect(Array.from(w[0]!.dataSync().slice(0, 5))).not.toEqual(Array.from(w[2]!.dataSync().slice(0, 5)));
    [a, b, c].forEach((m) => m.dispose());
  });

  it('lets callers change layers through the extension point', () => {
    const model = buildDigitCnn({
      layers: (layers) => [
        ...layers.slice(0, 2),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.dropout({ rate: 0.3 }),
        ...layers.slice(2),
      ],
    });
    expect(model.layers.map((l) => l.getClassName())).toEqual([
      'Conv2D',
      'Conv2D',
      'MaxPooling2D',
      'Dropout',
      'Flatten',
      'Dense',
      'Dense',
    ]);
    expect(model.outputs[0]?.shape).toEqual([null, 10]);
    model.dispose();
  });

  it('registers named architectures and refuses to replace built-ins', () => {
    registerDigitArchitecture({
      name: 'tiny-test',
      description: 'test net',
      layers: () => [
        tfl.layers.flatten({ inputShape: [28, 28, 1] }),
        tfl.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    const model = buildDigitCnn({ architecture: 'tiny-test' });
    expect(model.countParams()).toBe(784 * 10 + 10);
    model.dispose();
    expect(() => registerDigitArchitecture({ ...getDigitArchitecture('seed') })).toThrow(DigitModelError);
    expect(() => buildDigitCnn({ architecture: 'nope' })).toThrow(
      /unknown architecture; known: seed, compact, lean, strong/,
    );
  });

  it('summarises the zoo with parameters and FLOPs', () => {
    const summary = summarizeDigitArchitectures();
    const byName = Object.fromEntries(summary.map((s) => [s.name, s]));
    expect(byName['seed']?.params).toBe(2_689_068);
    expect(byName['strong']?.params).toBeGreaterThan(100_000);
    expect(byName['strong']!.flopsPerImage).toBeLessThan(byName['seed']!.flopsPerImage);
    expect(byName['lean']!.flopsPerImage).toBeLessThan(byName['strong']!.flopsPerImage);
    for (const s of summary) expect(s.flopsPerImage).toBeGreaterThan(0);
  });

  it('is typed', () => {
    expectTypeOf(buildDigitCnn).parameter(0).toEqualTypeOf<BuildDigitCnnOptions | undefined>();
    expectTypeOf(buildDigitCnn).returns.toMatchTypeOf<tfl.LayersModel>();
    expectTypeOf<BuildDigitCnnOptions['architecture']>().toMatchTypeOf<string | object | undefined>();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildDigitCnn,
  DigitInputError,
  DigitModelError,
  fileTrainingState,
  indexedDbTrainingState,
} from 'digit-recognizer';
import { captureTrainingState, type StoredTrainingState, type TrainingStateMeta } from '../src/training/state.js';
import { decodeStateIndex, encodeStateIndex, MAX_STATE_INDEX_BYTES } from '../src/training/state_record.js';
import { tempDir, useBackend } from './helpers.js';

const WHERE = 'IndexedDB "test"';
const MAX = 1 << 20;

const meta: TrainingStateMeta = {
  version: 1,
  epoch: 2,
  history: [
    { epoch: 1, seconds: 1.5, imagesPerSecond: 300, loss: Number.NaN, acc: 0.5, val_loss: 0.7, val_acc: 0.75 },
    { epoch: 2, seconds: 1.25, imagesPerSecond: 320, loss: 0.4, acc: 0.875, lr: 0.002 },
  ],
  best: { epoch: 0, value: -Infinity, monitor: 'val_acc' },
  fingerprint: '{"batchSize":16}',
};

function state(data = new ArrayBuffer(4 * 6 + 3)): StoredTrainingState {
  return {
    meta,
    specs: [
      { name: 'model/0', shape: [2, 3], dtype: 'float32' },
      { name: 'flags', shape: [3], dtype: 'bool' },
    ],
    data,
  };
}

/** The index of `state()` as parsed JSON, to be broken one field at a time. */
function index(): Record<string, unknown> {
  return JSON.parse(encodeStateIndex(state(), WHERE, MAX)) as Record<string, unknown>;
}

function decodeEdited(edit: (index: Record<string, unknown>) => void, maxBytes = MAX): () => unknown {
  const value = index();
  edit(value);
  return () => decodeStateIndex(JSON.stringify(value), WHERE, maxBytes);
}

describe('training state records', () => {
  it('round-trips metadata and specs, non-finite numbers included', () => {
    const decoded = decodeStateIndex(encodeStateIndex(state(), WHERE, MAX), WHERE, MAX);
    expect(decoded.meta).toEqual(meta);
    expect(decoded.meta.best.value).toBe(-Infinity);
    expect(decoded.meta.history[0]?.loss).toBeNaN();
    expect(decoded.specs).toEqual(state().specs);
    expect(decoded.dataBytes).toBe(27);
  });

  it('round-trips a real model state', async () => {
    await useBackend('cpu');
    const model = buildDigitCnn({ architecture: 'compact', seed: 1 });
    model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
    const captured = await captureTrainingState(model, undefined, meta);
    const decoded = decodeStateIndex(encodeStateIndex(captured, WHERE, 64 << 20), WHERE, 64 << 20);
    expect(decoded.specs).toEqual(captured.specs);
    expect(decoded.dataBytes).toBe(captured.data.byteLength);
    model.dispose();
  });

  it('refuses, naming the entry, what a hostile or damaged store could hand back', () => {
    const cases: [string, () => unknown, RegExp][] = [
      ['not JSON', () => decodeStateIndex('{"format":', WHERE, MAX), /not valid JSON/],
      ['an array', () => decodeStateIndex('[]', WHERE, MAX), /index: expected an object/],
      ['another format', decodeEdited((i) => (i['format'] = 'tfjs')), /not a training state/],
      ['a later version', decodeEdited((i) => (i['version'] = 2)), /version 2 is not supported/],
      ['a missing epoch', decodeEdited((i) => delete (i['meta'] as Record<string, unknown>)['epoch']), /meta\.epoch/],
      [
        'a fractional epoch',
        decodeEdited((i) => ((i['meta'] as Record<string, unknown>)['epoch'] = 1.5)),
        /meta\.epoch: expected an integer/,
      ],
      [
        'a history shorter than the epochs',
        decodeEdited((i) => ((i['meta'] as { history: unknown[] }).history.length = 1)),
        /1 records for 2 completed epochs/,
      ],
      [
        'an epoch twice',
        decodeEdited((i) => ((i['meta'] as { history: { epoch: number }[] }).history[1]!.epoch = 1)),
        /meta\.history\[1\]\.epoch: expected 2, got 1/,
      ],
      [
        'a loss that is not a number',
        decodeEdited((i) => ((i['meta'] as { history: { loss: unknown }[] }).history[1]!.loss = '0.4')),
        /meta\.history\[1\]\.loss: expected a number/,
      ],
      [
        'a best epoch after the last',
        decodeEdited((i) => ((i['meta'] as { best: { epoch: number } }).best.epoch = 3)),
        /meta\.best\.epoch: expected an integer from 0 to 2, got 3/,
      ],
      [
        'a fingerprint that is not a string',
        decodeEdited((i) => ((i['meta'] as Record<string, unknown>)['fingerprint'] = { a: 1 })),
        /meta\.fingerprint: expected a string/,
      ],
      ['specs not an array', decodeEdited((i) => (i['specs'] = {})), /specs: expected an array/],
      [
        'a string tensor',
        decodeEdited((i) => ((i['specs'] as { dtype: string }[])[1]!.dtype = 'string')),
        /specs\[1\]\.dtype: expected float32, int32 or bool/,
      ],
      [
        'a quantized tensor',
        decodeEdited((i) => ((i['specs'] as Record<string, unknown>[])[0]!['quantization'] = { dtype: 'uint8' })),
        /specs\[0\]: quantized/,
      ],
      [
        'a name twice',
        decodeEdited((i) => ((i['specs'] as { name: string }[])[1]!.name = 'model/0')),
        /specs\[1\]\.name: "model\/0" appears twice/,
      ],
      [
        'a negative size',
        decodeEdited((i) => ((i['specs'] as { shape: number[] }[])[0]!.shape = [-2, 3])),
        /specs\[0\]\.shape\[0\]: expected an integer/,
      ],
      [
        'a rank beyond 6',
        decodeEdited((i) => ((i['specs'] as { shape: number[] }[])[0]!.shape = [1, 1, 1, 1, 1, 1, 6])),
        /specs\[0\]\.shape: expected an array of at most 6/,
      ],
      [
        'sizes that disagree with dataBytes',
        decodeEdited((i) => (i['dataBytes'] = 28)),
        /dataBytes is 28 but the specs describe 27 bytes/,
      ],
      [
        'tensors beyond maxBytes',
        decodeEdited((i) => ((i['specs'] as { shape: number[] }[])[0]!.shape = [2 ** 40, 2 ** 40, 2 ** 40])),
        /more than 1048576 bytes/,
      ],
      [
        'an index beyond its bound',
        () => decodeStateIndex(' '.repeat(MAX_STATE_INDEX_BYTES + 1), WHERE, MAX),
        /longer/,
      ],
    ];
    for (const [what, run, message] of cases) {
      let thrown: unknown;
      try {
        run();
      } catch (error) {
        thrown = error;
      }
      expect(thrown, what).toBeInstanceOf(DigitModelError);
      expect((thrown as Error).message, what).toMatch(/^IndexedDB "test": /);
      expect((thrown as Error).message, what).toMatch(message);
    }
  });

  it("keeps a budget's re-plans, which a resumed run replays", () => {
    const replans = [
      { from: 591, total: 9456 },
      { from: 4137, total: 8800 },
    ];
    const withReplans: StoredTrainingState = { ...state(), meta: { ...meta, replans } };
    const decoded = decodeStateIndex(encodeStateIndex(withReplans, WHERE, MAX), WHERE, MAX);
    expect(decoded.meta.replans).toEqual(replans);
    const broken = (edit: (r: { from: number; total: number }[]) => void): (() => unknown) =>
      decodeEdited((i) => {
        const m = i['meta'] as { replans?: { from: number; total: number }[] };
        m.replans = replans.map((r) => ({ ...r }));
        edit(m.replans);
      });
    expect(broken((r) => (r[1]!.from = 100))).toThrow(/meta\.replans\[1\]\.from: expected an integer from 591/);
    expect(broken((r) => (r[0]!.total = 10))).toThrow(/meta\.replans\[0\]\.total: expected an integer from 591/);
    expect(decodeEdited((i) => ((i['meta'] as Record<string, unknown>)['replans'] = {}))).toThrow(
      /meta\.replans: expected an array/,
    );
  });

  it('refuses to write a state whose bytes disagree with its specs', () => {
    expect(() => encodeStateIndex(state(new ArrayBuffer(26)), WHERE, MAX)).toThrow(
      /the specs describe 27 bytes of tensors but the data has 26/,
    );
  });

  it('says in Node that IndexedDB is a browser store', () => {
    expect(() => indexedDbTrainingState('runs')).toThrow(DigitInputError);
    expect(() => indexedDbTrainingState('runs')).toThrow(/IndexedDB "runs": IndexedDB is not available here/);
  });
});

describe('a training state in a folder', () => {
  it('round-trips metadata, re-plans and non-finite numbers', async () => {
    const dir = tempDir();
    const store = fileTrainingState(dir);
    const saved: StoredTrainingState = { ...state(), meta: { ...meta, replans: [{ from: 3, total: 9 }] } };
    await store.write(saved);
    const back = await store.read();
    expect(back?.meta).toEqual(saved.meta);
    expect(back?.meta.best.value).toBe(-Infinity);
    expect(back?.specs).toEqual(saved.specs);
    expect(back?.data.byteLength).toBe(27);
  });

  it('refuses, naming the file and the entry, what a damaged or hostile folder holds', async () => {
    const dir = tempDir();
    await fileTrainingState(dir).write(state());
    const good = readFileSync(join(dir, 'state.json'), 'utf8');
    const dataFile = readdirSync(dir).find((n) => n.endsWith('.bin'))!;
    const edited = (edit: (index: Record<string, unknown>) => void): string => {
      const index = JSON.parse(good) as Record<string, unknown>;
      edit(index);
      return JSON.stringify(index);
    };
    const cases: [string, string, RegExp][] = [
      ['not JSON', '{"meta":', /state\.json: not valid JSON/],
      ['an array', '[]', /state\.json: expected an object/],
      ['no data file', edited((i) => delete i['dataFile']), /dataFile: expected a string/],
      [
        'a history that is not an array',
        edited((i) => ((i['meta'] as Record<string, unknown>)['history'] = 7)),
        /meta\.history: expected an array/,
      ],
      [
        'tensors beyond the bound',
        edited((i) => ((i['specs'] as { shape: number[] }[])[0]!.shape = [2 ** 20, 2 ** 20])),
        /tensors take more than/,
      ],
      [
        'sizes that disagree with the data',
        edited((i) => ((i['specs'] as { shape: number[] }[])[0]!.shape = [2, 4])),
        /has 27 bytes but the specs describe 35/,
      ],
      ['a data file outside the folder', edited((i) => (i['dataFile'] = `../${dataFile}`)), /dataFile/],
    ];
    for (const [what, text, message] of cases) {
      writeFileSync(join(dir, 'state.json'), text);
      const thrown = await fileTrainingState(dir)
        .read()
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(thrown, what).toBeInstanceOf(DigitModelError);
      expect((thrown as Error).message, what).toContain(dir);
      expect((thrown as Error).message, what).toMatch(message);
    }
  });
});

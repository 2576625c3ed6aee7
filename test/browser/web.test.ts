/**
 * The web demo (examples/web) in real Chromium: built with Vite, served on
 * 127.0.0.1, driven with playwright-core. Skips when /usr/bin/chromium is
 * missing (install it with `apt-get install -y chromium`; `.ci/run` does).
 *
 * Screenshots and the numbers measured per backend go to test/.artifacts/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { crc32 } from 'node:zlib';
import { join, resolve } from 'node:path';
import { encode } from 'fast-png';
import type { Browser, Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist, PIXELS_PER_IMAGE, type DigitDataset } from 'digit-recognizer';
import { hasChromium, launchChromium, serveDemo, warnIfNoChromium, type DemoStats } from './demo_app.js';

warnIfNoChromium();

const repo = resolve(import.meta.dirname, '../..');
const artifacts = join(repo, 'test/.artifacts');

interface BackendNumbers {
  predictMsMedian?: number;
  preprocessMs?: number;
  galleryImagesPerSecond?: number;
  trainImagesPerSecond?: number;
}

describe.skipIf(!hasChromium)('web demo in Chromium', () => {
  let outDir: string;
  let server: PreviewServer;
  let browser: Browser;
  let page: Page;
  let baseUrl: string;
  let mnist: DigitDataset;
  const measured: Record<string, BackendNumbers> = {};
  const errors: string[] = [];

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    outDir = mkdtempSync(join(tmpdir(), 'digit-web-'));
    ({ server, url: baseUrl } = await serveDemo(outDir));
    browser = await launchChromium();
    page = await browser.newPage({
      viewport: { width: 1200, height: 860 },
      deviceScaleFactor: 1,
      acceptDownloads: true,
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    mnist = await loadMnist({ split: 'test' });
  }, 240_000);

  afterAll(async () => {
    writeFileSync(
      join(artifacts, 'web-measurements.json'),
      `${JSON.stringify({ chromium: browser?.version(), measured }, null, 2)}\n`,
    );
    await browser?.close();
    await server?.close();
    if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
  });

  const stats = (): Promise<DemoStats> =>
    page.evaluate(() => JSON.parse(JSON.stringify(window.digitDemo)) as DemoStats);
  const numbers = (backend: string): BackendNumbers => (measured[backend] ??= {});

  /** Draws strokes given in pad coordinates 0..1 with the mouse. */
  async function drawStrokes(strokes: [number, number][][]): Promise<void> {
    const box = await page.locator('#pad').boundingBox();
    if (box === null) throw new Error('pad not visible');
    const at = ([x, y]: [number, number]): [number, number] => [box.x + x * box.width, box.y + y * box.height];
    for (const stroke of strokes) {
      const [first, ...rest] = stroke;
      if (first === undefined) continue;
      await page.mouse.move(...at(first));
      await page.mouse.down();
      for (const point of rest) await page.mouse.move(...at(point), { steps: 12 });
      await page.mouse.up();
    }
  }

  const ONE: [number, number][][] = [
    [
      [0.53, 0.16],
      [0.47, 0.84],
    ],
  ];
  const SEVEN: [number, number][][] = [
    [
      [0.27, 0.2],
      [0.73, 0.2],
      [0.42, 0.84],
    ],
  ];

  async function drawAndRead(strokes: [number, number][][]): Promise<string> {
    await page.click('#tab-draw');
    if (await page.isEnabled('#clear')) await page.click('#clear');
    await drawStrokes(strokes);
    // Wait for the reading of the finished drawing, not one taken mid-stroke.
    await page.waitForFunction(() => window.digitDemo.draw?.seq === window.digitDemo.padSeq);
    return (await page.textContent('#draw-digit')) ?? '';
  }

  /** The first `count` MNIST test images as a CSV in outDir, with a label column when `labelled`. */
  function writeMnistCsv(name: string, count: number, labelled = false): string {
    const header = Array.from({ length: 784 }, (_, i) => `pixel${i}`).join(',');
    const rows = Array.from({ length: count }, (_, i) => {
      const pixels = Array.from(mnist.pixels.subarray(i * PIXELS_PER_IMAGE, (i + 1) * PIXELS_PER_IMAGE)).join(',');
      return labelled ? `${mnist.labels![i]},${pixels}` : pixels;
    });
    const file = join(outDir, name);
    writeFileSync(file, `${labelled ? 'label,' : ''}${header}\n${rows.join('\n')}\n`);
    return file;
  }

  async function waitReady(): Promise<void> {
    await page.waitForFunction(() => window.digitDemo?.ready === true, undefined, { timeout: 60_000 });
  }

  it('starts on the best backend and reads a drawn 1 and 7', async () => {
    await page.goto(baseUrl);
    await waitReady();
    const backend = await page.inputValue('#backend');
    expect(['webgl', 'wasm', 'cpu']).toContain(backend);
    expect(await page.textContent('#backend-status')).toMatch(/WebGL|WASM|CPU/);
    // Served with COOP/COEP (vite.config.ts): SharedArrayBuffer, so WASM may run threads.
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.textContent('#model-status')).toMatch(/strong · pretrained/);

    expect(await drawAndRead(ONE)).toBe('1');
    await page.screenshot({ path: join(artifacts, 'web-draw-1.png') });
    expect(await drawAndRead(SEVEN)).toBe('7');
    const s = await stats();
    expect(s.draw?.confidence).toBeGreaterThan(0.5);
    await page.screenshot({ path: join(artifacts, 'web-draw-7.png') });

    // Undo removes the last stroke; Escape clears.
    await page.click('#undo');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.textContent('#draw-digit')).toBe('–');
  }, 60_000);

  it('reads an uploaded picture of either polarity', async () => {
    await page.click('#tab-upload');
    // MNIST test image 1 is a "2": enlarged 8x onto a bigger white page, dark ink.
    const digit = mnist.pixels.subarray(PIXELS_PER_IMAGE, 2 * PIXELS_PER_IMAGE);
    expect(mnist.labels?.[1]).toBe(2);
    for (const [darkInk, name] of [
      [true, 'two-dark.png'],
      [false, 'two-light.png'],
    ] as const) {
      const width = 300;
      const height = 260;
      const data = new Uint8Array(width * height * 3);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const dx = Math.floor((x - 60) / 8);
          const dy = Math.floor((y - 10) / 8);
          const ink = dx >= 0 && dx < 28 && dy >= 0 && dy < 28 ? (digit[dy * 28 + dx] as number) : 0;
          data.fill(darkInk ? 255 - ink : ink, (y * width + x) * 3, (y * width + x) * 3 + 3);
        }
      }
      await page.evaluate(() => delete window.digitDemo.upload);
      await page.setInputFiles('#upload-file', {
        name,
        mimeType: 'image/png',
        buffer: Buffer.from(encode({ width, height, data, channels: 3 })),
      });
      await page.waitForFunction(() => window.digitDemo.upload !== undefined);
      expect(await page.textContent('#upload-digit')).toBe('2');
    }
    await page.screenshot({ path: join(artifacts, 'web-upload.png') });
  }, 60_000);

  it('refuses a picture that claims too many pixels before decoding it, in one line', async () => {
    await page.click('#tab-upload');
    // A 57-byte PNG whose header claims 100,000 x 100,000 pixels (40 GB decoded); its data is never read.
    const chunk = (type: string, data: Uint8Array): Buffer => {
      const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(data.length);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body));
      return Buffer.concat([length, body, crc]);
    };
    const header = Buffer.alloc(13);
    header.writeUInt32BE(100_000, 0);
    header.writeUInt32BE(100_000, 4);
    header.set([8, 6, 0, 0, 0], 8);
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', header),
      chunk('IEND', new Uint8Array(0)),
    ]);
    await page.setInputFiles('#upload-file', { name: 'bomb.png', mimeType: 'image/png', buffer: png });
    await page.waitForSelector('#upload-error:not([hidden])');
    expect(await page.textContent('#upload-error')).toBe(
      'bomb.png is 100000 x 100000 pixels; pictures up to 4096 x 4096 pixels are read.',
    );
    // The page still reads pictures.
    expect(await page.evaluate(() => window.digitDemo.ready)).toBe(true);
  }, 60_000);

  it('predicts a test CSV in the gallery and pages it; the MNIST-trained default model writes no submission for it', async () => {
    await page.click('#tab-gallery');
    const count = 130;
    await page.setInputFiles('#gallery-file', writeMnistCsv('test.csv', count));
    await page.waitForFunction(() => !document.querySelector<HTMLButtonElement>('#gallery-png')?.disabled, undefined, {
      timeout: 60_000,
    });
    // Unlabelled images, as a competition's test.csv: the pretrained model learnt from MNIST's training images.
    expect(await page.isDisabled('#gallery-download')).toBe(true);
    expect(await page.getAttribute('#gallery-download', 'title')).toMatch(/trained on MNIST's training images/);
    expect(await page.textContent('#gallery-page')).toBe('Page 1 of 3');
    expect(await page.locator('#gallery-grid > li').count()).toBe(60);
    // Least confident first.
    const confidences = (await page.locator('#gallery-grid .conf').allTextContents()).map((t) =>
      t.startsWith('<') ? 0 : Number.parseFloat(t),
    );
    expect(confidences[0]).toBeLessThanOrEqual(confidences[confidences.length - 1] as number);
    await page.screenshot({ path: join(artifacts, 'web-gallery.png'), fullPage: true });
    await page.click('#gallery-next');
    await page.click('#gallery-next');
    expect(await page.textContent('#gallery-page')).toBe('Page 3 of 3');
    expect(await page.locator('#gallery-grid > li').count()).toBe(10);

    // The same images with their labels are an evaluation, which it may write out.
    await page.setInputFiles('#gallery-file', writeMnistCsv('labelled.csv', count, true));
    await page.waitForFunction(
      () => !document.querySelector<HTMLButtonElement>('#gallery-download')?.disabled,
      undefined,
      { timeout: 60_000 },
    );
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#gallery-download')]);
    expect(download.suggestedFilename()).toBe('submission.csv');
    const text = readFileSync(await download.path(), 'utf8');
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('ImageId,Label');
    expect(lines).toHaveLength(count + 1);
    let right = 0;
    lines.slice(1).forEach((line, i) => {
      const [id, label] = line.split(',').map(Number);
      expect(id).toBe(i + 1);
      if (label === mnist.labels?.[i]) right++;
    });
    expect(right / count).toBeGreaterThan(0.93);
  }, 60_000);

  it('switches backends (WASM, CPU, and WebGL when available) and still reads digits', async () => {
    // The bundled 1,000 MNIST test digits on the starting backend, then 100 of them, which each
    // switch predicts again (giving images/s): the stock CPU backend and SwiftShader's WebGL take
    // about half a minute each for the whole sample, which would double this test for nothing.
    await page.click('#tab-gallery');
    await page.click('#gallery-sample');
    await page.waitForFunction(() => window.digitDemo.gallery?.images === 1000, undefined, { timeout: 60_000 });
    const firstStats = (await stats()).gallery;
    const few = 100;
    await page.setInputFiles('#gallery-file', writeMnistCsv(`test-${few}.csv`, few));
    await page.waitForFunction((n) => window.digitDemo.gallery?.images === n, few, { timeout: 60_000 });
    const webglEnabled = await page.locator('#backend option[value="webgl"]').isEnabled();
    const order = ['cpu', ...(webglEnabled ? ['webgl'] : []), 'wasm'];
    const start = await page.inputValue('#backend');
    for (const backend of [start, ...order.filter((b) => b !== start)]) {
      if ((await page.inputValue('#backend')) !== backend) {
        await page.evaluate(() => {
          window.digitDemo.predictMs.length = 0;
          delete window.digitDemo.gallery;
        });
        await page.selectOption('#backend', backend);
        await waitReady();
        await page.waitForFunction((n) => window.digitDemo.gallery?.images === n, few, { timeout: 90_000 });
      }
      expect(await page.inputValue('#backend')).toBe(backend);
      const galleryStats = backend === start ? firstStats : (await stats()).gallery;
      await page.evaluate(() => {
        window.digitDemo.predictMs.length = 0;
      });
      expect(await drawAndRead(ONE)).toBe('1');
      expect(await drawAndRead(SEVEN)).toBe('7');
      const s = await stats();
      const sorted = [...s.predictMs].sort((a, b) => a - b);
      Object.assign(numbers(backend), {
        predictMsMedian: Number((sorted[Math.floor(sorted.length / 2)] ?? Number.NaN).toFixed(2)),
        preprocessMs: Number((s.draw?.preprocessMs ?? Number.NaN).toFixed(2)),
        galleryImagesPerSecond: Math.round(galleryStats?.imagesPerSecond ?? Number.NaN),
      });
      await page.screenshot({ path: join(artifacts, `web-backend-${backend}.png`) });
    }
  }, 150_000);

  it('trains briefly on WASM and CPU, keeps the best epoch in IndexedDB and uses it', async () => {
    await page.click('#tab-train');
    // The gallery still holds the previous test's 100 images, which every new model predicts again.
    // The stock CPU backend trains slowly (its convolution gradients are plain loops), so it gets few images.
    for (const [backend, images, minAccuracy] of [
      ['cpu', 150, 0],
      ['wasm', 1500, 0.5],
    ] as const) {
      // The select stays disabled until the previous run has finished with the backend; on a slow
      // host that outlasted Playwright's default 30 s once (CI rehearsal of 5446058).
      await page.selectOption('#backend', backend, { timeout: 90_000 });
      await waitReady();
      await page.fill('#train-images', String(images));
      // Epochs instead of a budget: under Advanced.
      await page.evaluate(() => {
        document.querySelector<HTMLDetailsElement>('#train-advanced')!.open = true;
      });
      await page.fill('#train-epochs', '1');
      await page.evaluate(() => delete window.digitDemo.train);
      await page.click('#train-start');
      await page.waitForFunction(() => window.digitDemo.train !== undefined, undefined, { timeout: 90_000 });
      expect(await page.textContent('#train-status')).toMatch(/^Done: \d+ images, best epoch 1/);
      const train = (await stats()).train;
      expect(train?.bestValAcc).toBeGreaterThan(minAccuracy);
      numbers(backend).trainImagesPerSecond = Math.round(train?.imagesPerSecond ?? Number.NaN);
    }
    expect(await page.textContent('#model-status')).toMatch(/compact · trained here/);
    await page.screenshot({ path: join(artifacts, 'web-train.png'), fullPage: true });

    // The trained model survives a reload (IndexedDB) and drives Draw.
    const databases = await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
    expect(databases).toContain('tensorflowjs');
    await page.reload();
    await waitReady();
    expect(await page.textContent('#model-status')).toMatch(/trained here/);
    expect(await drawAndRead(ONE)).toMatch(/^\d$/);

    // Forgetting it goes back to the pretrained model.
    await page.click('#tab-train');
    await page.click('#train-reset');
    await page.waitForFunction(
      () => document.querySelector('#model-status')?.textContent?.includes('pretrained') === true,
    );
    expect(errors).toEqual([]);
  }, 150_000);

  it('works offline after the first load, reload included (service worker)', async () => {
    // A fresh context: its own service worker, caches and IndexedDB.
    const context = await browser.newContext({ viewport: { width: 1200, height: 860 }, deviceScaleFactor: 1 });
    const mainPage = page;
    const pageErrors: string[] = [];
    try {
      page = await context.newPage();
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(baseUrl);
      await waitReady();
      // An active worker has finished its install, i.e. precached every file of the build.
      await page.waitForFunction(() => window.digitDemo.offlineReady, undefined, { timeout: 60_000 });
      const cached = await page.evaluate(async () => {
        const names = await caches.keys();
        const cache = await caches.open(names[0] ?? '');
        return { names, urls: (await cache.keys()).map((r) => new URL(r.url).pathname) };
      });
      expect(cached.names).toHaveLength(1);
      expect(cached.names[0]).toMatch(/^digit-recognizer-web-[0-9a-f]{16}$/);
      for (const path of ['/', '/index.html', '/data/mnist-test-1000.csv.gz', '/data/mnist-train-6000.csv.gz'])
        expect(cached.urls).toContain(path);
      expect(cached.urls.filter((u) => u.endsWith('.wasm'))).toHaveLength(3);

      await context.setOffline(true);
      // The network really is gone, for the worker too: a file it has not cached fails.
      expect(
        await page.evaluate(() =>
          fetch(`not-cached-${Date.now()}.txt`).then(
            () => 'fetched',
            () => 'failed',
          ),
        ),
      ).toBe('failed');
      await page.reload();
      await waitReady();
      expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
      expect(await page.textContent('#model-status')).toMatch(/strong · pretrained/);
      expect(await drawAndRead(ONE)).toBe('1');

      // CPU offline, then the bundled sample (data/ from the cache) back on the first backend: the
      // stock CPU backend would take half a minute over its 1,000 images.
      const first = await page.inputValue('#backend');
      if (first !== 'cpu') {
        await page.selectOption('#backend', 'cpu');
        await waitReady();
      }
      expect(await page.inputValue('#backend')).toBe('cpu');
      expect(await drawAndRead(SEVEN)).toBe('7');
      if (first !== 'cpu') {
        await page.selectOption('#backend', first);
        await waitReady();
      }
      await page.click('#tab-gallery');
      await page.click('#gallery-sample');
      await page.waitForFunction(() => window.digitDemo.gallery?.images === 1000, undefined, { timeout: 60_000 });
      expect(await page.isVisible('#gallery-error')).toBe(false);
      await page.screenshot({ path: join(artifacts, 'web-offline.png') });
      expect(pageErrors).toEqual([]);
    } finally {
      page = mainPage;
      await context.close();
    }
  }, 120_000);
});

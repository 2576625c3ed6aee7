/**
 * The library on `@tensorflow/tfjs-backend-webgpu` in real Chromium, on SwiftShader's WebGPU
 * adapter (Vulkan on the CPU, so no GPU is needed): each network trains a few steps and predicts on
 * webgpu and on wasm from the same starting weights and batches, and the two must agree within
 * float tolerance. The page (test/browser/fixtures/webgpu_entry.ts bundled by Vite, with the wasm
 * binaries beside it) is served from 127.0.0.1: WebGPU needs a secure context.
 *
 * The images/s this prints are for docs/browser.md; nothing here asserts a speed.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { build, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium, serveDemo, warnIfNoChromium } from './demo_app.js';
import type { RunResult } from './fixtures/webgpu_entry.js';

warnIfNoChromium();

const repo = resolve(import.meta.dirname, '../..');
const wasmDist = join(repo, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
};

/** Serves `dir` on 127.0.0.1 at a free port. */
async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const name = new URL(request.url ?? '/', 'http://127.0.0.1').pathname.slice(1) || 'index.html';
    if (name.includes('/') || name.includes('..')) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = readFileSync(join(dir, name));
      response.writeHead(200, { 'content-type': TYPES[extname(name)] ?? 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, url: `http://127.0.0.1:${address.port}/` };
}

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

describe.skipIf(!hasChromium)('the library on WebGPU (SwiftShader) in Chromium', () => {
  let dir: string;
  let server: Server;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'digit-webgpu-'));
    await build({
      configFile: false,
      logLevel: 'error',
      resolve: { conditions: ['digit-recognizer-source', 'browser', 'module', 'import', 'default'] },
      build: {
        outDir: dir,
        emptyOutDir: true,
        minify: false,
        target: 'es2022',
        lib: {
          entry: resolve(import.meta.dirname, 'fixtures/webgpu_entry.ts'),
          formats: ['es'],
          fileName: () => 'webgpu.js',
        },
      },
    });
    for (const file of WASM_FILES) copyFileSync(join(wasmDist, file), join(dir, file));
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><link rel="icon" href="data:,"><script type="module" src="webgpu.js"></script>',
    );
    let url: string;
    ({ server, url } = await serve(dir));
    browser = await launchChromium({ webgpu: true });
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);
    await page.waitForFunction(() => window.webgpuFixtures !== undefined);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((done) => server?.close(done));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('gets SwiftShader’s adapter', async () => {
    const info = await page.evaluate(() => window.webgpuFixtures!.adapterInfo());
    expect(info).toEqual({ vendor: 'google', architecture: 'swiftshader' });
  });

  // compact: valid 3x3 convolutions, max pooling, dense, dropout; strong: batch norm, same padding,
  // strided 5x5 convolutions. The seed network's layer kinds are compact's, lean's are strong's and
  // compact's (lean ran here too, and agreed as closely; left out to keep npm test under ten minutes).
  for (const [architecture, epochs] of [
    ['compact', 2],
    ['strong', 1],
  ] as const) {
    it(`trains and predicts ${architecture} as wasm does`, async () => {
      const spec = { architecture, images: 32, batchSize: 16, epochs };
      const wasm = await page.evaluate((o) => window.webgpuFixtures!.run({ ...o, backend: 'wasm' }), spec);
      const gpu: RunResult = await page.evaluate(
        ([o, initial]) => window.webgpuFixtures!.run({ ...o, backend: 'webgpu', initial }),
        [spec, wasm.initial] as const,
      );
      expect(wasm.backend).toBe('wasm');
      expect(gpu.backend).toBe('webgpu');
      const steps = 2 * epochs;
      expect(gpu.losses).toHaveLength(steps);
      const lossDiff = maxAbsDiff(gpu.losses, wasm.losses);
      const probDiff = maxAbsDiff(gpu.probabilities, wasm.probabilities);
      // Adam moves a weight by about the learning rate (0.001) a step whatever its gradient's size, so a
      // gradient within rounding of zero may step either way: such weights differ by up to 2 lr a step.
      let weightDiff = 0;
      let off = 0;
      let count = 0;
      gpu.weights.forEach((w, i) => {
        const other = wasm.weights[i] ?? [];
        weightDiff = Math.max(weightDiff, maxAbsDiff(w, other));
        w.forEach((v, j) => {
          if (Math.abs(v - (other[j] as number)) > 1e-4) off++;
        });
        count += w.length;
      });
      const step = (r: number[]): string => r.map((v) => v.toFixed(1)).join(', ');
      console.log(
        `[webgpu] ${architecture}: max |Δ| loss ${lossDiff.toExponential(2)}, weight ${weightDiff.toExponential(2)} ` +
          `(${off} of ${count} above 1e-4), probability ${probDiff.toExponential(2)}; images/s per epoch ` +
          `webgpu ${step(gpu.imagesPerSecond)}, wasm ${step(wasm.imagesPerSecond)}`,
      );
      // The first step's loss is the same forward pass from the same weights.
      expect(Math.abs((gpu.losses[0] as number) - (wasm.losses[0] as number))).toBeLessThan(1e-5);
      expect(lossDiff).toBeLessThan(1e-4);
      expect(probDiff).toBeLessThan(1e-4);
      expect(weightDiff).toBeLessThanOrEqual(2 * 0.001 * steps + 1e-4);
      expect(off / count).toBeLessThan(0.01);
      expect(errors).toEqual([]);
    }, 600_000);
  }
});

describe.skipIf(!hasChromium)('the web demo’s WebGPU option', () => {
  let outDir: string;
  let server: PreviewServer;
  let url: string;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'digit-web-webgpu-'));
    ({ server, url } = await serveDemo(outDir));
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
  });

  it('starts on WebGPU where there is an adapter, and says why not where there is none', async () => {
    const withAdapter = await launchChromium({ webgpu: true });
    try {
      const page = await withAdapter.newPage();
      await page.goto(`${url}?backend=webgpu`);
      await page.waitForFunction(() => window.digitDemo?.ready === true, undefined, { timeout: 120_000 });
      expect(await page.inputValue('#backend')).toBe('webgpu');
      expect(await page.textContent('#backend-status')).toBe('WebGPU · google swiftshader · software');
      expect(await page.locator('#backend option[value="webgpu"]').isEnabled()).toBe(true);
    } finally {
      await withAdapter.close();
    }
    // The other browser tests' launch (--disable-gpu): navigator.gpu is there, but it has no adapter.
    const without = await launchChromium();
    try {
      const page = await without.newPage();
      await page.goto(`${url}?backend=webgpu`);
      await page.waitForFunction(() => window.digitDemo?.ready === true, undefined, { timeout: 120_000 });
      expect(await page.inputValue('#backend')).not.toBe('webgpu');
      const option = page.locator('#backend option[value="webgpu"]');
      expect(await option.isDisabled()).toBe(true);
      expect(await option.textContent()).toBe('WebGPU (no adapter)');
      expect(await option.getAttribute('title')).toMatch(/requestAdapter\(\) returned null/);
    } finally {
      await without.close();
    }
  }, 300_000);
});

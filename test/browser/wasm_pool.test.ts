/**
 * The SIMD module's worker pool (src/kernels/wasm/helpers/pool.ts) in real Chromium, on a
 * cross-origin isolated page (the only kind with shared memory): its worker starts from a Blob URL,
 * instantiates the module over the page's shared memory, and the main thread, which may not block,
 * spins until the chunks are done, on the relaxed-SIMD build. Results must match one thread's bit
 * for bit. Skips when
 * /usr/bin/chromium is missing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { launchChromium } from './demo_app.js';

const hasChromium = existsSync('/usr/bin/chromium');
const entry = resolve(import.meta.dirname, 'fixtures/wasm_pool_entry.ts');

describe.skipIf(!hasChromium)('the SIMD module on a worker pool in Chromium', () => {
  let outDir: string;
  let server: Server;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'digit-pool-'));
    await build({
      configFile: false,
      logLevel: 'error',
      build: {
        outDir,
        emptyOutDir: true,
        minify: false,
        lib: { entry, formats: ['iife'], name: 'pool', fileName: () => 'pool.js' },
      },
    });
    const script = readFileSync(join(outDir, 'pool.js'));
    server = createServer((request, response) => {
      response.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      response.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
      if (request.url === '/pool.js') {
        response.setHeader('Content-Type', 'text/javascript');
        response.end(script);
      } else {
        response.setHeader('Content-Type', 'text/html');
        response.end('<!doctype html><html><body><script src="/pool.js"></script></body></html>');
      }
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((done) => server?.close(done));
    if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
  });

  it('runs calls on two threads from a Blob URL worker, bit for bit as on one', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    const result = await page.evaluate(() =>
      (globalThis as unknown as { digitPool: { run(): Promise<unknown> } }).digitPool.run(),
    );
    expect(errors).toEqual([]);
    // Chromium 114 and later has relaxed SIMD: the fused build runs.
    expect(result).toEqual({
      crossOriginIsolated: true,
      variant: 'relaxed',
      poolThreads: 2,
      identical: true,
      maxPoolError: 0,
    });
  }, 120_000);
});

/**
 * What the browser tests share: Debian's Chromium (no browser is downloaded),
 * and the web demo (examples/web) built with Vite as `npm run web:build` does
 * and served on 127.0.0.1 with `vite preview`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';

export type { DemoStats } from '../../examples/web/src/stats.js';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

const webRoot = resolve(import.meta.dirname, '../../examples/web');
const configFile = join(webRoot, 'vite.config.ts');

/** Prints once per file why its browser tests are skipped. */
export function warnIfNoChromium(): void {
  if (!hasChromium)
    console.warn(
      `[browser tests] skipped: ${CHROMIUM} not found. Install Debian's chromium (apt-get install -y chromium) to run them.`,
    );
}

/** Builds the demo into `outDir` and serves it on a free port; returns the server and its URL. */
export async function serveDemo(outDir: string): Promise<{ server: PreviewServer; url: string }> {
  // Vitest sets NODE_ENV=test, which would make Vite build a non-production
  // bundle (import.meta.env.PROD false: no service worker). Build what `npm run web:build` builds.
  const nodeEnv = process.env['NODE_ENV'];
  process.env['NODE_ENV'] = 'production';
  try {
    await build({ root: webRoot, configFile, logLevel: 'error', build: { outDir, emptyOutDir: true } });
  } finally {
    if (nodeEnv === undefined) delete process.env['NODE_ENV'];
    else process.env['NODE_ENV'] = nodeEnv;
  }
  const server = await preview({
    root: webRoot,
    configFile,
    logLevel: 'error',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, strictPort: false },
  });
  const url = server.resolvedUrls?.local[0];
  if (url === undefined) {
    await server.close();
    throw new Error('vite preview gave no URL');
  }
  return { server, url };
}

/**
 * Flags that give WebGPU SwiftShader's adapter (Vulkan on the CPU) headless, on a page from a
 * secure origin such as 127.0.0.1. Only for the WebGPU tests: the others keep `--disable-gpu`.
 */
const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

export function launchChromium(options: { webgpu?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      ...(options.webgpu === true ? WEBGPU_FLAGS : ['--disable-gpu']),
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      // Software WebGL (SwiftShader), so the WebGL backend can be tried without a GPU.
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  });
}

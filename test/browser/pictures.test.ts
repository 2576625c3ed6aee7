/**
 * renderTrainingCurves and renderConfusionMatrix in real Chromium: bundled by
 * Vite for a page without Node, run there, and their files opened by the
 * browser's own PNG and SVG decoders. Skips when /usr/bin/chromium is missing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDigitDataset,
  PIXELS_PER_IMAGE,
  renderConfusionMatrix,
  renderTrainingCurves,
  type DigitEpochRecord,
} from 'digit-recognizer';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const entry = resolve(import.meta.dirname, 'fixtures/pictures_entry.ts');

const HISTORY: DigitEpochRecord[] = Array.from({ length: 5 }, (_, i) => ({
  epoch: i + 1,
  seconds: 1,
  imagesPerSecond: 100,
  loss: 1 / (i + 1),
  acc: 1 - 0.1 / (i + 1),
  ...(i === 2 ? {} : { val_loss: 0.8 / (i + 1), val_acc: 1 - 0.08 / (i + 1) }),
  lr: 0.001 / (i + 1),
}));
const LABELS = [0, 0, 1, 1, 1, 2, 4, 4, 4, 9];
const PREDICTED = [0, 1, 1, 1, 7, 2, 9, 9, 4, 4];
const CONFIDENCES = [0.9, 0.8, 0.95, 0.9, 0.6, 0.99, 0.55, 0.7, 0.8, 0.65];

/** What the page reports about one rendered picture. */
interface Opened {
  png: number[];
  svg: string;
  /** Size the browser decoded the PNG to, and how many pixels differ from fast-png's decoding. */
  pngSize: [number, number];
  pngMismatches: number;
  /** Size of the SVG loaded as an image, and whether DOMParser found an error. */
  svgSize: [number, number];
  svgParseError: boolean;
}

describe.skipIf(!hasChromium)('pictures in Chromium', () => {
  let outDir: string;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'digit-pictures-'));
    await build({
      configFile: false,
      logLevel: 'error',
      build: {
        outDir,
        emptyOutDir: true,
        minify: false,
        lib: { entry, formats: ['iife'], name: 'pictures', fileName: () => 'pictures.js' },
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM });
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setContent('<!doctype html><html><body></body></html>');
    await page.addScriptTag({ content: readFileSync(join(outDir, 'pictures.js'), 'utf8') });
  });

  afterAll(async () => {
    await browser?.close();
    if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
  });

  /** Renders in the page (`kind`), then opens both files with the browser's decoders. */
  async function openInPage(kind: 'curves' | 'confusion'): Promise<Opened> {
    return page.evaluate(
      async ({ kind, history, labels, predicted, confidences, pixelsPerImage }) => {
        interface Rendered {
          // As TypeScript's DOM types want for a Blob part (fast-png's output is backed by a plain ArrayBuffer).
          png: Uint8Array<ArrayBuffer>;
          svg: string;
          width: number;
          height: number;
        }
        const api = (globalThis as unknown as { digitPictures: Record<string, (...args: unknown[]) => unknown> })
          .digitPictures;
        let picture: Rendered;
        if (kind === 'curves') {
          picture = api['renderTrainingCurves']!(history) as Rendered;
        } else {
          const n = labels.length;
          const pixels = new Uint8Array(n * pixelsPerImage);
          for (let i = 0; i < n; i++) pixels.fill(20 * (i + 1), i * pixelsPerImage, (i + 1) * pixelsPerImage);
          const data = { count: n, pixels, labels: Uint8Array.from(labels), source: 'hand-made' };
          const predictions = {
            count: n,
            labels: Uint8Array.from(predicted),
            confidences: Float32Array.from(confidences),
          };
          picture = api['renderConfusionMatrix']!(data, predictions) as Rendered;
        }
        const bitmap = await createImageBitmap(new Blob([picture.png], { type: 'image/png' }));
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const context = canvas.getContext('2d')!;
        context.drawImage(bitmap, 0, 0);
        const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
        const ours = (api['decode']!(picture.png) as { data: Uint8Array }).data;
        let pngMismatches = 0;
        for (let p = 0; p < bitmap.width * bitmap.height; p++) {
          for (let c = 0; c < 3; c++) if (rgba[p * 4 + c] !== ours[p * 3 + c]) pngMismatches++;
        }
        const image = new Image();
        image.src = URL.createObjectURL(new Blob([picture.svg], { type: 'image/svg+xml' }));
        await image.decode();
        const parsed = new DOMParser().parseFromString(picture.svg, 'image/svg+xml');
        return {
          png: Array.from(picture.png),
          svg: picture.svg,
          pngSize: [bitmap.width, bitmap.height] as [number, number],
          pngMismatches,
          svgSize: [image.naturalWidth, image.naturalHeight] as [number, number],
          svgParseError: parsed.getElementsByTagName('parsererror').length > 0,
        };
      },
      {
        kind,
        history: HISTORY,
        labels: LABELS,
        predicted: PREDICTED,
        confidences: CONFIDENCES,
        pixelsPerImage: PIXELS_PER_IMAGE,
      },
    );
  }

  it('draws training curves in the page, byte for byte as in Node, and the browser opens both files', async () => {
    const opened = await openInPage('curves');
    const node = renderTrainingCurves(HISTORY);
    expect(opened.pngSize).toEqual([node.width, node.height]);
    expect(opened.pngMismatches).toBe(0);
    expect(opened.svgSize).toEqual([node.width, node.height]);
    expect(opened.svgParseError).toBe(false);
    expect(Uint8Array.from(opened.png)).toEqual(node.png);
    expect(opened.svg).toBe(node.svg);
    expect(errors).toEqual([]);
  });

  it('draws a confusion matrix in the page, byte for byte as in Node, and the browser opens both files', async () => {
    const opened = await openInPage('confusion');
    const pixels = new Uint8Array(LABELS.length * PIXELS_PER_IMAGE);
    for (let i = 0; i < LABELS.length; i++) pixels.fill(20 * (i + 1), i * PIXELS_PER_IMAGE, (i + 1) * PIXELS_PER_IMAGE);
    const node = renderConfusionMatrix(createDigitDataset(pixels, Uint8Array.from(LABELS), 'hand-made'), {
      count: LABELS.length,
      labels: Uint8Array.from(PREDICTED),
      confidences: Float32Array.from(CONFIDENCES),
    });
    expect(opened.pngSize).toEqual([node.width, node.height]);
    expect(opened.pngMismatches).toBe(0);
    expect(opened.svgSize).toEqual([node.width, node.height]);
    expect(opened.svgParseError).toBe(false);
    expect(Uint8Array.from(opened.png)).toEqual(node.png);
    expect(opened.svg).toBe(node.svg);
    expect(errors).toEqual([]);
  });
});

/**
 * indexedDbTrainingState in real Chromium: round trips, records planted by
 * other code on the same origin, a database that exists without its store, and
 * a reload in the middle of a write. The page is test/browser/fixtures/
 * state_store.ts bundled by Vite and served through Playwright's routing on a
 * made-up origin (IndexedDB needs a real one), so no server runs.
 */
import { resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build, type Rollup } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium, warnIfNoChromium } from './demo_app.js';

warnIfNoChromium();

const ORIGIN = 'http://digit-state.test';

describe.skipIf(!hasChromium)('indexedDbTrainingState in Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    const output = (await build({
      configFile: false,
      logLevel: 'error',
      build: {
        write: false,
        minify: false,
        target: 'es2022',
        lib: { entry: resolve(import.meta.dirname, 'fixtures/state_store.ts'), formats: ['es'], fileName: 'store' },
      },
    })) as Rollup.RollupOutput[];
    const script = output[0]?.output[0]?.code;
    if (script === undefined) throw new Error('the fixture did not bundle');
    browser = await launchChromium();
    context = await browser.newContext();
    await context.route(`${ORIGIN}/**`, (route) =>
      new URL(route.request().url()).pathname === '/store.js'
        ? route.fulfill({ contentType: 'text/javascript', body: script })
        : route.fulfill({
            contentType: 'text/html',
            body: '<!doctype html><script type="module" src="/store.js"></script>',
          }),
    );
    page = await context.newPage();
    await open();
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  async function open(): Promise<void> {
    await page.goto(`${ORIGIN}/`);
    await page.waitForFunction(() => window.fixtures !== undefined);
  }

  it('reads nothing at first, then what was written, then nothing after clear', async () => {
    const result = await page.evaluate(async () => {
      const { indexedDbTrainingState, state } = window.fixtures!;
      const store = indexedDbTrainingState('round-trip');
      const empty = await store.read();
      const written = state(3, 1000);
      await store.write(written);
      const read = await store.read();
      const again = await indexedDbTrainingState('round-trip').read();
      await store.clear();
      return {
        description: store.description,
        empty: empty === undefined,
        meta: read?.meta,
        bestValue: String(read?.meta.best.value),
        specs: read?.specs,
        same: read !== undefined && new Uint8Array(read.data).every((b, i) => b === new Uint8Array(written.data)[i]),
        bytes: read?.data.byteLength,
        again: again?.meta.epoch,
        cleared: (await store.read()) === undefined,
        expected: written.meta,
      };
    });
    expect(result.description).toBe('IndexedDB "round-trip"');
    expect(result.empty).toBe(true);
    expect(result.meta).toEqual(result.expected);
    // Structured clone to the test would lose it: -Infinity survives the JSON index.
    expect(result.bestValue).toBe('-Infinity');
    expect(result.specs).toEqual([{ name: 'model/0', shape: [1000], dtype: 'float32' }]);
    expect(result.bytes).toBe(4000);
    expect(result.same).toBe(true);
    expect(result.again).toBe(3);
    expect(result.cleared).toBe(true);
  });

  it('refuses records that are not a whole, bounded training state, naming the store', async () => {
    const messages = await page.evaluate(async () => {
      const { indexedDbTrainingState, plant, state } = window.fixtures!;
      const store = indexedDbTrainingState('hostile', { maxBytes: 4096 });
      await store.write(state(1, 16));
      const good = JSON.parse(await (await indexedDbRecord()).index.text()) as Record<string, unknown>;
      const json = (value: unknown): Blob => new Blob([JSON.stringify(value)]);
      const records: [string, unknown][] = [
        ['a string', 'state'],
        ['no Blobs', { index: '{}', data: new ArrayBuffer(64) }],
        ['an index too large to read', { index: new Blob([new Uint8Array(4 * 1024 * 1024 + 1)]), data: new Blob() }],
        ['data beyond maxBytes', { index: json(good), data: new Blob([new Uint8Array(4097)]) }],
        ['fewer bytes than the specs', { index: json(good), data: new Blob([new Uint8Array(60)]) }],
        ['an index that is not JSON', { index: new Blob(['{"format"']), data: new Blob([new Uint8Array(64)]) }],
        [
          'a history that skips an epoch',
          {
            index: json({ ...good, meta: { ...(good['meta'] as object), epoch: 2 } }),
            data: new Blob([new Uint8Array(64)]),
          },
        ],
      ];
      const out: Record<string, string> = {};
      for (const [what, record] of records) {
        await plant('hostile', record);
        out[what] = await store.read().then(
          () => 'read without complaint',
          (e: unknown) => `${(e as Error).name}: ${(e as Error).message}`,
        );
      }
      return out;

      async function indexedDbRecord(): Promise<{ index: Blob }> {
        const db = await new Promise<IDBDatabase>((resolve) => {
          const r = indexedDB.open('hostile');
          r.onsuccess = () => resolve(r.result);
        });
        const record = await new Promise<{ index: Blob }>((resolve) => {
          const r = db.transaction('training-state').objectStore('training-state').get('state');
          r.onsuccess = () => resolve(r.result as { index: Blob });
        });
        db.close();
        return record;
      }
    });
    const expected: Record<string, RegExp> = {
      'a string': /the stored record is not an object/,
      'no Blobs': /not a training state \(no index and data\)/,
      'an index too large to read': /index takes 4194305 bytes, more than 4194304/,
      'data beyond maxBytes': /tensors take 4097 bytes, more than maxBytes \(4096\)/,
      'fewer bytes than the specs': /the specs describe 64 bytes of tensors but 60 are stored/,
      'an index that is not JSON': /not valid JSON/,
      'a history that skips an epoch': /meta\.history: 1 records for 2 completed epochs/,
    };
    for (const [what, message] of Object.entries(messages)) {
      expect(message, what).toMatch(/^DigitModelError: IndexedDB "hostile": /);
      expect(message, what).toMatch(expected[what] as RegExp);
    }
    expect(Object.keys(messages)).toEqual(Object.keys(expected));
  });

  it("adds its store to an existing database of the same name, leaving the other app's data", async () => {
    const result = await page.evaluate(async () => {
      const { foreignDatabase, foreignValue, indexedDbTrainingState, state } = window.fixtures!;
      await foreignDatabase('shared-name', 3);
      const store = indexedDbTrainingState('shared-name');
      const empty = (await store.read()) === undefined;
      await store.write(state(2, 8));
      return { empty, epoch: (await store.read())?.meta.epoch, theirs: await foreignValue('shared-name') };
    });
    expect(result).toEqual({ empty: true, epoch: 2, theirs: 'kept' });
  });

  it('when the page dies in the middle of a write, reads the previous state, whole', async () => {
    await page.evaluate(async () => {
      const { indexedDbTrainingState, state } = window.fixtures!;
      await indexedDbTrainingState('killed').write(state(1, 1 << 20));
    });
    // Once the write has handed its record to IndexedDB, the page's thread never returns to its event loop,
    // like a tab that hangs and is then closed: the transaction cannot commit.
    const frozen = page.waitForEvent('console', (m) => m.text() === 'frozen');
    void page
      .evaluate(() => {
        const { indexedDbTrainingState, state } = window.fixtures!;
        const put = IDBObjectStore.prototype.put;
        IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
          const request = put.apply(this, args);
          console.log('frozen');
          for (;;);
          return request;
        };
        void indexedDbTrainingState('killed').write(state(2, 8 << 20));
      })
      .catch(() => undefined);
    await frozen;
    await page.close();
    page = await context.newPage();
    await open();
    const result = await page.evaluate(async () => {
      const { indexedDbTrainingState, whole } = window.fixtures!;
      const read = await indexedDbTrainingState('killed').read();
      return { epoch: read?.meta.epoch, bytes: read?.data.byteLength, whole: read !== undefined && whole(read) };
    });
    expect(result).toEqual({ epoch: 1, bytes: 4 << 20, whole: true });
  }, 60_000);
});

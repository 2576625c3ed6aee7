/**
 * Service worker for the Digit Recognizer web demo: makes the app work offline
 * once it has loaded, reloads included. Plain JavaScript, no build step; main.ts
 * registers it in production builds only.
 *
 * - install: precaches every file of the build, listed in precache-manifest.js
 *   (written by the precacheManifest plugin in vite.config.ts): the app shell
 *   (index.html, hashed JS and CSS), the TensorFlow.js .wasm binaries, the
 *   pretrained model (model/*) and the bundled MNIST samples (data/*), which
 *   the app otherwise fetches only when needed.
 * - activate: deletes the caches of older versions and takes control of open
 *   pages.
 * - fetch: same-origin GET requests only. Page loads go to the network first
 *   (so an online visit sees a new deployment) and fall back to the cached page;
 *   everything else is served from the cache first and from the network
 *   otherwise. Other requests are left to the browser.
 *
 * Updates: the manifest's version is a hash of the build's contents, and the
 * browser re-checks imported scripts when it checks for a new worker, so a new
 * build installs a new worker with a new cache. It waits, as workers do, until
 * no page uses the old one; then it activates and drops the old cache.
 *
 * Everything is resolved against the worker's own URL, so the build works from
 * any folder or sub-path.
 */
/* global self, caches, URL, Request */

importScripts('./precache-manifest.js');

/** @type {{ version: string, files: string[] }} */
const MANIFEST = self.__PRECACHE_MANIFEST;
const CACHE_PREFIX = 'digit-recognizer-web-';
const CACHE_NAME = `${CACHE_PREFIX}${MANIFEST.version}`;
/** The folder the app is served from (this script's folder). */
const BASE = new URL('./', self.location.href);
const PAGE_URL = BASE.href;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE_NAME);
      // `cache: 'reload'` skips the HTTP cache, so the files are those of this build.
      await cache.addAll(MANIFEST.files.map((file) => new Request(new URL(file, BASE), { cache: 'reload' })));
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME).map((name) => caches.delete(name)),
      );
      // Control the page that registered us, so it is served offline without a reload.
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.href.startsWith(BASE.href)) return;

  if (request.mode === 'navigate') {
    // Network first for the page itself, the cached page when offline (any
    // query such as ?backend=cpu, any #tab).
    event.respondWith(
      (async () => {
        try {
          return await fetch(request);
        } catch (error) {
          const cache = await caches.open(CACHE_NAME);
          const cached =
            (await cache.match(request, { ignoreSearch: true, ignoreVary: true })) ??
            (await cache.match(PAGE_URL, { ignoreVary: true }));
          if (cached !== undefined) return cached;
          throw error;
        }
      })(),
    );
    return;
  }

  // Cache first: hashed assets never change, and model/data change only with
  // a new build, which comes with a new cache. ignoreVary: the page asks for
  // its scripts with an Origin header (crossorigin), the precache did not, and
  // a server answering `Vary: Origin` (vite preview does) would make them miss.
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE_NAME);
      const cached = await cache.match(request, { ignoreSearch: true, ignoreVary: true });
      return cached ?? fetch(request);
    })(),
  );
});
